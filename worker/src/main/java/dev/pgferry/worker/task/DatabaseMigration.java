package dev.pgferry.worker.task;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.Phase;
import dev.pgferry.messages.StatusEvent;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Secrets;
import dev.pgferry.pg.Side;
import dev.pgferry.pg.SqlStates;
import dev.pgferry.worker.copy.ObjectCopier;
import dev.pgferry.worker.copy.SourceCatalog;
import dev.pgferry.worker.copy.SourceSnapshot;
import dev.pgferry.worker.copy.TableCopier;
import dev.pgferry.worker.roles.RoleCopier;
import dev.pgferry.worker.schema.SchemaCopier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Migrates one database with the dump method: roles, target database, pre-data schema, table data under one
 * source snapshot, large objects, post-data schema (indexes, constraints, triggers, matview data), sequences,
 * then {@code done}. Every step emits status events; any failure ends the task with one {@code task_failed}
 * event and never affects other databases. Confined to the thread that runs it.
 */
public final class DatabaseMigration {
    private static final Logger LOG = LoggerFactory.getLogger(DatabaseMigration.class);

    private final MigrationTask task;
    private final String workerId;
    private final Consumer<StatusEvent> emit;
    private final Clock clock;
    private final int jobs;
    private final PgConnector source;
    private final PgConnector target;

    public DatabaseMigration(MigrationTask task, String workerId, Consumer<StatusEvent> emit, Clock clock,
                             Secrets secrets, int jobs) {
        this.task = task;
        this.workerId = workerId;
        this.emit = emit;
        this.clock = clock;
        this.jobs = jobs;
        this.source = new PgConnector(task.request().source(), Side.SOURCE, "worker", secrets);
        this.target = new PgConnector(task.request().target(), Side.TARGET, "worker", secrets);
    }

    /** Runs the task to its final event; never throws for a database failure. */
    public void run() {
        String db = task.dbname();
        MDC.put("migration", task.migrationId());
        MDC.put("database", db);
        EventSource events = new EventSource(task.migrationId(), db, workerId, 1, clock);
        try {
            TargetDatabase targetDb = new TargetDatabase(target, db, task.migrationId());
            TargetDatabase.Prior prior = targetDb.inspect();
            if (prior.done()) {
                LOG.info("database {} was already migrated by {} (attempt {}); nothing to do", db, task.migrationId(),
                        prior.attempt());
                return;
            }
            int attempt = prior.ours() ? prior.attempt() + 1 : 1;
            events = new EventSource(task.migrationId(), db, workerId, attempt, clock);
            try {
                migrate(events, targetDb, prior, attempt);
            } catch (RuntimeException e) {
                if (!prior.exists() || prior.ours()) {
                    targetDb.dropQuietly();
                }
                throw e;
            }
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
    }

    private void migrate(EventSource events, TargetDatabase targetDb, TargetDatabase.Prior prior, int attempt) {
        MigrationRequest request = task.request();
        String db = task.dbname();
        if (request.method() == Method.REPLICATION) {
            throw new MigrationException(ErrorCode.PRECONDITION_FAILED, "method replication is not available in this"
                    + " version of pgferry; use --method dump (or auto, which uses dump until replication is available)");
        }
        Method method = Method.DUMP;
        emit.accept(events.started(method));

        phase(events, Phase.ROLES);
        Set<String> missingRoles = RoleCopier.copy(source, target, db, message -> emit.accept(events.warning(message))).missing();

        phase(events, Phase.SCHEMA);
        String[] ownerAndEncoding = ownerAndEncoding(db);
        targetDb.prepare(prior, attempt, ownerAndEncoding[0], ownerAndEncoding[1]);
        try (SourceSnapshot snapshot = new SourceSnapshot(source, db);
             SchemaCopier schema = new SchemaCopier(source, target, db)) {
            schema.dump(snapshot.id());
            schema.restorePreData(missingRoles).forEach(e -> emit.accept(events.warning("pre-data restore: " + e)));

            phase(events, Phase.DATA);
            List<SourceCatalog.Table> tables;
            List<SourceCatalog.Sequence> sequences;
            List<SourceCatalog.MatView> matViews;
            try (Connection reader = snapshot.openReader(source, db); Connection writer = target.open(db)) {
                tables = SourceCatalog.tables(reader).stream()
                        .filter(t -> request.copiesTable(db, t.schema(), t.name())).toList();
                sequences = SourceCatalog.sequences(reader);
                matViews = SourceCatalog.matViews(reader);
                emit.accept(events.progress(0, tables.size(), 0, 0));
                new TableCopier(source, target, db, snapshot, jobs).copyAll(tables,
                        (done, total, rows, bytes) -> emit.accept(events.progress(done, total, rows, bytes)));
                ObjectCopier.copyLargeObjects(SourceCatalog.largeObjects(reader), reader, writer);
            }

            phase(events, Phase.POST_DATA);
            schema.restorePostData(missingRoles).forEach(e -> emit.accept(events.warning("post-data restore: " + e)));
            try (Connection writer = target.open(db)) {
                ObjectCopier.copySequences(sequences, writer);
                ObjectCopier.refreshMatViews(matViews, writer);
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.COPY_FAILED, "migrating database " + db, e);
        } catch (IOException e) {
            throw new MigrationException(ErrorCode.INTERNAL, null, "temporary file for the schema dump of " + db
                    + ": " + e.getMessage(), false, e);
        }

        phase(events, Phase.FINISH);
        targetDb.markDone(attempt);
        emit.accept(events.done(method));
        LOG.info("database {} done", db);
    }

    private void phase(EventSource events, Phase phase) {
        MDC.put("phase", phase.wireName());
        emit.accept(events.phase(phase));
    }

    private String[] ownerAndEncoding(String db) {
        try (Connection c = source.open(db);
             PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.pg_get_userbyid(datdba),"
                     + " pg_catalog.pg_encoding_to_char(encoding) FROM pg_catalog.pg_database WHERE datname = ?")) {
            ps.setString(1, db);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new String[]{rs.getString(1), rs.getString(2)};
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SOURCE_UNREACHABLE, "reading source database " + db, e);
        }
    }
}
