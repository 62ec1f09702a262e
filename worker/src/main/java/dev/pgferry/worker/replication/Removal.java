package dev.pgferry.worker.replication;

import dev.pgferry.bus.Ledger;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;
import dev.pgferry.worker.copy.ObjectCopier;
import dev.pgferry.worker.copy.SourceCatalog;
import io.github.resilience4j.core.IntervalFunction;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import org.postgresql.util.PSQLState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;

/**
 * Ends the replication of one database and deletes every object pgferry made for it: first advances the target's
 * sequences to the source's (never back: an application may already write to the target), or, with a final copy,
 * makes everything replication does not carry the source's ({@link Uncarried}); then drops the subscription on the
 * target, enables the target's triggers held disabled meanwhile as on the source ({@link ReplicaTriggers}), and drops
 * the slot and publication on the source. Each step checks what exists, so removal is idempotent and
 * finishes a removal that was partly done. Stateless.
 */
public final class Removal {
    private static final Logger LOG = LoggerFactory.getLogger(Removal.class);
    /** A slot stays active for a moment after its subscription is disabled (SQLSTATE 55006): retry. */
    private static final Retry SLOT_DROP = Retry.of("drop-slot", RetryConfig.custom()
            .maxAttempts(20)
            .intervalFunction(IntervalFunction.ofExponentialBackoff(200, 1.5, 3_000))
            .retryOnException(e -> e instanceof SQLException s
                    && PSQLState.OBJECT_IN_USE.getState().equals(s.getSQLState()))
            .build());

    private Removal() {
    }

    /**
     * Before a user's removal: a cut-over of the database that stopped while it blocked the source's writes (its worker
     * died; the ledger still says {@code running}) left the source refusing writes. The removal ends the migration
     * with the source as it was, so its own setting comes back (and the ledger says the cut-over was aborted). A
     * cut-over that was done keeps its block, as any finished cut-over does. Returns whether a block was lifted.
     */
    public static boolean liftStaleBlock(PgConnector source, String dbname, String migrationId, Ledger ledger) {
        String key = LedgerEntry.cutoverKey(migrationId, dbname);
        Optional<LedgerEntry> cut = ledger.read(key);
        if (cut.isEmpty() || cut.get().state() != LedgerEntry.State.RUNNING) {
            return false;
        }
        Cutover.restore(source, dbname, cut.get().savedSetting());
        ledger.write(key, LedgerEntry.cutover(LedgerEntry.State.ABORTED, cut.get().savedSetting()));
        LOG.info("database {}: a cut-over that had stopped with the source's writes blocked was undone", dbname);
        return true;
    }

    /** Best effort cleanup after a failed attempt; a failure here is logged by the caller's failure already. */
    public static void removeQuietly(PgConnector source, PgConnector target, String dbname, String name) {
        try {
            remove(source, target, dbname, name);
        } catch (RuntimeException e) {
            // the next attempt or a removal request finishes it
        }
    }

    /** Returns whether there was anything to remove. */
    public static boolean remove(PgConnector source, PgConnector target, String dbname, String name) {
        return remove(source, target, dbname, name, null);
    }

    /**
     * As {@link #remove(PgConnector, PgConnector, String, String)}; with {@code finalCopy} (null: none), what
     * replication does not carry is copied before the subscription is dropped, while the database still replicates.
     */
    public static boolean remove(PgConnector source, PgConnector target, String dbname, String name, Uncarried finalCopy) {
        boolean found = false;
        try (Connection t = target.open()) {
            if (!ServerCatalog.exists(t, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = ?", dbname)) {
                return dropSourceObjects(source, dbname, name);
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "removing replication of " + dbname, e);
        }
        try (Connection t = target.open(dbname)) {
            if (ServerCatalog.exists(t, "SELECT 1 FROM pg_catalog.pg_subscription WHERE subname = ?", name)) {
                found = true;
                try (Connection s = source.open(dbname)) {
                    if (finalCopy == null) {
                        ObjectCopier.advanceSequences(SourceCatalog.sequences(s), t);
                    } else {
                        s.setAutoCommit(true);
                        Cutover.Steps log = (step, detail) -> LOG.info("database {}: {}: {}", dbname, step, detail);
                        finalCopy.settings(s, t, Uncarried.ownSetting(s), log);
                        finalCopy.rows(s, t, "", log);
                    }
                } catch (SQLException e) {
                    throw SqlStates.wrap(ErrorCode.COPY_FAILED, (finalCopy == null ? "advancing the sequences"
                            : "copying what replication does not carry") + " of database " + dbname
                            + " before dropping its replication", e);
                }
                t.setAutoCommit(true);
                if (finalCopy == null) {
                    EventTriggers.pass(t);  // (a final copy's rows already made this session pass them)
                }
                if (Preconditions.hasAivenExtras(t) && !ServerCatalog.isSuperuser(t)) {
                    try (PreparedStatement ps = t.prepareStatement("SELECT aiven_extras.pg_drop_subscription(?)")) {
                        ps.setString(1, name);
                        ps.executeQuery().close();
                    }
                } else {
                    try (Statement st = t.createStatement()) {
                        st.execute("ALTER SUBSCRIPTION " + Sql.ident(name) + " DISABLE");
                        // Detach the slot so that DROP SUBSCRIPTION does not need the source; we drop it below.
                        st.execute("ALTER SUBSCRIPTION " + Sql.ident(name) + " SET (slot_name = NONE)");
                        st.execute("DROP SUBSCRIPTION " + Sql.ident(name));
                    }
                }
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "dropping subscription " + name + " in target database " + dbname, e);
        }
        releaseTriggers(source, target, dbname);
        return dropSourceObjects(source, dbname, name) || found;
    }

    /** The target's triggers held disabled while the database replicated, enabled again as on the source. */
    private static void releaseTriggers(PgConnector source, PgConnector target, String dbname) {
        try (Connection s = source.open(dbname); Connection t = target.open(dbname)) {
            EventTriggers.pass(t);
            ReplicaTriggers.Held released = ReplicaTriggers.release(s, t);
            if (!released.held().isEmpty()) {
                LOG.info("database {}: trigger(s) {} enabled again as on the source", dbname,
                        String.join(", ", released.held()));
            }
            if (!released.refused().isEmpty()) {
                LOG.warn("database {}: trigger(s) held disabled while it replicated could not be enabled again (only"
                        + " their table's owner may); run on the target: {}", dbname, String.join("; ", released.refused()));
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "enabling again, as on the source, the triggers held"
                    + " disabled while database " + dbname + " replicated", e);
        }
    }

    private static boolean dropSourceObjects(PgConnector source, String dbname, String name) {
        boolean found = false;
        try (Connection s = source.open(dbname)) {
            if (ServerCatalog.exists(s, "SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = ?", name)) {
                found = true;
                Retry.decorateCheckedRunnable(SLOT_DROP, () -> {
                    try (PreparedStatement ps = s.prepareStatement("SELECT pg_catalog.pg_drop_replication_slot(?)")) {
                        ps.setString(1, name);
                        ps.executeQuery().close();
                    }
                }).run();
            }
            if (ServerCatalog.exists(s, "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = ?", name)) {
                found = true;
                EventTriggers.pass(s);
                try (Statement st = s.createStatement()) {
                    st.execute("DROP PUBLICATION IF EXISTS " + Sql.ident(name));
                }
            }
            return found;
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SOURCE_UNREACHABLE, "dropping slot and publication " + name
                    + " in source database " + dbname, e);
        } catch (Throwable e) {
            if (e instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e);
        }
    }


}
