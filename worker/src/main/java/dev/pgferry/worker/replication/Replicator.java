package dev.pgferry.worker.replication;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;
import dev.pgferry.worker.copy.CreatedSlot;
import dev.pgferry.worker.copy.SourceCatalog;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Sets up logical replication of one database: a publication of exactly the given tables on the source, and a
 * subscription on the target that creates its slot (both named by {@code ReplicationNames}), then waits until
 * PostgreSQL's initial table sync has made every table ready. Through {@code aiven_extras} where the user lacks
 * the privileges. Confined to one thread.
 */
public final class Replicator {

    /** Called while waiting for the initial copy, with tables ready and in total. */
    public interface SyncProgress {
        void tablesReady(int ready, int total);
    }

    private static final long POLL_MS = 500;
    private static final long MAX_SYNC_ERRORS = 5;

    private final PgConnector source;
    private final PgConnector target;
    private final String dbname;
    private final String name;

    public Replicator(PgConnector source, PgConnector target, String dbname, String name) {
        this.source = source;
        this.target = target;
        this.dbname = dbname;
        this.name = name;
    }

    /** Creates the publication; an empty table list makes an empty publication (never "all tables"). */
    public void publish(List<SourceCatalog.Table> tables, boolean viaAivenExtras) {
        try (Connection c = source.open(dbname)) {
            if (exists(c, "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = ?")) {
                return;
            }
            EventTriggers.pass(c);  // (a DDL guard of the application's would refuse pgferry's publication)
            if (viaAivenExtras) {
                publishThroughExtension(c, name, tables.stream().map(SourceCatalog.Table::qualifiedName).toList());
            } else {
                String list = tables.stream().map(SourceCatalog.Table::qualifiedName).collect(Collectors.joining(", "));
                try (Statement s = c.createStatement()) {
                    s.execute("CREATE PUBLICATION " + Sql.ident(name) + (tables.isEmpty() ? "" : " FOR TABLE " + list));
                }
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.PRECONDITION_FAILED, "creating publication " + name + " on source database " + dbname, e);
        }
    }

    /**
     * Creates publication {@code name} of the given tables (quoted, qualified names) through aiven_extras, which
     * creates it as a superuser and gives it to the session's user: for a user that does not own the tables.
     */
    static void publishThroughExtension(Connection c, String name, List<String> qualifiedTables) throws SQLException {
        StringBuilder sql = new StringBuilder("SELECT aiven_extras.pg_create_publication(?, 'insert,update,delete'");
        qualifiedTables.forEach(t -> sql.append(", ?"));
        try (PreparedStatement ps = c.prepareStatement(sql.append(")").toString())) {
            ps.setString(1, name);
            for (int i = 0; i < qualifiedTables.size(); i++) {
                ps.setString(i + 2, qualifiedTables.get(i));
            }
            ps.executeQuery().close();
        }
    }

    /** Sets REPLICA IDENTITY FULL on the given source tables, so that their UPDATEs and DELETEs replicate. */
    public void replicaIdentityFull(List<SourceCatalog.Table> tables) {
        try (Connection c = source.open(dbname); Statement s = c.createStatement()) {
            for (SourceCatalog.Table t : tables) {
                s.execute("ALTER TABLE " + t.qualifiedName() + " REPLICA IDENTITY FULL");
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.PERMISSION_DENIED, "setting REPLICA IDENTITY FULL on source database " + dbname, e);
        }
    }

    /**
     * Creates the subscription that streams from {@code slot}, which pgferry created and under whose snapshot it
     * copied the data ({@code copy_data = false}).
     */
    public void subscribe(CreatedSlot slot, boolean viaAivenExtras) {
        subscribe(viaAivenExtras, slot.name());
    }

    /** Creates the subscription with a slot of its own: PostgreSQL's table sync copies every table. */
    public void subscribeWithTableSync(boolean viaAivenExtras) {
        subscribe(viaAivenExtras, null);
    }

    /** {@code slot} null: the subscription creates the slot {@link #name} and copies the data. */
    private void subscribe(boolean viaAivenExtras, String slot) {
        boolean slotExists = slot != null;
        String slotName = slotExists ? slot : name;
        String conninfo = source.conninfoWithPassword(dbname);
        try (Connection c = target.open(dbname)) {
            if (exists(c, "SELECT 1 FROM pg_catalog.pg_subscription WHERE subname = ?")) {
                return;
            }
            if (viaAivenExtras) {
                // The preconditions found it in the target's bootstrap database; a database pgferry created (from a
                // source without it) needs its own.
                try (Statement st = c.createStatement()) {
                    st.execute("CREATE EXTENSION IF NOT EXISTS aiven_extras");
                }
                try (PreparedStatement ps = c.prepareStatement(
                        "SELECT aiven_extras.pg_create_subscription(?, ?, ?, ?, ?, ?)")) {
                    ps.setString(1, name);
                    ps.setString(2, conninfo);
                    ps.setString(3, name);
                    ps.setString(4, slotName);
                    ps.setBoolean(5, !slotExists);
                    ps.setBoolean(6, !slotExists);
                    ps.executeQuery().close();
                }
            } else {
                try (Statement s = c.createStatement()) {
                    // CREATE SUBSCRIPTION takes no bind parameters; the literal goes through the one quoting helper.
                    s.execute("CREATE SUBSCRIPTION " + Sql.ident(name) + " CONNECTION " + Sql.literal(conninfo)
                            + " PUBLICATION " + Sql.ident(name) + " WITH (slot_name = " + Sql.literal(slotName)
                            + (slotExists ? ", create_slot = false, copy_data = false)" : ", create_slot = true, copy_data = true)"));
                }
            }
        } catch (SQLException e) {
            // The server's message never repeats the connection string; ours must not either.
            throw SqlStates.wrap(ErrorCode.PRECONDITION_FAILED, "creating subscription " + name + " in target database "
                    + dbname + " (the target connects to the source as " + source.connection().describe() + ")", e);
        }
    }

    /**
     * Waits until every table of the subscription is ready ({@code pg_subscription_rel} state {@code r}) and its
     * apply worker runs: only then has the initial copy finished and the target follows the source.
     */
    public void awaitReady(SyncProgress progress) {
        try (Connection c = target.open(dbname);
             PreparedStatement ps = c.prepareStatement("SELECT count(*) FILTER (WHERE sr.srsubstate = 'r'), count(*)"
                     + " FROM pg_catalog.pg_subscription_rel sr JOIN pg_catalog.pg_subscription s ON s.oid = sr.srsubid"
                     + " WHERE s.subname = ?")) {
            ps.setString(1, name);
            int lastReady = -1;
            while (true) {
                int ready;
                int total;
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    ready = rs.getInt(1);
                    total = rs.getInt(2);
                }
                if (ready != lastReady) {
                    progress.tablesReady(ready, total);
                    lastReady = ready;
                }
                if (ready == total && applyWorkerRunning(c)) {
                    return;
                }
                long syncErrors = syncErrors(c);
                if (syncErrors >= MAX_SYNC_ERRORS) {
                    throw new MigrationException(ErrorCode.COPY_FAILED, "the initial copy of " + dbname + " failed "
                            + syncErrors + " times (" + ready + " of " + total + " tables ready); the target server's"
                            + " log says why (often a missing privilege, or a type or constraint that differs)");
                }
                Thread.sleep(POLL_MS);
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.COPY_FAILED, "waiting for the initial copy of " + dbname, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigrationException(ErrorCode.INTERNAL, "waiting for the initial copy of " + dbname + " was interrupted");
        }
    }

    /**
     * Waits at most {@code max} until the subscription's apply worker runs (after it stopped on an error: the
     * launcher starts it again after {@code wal_retrieve_retry_interval}); returns whether it does.
     */
    public boolean awaitApplyWorker(java.time.Duration max) {
        long deadline = System.nanoTime() + max.toNanos();
        try (Connection c = target.open(dbname)) {
            while (!applyWorkerRunning(c)) {
                if (System.nanoTime() > deadline) {
                    return false;
                }
                Thread.sleep(POLL_MS);
            }
            return true;
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "waiting for the apply worker of " + dbname, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private boolean applyWorkerRunning(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_catalog.pg_stat_subscription"
                + " WHERE subname = ? AND relid IS NULL AND pid IS NOT NULL")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** Table-sync errors of this subscription so far (PostgreSQL 15+; 0 before). */
    private long syncErrors(Connection c) throws SQLException {
        if (c.getMetaData().getDatabaseMajorVersion() < 15) {
            return 0;
        }
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT sync_error_count FROM pg_catalog.pg_stat_subscription_stats WHERE subname = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0;
            }
        }
    }

    private boolean exists(Connection c, String sql) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }
}
