package dev.pgferry.worker.task;

import dev.pgferry.bus.Ledger;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.Phase;
import dev.pgferry.messages.ReplicationNames;
import dev.pgferry.messages.StatusEvent;
import dev.pgferry.messages.Verification;
import dev.pgferry.pg.LockWaits;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Secrets;
import dev.pgferry.pg.SessionPool;
import dev.pgferry.pg.Side;
import dev.pgferry.pg.SqlStates;
import dev.pgferry.worker.copy.ObjectCopier;
import dev.pgferry.worker.database.DatabaseProperties;
import dev.pgferry.worker.copy.SourceCatalog;
import dev.pgferry.worker.copy.SourceSnapshot;
import dev.pgferry.worker.copy.TableCopier;
import dev.pgferry.worker.replication.Cutover;
import dev.pgferry.worker.replication.Preconditions;
import dev.pgferry.worker.replication.Refresh;
import dev.pgferry.worker.replication.Removal;
import dev.pgferry.worker.replication.Replicator;
import dev.pgferry.worker.roles.RoleCopier;
import dev.pgferry.worker.schema.IndexBuilder;
import dev.pgferry.worker.schema.PostDataPlan;
import dev.pgferry.worker.schema.SchemaCopier;
import dev.pgferry.worker.verify.Verifier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.io.IOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Migrates one database. The method is chosen first, before anything is touched: logical replication when its
 * preconditions hold (or when asked for, failing with the reasons otherwise), dump otherwise, with the reason in
 * the status. Both methods copy roles, create the target database and restore the schema. Dump then streams the
 * data under one source snapshot and ends {@code done}; replication publishes the tables, subscribes, waits until
 * every table is ready and ends {@code syncing}. A removal task ends a migration's replication instead; a cut-over
 * task switches a syncing database over to the target ({@link Cutover}); a refresh task repairs its schema drift
 * ({@link Refresh}).
 * Any failure ends the task with one {@code task_failed} event and never affects other databases.
 * Confined to the thread that runs it.
 */
public final class DatabaseMigration {
    private static final Logger LOG = LoggerFactory.getLogger(DatabaseMigration.class);

    private final MigrationTask task;
    private final String workerId;
    private final Consumer<StatusEvent> emit;
    private final Clock clock;
    private final int jobs;
    private final long splitTableBytes;
    private final PgConnector source;
    private final PgConnector target;
    private final Ledger ledger;
    private final int retries;

    /**
     * How many times a database is started at most. A task whose run stops its worker (a crash, an out-of-memory
     * kill) is queued again by the coordinator once its claim falls silent, and would otherwise take one worker after
     * another for ever; each start is counted in the ledger, so the count survives every process.
     */
    public static final int MAX_ATTEMPTS = 8;

    /** How long a retry waits at most for both servers to answer again (a restart, a fail-over). */
    private static final Duration RETRY_WAIT = Duration.ofSeconds(60);

    /**
     * {@code splitTableBytes}: tables larger than this are copied in ranges (0: automatic); {@code ledger} keeps the
     * crash-safety markers of the target databases and of the roles step.
     */
    public DatabaseMigration(MigrationTask task, String workerId, Consumer<StatusEvent> emit, Clock clock,
                             Secrets secrets, int jobs, long splitTableBytes, Ledger ledger) {
        this(task, workerId, emit, clock, secrets, jobs, splitTableBytes, ledger, 0);
    }

    /**
     * With {@code retries} above 0, a migration that fails mid-way for a reason that may pass (see {@link Retry}) is
     * cleaned up and {@link #run} returns false, so that the caller runs the task again as a new attempt.
     */
    public DatabaseMigration(MigrationTask task, String workerId, Consumer<StatusEvent> emit, Clock clock,
                             Secrets secrets, int jobs, long splitTableBytes, Ledger ledger, int retries) {
        this.retries = retries;
        this.task = task;
        this.ledger = ledger;
        this.splitTableBytes = splitTableBytes;
        this.workerId = workerId;
        this.emit = emit;
        this.clock = clock;
        this.jobs = jobs;
        // One application_name per task, on both servers: its sessions (and pg_dump's, pg_restore's) can be told
        // from other tasks' when one of them waits on a lock (LockWaits).
        String tag = "worker/" + Integer.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextInt());
        this.source = new PgConnector(task.request().source(), Side.SOURCE, tag, secrets);
        this.target = new PgConnector(task.request().target(), Side.TARGET, tag, secrets);
    }

    /**
     * Runs the task to its final event; never throws for a database failure. Returns false when the task must run
     * again: a database finished but its final status event could not be written (the next run only writes that
     * event), or an attempt failed in a way worth retrying (the next run is a new attempt).
     */
    public boolean run() {
        String db = task.dbname();
        MDC.put("migration", task.migrationId());
        MDC.put("database", db);
        EventSource events = new EventSource(task.migrationId(), db, workerId, 1, clock);
        if (task.action() == MigrationTask.Action.VERIFY) {
            // Verify only reads and only reports: it takes no lock (it describes the target as it is, even mid-copy),
            // and a failure of its own is its result, never a failure of the database.
            emit.accept(events.verified(new Verifier(source, target, task.request(), db,
                    task.verifyJobs() == null ? jobs : task.verifyJobs(),
                    ledger.read(LedgerEntry.cutoverKey(task.migrationId(), db))).run()));
            MDC.remove("database");
            MDC.remove("migration");
            return true;
        }
        try (TaskLock lock = TaskLock.acquire(target, task.migrationId(), db)) {
            TargetDatabase targetDb = new TargetDatabase(target, ledger, db, task.migrationId());
            TargetDatabase.Prior prior = targetDb.inspect();
            if (task.action() == MigrationTask.Action.REMOVE) {
                events = new EventSource(task.migrationId(), db, workerId, Math.max(1, prior.attempt()), clock);
                Removal.remove(source, target, db, ReplicationNames.of(task.migrationId(), db));
                // A task of this database still queued (or queued again) must not bring it back.
                targetDb.markRemoved(Math.max(1, prior.attempt()));
                emit.accept(events.removed());
                return true;
            }
            if (prior.removed()) {
                LOG.info("database {} of {} was removed; {} task skipped", db, task.migrationId(), task.action());
                return true;
            }
            if (task.action() == MigrationTask.Action.REFRESH) {
                EventSource refreshing = new EventSource(task.migrationId(), db, workerId, Math.max(1, prior.attempt()), clock);
                Refresh.Result r = new Refresh(source, target, db, ReplicationNames.of(task.migrationId(), db), task.request())
                        .run((ready, total) -> { });
                emit.accept(refreshing.refreshed(r.applied(), r.remaining(), r.error()));
                return true;
            }
            if (task.action() == MigrationTask.Action.CUTOVER) {
                return cutover(new EventSource(task.migrationId(), db, workerId, Math.max(1, prior.attempt()), clock));
            }
            if (prior.done()) {
                LOG.info("database {} was already migrated by {} (attempt {}); nothing to do", db, task.migrationId(),
                        prior.attempt());
                // Its final event may have been lost with the worker that finished it: write it (again).
                return prior.published() || publishFinal(targetDb, prior.attempt(), prior.created(),
                        new EventSource(task.migrationId(), db, workerId, prior.attempt(), clock), prior.finalState());
            }
            int attempt = prior.ours() ? prior.attempt() + 1 : 1;
            events = new EventSource(task.migrationId(), db, workerId, attempt, clock);
            if (attempt > MAX_ATTEMPTS) {
                giveUp(targetDb, prior);
            }
            String finalState;
            Retry.Epochs epochs = retries > 0 ? Retry.epochs(source, target) : null;
            EventSource attemptEvents = events;
            LockWaits waits = LockWaits.start(source, target, maxWait(), w -> emit.accept(attemptEvents.waiting(w)));
            try {
                finalState = migrate(events, targetDb, prior, attempt);
            } catch (RuntimeException failure) {
                waits.close();
                // A statement cancelled because it waited past --max-wait fails as the wait, naming the blockers.
                RuntimeException e = waits.gaveUp().<RuntimeException>map(why -> new MigrationException(
                        ErrorCode.WAIT_TIMEOUT, null, why, false, failure)).orElse(failure);
                if (TargetDatabase.createdByUs(prior)) {
                    // Nothing half-made stays behind: the replication objects first, then the database.
                    Removal.removeQuietly(source, target, db, ReplicationNames.of(task.migrationId(), db));
                    targetDb.dropQuietly();
                }
                Optional<String> why = retries > 0 ? Retry.worthIt(e, source, target, epochs) : Optional.empty();
                if (why.isPresent() && Retry.awaitServers(source, target, RETRY_WAIT)) {
                    // Said as the next attempt, whose row keeps it (the view drops an older attempt's events).
                    emit.accept(new EventSource(task.migrationId(), db, workerId, attempt + 1, clock).warning(
                            "attempt " + attempt + " failed: " + e.getMessage() + "; " + why.get()
                            + ": starting over as attempt " + (attempt + 1) + " (" + (retries - 1) + " more retr"
                            + (retries == 2 ? "y" : "ies") + " left)"));
                    return false;
                }
                throw e;
            } finally {
                waits.close();
            }
            // Finished and marked so: whatever happens from here on, the database stays.
            return publishFinal(targetDb, attempt, TargetDatabase.createdByUs(prior), events, finalState);
        } catch (MigrationException e) {
            LOG.warn("database {} failed: {}", db, e.getMessage());
            emit.accept(events.failed(e.toFailure()));
        } catch (RuntimeException e) {
            LOG.error("database {} failed unexpectedly", db, e);
            emit.accept(events.failed(new MigrationException(ErrorCode.INTERNAL, null,
                    "unexpected error: " + e, false, e).toFailure()));
        } finally {
            MDC.remove("phase");
            MDC.remove("database");
            MDC.remove("migration");
        }
        return true;
    }

    /**
     * Refuses attempt {@link #MAX_ATTEMPTS} + 1 of a database whose earlier attempts never finished, after removing
     * what they left (the replication objects, and the database when pgferry created it).
     */
    private void giveUp(TargetDatabase targetDb, TargetDatabase.Prior prior) {
        String db = task.dbname();
        boolean dropped = TargetDatabase.createdByUs(prior) && prior.exists();
        if (TargetDatabase.createdByUs(prior)) {
            Removal.removeQuietly(source, target, db, ReplicationNames.of(task.migrationId(), db));
            targetDb.dropQuietly();
        }
        throw new MigrationException(ErrorCode.TOO_MANY_ATTEMPTS, "database " + db + " was started "
                + prior.attempt() + " times and never finished: each attempt's worker stopped mid-task (killed, out"
                + " of memory, cut off from Kafka) or failed in a way worth retrying. pgferry does not start it again,"
                + " so that it cannot keep taking one worker after another. The worker logs of the last attempt say"
                + " what happened (look for database " + db + " of " + task.migrationId() + "); once the cause is"
                + " fixed, migrate this database again with a new request"
                + (dropped ? ". The half-copied target database was dropped" : ""));
    }

    /**
     * Cuts the database over (see {@link Cutover}). False when it was cut over but its final event could not be
     * written: the task runs again, finds the cut-over done in the ledger and writes it then. An aborted cut-over is
     * never run again by itself (that would block the source's writes once more): a lost event of it leaves the row
     * {@code cutting_over} until the user asks again.
     */
    private boolean cutover(EventSource events) {
        String db = task.dbname();
        Cutover.Outcome outcome = new Cutover(source, target, db, ReplicationNames.of(task.migrationId(), db),
                task.request(), task.cutover(), ledger, entry -> {
                    Verification v = new Verifier(source, target, task.request(), db, jobs, Optional.of(entry)).run();
                    emit.accept(events.verified(v));
                    return v;
                }).run((step, detail) -> emit.accept(events.cutoverStep(step, detail)));
        try {
            if (outcome instanceof Cutover.Done d) {
                emit.accept(events.cutOver(d.writesBlockedMs(), d.fenceLsn(), d.sessionsEnded(), d.sourceWritable()));
            } else if (outcome instanceof Cutover.Aborted a) {
                emit.accept(events.cutoverFailed(a.failure(), a.sourceWritable()));
            }
            return true;
        } catch (RuntimeException e) {
            LOG.warn("the final event of the cut-over of {} could not be written: {}", db, e.toString());
            return !(outcome instanceof Cutover.Done);
        }
    }

    /**
     * Writes the final event of a finished database ({@code done} or {@code syncing}) and notes in the ledger that
     * it is written; false when either could not be written (a broker outage, the worker stopping).
     */
    private boolean publishFinal(TargetDatabase targetDb, int attempt, boolean created, EventSource events,
                                 String finalState) {
        try {
            emit.accept(SYNCING.equals(finalState) ? events.syncing() : events.done(Method.DUMP));
            targetDb.markPublished(attempt, created, finalState);
            LOG.info("database {} {}", task.dbname(), finalState);
            return true;
        } catch (RuntimeException e) {
            LOG.warn("database {} is {}, but its final status event could not be written ({}); the task will run again"
                    + " to write it", task.dbname(), finalState, e.toString());
            return false;
        }
    }

    private static final String SYNCING = "syncing";
    private static final String DONE = "done";

    /** The method for this database and, when it is not what a user of {@code auto} would hope for, why. */
    private record Choice(Method method, String reason, Preconditions.Result check) {
    }

    private Choice choose() {
        MigrationRequest request = task.request();
        if (request.method() == Method.DUMP) {
            return new Choice(Method.DUMP, null, null);
        }
        Preconditions.Result check;
        try (Connection s = source.open(task.dbname()); Connection t = target.open()) {
            check = Preconditions.check(s, t, request.options().includeExtensionTables());
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.PRECONDITION_FAILED, "checking logical replication preconditions", e);
        }
        if (check.ok()) {
            return new Choice(Method.REPLICATION, null, check);
        }
        String reasons = String.join("; ", check.problems());
        if (request.method() == Method.REPLICATION) {
            throw new MigrationException(ErrorCode.PRECONDITION_FAILED, "logical replication is not possible: " + reasons);
        }
        return new Choice(Method.DUMP, "dump instead of logical replication: " + reasons, check);
    }

    /** Migrates the database and marks it finished in the ledger; returns its final state, done or syncing. */
    private String migrate(EventSource events, TargetDatabase targetDb, TargetDatabase.Prior prior, int attempt) {
        MigrationRequest request = task.request();
        String db = task.dbname();
        String name = ReplicationNames.of(task.migrationId(), db);
        Consumer<String> warn = message -> emit.accept(events.warning(message));
        DatabaseProperties properties = properties(db, prior);
        Choice choice = choose();
        emit.accept(events.started(choice.method(), choice.reason()));

        boolean replication = choice.method() == Method.REPLICATION;
        // pgferry copies the data itself under the snapshot of the slot's creation (faster: BENCHMARKS.md), unless the
        // request leaves the initial copy to PostgreSQL's table sync.
        boolean ownCopy = !replication || !request.options().postgresTableSync();
        Replicator replicator = new Replicator(source, target, db, name);
        Set<String> missingRoles;
        // One pool of --jobs threads for copies, index builds and ANALYZE: a table's index builds (the longest
        // chain of work left once its rows are in) go ahead of further copies.
        try (SchemaCopier schema = new SchemaCopier(source, target, db);
             // Without a slot to wait for, the source is read ahead (snapshot, schema dump, catalog) on a thread of
             // its own while the roles and the target database are prepared: none of it touches the target.
             ReadAhead ahead = replication && ownCopy ? null
                     : new ReadAhead(db, () -> readSource(SourceSnapshot.export(source, db), schema, ownCopy));
             SessionPool targetSessions = new SessionPool(() -> target.open(db));
             JobPool pool = new JobPool(jobs, "jobs-" + db)) {
            phase(events, Phase.ROLES);
            missingRoles = roles(warn);

            phase(events, Phase.SCHEMA);
            if (prior.ours()) {
                // A previous attempt of this migration may have left a subscription, slot or publication.
                Removal.removeQuietly(source, target, db, name);
            }
            targetDb.prepare(prior, attempt, properties, warn);
            if (replication) {
                // Replication publishes the tables before the slot exists; the copy lists them again under its snapshot.
                List<SourceCatalog.Table> published = tables(request, db);
                // The publication must exist before the slot: decoding sees the catalog as of each change.
                prepareTablesForReplication(events, replicator, published);
                replicator.publish(published.stream().filter(t -> !t.unlogged()).toList(), choice.check().sourceViaAivenExtras());
            }
            SourceRead read = ahead != null ? ahead.take()
                    : readSource(SourceSnapshot.withNewSlot(source, db, name, maxWait(),
                            w -> emit.accept(events.waiting(w))), schema, ownCopy);
            try (SourceSnapshot snapshot = read.snapshot()) {
                warnCapped(events, "pre-data restore: ", schema.restorePreData(missingRoles));
                List<SourceCatalog.Table> tables = read.tables();
                List<SourceCatalog.Sequence> sequences = read.sequences();
                List<SourceCatalog.MatView> matViews = read.matViews();
                List<Long> largeObjects = read.largeObjects();
                List<SourceCatalog.ConfigTable> configTables = read.configTables();
                PostDataPlan plan = read.plan();
                phase(events, Phase.DATA);
                List<String> tolerated = new ArrayList<>();
                Set<String> analyzed = Set.of();
                if (ownCopy) {
                    emit.accept(events.progress(0, tables.size(), 0, 0));
                    IndexBuilder indexes = new IndexBuilder(schema, plan, missingRoles, targetSessions,
                            pool.executor(JobPool.Kind.INDEX), db);
                    new TableCopier(source, target, targetSessions, db, snapshot, jobs, splitTableBytes, pool.executor(JobPool.Kind.COPY),
                            w -> emit.accept(events.warning(w))).copyAll(tables,
                            p -> emit.accept(events.progress(p)), t -> indexes.tableReady(t.oid()), t -> indexes.takeInline(t.oid()));
                    copyLargeObjects(snapshot, largeObjects);
                    copyConfigRows(events, snapshot, configTables, replication);
                    phase(events, Phase.POST_DATA);
                    tolerated.addAll(indexes.awaitAll());
                    analyzed = indexes.analyzed();
                    tolerated.addAll(schema.restorePostData(missingRoles, jobs, plan.rest()));
                } else {
                    copyTables(events, snapshot, pool, targetSessions, tables.stream().filter(SourceCatalog.Table::unlogged).toList());
                    copyLargeObjects(snapshot, largeObjects);
                    copyConfigRows(events, snapshot, configTables, replication);
                    phase(events, Phase.POST_DATA);
                    tolerated.addAll(schema.restorePostData(missingRoles, jobs));
                }
                warnCapped(events, "post-data restore: ", tolerated);
                try (Connection writer = target.open(db)) {
                    ObjectCopier.copySequences(sequences, writer);
                    ObjectCopier.refreshMatViews(matViews, writer);
                }
                phase(events, Phase.ANALYZE);
                schema.analyzeExcept(analyzed, jobs, pool.executor(JobPool.Kind.INDEX));
                if (replication && !largeObjects.isEmpty()) {
                    emit.accept(events.warning(largeObjects.size() + " large object(s) were copied once; logical"
                            + " replication does not carry later changes to large objects"));
                }
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.COPY_FAILED, "migrating database " + db, e);
        } catch (IOException e) {
            throw new MigrationException(ErrorCode.INTERNAL, null, "temporary file for the schema dump of " + db
                    + ": " + e.getMessage(), false, e);
        }
        phase(events, Phase.FINISH);
        targetDb.applyProperties(properties, missingRoles, warn);
        if (replication) {
            replicator.subscribe(choice.check().targetViaAivenExtras(), ownCopy);
            replicator.awaitReady((ready, total) -> {
                if (!ownCopy) {
                    emit.accept(events.progress(ready, total, 0, 0));
                }
            });
        }
        String finalState = replication ? SYNCING : DONE;
        targetDb.markDone(attempt, prior, finalState);
        return finalState;
    }

    /** How long this database may wait on a session of the user's (null: as long as it takes). */
    private java.time.Duration maxWait() {
        Integer seconds = task.request().options().maxWaitSeconds();
        return seconds == null ? null : java.time.Duration.ofSeconds(seconds);
    }

    /** What the migration reads from the source under its snapshot, before anything is copied. */
    private record SourceRead(SourceSnapshot snapshot, List<SourceCatalog.Table> tables,
                              List<SourceCatalog.Sequence> sequences, List<SourceCatalog.MatView> matViews,
                              List<Long> largeObjects, List<SourceCatalog.ConfigTable> configTables, PostDataPlan plan) {
    }

    /**
     * Dumps the schema under {@code snapshot} and reads the catalog under it; the result owns the snapshot (closed
     * here on failure). {@code plan} is null without an own copy.
     */
    private SourceRead readSource(SourceSnapshot snapshot, SchemaCopier schema, boolean ownCopy) {
        MigrationRequest request = task.request();
        String db = task.dbname();
        try {
            schema.dump(snapshot.id());
            try (Connection reader = snapshot.openReader(source, db)) {
                List<SourceCatalog.Table> tables = SourceCatalog.tables(reader, request.options().includeExtensionTables())
                        .stream().filter(t -> request.copiesTable(db, t.schema(), t.name())).toList();
                // Each plain table's indexes are built as soon as its rows are in, while other tables copy.
                PostDataPlan plan = !ownCopy ? null : schema.planPostData(reader, tables.stream()
                        .filter(t -> !t.partition()).map(SourceCatalog.Table::oid).collect(Collectors.toSet()));
                // With --include-extension-tables their whole tables are copied like any other.
                return new SourceRead(snapshot, tables, SourceCatalog.sequences(reader), SourceCatalog.matViews(reader),
                        SourceCatalog.largeObjects(reader), request.options().includeExtensionTables() ? List.of()
                        : SourceCatalog.configTables(reader), plan);
            }
        } catch (SQLException e) {
            snapshot.close();
            throw SqlStates.wrap(ErrorCode.COPY_FAILED, "reading the catalog of source database " + db, e);
        } catch (IOException e) {
            snapshot.close();
            throw new MigrationException(ErrorCode.INTERNAL, null, "temporary file for the schema of " + db
                    + ": " + e.getMessage(), false, e);
        } catch (RuntimeException e) {
            snapshot.close();
            throw e;
        }
    }

    /**
     * The source read ({@link #readSource}) running on a thread of its own. {@link #take} waits for it and hands
     * its snapshot to the caller; closed without a take, it closes the snapshot once the read ends.
     */
    private static final class ReadAhead implements AutoCloseable {
        private final CompletableFuture<SourceRead> future;
        private boolean taken;

        ReadAhead(String db, Supplier<SourceRead> read) {
            this.future = CompletableFuture.supplyAsync(read, r -> {
                Thread t = new Thread(r, "read-ahead-" + db);
                t.setDaemon(true);
                t.start();
            });
        }

        SourceRead take() {
            try {
                SourceRead read = future.join();
                taken = true;
                return read;
            } catch (CompletionException e) {
                throw e.getCause() instanceof RuntimeException r ? r
                        : new MigrationException(ErrorCode.INTERNAL, null, "reading the source: " + e.getCause(), false, e.getCause());
            }
        }

        @Override
        public void close() {
            if (!taken) {
                try {
                    future.join().snapshot().close();
                } catch (CompletionException e) {
                    // the read failed and closed its snapshot itself
                }
            }
        }
    }

    /** The tables whose data moves, as the source has them now (the copy re-reads them under its snapshot). */
    private List<SourceCatalog.Table> tables(MigrationRequest request, String db) {
        try (Connection c = source.open(db)) {
            return SourceCatalog.tables(c, request.options().includeExtensionTables()).stream()
                    .filter(t -> request.copiesTable(db, t.schema(), t.name())).toList();
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SOURCE_UNREACHABLE, "listing tables of source database " + db, e);
        }
    }

    /** Copies tables whose indexes need no early build (the unlogged tables PostgreSQL's table sync skips). */
    private void copyTables(EventSource events, SourceSnapshot snapshot, JobPool pool, SessionPool targetSessions,
                            List<SourceCatalog.Table> tables) {
        new TableCopier(source, target, targetSessions, task.dbname(), snapshot, jobs, splitTableBytes, pool.executor(JobPool.Kind.COPY),
                w -> emit.accept(events.warning(w))).copyAll(tables, p -> emit.accept(events.progress(p)), t -> { },
                t -> List.of());
    }

    private void copyLargeObjects(SourceSnapshot snapshot, List<Long> oids) throws SQLException {
        if (oids.isEmpty()) {
            return;
        }
        try (Connection reader = snapshot.openReader(source, task.dbname()); Connection writer = target.open(task.dbname())) {
            ObjectCopier.copyLargeObjects(oids, reader, writer);
        }
    }

    /** The user's rows of extension configuration tables (e.g. a custom srid in postgis' spatial_ref_sys). */
    private void copyConfigRows(EventSource events, SourceSnapshot snapshot, List<SourceCatalog.ConfigTable> tables,
                                boolean replication) throws SQLException {
        if (tables.isEmpty()) {
            return;
        }
        long rows;
        try (Connection reader = snapshot.openReader(source, task.dbname()); Connection writer = target.open(task.dbname())) {
            rows = ObjectCopier.copyConfigRows(tables, reader, writer);
        }
        if (replication && rows > 0) {
            emit.accept(events.warning(rows + " row(s) of extension configuration tables ("
                    + String.join(", ", tables.stream().map(SourceCatalog.ConfigTable::displayName).toList())
                    + ") were copied once; logical replication does not carry later changes to them"));
        }
    }

    /** Warns about what replication cannot carry, and sets REPLICA IDENTITY FULL where asked. */
    private void prepareTablesForReplication(EventSource events, Replicator replicator, List<SourceCatalog.Table> tables) {
        List<SourceCatalog.Table> unlogged = tables.stream().filter(SourceCatalog.Table::unlogged).toList();
        if (!unlogged.isEmpty()) {
            emit.accept(events.warning("unlogged table(s) " + names(unlogged) + " are not replicated by PostgreSQL:"
                    + " copied once; later changes to them will not arrive"));
        }
        List<SourceCatalog.Table> noIdentity = tables.stream().filter(t -> !t.unlogged() && !t.replicaIdentity()).toList();
        if (noIdentity.isEmpty()) {
            return;
        }
        if (task.request().options().replicaIdentityFull()) {
            replicator.replicaIdentityFull(noIdentity);
            emit.accept(events.warning("set REPLICA IDENTITY FULL on " + names(noIdentity)
                    + " (no primary key) so that their UPDATEs and DELETEs replicate"));
        } else {
            emit.accept(events.warning("table(s) " + names(noIdentity) + " have no primary key or replica identity:"
                    + " their INSERTs replicate, but UPDATE and DELETE on them will fail on the source once published;"
                    + " add a primary key, or rerun with --replica-identity-full"));
        }
    }

    private static String names(List<SourceCatalog.Table> tables) {
        return String.join(", ", tables.stream().map(SourceCatalog.Table::displayName).toList());
    }

    private void phase(EventSource events, Phase phase) {
        MDC.put("phase", phase.wireName());
        emit.accept(events.phase(phase));
    }

    /**
     * The most statements a restore reports one by one; a schema with thousands of objects of a missing role would
     * otherwise bury the row's other warnings.
     */
    private static final int TOLERATED_SHOWN = 20;

    private void warnCapped(EventSource events, String prefix, List<String> tolerated) {
        tolerated.stream().limit(TOLERATED_SHOWN).forEach(e -> emit.accept(events.warning(prefix + e)));
        if (tolerated.size() > TOLERATED_SHOWN) {
            emit.accept(events.warning(prefix + (tolerated.size() - TOLERATED_SHOWN) + " more statement(s) naming the"
                    + " same roles were not applied"));
        }
    }

    /**
     * The source database's properties; for a database the target does not have yet, fails before anything is
     * touched when the target cannot give it the source's locale.
     */
    private DatabaseProperties properties(String db, TargetDatabase.Prior prior) {
        DatabaseProperties properties;
        try (Connection c = source.open(db)) {
            properties = DatabaseProperties.read(c, db);
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SOURCE_UNREACHABLE, "reading source database " + db, e);
        }
        if (!prior.exists() || prior.ours()) {
            try (Connection c = target.open()) {
                properties.checkLocaleOn(c);
            } catch (SQLException e) {
                throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "checking the target's locales", e);
            }
        }
        return properties;
    }

    /**
     * Runs the migration's roles step unless another task of it already did (the ledger says so, and the roles
     * lock makes the others wait meanwhile); the roles that could not be created either way.
     */
    private Set<String> roles(Consumer<String> warn) {
        String key = LedgerEntry.rolesKey(task.migrationId());
        try (TaskLock lock = TaskLock.acquireRoles(target, task.migrationId())) {
            Optional<LedgerEntry> done = ledger.read(key);
            if (done.isPresent()) {
                return Set.copyOf(done.get().missing());
            }
            Set<String> missing = RoleCopier.copy(source, target, task.request(), warn).missing();
            ledger.write(key, LedgerEntry.rolesDone(List.copyOf(missing)));
            return missing;
        }
    }
}
