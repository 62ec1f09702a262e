package dev.pgferry.worker.copy;

import dev.pgferry.messages.CopyProgress;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.SessionPool;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyOut;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.ToIntFunction;
import java.util.stream.Collectors;

/**
 * Streams table data from source to target: {@code COPY ... TO STDOUT} on a connection reading the shared
 * snapshot, straight into {@code COPY ... FROM STDIN} on the target, one CopyData message at a time, so memory
 * stays bounded whatever the table size. Binary format; a table whose types have no binary form is copied as text.
 * A table is copied in one target transaction that first truncates it, so a retried table never duplicates rows
 * ({@code FREEZE} is allowed because the truncate happened in the same transaction). A table much larger than the
 * rest is copied in ranges instead ({@link TableSlicer}), each range in one target transaction of its own: a failed
 * range rolled back and is copied again; when the connection breaks during a range's COMMIT, the outcome is read
 * back from the target ({@code txid_status}) before anything is copied twice. Slices run in parallel on
 * {@code jobs} threads, in the order given (largest first). Small tables are copied in batches ({@link #units}):
 * a batch's tables are copied (without TRUNCATE: see {@link #copySlice}), indexed and analyzed in one target
 * transaction by one job, which saves each table a commit, a hand-over between jobs and a status event (a database of 500 three-row tables spent
 * most of its copy on those: BENCHMARKS.md). Progress (with estimates and an ETA) is reported every
 * {@link #PROGRESS_PERIOD_MS} while copying, after a unit of work when the last report is older than
 * {@link #PROGRESS_MIN_GAP_MS}, and at the end; reports are serialized and their totals never go back.
 */
public final class TableCopier {
    private static final Logger LOG = LoggerFactory.getLogger(TableCopier.class);
    static final long PROGRESS_PERIOD_MS = 2_000;
    /** After a unit of work, progress is reported only when the last report is at least this old (and at the end). */
    static final long PROGRESS_MIN_GAP_MS = 500;
    /**
     * Tables up to this size are copied together: one job copies a batch of them, and builds their indexes, in one
     * target transaction (one commit, one session, no per-table hand-over between jobs).
     */
    static final long SMALL_TABLE_BYTES = 1L << 20;
    /** The most tables, and bytes of table, in one batch; bounded so that the batches still spread over the jobs. */
    static final int BATCH_TABLES = 32;
    static final long BATCH_BYTES = 8L << 20;
    /**
     * With shared units, a table copied whole is offered to other workers as well from this size on (and from half the
     * split size, when one is set): below it, the round trips of claiming the unit would cost a noticeable share of
     * its copy, and another worker would rarely start it before the owner does.
     */
    static final long OFFERED_WHOLE_BYTES = TableSlicer.MIN_AUTO_SPLIT_BYTES / 2;
    /** Size of the CopyData messages sent to the target: bounded memory, one buffer per copying table. */
    static final int WRITE_BATCH_BYTES = 256 * 1024;
    /** No binary output/input function, or a binary form the other side cannot read: copy as text instead. */
    private static final Set<String> BINARY_UNSUPPORTED = Set.of("42883", "22P03", "0A000");

    /**
     * A table whose copy failed with a retriable SQLSTATE (connection lost, server shutdown, serialization failure,
     * deadlock) is copied again from the start, with backoff; any other error fails at once. So does any error once
     * {@code stopped} holds (the worker is stopping, or another unit failed the database): the copy's sessions are
     * being closed under it, and its retry would announce a copy never made.
     */
    static RetryConfig tableRetry(AtomicBoolean stopped) {
        return RetryConfig.custom()
                .maxAttempts(5)
                .intervalFunction(IntervalFunction.ofExponentialBackoff(500, 2.0, 10_000))
                .retryOnException(e -> e instanceof MigrationException m && m.retriable() && !stopped.get())
                .build();
    }

    private final PgConnector source;
    private final PgConnector target;
    private final SessionPool targetSessions;
    private final String dbname;
    private final SourceSnapshot snapshot;
    private final int jobs;
    private final long splitBytes;
    private final Executor executor;
    private final Consumer<String> warn;
    private SharedUnits shared;
    private String toastCompression;
    /** When a table (source OID) exists on the target; null: every table does already. */
    private Function<Long, CompletableFuture<Void>> created;
    private ToIntFunction<Long> creationOrder;
    /** How long a unit another worker is copying waits before its lock is tried again. */
    static final long BUSY_PAUSE_MS = 250;

    /**
     * Slices run on {@code executor} ({@code jobs} threads, shared with the index builds); {@code warn} hears of
     * every retry; {@code splitBytes} see {@link TableSlicer#parts} (0: automatic).
     */
    public TableCopier(PgConnector source, PgConnector target, SessionPool targetSessions, String dbname,
                       SourceSnapshot snapshot, int jobs, long splitBytes, Executor executor, Consumer<String> warn) {
        this.targetSessions = targetSessions;
        this.executor = executor;
        this.source = source;
        this.target = target;
        this.dbname = dbname;
        this.snapshot = snapshot;
        this.jobs = Math.max(1, jobs);
        this.splitBytes = splitBytes;
        this.warn = warn;
    }

    /**
     * Offers the ranges of split tables, and the tables copied whole from {@link #offeredWholeBytes}, to other workers
     * and copies them under {@link SharedUnits}' protocol: a unit another worker holds is tried again every
     * {@link #BUSY_PAUSE_MS} until it is found done or free, so the copy ends only once every unit is in.
     */
    public TableCopier withSharedUnits(SharedUnits units) {
        this.shared = units;
        return this;
    }

    /**
     * For tables still being created while the copy runs: a unit is copied once every one of its tables is
     * {@code created} (a future by source OID, which fails with why its creation failed), and small tables are batched
     * in {@code order} of their creation rather than by size. Units offered to other workers are offered only once
     * their tables exist.
     */
    public TableCopier whenCreated(Function<Long, CompletableFuture<Void>> created, ToIntFunction<Long> order) {
        this.created = created;
        this.creationOrder = order;
        return this;
    }

    /**
     * Compresses the copied values with {@code method} ({@link ToastCompression#forTarget}; null: the target's
     * default).
     */
    public TableCopier withToastCompression(String method) {
        this.toastCompression = method;
        return this;
    }

    /**
     * What copying one unit came to: its rows and bytes, whether this worker copied it (or found it done), and the
     * worker that did (null when the unit is not shared).
     */
    public record Copied(long rows, long bytes, boolean here, String by) {
    }

    /** Running totals of one copy; guarded by its own monitor. */
    private static final class Totals {
        final long started = System.nanoTime();
        final AtomicLong rows = new AtomicLong();
        final AtomicLong bytes = new AtomicLong();
        int tablesDone;
        long doneRows;
        long doneBytes;
        long lastReport = System.nanoTime();
        /** With shared units: what each worker copied of the units done so far. */
        Map<String, MigrationStatus.WorkerShare> byWorker;
    }

    /**
     * What one job copies in one target transaction: a single slice, or a batch of whole small tables. {@code after}
     * holds, per table, the statements that run in that transaction once its rows are in (its index builds,
     * constraints and ANALYZE); a table without an entry has its indexes built by the caller's callback.
     */
    record Unit(List<TableSlicer.Slice> slices, Map<SourceCatalog.Table, List<String>> after) {
        String describe() {
            return slices.size() == 1 ? "table " + slices.get(0).describe()
                    : "batch of " + slices.size() + " tables (" + slices.get(0).describe() + ", ...)";
        }

        /** A batch: its tables are not truncated first (see {@link #copy(Unit, boolean, Totals)}). */
        boolean batch() {
            return !after.isEmpty();
        }

        /**
         * Whether a broken COMMIT must be resolved before this unit is copied again: a range and a batch do not
         * start with TRUNCATE, so copying them again after a COMMIT that went through would duplicate rows.
         */
        boolean checkedCommit() {
            return batch() || !slices.get(0).whole();
        }
    }

    /**
     * Groups the slices into units, in their order: whole tables up to {@link #SMALL_TABLE_BYTES} whose post-copy
     * work {@code inline} can give (non-null) go into batches; every other slice is a unit of its own.
     */
    static List<Unit> units(List<TableSlicer.Slice> slices, Function<SourceCatalog.Table, List<String>> inline) {
        List<Unit> out = new ArrayList<>();
        List<TableSlicer.Slice> batch = new ArrayList<>();
        Map<SourceCatalog.Table, List<String>> after = new HashMap<>();
        long batchBytes = 0;
        for (TableSlicer.Slice slice : slices) {
            List<String> work = slice.whole() && slice.table().bytes() <= SMALL_TABLE_BYTES ? inline.apply(slice.table()) : null;
            if (work == null) {
                out.add(new Unit(List.of(slice), Map.of()));
                continue;
            }
            batch.add(slice);
            after.put(slice.table(), work);
            batchBytes += slice.table().bytes();
            if (batch.size() >= BATCH_TABLES || batchBytes >= BATCH_BYTES) {
                out.add(new Unit(List.copyOf(batch), Map.copyOf(after)));
                batch.clear();
                after.clear();
                batchBytes = 0;
            }
        }
        if (!batch.isEmpty()) {
            out.add(new Unit(List.copyOf(batch), Map.copyOf(after)));
        }
        return out;
    }

    /**
     * Copies every table, calling {@code tableCopied} (on a copy thread) as each table's rows are in; the first
     * failure cancels the rest and is rethrown. {@code inline} gives, for a small table, the statements to run in
     * its copy transaction after its rows (its indexes, constraints, ANALYZE), or null when they cannot run there;
     * such tables are copied in batches (see {@link #units}).
     */
    public void copyAll(List<SourceCatalog.Table> tables, Consumer<CopyProgress> progress,
                        Consumer<SourceCatalog.Table> tableCopied, Function<SourceCatalog.Table, List<String>> inline) {
        long rowsEstimate = tables.stream().mapToLong(SourceCatalog.Table::rowsEstimate).sum();
        long bytesEstimate = tables.stream().mapToLong(SourceCatalog.Table::bytes).sum();
        Totals totals = new Totals();
        Runnable report = () -> {
            synchronized (totals) {
                totals.lastReport = System.nanoTime();
                long rows = Math.max(totals.doneRows, totals.rows.get());
                long bytes = Math.max(totals.doneBytes, totals.bytes.get());
                progress.accept(new CopyProgress(totals.tablesDone, tables.size(), rows, bytes, rowsEstimate,
                        bytesEstimate, eta(totals.started, rows, rowsEstimate),
                        totals.byWorker == null ? null : Map.copyOf(totals.byWorker)));
            }
        };
        ScheduledExecutorService reporter = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "progress-" + dbname);
            t.setDaemon(true);
            return t;
        });
        reporter.scheduleAtFixedRate(report, PROGRESS_PERIOD_MS, PROGRESS_PERIOD_MS, TimeUnit.MILLISECONDS);
        List<Future<?>> futures = new ArrayList<>();
        AtomicBoolean stop = new AtomicBoolean();
        try {
            List<TableSlicer.Slice> slices;
            try {
                slices = snapshot.read(reader -> TableSlicer.plan(reader, tables, jobs, splitBytes));
            } catch (SQLException e) {
                throw SqlStates.wrap(ErrorCode.COPY_FAILED, "planning the copy of database " + dbname, e);
            }
            Map<SourceCatalog.Table, AtomicInteger> partsLeft = new ConcurrentHashMap<>();
            slices.forEach(sl -> partsLeft.computeIfAbsent(sl.table(), t -> new AtomicInteger()).incrementAndGet());
            slices.stream().filter(sl -> sl.part() == 0 && !sl.whole()).forEach(sl ->
                    LOG.info("copying {} in {} ranges", sl.table().displayName(), sl.parts()));
            if (created != null) {
                // the small tables (last, by size) batched as they are created; the larger ones keep their order
                slices = new ArrayList<>(slices);
                slices.sort(Comparator.comparingInt(sl -> sl.whole() && sl.table().bytes() <= SMALL_TABLE_BYTES
                        ? creationOrder.applyAsInt(sl.table().oid()) : -1));
            }
            List<Unit> units = units(slices, inline);
            Map<Unit, Integer> sharedIndex = new IdentityHashMap<>();
            if (shared != null) {
                long wholeFrom = offeredWholeBytes(splitBytes);
                List<Unit> offers = units.stream().filter(u -> !u.batch() && (!u.slices().get(0).whole()
                        || u.slices().get(0).table().bytes() >= wholeFrom)).toList();
                List<SharedUnits.Offered> offered = new ArrayList<>();
                for (int i = 0; i < offers.size(); i++) {
                    sharedIndex.put(offers.get(i), i);
                    offered.add(new SharedUnits.Offered(i, offers.size(), offers.get(i).slices().get(0)));
                }
                if (created != null && !offered.isEmpty()) {
                    CompletableFuture.allOf(offered.stream().map(o -> created.apply(o.slice().table().oid()))
                            .toArray(CompletableFuture[]::new)).get();
                }
                shared.offer(offered);
                if (!offered.isEmpty()) {
                    totals.byWorker = new java.util.TreeMap<>();
                }
            }
            // The first report: the totals to expect, once the units are planned (and offered).
            report.run();
            AtomicInteger unitsLeft = new AtomicInteger(units.size());
            for (Unit unit : units) {
                Retry retry = Retry.of("copy " + unit.describe(), tableRetry(stop));
                retry.getEventPublisher().onRetry(ev -> warn.accept(unit.describe() + ": copy attempt "
                        + ev.getNumberOfRetryAttempts() + " failed (" + ev.getLastThrowable().getMessage()
                        + "); copying it again from the start"));
                Integer index = sharedIndex.get(unit);
                CompletableFuture<Void> there = created == null ? CompletableFuture.completedFuture(null)
                        : CompletableFuture.allOf(unit.slices().stream().map(sl -> created.apply(sl.table().oid()))
                        .distinct().toArray(CompletableFuture[]::new));
                futures.add(there.thenCompose(v -> attempt(() -> Retry.decorateSupplier(retry,
                                () -> copy(unit, index, totals)).get(), stop))
                        .thenApply(copied -> {
                    int tablesDone = 0;
                    for (TableSlicer.Slice slice : unit.slices()) {
                        if (partsLeft.get(slice.table()).decrementAndGet() == 0) {
                            tableCopied.accept(slice.table());
                            tablesDone++;
                        }
                    }
                    boolean last = unitsLeft.decrementAndGet() == 0;
                    boolean due;
                    synchronized (totals) {
                        totals.tablesDone += tablesDone;
                        totals.doneRows += copied.rows();
                        if (totals.byWorker != null && copied.by() != null) {
                            totals.byWorker.merge(copied.by(), new MigrationStatus.WorkerShare(1, copied.rows(),
                                    copied.bytes()), (a, b) -> a.plus(b.rows(), b.bytes()));
                        }
                        totals.doneBytes += copied.bytes();
                        due = last || System.nanoTime() - totals.lastReport >= PROGRESS_MIN_GAP_MS * 1_000_000;
                    }
                    // One status event per unit would be one Kafka round trip per small table: the reports are
                    // spaced, and the last one always goes out.
                    if (due) {
                        report.run();
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } catch (ExecutionException e) {
            throw e.getCause() instanceof MigrationException m ? m
                    : new MigrationException(ErrorCode.COPY_FAILED, null, "copying data of " + dbname + ": " + e.getCause(),
                    false, e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigrationException(ErrorCode.INTERNAL, "copy of " + dbname + " interrupted");
        } finally {
            reporter.shutdownNow();
            // After a failure, slices not started yet never start (a cancelled stage does not run, and a unit tried
            // again later sees the stop).
            stop.set(true);
            futures.forEach(f -> f.cancel(false));
        }
    }

    /**
     * Runs {@code copy} on the jobs' executor; when it finds its unit held by another worker (null), runs it again
     * after {@link #BUSY_PAUSE_MS}, leaving the job free for other units meanwhile.
     */
    private CompletableFuture<Copied> attempt(java.util.function.Supplier<Copied> copy, AtomicBoolean stop) {
        return CompletableFuture.supplyAsync(() -> {
            if (stop.get()) {
                throw new java.util.concurrent.CancellationException("the copy stopped");
            }
            return copy.get();
        }, executor).thenCompose(copied -> copied != null ? CompletableFuture.completedFuture(copied)
                : CompletableFuture.supplyAsync(() -> null, CompletableFuture.delayedExecutor(BUSY_PAUSE_MS,
                        TimeUnit.MILLISECONDS, executor)).thenCompose(x -> attempt(copy, stop)));
    }

    /**
     * Copies one range, or whole table, that another worker offered (see {@link SharedUnits}): once, in binary or else
     * as text. Returns null when another worker holds it; else whether this worker copied it or found it done.
     */
    public Copied copyOffered(TableSlicer.Slice slice, int index) {
        return copy(new Unit(List.of(slice), Map.of()), index, new Totals());
    }

    /** The size from which a table copied whole is a shared unit too (see {@link #OFFERED_WHOLE_BYTES}). */
    static long offeredWholeBytes(long splitBytes) {
        return splitBytes > 0 ? Math.max(1, splitBytes / 2) : OFFERED_WHOLE_BYTES;
    }

    /** Seconds left, from the share of estimated rows copied so far; null while too early to tell. */
    static Long eta(long startedNanos, long rows, long rowsEstimate) {
        if (rowsEstimate <= 0 || rows <= 0) {
            return null;
        }
        double done = Math.min(1.0, (double) rows / rowsEstimate);
        if (done < 0.01) {
            return null;
        }
        double elapsed = (System.nanoTime() - startedNanos) / 1e9;
        return Math.round(elapsed * (1 - done) / done);
    }

    /**
     * Copies one unit, in binary, else as text; returns its rows and bytes of the COPY stream. A shared unit
     * ({@code index} not null, see {@link SharedUnits}) that another worker holds: null.
     */
    Copied copy(Unit unit, Integer index, Totals totals) {
        String what = "copying " + unit.describe() + " of database " + dbname;
        try {
            try {
                return copy(unit, index, true, totals);
            } catch (SQLException e) {
                if (!BINARY_UNSUPPORTED.contains(e.getSQLState())) {
                    throw e;
                }
                LOG.info("{}: binary COPY not possible ({}); copying as text", unit.describe(), e.getSQLState());
                return copy(unit, index, false, totals);
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.COPY_FAILED, what, e);
        }
    }

    private Copied copy(Unit unit, Integer index, boolean binary, Totals totals) throws SQLException {
        // What this attempt has added to the shared running totals (published per batch of rows, not per row).
        long[] published = new long[2];
        long rows = 0;
        long bytes = 0;
        try (SessionPool.Lease inLease = snapshot.lease(); SessionPool.Lease outLease = targetSessions.lease()) {
            Connection in = inLease.connection();
            Connection out = outLease.connection();
            out.setAutoCommit(false);
            ToastCompression.apply(out, toastCompression);
            long[] xidAndPid = null;
            // (a shared unit notes the transaction that commits it, so that any worker can tell whether it went through)
            if (unit.checkedCommit() || index != null) {
                try (Statement s = out.createStatement();
                     ResultSet rs = s.executeQuery("SELECT pg_catalog.txid_current(), pg_catalog.pg_backend_pid()")) {
                    rs.next();
                    xidAndPid = new long[]{rs.getLong(1), rs.getLong(2)};
                }
            }
            if (index != null) {
                SharedUnits.Claim claim = shared.claim(out, index);
                if (claim.outcome() != SharedUnits.Outcome.COPY) {
                    in.commit();
                    out.rollback();
                    in.setAutoCommit(true);
                    out.setAutoCommit(true);
                    inLease.release();
                    outLease.release();
                    if (claim.outcome() == SharedUnits.Outcome.BUSY) {
                        return null;
                    }
                    totals.rows.addAndGet(claim.rows());
                    totals.bytes.addAndGet(claim.bytes());
                    LOG.info("{} was copied by {}", unit.describe(), claim.by());
                    return new Copied(claim.rows(), claim.bytes(), false, claim.by());
                }
            }
            for (TableSlicer.Slice slice : unit.slices()) {
                long[] copied = copySlice(in, out, slice, !unit.batch(), binary, totals, published);
                rows += copied[0];
                bytes += copied[1];
                List<String> after = unit.after().get(slice.table());
                if (after != null && !after.isEmpty()) {
                    // Sent together: one round trip for the table's index builds, constraints and ANALYZE.
                    try (Statement s = out.createStatement()) {
                        s.execute(String.join(";\n", after));
                    } catch (SQLException e) {
                        throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, "building the indexes and constraints of "
                                + slice.table().displayName() + " in target database " + dbname, e);
                    }
                }
            }
            // The source side ends first: once the target has committed, nothing may fail this attempt (a range
            // committed and then retried would be copied twice).
            in.commit();
            if (index != null) {
                shared.committing(index, xidAndPid[0]);
            }
            commit(out, xidAndPid, unit);
            if (index != null) {
                shared.done(index, rows, bytes);
            }
            // Committed: from here on nothing may fail the unit. A session that cannot be reset (its connection broke
            // during the COMMIT, whose outcome was then read back) is closed instead of going back to its pool.
            try {
                in.setAutoCommit(true);
                out.setAutoCommit(true);
                inLease.release();
                outLease.release();
            } catch (SQLException e) {
                LOG.debug("{}: sessions not reusable after the commit: {}", unit.describe(), e.toString());
            }
            // Replace the running estimate of this unit by its exact count.
            totals.rows.addAndGet(rows - published[0]);
            totals.bytes.addAndGet(bytes - published[1]);
            return new Copied(rows, bytes, true, shared == null ? null : shared.workerId());
        } catch (SQLException | RuntimeException e) {
            // Undo this attempt's share of the running totals before the caller retries or fails.
            totals.rows.addAndGet(-published[0]);
            totals.bytes.addAndGet(-published[1]);
            throw e;
        }
    }

    /**
     * Streams one slice inside the open transactions of {@code in} (the snapshot) and {@code out}; with
     * {@code truncate}, a whole table is truncated first (so {@code FREEZE} applies). A batch skips that: its tables
     * are small, empty since the schema restore, and a failed batch rolls back whole (truncating a table creates new
     * files, which cost more than the copy of a small table). Adds to the running totals as it goes, noting in
     * {@code published} (rows, bytes) what it added; returns {rows, bytes}.
     */
    private long[] copySlice(Connection in, Connection out, TableSlicer.Slice slice, boolean truncate, boolean binary,
                             Totals totals, long[] published) throws SQLException {
        SourceCatalog.Table table = slice.table();
        String name = table.qualifiedName();
        String columnList = table.columns().stream().map(Sql::ident).collect(Collectors.joining(", "));
        String columns = table.columns().isEmpty() ? "" : "(" + columnList + ")";
        String format = binary ? "FORMAT binary" : "FORMAT text";
        String copyOut = slice.whole() ? "COPY " + name + " " + columns + " TO STDOUT (" + format + ")"
                : "COPY (SELECT " + columnList + " FROM " + name + " WHERE " + slice.where() + ") TO STDOUT (" + format + ")";
        boolean fresh = truncate && slice.whole();
        String copyIn = "COPY " + name + " " + columns + " FROM STDIN (" + format + (fresh ? ", FREEZE)" : ")");
        if (fresh) {
            try (Statement s = out.createStatement()) {
                s.execute("TRUNCATE ONLY " + name);
            }
        }
        long bytes = 0;
        long chunks = 0;
        long publishedChunks = 0;
        long publishedBytes = 0;
        CopyOut reader = in.unwrap(PGConnection.class).getCopyAPI().copyOut(copyOut);
        CopyIn writer = null;
        try {
            writer = out.unwrap(PGConnection.class).getCopyAPI().copyIn(copyIn);
            // The source sends one CopyData message per row; the target takes any split of the stream, so rows
            // are gathered into large messages: far fewer messages for the target (and us) to handle.
            byte[] batch = new byte[WRITE_BATCH_BYTES];
            int filled = 0;
            byte[] chunk;
            while ((chunk = reader.readFromCopy()) != null) {
                if (filled + chunk.length > batch.length) {
                    writer.writeToCopy(batch, 0, filled);
                    filled = 0;
                    totals.rows.addAndGet(chunks - publishedChunks);
                    totals.bytes.addAndGet(bytes - publishedBytes);
                    published[0] += chunks - publishedChunks;
                    published[1] += bytes - publishedBytes;
                    publishedChunks = chunks;
                    publishedBytes = bytes;
                }
                if (chunk.length >= batch.length) {
                    writer.writeToCopy(chunk, 0, chunk.length);
                } else {
                    System.arraycopy(chunk, 0, batch, filled, chunk.length);
                    filled += chunk.length;
                }
                bytes += chunk.length;
                // One CopyData message per row: a close enough running count for progress.
                chunks++;
            }
            if (filled > 0) {
                writer.writeToCopy(batch, 0, filled);
            }
            long rows = writer.endCopy();
            writer = null;
            return new long[]{rows, bytes};
        } finally {
            // On failure, cancel whichever side is still mid-COPY so that both connections close cleanly.
            if (reader.isActive()) {
                reader.cancelCopy();
            }
            if (writer != null && writer.isActive()) {
                writer.cancelCopy();
            }
        }
    }

    /**
     * Commits a unit's target transaction. A whole table may simply be copied again (it starts with TRUNCATE);
     * a range or a batch may not, so when the connection breaks during its COMMIT the outcome is read back from the target:
     * committed counts as done, aborted is retried, and a transaction still open is ended first.
     */
    private void commit(Connection out, long[] xidAndPid, Unit unit) throws SQLException {
        try {
            out.commit();
        } catch (SQLException e) {
            if (xidAndPid == null || !SqlStates.retriable(e.getSQLState())) {
                throw e;
            }
            CommitOutcome outcome;
            try (Connection check = target.open(dbname)) {
                outcome = CommitOutcome.resolve(check, xidAndPid[0], (int) xidAndPid[1]);
            }
            LOG.warn("{}: connection lost during COMMIT; the target reports the transaction {}", unit.describe(), outcome);
            if (outcome != CommitOutcome.COMMITTED) {
                throw e;
            }
        }
    }
}
