package dev.pgferry.worker.copy;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.pg.BlockerWatch;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.SessionPool;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

/**
 * A snapshot of the source that the schema dump and every copy connection import, so that all of them read one
 * consistent state: either exported by a transaction ({@link #export}), or exported by the creation of a logical
 * replication slot ({@link #createSlot}), so that the copy and the replication stream meet exactly. The exporting
 * connection stays open, doing nothing else, until {@link #close()}: a snapshot is importable only while it is.
 * Confined to the thread that owns the task.
 */
public final class SourceSnapshot implements AutoCloseable {
    private final Connection holder;
    private final String id;
    private final boolean transactional;
    /** Sessions that read under this snapshot, one transaction per lease; reused so that a table costs no new session. */
    private final SessionPool readers;

    private SourceSnapshot(Connection holder, String id, boolean transactional, PgConnector source, String dbname) {
        this.holder = holder;
        this.id = id;
        this.transactional = transactional;
        this.readers = new SessionPool(() -> source.open(dbname));
    }

    /** A snapshot exported by a repeatable-read transaction ({@code pg_export_snapshot()}). */
    public static SourceSnapshot export(PgConnector source, String dbname) {
        return export(source.open(dbname), source, dbname);
    }

    /**
     * As {@link #export(PgConnector, String)}, on {@code c}, a session of {@code source}'s database {@code dbname}
     * in autocommit mode with no transaction open (one that read the database's properties before, say): the
     * snapshot owns it from here on, and closes it, on failure too.
     */
    public static SourceSnapshot export(Connection c, PgConnector source, String dbname) {
        try {
            c.setAutoCommit(false);
            c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_catalog.pg_export_snapshot()")) {
                rs.next();
                return new SourceSnapshot(c, rs.getString(1), true, source, dbname);
            }
        } catch (SQLException e) {
            PgConnector.closeQuietly(c);
            throw SqlStates.wrap(ErrorCode.COPY_FAILED, "exporting a snapshot of source database " + dbname, e);
        }
    }

    /**
     * Creates logical replication slot {@code slotName} (pgoutput) and keeps the snapshot its creation exported:
     * data read under it plus the changes the slot streams are exactly the source, nothing twice, nothing lost.
     * The creation waits for every transaction open on the source server; meanwhile {@code waiting} hears which
     * sessions it waits for (see {@link BlockerWatch}), and past {@code maxWait} (null: never) it gives up with
     * {@code WAIT_TIMEOUT}.
     */
    public static CreatedSlot createSlot(PgConnector source, String dbname, String slotName, Duration maxWait,
                                         BlockerWatch.Listener waiting) {
        Connection c = source.openReplication(dbname);
        String doing = "creating replication slot " + slotName + " on source database " + dbname;
        BlockerWatch watch = null;
        try {
            watch = BlockerWatch.start(source, dbname, BlockerWatch.backendPid(c), "creating replication slot "
                    + slotName, maxWait, waiting);
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("CREATE_REPLICATION_SLOT " + Sql.ident(slotName)
                         + " LOGICAL pgoutput EXPORT_SNAPSHOT")) {
                rs.next();
                return new CreatedSlot(rs.getString("slot_name"), rs.getString("consistent_point"),
                        new SourceSnapshot(c, rs.getString("snapshot_name"), false, source, dbname));
            }
        } catch (SQLException e) {
            PgConnector.closeQuietly(c);
            throw watch == null ? SqlStates.wrap(ErrorCode.PRECONDITION_FAILED, doing, e)
                    : watch.failure(e, ErrorCode.PRECONDITION_FAILED, doing);
        } catch (RuntimeException e) {
            PgConnector.closeQuietly(c);
            throw e;
        } finally {
            if (watch != null) {
                watch.close();
            }
        }
    }

    /**
     * The snapshot another worker exported and holds ({@code id}, as a {@code CopyUnit} names it): this side only
     * reads under it, and it stays importable only while its exporter's transaction is open.
     */
    public static SourceSnapshot imported(PgConnector source, String dbname, String id) {
        return new SourceSnapshot(null, id, false, source, dbname);
    }

    public String id() {
        return id;
    }

    /**
     * A pooled source session in a new transaction that reads this snapshot. After its work, the holder commits,
     * sets autocommit back on and calls {@link SessionPool.Lease#release()}; a lease closed otherwise closes the session.
     */
    public SessionPool.Lease lease() throws SQLException {
        SessionPool.Lease lease = readers.lease();
        try {
            begin(lease.connection());
            return lease;
        } catch (SQLException | RuntimeException e) {
            lease.close();
            throw e;
        }
    }

    /** Work on a session that reads the snapshot. */
    public interface Read<T> {
        T on(Connection reader) throws SQLException;
    }

    /**
     * Runs {@code work} in one transaction that reads this snapshot, on a pooled session ({@link #lease}) that the
     * copy's jobs reuse afterwards: a catalog read or a plan costs no session of its own.
     */
    public <T> T read(Read<T> work) throws SQLException {
        try (SessionPool.Lease lease = lease()) {
            T result = work.on(lease.connection());
            lease.connection().commit();
            lease.connection().setAutoCommit(true);
            lease.release();
            return result;
        }
    }

    /** Starts a transaction on {@code c} that reads this snapshot: the import must be its first statement. */
    private void begin(Connection c) throws SQLException {
        c.setAutoCommit(false);
        c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        c.setReadOnly(true);
        try (Statement s = c.createStatement()) {
            s.execute("SET TRANSACTION SNAPSHOT " + Sql.literal(id));
        }
    }

    @Override
    public void close() {
        readers.close();
        if (holder == null) {
            return;
        }
        if (transactional) {
            try {
                holder.rollback();
            } catch (SQLException ignored) {
                // the connection is closed next either way
            }
        }
        PgConnector.closeQuietly(holder);
    }
}
