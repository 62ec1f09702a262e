package dev.pgferry.worker.task;

import dev.pgferry.bus.Ledger;
import dev.pgferry.messages.CopyUnit;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Secrets;
import dev.pgferry.pg.SessionPool;
import dev.pgferry.pg.Side;
import dev.pgferry.pg.SqlStates;
import dev.pgferry.worker.copy.SharedUnits;
import dev.pgferry.worker.copy.SourceCatalog;
import dev.pgferry.worker.copy.SourceSnapshot;
import dev.pgferry.worker.copy.TableCopier;
import dev.pgferry.worker.copy.TableSlicer;
import dev.pgferry.worker.copy.ToastCompression;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.sql.SQLException;

/**
 * Runs a {@code copy_unit} task: one range of a large table, or a whole table, that the worker migrating its database
 * offered (see {@link SharedUnits}), read under that worker's exported snapshot and written in one target transaction. It only
 * ever helps: the offering worker copies every unit nobody else finished, so a unit that cannot be copied here (its
 * snapshot gone because that attempt ended, its target database gone, another worker holding it, any error) is
 * left to it, said in the log, and the task ends. Emits no status event: the offering worker counts the unit's rows
 * once it finds the unit done.
 */
public final class UnitCopy {
    private static final Logger LOG = LoggerFactory.getLogger(UnitCopy.class);

    private UnitCopy() {
    }

    public static void run(MigrationTask task, String workerId, Secrets secrets, Ledger ledger) {
        CopyUnit u = task.unit();
        String db = task.dbname();
        MDC.put("migration", task.migrationId());
        MDC.put("database", db);
        String tag = "unit/" + Integer.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextInt());
        PgConnector source = new PgConnector(task.request().source(), Side.SOURCE, tag, secrets);
        PgConnector target = new PgConnector(task.request().target(), Side.TARGET, tag, secrets);
        SourceCatalog.Table table = new SourceCatalog.Table(u.schema(), u.table(), u.columns(), 0, false, true, 0, 0,
                SourceCatalog.IndexCost.NONE);
        TableSlicer.Slice slice = new TableSlicer.Slice(table, u.lower() == null && u.upper() == null ? null
                : new TableSlicer.Range(u.keyColumn(), u.lower(), u.upper()), u.part(), u.parts());
        try (SourceSnapshot snapshot = SourceSnapshot.imported(source, db, u.snapshot());
             SessionPool targetSessions = new SessionPool(() -> target.open(db))) {
            if (!importable(snapshot)) {
                LOG.info("{}: attempt {} of {} has ended (its snapshot is gone); nothing to do", slice.describe(),
                        u.attempt(), db);
                return;
            }
            String sourceToast;
            try {
                sourceToast = snapshot.read(ToastCompression::ofSource);
            } catch (SQLException e) {
                throw SqlStates.wrap(ErrorCode.COPY_FAILED, "reading the TOAST compression of source database " + db, e);
            }
            // The owner's copies got the same answer (its warning, if any, is in the status).
            String toast = ToastCompression.forTarget(targetSessions, db, sourceToast, w -> { });
            TableCopier.Copied copied = new TableCopier(source, target, targetSessions, db, snapshot, 1, 0, Runnable::run,
                    w -> LOG.warn("{}: {}", slice.describe(), w))
                    .withSharedUnits(new SharedUnits(ledger, task.migrationId(), db, u.attempt(), workerId, null)
                            .onlyInto(u.targetDatabaseOid()))
                    .withToastCompression(toast)
                    .copyOffered(slice, u.index());
            if (copied == null) {
                LOG.info("{} of {}: another worker is copying it", slice.describe(), db);
            } else if (copied.here()) {
                LOG.info("copied {} of {} for {} ({} rows)", slice.describe(), db, u.owner(), copied.rows());
            } else {
                LOG.info("{} of {} was copied already", slice.describe(), db);
            }
        } catch (MigrationException e) {
            LOG.warn("{} of {} not copied here ({}); {} copies it", slice.describe(), db, e.getMessage(), u.owner());
        } catch (RuntimeException e) {
            // Never the end of this worker: the unit is its owner's to finish.
            LOG.error("{} of {} failed unexpectedly; {} copies it", slice.describe(), db, u.owner(), e);
        } finally {
            MDC.remove("database");
            MDC.remove("migration");
        }
    }

    /**
     * Whether the unit's attempt may still be running, as the database's ledger entry says ({@code running} with
     * that attempt): a unit of a finished, failed or newer attempt is dropped without touching either server.
     */
    public static boolean wanted(MigrationTask task, Ledger ledger) {
        try {
            return ledger.read(LedgerEntry.databaseKey(task.migrationId(), task.dbname()))
                    .map(e -> e.state() == LedgerEntry.State.RUNNING && e.attempt() == task.unit().attempt())
                    .orElse(false);
        } catch (RuntimeException e) {
            // Kafka cannot answer now: the run itself finds out (the snapshot, the ledger entry of the unit)
            return true;
        }
    }

    /** Whether the snapshot can still be imported: only while the offering attempt holds it open. */
    private static boolean importable(SourceSnapshot snapshot) {
        try (SessionPool.Lease probe = snapshot.lease()) {
            probe.connection().commit();
            probe.connection().setAutoCommit(true);
            probe.release();
            return true;
        } catch (SQLException e) {
            if (SqlStates.INVALID_PARAMETER_VALUE.equals(e.getSQLState())) {
                return false;
            }
            throw SqlStates.wrap(ErrorCode.SOURCE_UNREACHABLE, "reading the source for a copy unit", e);
        }
    }
}
