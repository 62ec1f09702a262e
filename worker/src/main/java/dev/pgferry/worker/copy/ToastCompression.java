package dev.pgferry.worker.copy;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.pg.SessionPool;
import dev.pgferry.pg.SqlStates;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.function.Consumer;

/**
 * The method that compresses the copied rows' large values on the target: the source's, when the source chose one.
 * PostgreSQL compresses a value it stores out of line or too large for its row (about 2 kB) with its column's
 * method, or, for a column that names none, with {@code default_toast_compression} as it is when the value is
 * written. COPY writes every value anew, so with the target's default ({@code pglz} unless configured) a source on
 * {@code lz4} would arrive compressed with {@code pglz}: several times slower to write and to read back, and not
 * what its owner chose. Each copy transaction therefore sets {@code lz4} (or any other method but {@code pglz})
 * when the source database's sessions have it (PostgreSQL 14 and later). A source on {@code pglz}, PostgreSQL's
 * default and its only method before 14, leaves the target's default alone: a target configured for another
 * method keeps it. Columns with a method of their own keep it: pg_dump restores their {@code SET COMPRESSION}.
 * Stateless.
 */
public final class ToastCompression {
    /** PostgreSQL's default method, and its only one before 14. */
    public static final String PGLZ = "pglz";

    private ToastCompression() {
    }

    /** The source's method for columns that name none, read on a session in the source database. */
    public static String ofSource(Connection source) throws SQLException {
        return source.getMetaData().getDatabaseMajorVersion() < 14 ? PGLZ : current(source);
    }

    private static String current(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT pg_catalog.current_setting('default_toast_compression')")) {
            rs.next();
            return rs.getString(1);
        }
    }

    /**
     * The method the copy sets on the target for a source on {@code method} ({@link #ofSource}): null when there is
     * nothing to set (a source on {@code pglz}, or a target whose default is the source's already), and null after
     * telling {@code warn} why when the source's choice cannot be kept: a target older than PostgreSQL 14, or one
     * built without the method ({@code invalid_parameter_value}). Tried on {@code target}, a session in the target
     * database, in a transaction that is rolled back.
     */
    public static String forTarget(Connection target, String method, Consumer<String> warn) throws SQLException {
        if (method == null || PGLZ.equals(method)) {
            return null;
        }
        int major = target.getMetaData().getDatabaseMajorVersion();
        if (major < 14) {
            warn.accept("the source compresses large values with " + method + ", which the target's PostgreSQL "
                    + major + " does not have: the copied values are compressed with pglz");
            return null;
        }
        if (method.equals(current(target))) {
            return null;
        }
        boolean autoCommit = target.getAutoCommit();
        target.setAutoCommit(false);
        try {
            apply(target, method);
            return method;
        } catch (SQLException e) {
            if (!SqlStates.INVALID_PARAMETER_VALUE.equals(e.getSQLState())) {
                throw e;
            }
            warn.accept("the source compresses large values with " + method + ", which the target server was built"
                    + " without: the copied values are compressed with the target's default_toast_compression");
            return null;
        } finally {
            target.rollback();
            target.setAutoCommit(autoCommit);
        }
    }

    /**
     * As {@link #forTarget(Connection, String, Consumer)}, on a session of {@code sessions} (the copy's, in target
     * database {@code dbname}), leased only when there may be something to set.
     */
    public static String forTarget(SessionPool sessions, String dbname, String method, Consumer<String> warn) {
        if (method == null || PGLZ.equals(method)) {
            return null;
        }
        try (SessionPool.Lease lease = sessions.lease()) {
            String kept = forTarget(lease.connection(), method, warn);
            lease.release();
            return kept;
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.COPY_FAILED, "reading the TOAST compression of target database " + dbname, e);
        }
    }

    /** In {@code out}'s open transaction: its values are compressed with {@code method} (null: the target's default). */
    static void apply(Connection out, String method) throws SQLException {
        if (method == null) {
            return;
        }
        try (PreparedStatement ps = out.prepareStatement(
                "SELECT pg_catalog.set_config('default_toast_compression', ?, true)")) {
            ps.setString(1, method);
            ps.execute();
        }
    }
}
