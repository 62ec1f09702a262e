package dev.pgferry.worker.task;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.ReplicationNames;
import dev.pgferry.pg.SchemaDrift;
import dev.pgferry.pg.SqlStates;
import dev.pgferry.worker.copy.CreatedSlot;
import dev.pgferry.worker.copy.SourceCatalog;
import dev.pgferry.worker.copy.SourceSnapshot;
import dev.pgferry.worker.database.DatabaseProperties;
import dev.pgferry.worker.replication.MadeObjects;
import dev.pgferry.worker.replication.Preconditions;
import dev.pgferry.worker.replication.Removal;
import dev.pgferry.worker.replication.ReplicaTriggers;
import dev.pgferry.worker.replication.Replicator;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The replication method: the tables are published, the database is copied, then a subscription on the target
 * follows the source (the target's triggers that would fire in its apply worker held disabled, {@link
 * ReplicaTriggers}), and the database ends {@code syncing}. By default pgferry copies the data itself under the
 * snapshot of the slot it creates ({@link CreatedSlot}), and the subscription streams from that slot without
 * copying; with {@code postgres_table_sync} PostgreSQL's table sync copies the tables (pgferry copies only the
 * unlogged ones, which it skips) and the subscription makes its own slot. Confined to the task's thread.
 */
final class ReplicationMigration {
    /** How long reading what both sides have waits for a lock another session holds on a table. */
    private static final long RECORD_LOCK_TIMEOUT_MS = 30_000;
    private final CopyPipeline pipeline;
    private final Preconditions.Result check;
    private final Duration maxWait;
    private final String name;
    private final Replicator replicator;
    /** Told while the task waits for the target to start its apply worker ({@link #awaitApplyWorker}). */
    private final Consumer<Boolean> parking;
    /** Whether the source database has triggers that fire on a replica too ({@link #publish} reads it). */
    private boolean firingTriggers;

    ReplicationMigration(CopyPipeline pipeline, Preconditions.Result check, Duration maxWait, Consumer<Boolean> parking) {
        this.pipeline = pipeline;
        this.check = check;
        this.maxWait = maxWait;
        this.parking = parking;
        this.name = ReplicationNames.of(pipeline.task.migrationId(), pipeline.db);
        this.replicator = new Replicator(pipeline.source, pipeline.target, pipeline.db, name);
    }

    /**
     * Returns whether the database replicates: false when method auto found no logical replication worker left for
     * its subscription once the copy was done ({@link #subscribe}), and the copy is kept as a one-time copy.
     */
    boolean run(TargetDatabase targetDb, TargetDatabase.Prior prior, int attempt, DatabaseProperties properties) {
        if (pipeline.task.request().options().postgresTableSync()) {
            return withTableSync(targetDb, prior, attempt, properties);
        }
        return withOwnCopy(targetDb, prior, attempt, properties);
    }

    /** pgferry's parallel copy under the slot's snapshot, indexes after, then streaming from that slot. */
    private boolean withOwnCopy(TargetDatabase targetDb, TargetDatabase.Prior prior, int attempt,
                                DatabaseProperties properties) {
        Set<String> missingRoles;
        CreatedSlot slot;
        try (CopyPipeline.Resources res = pipeline.open()) {
            missingRoles = pipeline.rolesAndTarget(targetDb, prior, attempt, properties);
            publish();
            // The slot is created after the publication (decoding sees the catalog as of each change) and waits for
            // every transaction open on the source; its snapshot is the one the copy reads.
            slot = SourceSnapshot.createSlot(pipeline.source, pipeline.db, name, maxWait,
                    w -> pipeline.emit(pipeline.events.waiting(w)));
            try (CopyPipeline.SourceRead read = pipeline.read(slot.snapshot(), res.schema(), true)) {
                pipeline.copy(res, read, missingRoles, CopyPipeline.Scope.ALL, true);
            }
        }
        pipeline.finish(targetDb, properties, missingRoles);
        boolean subscribed = subscribe(() -> replicator.subscribe(slot, check.targetViaAivenExtras()), true);
        pipeline.createEventTriggers();
        if (!subscribed) {
            return false;
        }
        awaitApplyWorker();
        recordMade();
        return true;
    }

    /**
     * Waits for the subscription's apply worker (its tables are ready at once: pgferry copied them), parked: nothing
     * of this task works meanwhile, and its worker may start another task. On PostgreSQL 15 and older the target's
     * launcher starts apply workers at most once per {@code wal_retrieve_retry_interval} (5 s) for the whole server,
     * so a subscription made within 5 s of another's waits up to that long.
     */
    private void awaitApplyWorker() {
        parking.accept(true);
        try {
            holdParked();
            replicator.awaitReady((ready, total) -> { });
        } finally {
            parking.accept(false);
        }
    }

    /**
     * Fault hook for tests: with {@code pgferry.fault.worker.holdParked=DB:FILE}, database DB stays parked while FILE
     * exists.
     */
    private void holdParked() {
        String hold = System.getProperty("pgferry.fault.worker.holdParked", "");
        int colon = hold.indexOf(':');
        if (colon < 0 || !hold.substring(0, colon).equals(pipeline.db)) {
            return;
        }
        java.nio.file.Path file = java.nio.file.Path.of(hold.substring(colon + 1));
        while (java.nio.file.Files.exists(file)) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** PostgreSQL's table sync copies the tables; the tables' progress is the subscription's. */
    private boolean withTableSync(TargetDatabase targetDb, TargetDatabase.Prior prior, int attempt,
                                  DatabaseProperties properties) {
        Set<String> missingRoles;
        try (CopyPipeline.Resources res = pipeline.open();
             CopyPipeline.ReadAhead ahead = pipeline.readAhead(res.schema(), false)) {
            missingRoles = pipeline.rolesAndTarget(targetDb, prior, attempt, properties);
            publish();
            try (CopyPipeline.SourceRead read = ahead.take()) {
                pipeline.copy(res, read, missingRoles, CopyPipeline.Scope.UNLOGGED_ONLY, true);
            }
        }
        pipeline.finish(targetDb, properties, missingRoles);
        // (the table sync copies the tables: without a subscription there is no copy to keep)
        subscribe(() -> replicator.subscribeWithTableSync(check.targetViaAivenExtras()), false);
        pipeline.createEventTriggers();
        replicator.awaitReady((ready, total) -> pipeline.emit(pipeline.events.progress(ready, total, 0, 0)));
        recordMade();
        return true;
    }

    /**
     * Holds the triggers that would fire in the apply worker and runs {@code subscribe}, if the target has a logical
     * replication worker left for the subscription; one task of the target server at a time, so that two never take
     * the last one ({@link TaskLock#acquireSubscriptions}). The method's precondition looked when the task began, but
     * other databases' subscriptions may have taken the workers since, and a subscription beyond them would never
     * start. Then, with method auto and {@code copied} (the rows are all in, as of the slot's snapshot), the copy is
     * kept as a one-time copy, as the dump method makes: the publication and slot are dropped, and the row says so
     * (returns false); otherwise the database fails, saying what to raise. A subscription that copies the tables
     * itself needs a second worker for its table syncs, which would otherwise wait for one for ever.
     */
    private boolean subscribe(Runnable subscribe, boolean copied) {
        try (TaskLock lock = TaskLock.acquireSubscriptions(pipeline.target)) {
            Connection t = lock.session();
            String none;
            try {
                none = Preconditions.freeApplyWorkers(t) >= (copied ? 1 : 2) ? null : Preconditions.noFreeApplyWorker(t);
            } catch (SQLException e) {
                throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "counting the target's free logical replication"
                        + " workers", e);
            }
            if (none != null) {
                if (!copied || pipeline.task.request().method() == Method.REPLICATION) {
                    throw new MigrationException(ErrorCode.PRECONDITION_FAILED, "logical replication is not possible"
                            + " any more: " + none + " (the workers were free when the database began)");
                }
                Removal.remove(pipeline.source, pipeline.target, pipeline.db, name);
                pipeline.emit(pipeline.events.started(Method.DUMP, "dump instead of logical replication: " + none
                        + ". Other databases' subscriptions took the workers while this one was copied: the copy is"
                        + " kept as a one-time copy, and what the source wrote after it began is not on the target"));
                return false;
            }
            holdTriggers();
            subscribe.run();
            return true;
        }
    }

    /**
     * Keeps what both sides have once the database replicates in the ledger ({@link MadeObjects}), so that a later
     * {@code refresh} drops on the target what the source drops then, and only that. Without the record refresh
     * leaves such things to the user, which a warning says; the replication is not failed for it.
     */
    private void recordMade() {
        MigrationRequest request = pipeline.task.request();
        String why;
        try (Connection s = pipeline.source.open(pipeline.db); Connection t = pipeline.target.open(pipeline.db)) {
            SchemaDrift drift = SchemaDrift.of(s, t, name, name, (schema, table) -> request.copiesTable(pipeline.db,
                    schema, table), request.options().includeExtensionTables(), RECORD_LOCK_TIMEOUT_MS);
            if (MadeObjects.none().recordWith(pipeline.ledger(), pipeline.task.migrationId(), pipeline.db, drift.shared(),
                    drift.identities())) {
                return;
            }
            why = "the schema has more than " + MadeObjects.MAX + " tables, columns and objects";
        } catch (SQLException e) {
            why = SqlStates.describe(e);
        } catch (RuntimeException e) {
            why = e.getMessage();
        }
        pipeline.warn("pgferry kept no record of what the source and target have now (" + why + "): if the source"
                + " drops a table, column or other object while this database replicates, pgferry refresh leaves it on"
                + " the target for you to drop");
    }

    /**
     * Publishes the tables as the source has them now (the copy lists them again under its snapshot), after warning
     * about what replication cannot carry. The publication must exist before the slot.
     */
    private void publish() {
        MigrationRequest request = pipeline.task.request();
        List<SourceCatalog.Table> tables;
        try (Connection c = pipeline.source.open(pipeline.db)) {
            tables = SourceCatalog.tables(c, request.options().includeExtensionTables()).stream()
                    .filter(t -> request.copiesTable(pipeline.db, t.schema(), t.name())).toList();
            firingTriggers = !ReplicaTriggers.firing(c).isEmpty();
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SOURCE_UNREACHABLE, "listing tables of source database " + pipeline.db, e);
        }
        prepareTables(tables);
        replicator.publish(tables.stream().filter(t -> !t.unlogged()).toList(), check.sourceViaAivenExtras());
    }

    /**
     * Before the subscription applies a row: the triggers that would fire in its apply worker are held disabled on
     * the target ({@link ReplicaTriggers}), and the row says so.
     */
    private void holdTriggers() {
        if (!firingTriggers) {
            return;
        }
        ReplicaTriggers.Held held;
        try (Connection s = pipeline.source.open(pipeline.db); Connection t = pipeline.target.open(pipeline.db)) {
            held = ReplicaTriggers.hold(s, t);
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, "holding the triggers that fire on a replica"
                    + " disabled in target database " + pipeline.db, e);
        }
        if (!held.held().isEmpty()) {
            pipeline.warn(ReplicaTriggers.heldNote(held.held()));
        }
        if (!held.refused().isEmpty()) {
            pipeline.warn(ReplicaTriggers.refusedNote(held.refused()));
        }
    }

    /** Warns about what replication cannot carry, and sets REPLICA IDENTITY FULL where asked. */
    private void prepareTables(List<SourceCatalog.Table> tables) {
        List<SourceCatalog.Table> unlogged = tables.stream().filter(SourceCatalog.Table::unlogged).toList();
        if (!unlogged.isEmpty()) {
            pipeline.warn("unlogged table(s) " + names(unlogged) + " are not replicated by PostgreSQL:"
                    + " copied once now; later changes to them arrive only when pgferry cutover copies them again,"
                    + " while the source's writes are blocked (pgferry remove --final-copy, without blocking them)");
        }
        List<SourceCatalog.Table> noIdentity = tables.stream().filter(t -> !t.unlogged() && !t.replicaIdentity()).toList();
        if (noIdentity.isEmpty()) {
            return;
        }
        if (pipeline.task.request().options().replicaIdentityFull()) {
            replicator.replicaIdentityFull(noIdentity);
            pipeline.warn("set REPLICA IDENTITY FULL on " + names(noIdentity)
                    + " (no primary key) so that their UPDATEs and DELETEs replicate");
        } else {
            pipeline.warn("table(s) " + names(noIdentity) + " have no primary key or replica identity:"
                    + " their INSERTs replicate, but UPDATE and DELETE on them will fail on the source once published;"
                    + " add a primary key, or rerun with --replica-identity-full");
        }
    }

    private static String names(List<SourceCatalog.Table> tables) {
        return String.join(", ", tables.stream().map(SourceCatalog.Table::displayName).toList());
    }
}
