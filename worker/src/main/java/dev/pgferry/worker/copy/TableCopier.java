package dev.pgferry.worker.copy;

import dev.pgferry.messages.CopyProgress;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.PgConnector;
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
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * Streams table data from source to target: {@code COPY ... TO STDOUT} on a connection reading the shared
 * snapshot, straight into {@code COPY ... FROM STDIN} on the target, one CopyData message at a time, so memory
 * stays bounded whatever the table size. Binary format; a table whose types have no binary form is copied as text.
 * Each table is copied in one target transaction that first truncates it, so a retried table never duplicates
 * rows ({@code FREEZE} is allowed because the truncate happened in the same transaction). Tables run in parallel
 * on {@code jobs} threads, largest first. Progress (with estimates and an ETA) is reported after every table and
 * every {@link #PROGRESS_PERIOD_MS} while copying; reports are serialized and their totals never go back.
 */
public final class TableCopier {
    private static final Logger LOG = LoggerFactory.getLogger(TableCopier.class);
    static final long PROGRESS_PERIOD_MS = 2_000;
    /** Size of the CopyData messages sent to the target: bounded memory, one buffer per copying table. */
    static final int WRITE_BATCH_BYTES = 256 * 1024;
    /** No binary output/input function, or a binary form the other side cannot read: copy as text instead. */
    private static final Set<String> BINARY_UNSUPPORTED = Set.of("42883", "22P03", "0A000");

    /**
     * A table whose copy failed with a retriable SQLSTATE (connection lost, server shutdown, serialization failure,
     * deadlock) is copied again from the start, with backoff; any other error fails at once.
     */
    static final RetryConfig TABLE_RETRY = RetryConfig.custom()
            .maxAttempts(5)
            .intervalFunction(IntervalFunction.ofExponentialBackoff(500, 2.0, 10_000))
            .retryOnException(e -> e instanceof MigrationException m && m.retriable())
            .build();

    private final PgConnector source;
    private final PgConnector target;
    private final String dbname;
    private final SourceSnapshot snapshot;
    private final int jobs;
    private final Consumer<String> warn;

    /** {@code warn} hears of every retry. */
    public TableCopier(PgConnector source, PgConnector target, String dbname, SourceSnapshot snapshot, int jobs,
                       Consumer<String> warn) {
        this.source = source;
        this.target = target;
        this.dbname = dbname;
        this.snapshot = snapshot;
        this.jobs = Math.max(1, jobs);
        this.warn = warn;
    }

    /** Running totals of one copy; guarded by its own monitor. */
    private static final class Totals {
        final long started = System.nanoTime();
        final AtomicLong rows = new AtomicLong();
        final AtomicLong bytes = new AtomicLong();
        int tablesDone;
        long doneRows;
        long doneBytes;
    }

    /**
     * Copies every table, calling {@code tableCopied} (on a copy thread) as each table's rows are in; the first
     * failure cancels the rest and is rethrown.
     */
    public void copyAll(List<SourceCatalog.Table> tables, Consumer<CopyProgress> progress,
                        Consumer<SourceCatalog.Table> tableCopied) {
        long rowsEstimate = tables.stream().mapToLong(SourceCatalog.Table::rowsEstimate).sum();
        long bytesEstimate = tables.stream().mapToLong(SourceCatalog.Table::bytes).sum();
        Totals totals = new Totals();
        Runnable report = () -> {
            synchronized (totals) {
                long rows = Math.max(totals.doneRows, totals.rows.get());
                long bytes = Math.max(totals.doneBytes, totals.bytes.get());
                progress.accept(new CopyProgress(totals.tablesDone, tables.size(), rows, bytes, rowsEstimate,
                        bytesEstimate, eta(totals.started, rows, rowsEstimate)));
            }
        };
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(jobs, Math.max(1, tables.size())), r -> {
            Thread t = new Thread(r, "copy-" + dbname);
            t.setDaemon(true);
            return t;
        });
        ScheduledExecutorService reporter = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "progress-" + dbname);
            t.setDaemon(true);
            return t;
        });
        reporter.scheduleAtFixedRate(report, PROGRESS_PERIOD_MS, PROGRESS_PERIOD_MS, TimeUnit.MILLISECONDS);
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (SourceCatalog.Table table : tables) {
                Retry retry = Retry.of("copy " + table.displayName(), TABLE_RETRY);
                retry.getEventPublisher().onRetry(ev -> warn.accept("table " + table.displayName() + ": copy attempt "
                        + ev.getNumberOfRetryAttempts() + " failed (" + ev.getLastThrowable().getMessage()
                        + "); copying it again from the start"));
                futures.add(pool.submit(() -> {
                    long[] copied = Retry.decorateSupplier(retry, () -> copy(table, totals)).get();
                    tableCopied.accept(table);
                    synchronized (totals) {
                        totals.tablesDone++;
                        totals.doneRows += copied[0];
                        totals.doneBytes += copied[1];
                    }
                    report.run();
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
            pool.shutdownNow();
        }
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

    /** Copies one table, in binary, else as text; returns {rows, bytes of the COPY stream}. */
    long[] copy(SourceCatalog.Table table, Totals totals) {
        String what = "copying table " + table.displayName() + " of database " + dbname;
        try {
            try {
                return copy(table, true, totals);
            } catch (SQLException e) {
                if (!BINARY_UNSUPPORTED.contains(e.getSQLState())) {
                    throw e;
                }
                LOG.info("{}: binary COPY not possible ({}); copying as text", table.displayName(), e.getSQLState());
                return copy(table, false, totals);
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.COPY_FAILED, what, e);
        }
    }

    private long[] copy(SourceCatalog.Table table, boolean binary, Totals totals) throws SQLException {
        String name = table.qualifiedName();
        String columns = table.columns().isEmpty() ? ""
                : table.columns().stream().map(Sql::ident).collect(Collectors.joining(", ", "(", ")"));
        String format = binary ? "FORMAT binary" : "FORMAT text";
        long bytes = 0;
        long chunks = 0;
        // What this attempt has added to the shared running totals (published per batch, not per row).
        long publishedChunks = 0;
        long publishedBytes = 0;
        try (Connection in = snapshot.openReader(source, dbname); Connection out = target.open(dbname)) {
            out.setAutoCommit(false);
            try (Statement s = out.createStatement()) {
                s.execute("TRUNCATE ONLY " + name);
            }
            CopyOut reader = in.unwrap(PGConnection.class).getCopyAPI()
                    .copyOut("COPY " + name + " " + columns + " TO STDOUT (" + format + ")");
            CopyIn writer = null;
            try {
                writer = out.unwrap(PGConnection.class).getCopyAPI()
                        .copyIn("COPY " + name + " " + columns + " FROM STDIN (" + format + ", FREEZE)");
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
                out.commit();
                in.commit();
                // Replace the running estimate of this table by its exact count.
                totals.rows.addAndGet(rows - publishedChunks);
                totals.bytes.addAndGet(bytes - publishedBytes);
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
        } catch (SQLException | RuntimeException e) {
            // Undo this attempt's share of the running totals before the caller retries or fails.
            totals.rows.addAndGet(-publishedChunks);
            totals.bytes.addAndGet(-publishedBytes);
            throw e;
        }
    }
}
