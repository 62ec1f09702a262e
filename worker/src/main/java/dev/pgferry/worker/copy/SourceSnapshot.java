package dev.pgferry.worker.copy;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * A snapshot exported by the source ({@code pg_export_snapshot()}) so that the schema dump and every copy
 * connection read one consistent state. The exporting transaction stays open until {@link #close()}; a snapshot
 * is importable only while it is open. Confined to the thread that owns the task.
 */
public final class SourceSnapshot implements AutoCloseable {
    private final Connection holder;
    private final String id;

    public SourceSnapshot(PgConnector source, String dbname) {
        Connection c = source.open(dbname);
        try {
            c.setAutoCommit(false);
            c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_catalog.pg_export_snapshot()")) {
                rs.next();
                this.id = rs.getString(1);
            }
            this.holder = c;
        } catch (SQLException e) {
            closeQuietly(c);
            throw SqlStates.wrap(ErrorCode.COPY_FAILED, "exporting a snapshot of source database " + dbname, e);
        }
    }

    public String id() {
        return id;
    }

    /**
     * Opens a source connection that reads this snapshot. The snapshot must be imported before the first query
     * of the transaction, so this is the first statement run on it.
     */
    public Connection openReader(PgConnector source, String dbname) throws SQLException {
        Connection c = source.open(dbname);
        try {
            c.setAutoCommit(false);
            c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            c.setReadOnly(true);
            try (Statement s = c.createStatement()) {
                s.execute("SET TRANSACTION SNAPSHOT " + Sql.literal(id));
            }
            return c;
        } catch (SQLException | RuntimeException e) {
            closeQuietly(c);
            throw e;
        }
    }

    static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException ignored) {
            // closing a connection we no longer need; nothing to recover
        }
    }

    @Override
    public void close() {
        try {
            holder.rollback();
        } catch (SQLException ignored) {
            // the connection is closed next either way
        }
        closeQuietly(holder);
    }
}
