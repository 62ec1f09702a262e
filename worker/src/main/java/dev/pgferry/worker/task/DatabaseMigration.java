package dev.pgferry.worker.task;

import dev.pgferry.bus.Ledger;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.ReplicationNames;
import dev.pgferry.messages.StatusEvent;
import dev.pgferry.messages.Verification;
import dev.pgferry.pg.LockWaits;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Secrets;
import dev.pgferry.pg.Side;
import dev.pgferry.pg.SqlStates;
import dev.pgferry.worker.check.Checker;
import dev.pgferry.worker.database.DatabaseProperties;
import dev.pgferry.worker.replication.Cutover;
import dev.pgferry.worker.replication.Preconditions;
import dev.pgferry.worker.replication.Refresh;
import dev.pgferry.worker.replication.Removal;
import dev.pgferry.worker.replication.Uncarried;
import dev.pgferry.worker.verify.Verifier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Runs one task of one database: its attempts (counted in the ledger), its lock, its retries and its final event.
 * A migration task chooses the method first, before anything is touched: logical replication when its
 * preconditions hold (or when asked for, failing with the reasons otherwise), dump otherwise, with the reason in
 * the status; then {@link DumpMigration} (ends {@code done}) or {@link ReplicationMigration} (ends
 * {@code syncing}) runs over the steps they share ({@link CopyPipeline}). A removal task ends a migration's
 * replication instead; a cut-over task switches a syncing database over to the target ({@link Cutover}); a refresh
 * task repairs its schema drift ({@link Refresh}); a verify task compares it with the source ({@link Verifier}); a
 * check task validates a whole request without changing anything ({@link Checker}).
 * Any failure ends the task with one {@code task_failed} event and never affects other databases.
 * Confined to the thread that runs it.
 */
public final class DatabaseMigration {
    private static final Logger LOG = LoggerFactory.getLogger(DatabaseMigration.class);
    /**
     * A fault hook for tests: a pause between a finished database's final status event and the ledger's note that it
     * is written, so that a command that sees the event stops its workers while the task is still ending.
     */
    private static final long PAUSE_AFTER_FINAL_EVENT_MS =
            Long.getLong("pgferry.fault.worker.pauseAfterFinalEventMs", 0);

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
    private final Secrets secrets;
    /** This delivery of the task (action, partition and offset on the tasks topic); null: not known. */
    private String delivery;
    private Runnable duplicate = () -> { };
    private Consumer<MigrationTask> offers;

    /**
     * How many times a database is started at most. A task whose run stops its worker (a crash, an out-of-memory
     * kill) is queued again by the coordinator once its claim falls silent, and would otherwise take one worker after
     * another for ever; each start is counted in the ledger, so the count survives every process.
     */
    public static final int MAX_ATTEMPTS = 8;

    /** How long a retry waits at most for both servers to answer again (a restart, a fail-over). */
    private static final Duration RETRY_WAIT = Duration.ofSeconds(60);
    /** When the source server had last started as this attempt began (see {@link Retry}); null: unknown. */
    private volatile String sourceStartedAt;
    private BooleanSupplier stopped = () -> false;
    private boolean abandoned;
    private Consumer<Boolean> parking = parked -> { };

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
        this.secrets = secrets;
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
     * Names this delivery of the task (its record on the tasks topic), so that a second delivery of the same record
     * to another worker, while this one runs it, gives up at once instead of waiting for the task ({@link TaskLock}).
     */
    public DatabaseMigration withDelivery(String delivery) {
        this.delivery = delivery;
        return this;
    }

    /**
     * Called when this delivery gives up for the first one, which runs the task ({@link #withDelivery}): the task's
     * claim, which both deliveries write under the same key, is that one's to delete.
     */
    public DatabaseMigration onDuplicate(Runnable duplicate) {
        this.duplicate = duplicate;
        return this;
    }

    /**
     * Offers the ranges of this database's split tables to other workers by publishing them as tasks through
     * {@code publish} (see {@code SharedUnits}); without it, this worker copies them alone.
     */
    public DatabaseMigration withUnitOffers(Consumer<MigrationTask> publish) {
        this.offers = publish;
        return this;
    }

    /**
     * Says whether the command that runs this task is stopping it for good ({@code stopped}, read once the attempt
     * has failed): the attempt's failure is then reported as {@link ErrorCode#STOPPED}, after what it made is
     * removed, and it is not retried. Without it an interrupted attempt fails (or is retried) as any other.
     */
    public DatabaseMigration withStop(BooleanSupplier stopped) {
        this.stopped = stopped;
        return this;
    }

    /**
     * Marks the task as one of a migration whose command ended without stopping it (killed: a single-machine command
     * that finds it unfinished in its data directory, where nothing else can be running it): instead of a new
     * attempt, the run removes what the last one made (the replication objects; the target database when pgferry
     * created it), notes the database as removed so that no later delivery takes it up, and fails as
     * {@link ErrorCode#STOPPED}.
     */
    /**
     * Told true while the run only waits for the target server to start its subscription's apply worker, and false
     * when that wait ends: the worker may meanwhile give its slot to another task ({@link ReplicationMigration}).
     */
    public DatabaseMigration withParking(Consumer<Boolean> parking) {
        this.parking = parking;
        return this;
    }

    public DatabaseMigration abandoned(boolean abandoned) {
        this.abandoned = abandoned;
        return this;
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
        if (task.action() == MigrationTask.Action.CHECK) {
            // A check only reads, on its own sessions, and reports; its failure is its result.
            try {
                emit.accept(events.checkReported(new Checker(task.request(), secrets).run()));
            } catch (MigrationException e) {
                emit.accept(events.checkFailed(e.toFailure()));
            } catch (RuntimeException e) {
                LOG.error("check {} failed unexpectedly", task.migrationId(), e);
                emit.accept(events.checkFailed(new MigrationException(ErrorCode.INTERNAL, null,
                        "unexpected error: " + e, false, e).toFailure()));
            } finally {
                MDC.remove("database");
                MDC.remove("migration");
            }
            return true;
        }
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
        try (TaskLock lock = delivery == null ? TaskLock.acquire(target, task.migrationId(), db)
                : TaskLock.acquire(target, task.migrationId(), db, task.action().wireName() + "@" + delivery)) {
            if (lock == null) {
                LOG.info("task {} ({}) is already being run by another worker, which holds its lock: this delivery"
                        + " is dropped", task.key(), delivery);
                duplicate.run();
                return true;
            }
            TargetDatabase targetDb = new TargetDatabase(target, lock.session(), ledger, db, task.migrationId());
            TargetDatabase.Prior prior = targetDb.inspect();
            // The attempt whose row a removal, refresh or cut-over reports on.
            EventSource current = new EventSource(task.migrationId(), db, workerId, Math.max(1, prior.attempt()), clock);
            if (task.action() == MigrationTask.Action.REMOVE) {
                events = current;
                try {
                    EventSource row = events;
                    if (Removal.liftStaleBlock(source, db, task.migrationId(), ledger)) {
                        emit.accept(row.warning("a cut-over of this database had stopped while the source's writes were"
                                + " blocked (its worker ended): the source database's own setting is given back, so it"
                                + " takes writes again"));
                    }
                    Removal.remove(source, target, db, ReplicationNames.of(task.migrationId(), db), !task.finalCopy() ? null
                            : new Uncarried(source, target, db, task.request(), ledger, w -> emit.accept(row.warning(w))));
                } catch (MigrationException e) {
                    // A server that restarts or is briefly away: the removal (idempotent) runs again after a pause.
                    if (e.retriable() && retries > 0) {
                        return runAgain(events, "removal", e.getMessage());
                    }
                    throw e;
                }
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
                Refresh.Result r = new Refresh(source, target, db, ReplicationNames.of(task.migrationId(), db), task.request(),
                        ledger, task.migrationId())
                        .run((ready, total) -> { });
                if (r.error() != null && r.retriable() && retries > 0) {
                    // A refresh reads the drift afresh each time: running it again does what is left.
                    return runAgain(current, "refresh", r.error());
                }
                emit.accept(current.refreshed(r.applied(), r.remaining(), r.error()));
                return true;
            }
            if (task.action() == MigrationTask.Action.CUTOVER) {
                return cutover(current);
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
            if (abandoned) {
                abandon(targetDb, prior);
            }
            if (attempt > MAX_ATTEMPTS) {
                giveUp(targetDb, prior);
            }
            String finalState;
            EventSource attemptEvents = events;
            LockWaits waits = LockWaits.start(source, target, maxWait(), w -> emit.accept(attemptEvents.waiting(w)));
            try {
                finalState = migrate(events, targetDb, prior, attempt, lock.session());
            } catch (RuntimeException failure) {
                waits.close();
                // A statement cancelled because it waited past --max-wait fails as the wait, naming the blockers.
                RuntimeException e = waits.gaveUp().<RuntimeException>map(why -> new MigrationException(
                        ErrorCode.WAIT_TIMEOUT, null, why, false, failure)).orElse(failure);
                // Stopped by the command that runs it: its interrupt, spent or not, must cut short neither the
                // clean-up nor the final event (whose write waits for Kafka's acknowledgement).
                boolean stop = stopped.getAsBoolean();
                if (stop) {
                    Thread.interrupted();
                }
                // Nothing half-made stays behind. (A failure that is retried, into a database pgferry did not make,
                // leaves the replication objects to the next attempt, which makes them anew.)
                boolean dropped = (stop || TargetDatabase.createdByUs(prior)) && removeMade(targetDb, prior);
                if (stop) {
                    throw new MigrationException(ErrorCode.STOPPED, null, "stopped: the pgferry command running it was"
                            + " interrupted (Ctrl-C or SIGTERM). " + removed(dropped) + "; migrate the database"
                            + " again with a new request", false, e);
                }
                // When the servers had last started as the attempt began: read on its first sessions (inspect, the
                // properties), not on sessions of their own.
                Retry.Epochs epochs = new Retry.Epochs(sourceStartedAt, targetDb.serverStartedAt());
                Optional<String> why = retries > 0 ? Retry.worthIt(e, source, target, epochs) : Optional.empty();
                if (why.isPresent() && Retry.awaitServers(source, target, RETRY_WAIT) && counted(targetDb, prior, attempt)) {
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
     * Whether the failed {@code attempt} is counted in the marker, so that the next run is the attempt announced
     * ({@link TargetDatabase#countFailedAttempt}); when the ledger cannot be written, the attempt's own failure is
     * the database's.
     */
    private boolean counted(TargetDatabase targetDb, TargetDatabase.Prior prior, int attempt) {
        try {
            targetDb.countFailedAttempt(prior, attempt);
            return true;
        } catch (RuntimeException e) {
            LOG.warn("database {}: attempt {} could not be counted in the ledger ({}), so it is not retried",
                    task.dbname(), attempt, e.toString());
            return false;
        }
    }

    /**
     * Says in the row that {@code what} stopped for a reason that may pass ({@code error}) and runs again after a
     * pause; returns false, which makes the worker run the task again.
     */
    private boolean runAgain(EventSource events, String what, String error) {
        emit.accept(events.warning(what + " failed: " + error + "; trying again (" + retries + " more tr"
                + (retries == 1 ? "y" : "ies") + " left)"));
        return false;
    }

    /** Ends the task of an {@link #abandoned} migration: removes what its last attempt made, then fails it. */
    private void abandon(TargetDatabase targetDb, TargetDatabase.Prior prior) {
        boolean dropped = removeMade(targetDb, prior) && prior.exists();
        targetDb.markRemoved(Math.max(1, prior.attempt()));
        throw new MigrationException(ErrorCode.STOPPED, "stopped: the pgferry command running this migration ended"
                + " without stopping it (killed, or its machine went down), and the next command on its data directory"
                + " found it unfinished. " + removed(dropped) + "; migrate the database again with a new request");
    }

    /**
     * Removes what this migration made for the database, so that nothing half-made stays behind: its replication
     * objects (this migration's by their names, whoever made the database) first, then the target database when
     * pgferry created it. Quiet: what cannot be removed now is left to the next attempt or a removal. Whether the
     * database was pgferry's to drop.
     */
    private boolean removeMade(TargetDatabase targetDb, TargetDatabase.Prior prior) {
        Removal.removeQuietly(source, target, task.dbname(), ReplicationNames.of(task.migrationId(), task.dbname()));
        if (!TargetDatabase.createdByUs(prior)) {
            return false;
        }
        targetDb.dropQuietly();
        return true;
    }

    /** What {@link #removeMade} removed, in words. */
    private static String removed(boolean dropped) {
        return dropped ? "The half-copied target database and the attempt's replication objects were removed"
                : "The attempt's replication objects were removed";
    }

    /**
     * Refuses attempt {@link #MAX_ATTEMPTS} + 1 of a database whose earlier attempts never finished, after removing
     * what they left (the replication objects, and the database when pgferry created it).
     */
    private void giveUp(TargetDatabase targetDb, TargetDatabase.Prior prior) {
        String db = task.dbname();
        boolean dropped = removeMade(targetDb, prior) && prior.exists();
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
                }).withWarnings(w -> emit.accept(events.warning(w)))
                .run((step, detail) -> emit.accept(events.cutoverStep(step, detail)));
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
            if (PAUSE_AFTER_FINAL_EVENT_MS > 0) {
                try {
                    Thread.sleep(PAUSE_AFTER_FINAL_EVENT_MS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();   // the ledger's write below then fails, as it would have
                }
            }
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

    /** The method, from the preconditions read on {@code s} (the source database) and {@code t} (the target). */
    private Choice choose(Connection s, Connection t) {
        MigrationRequest request = task.request();
        if (request.method() == Method.DUMP) {
            return new Choice(Method.DUMP, null, null);
        }
        Preconditions.Result check;
        try {
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

    /**
     * Migrates the database and marks it finished in the ledger; returns its final state, done or syncing. {@code t}:
     * the task's session on the target's bootstrap database.
     */
    private String migrate(EventSource events, TargetDatabase targetDb, TargetDatabase.Prior prior, int attempt,
                           Connection t) {
        CopyPipeline pipeline = new CopyPipeline(task, source, target, events, emit, ledger, jobs, splitTableBytes)
                .withOffers(offers);
        DatabaseProperties properties;
        Choice choice;
        // One session on the source for the properties, the locale check and the method's preconditions (a dump's
        // snapshot is then exported on it); on the target, the task's own (its lock's).
        Connection s = source.open(task.dbname());
        try {
            sourceStartedAt = Retry.startedAt(s);
            properties = pipeline.properties(prior, s, t);
            choice = choose(s, t);
            emit.accept(events.started(choice.method(), choice.reason()));
            pipeline.checkExtensions(prior, s, t);
        } catch (RuntimeException e) {
            PgConnector.closeQuietly(s);
            throw e;
        }
        String finalState;
        if (choice.method() == Method.REPLICATION) {
            PgConnector.closeQuietly(s);
            boolean replicating = new ReplicationMigration(pipeline, choice.check(), maxWait(), parking)
                    .run(targetDb, prior, attempt, properties);
            finalState = replicating ? SYNCING : DONE;
        } else {
            new DumpMigration(pipeline).run(targetDb, prior, attempt, properties, s);
            finalState = DONE;
        }
        targetDb.markDone(attempt, prior, finalState);
        return finalState;
    }

    /** How long this database may wait on a session of the user's (null: as long as it takes). */
    private java.time.Duration maxWait() {
        Integer seconds = task.request().options().maxWaitSeconds();
        return seconds == null ? null : java.time.Duration.ofSeconds(seconds);
    }
}
