package dev.pgferry.worker.task;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.SqlStates;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * Fences one database of one migration: a session-level advisory lock on the target's bootstrap database, held
 * for the task's whole life on a connection of its own. Kafka may hand a task to a second worker while the first
 * still runs it (a rebalance moves the partition); the second then waits here until the first finishes (and finds
 * the database done) or dies (its session ends, the lock is released, and it redoes the database as a new
 * attempt). Two workers therefore never work on the same database at once. Closing releases the lock.
 */
public final class TaskLock implements AutoCloseable {
    private final Connection connection;

    private TaskLock(Connection connection) {
        this.connection = connection;
    }

    /**
     * The lock's session, on the target's bootstrap database: the task's thread may run its own statements there
     * (inspecting, creating or dropping the database, reading the preconditions), in autocommit, so that a task
     * opens no other session for them. Closed with the lock.
     */
    public Connection session() {
        return connection;
    }

    /** Blocks until the lock for this migration's database is ours. */
    public static TaskLock acquire(PgConnector target, String migrationId, String dbname) {
        return lock(target, migrationId + "/" + dbname, "database " + dbname + " of migration " + migrationId);
    }

    /**
     * As {@link #acquire(PgConnector, String, String)} for one delivery of a task (its action, partition and offset
     * on the tasks topic), which the lock's session carries in its {@code application_name}: when the lock is held
     * by a session of this very delivery (Kafka handed the same record to a second worker after a rebalance while
     * the first still runs it), returns null at once instead of waiting for the whole task, so that the second
     * worker's slot is free for other work; the first worker holds the task's claim. Another task of the same
     * database (a removal or a cut-over while the migration still runs) waits as before.
     */
    public static TaskLock acquire(PgConnector target, String migrationId, String dbname, String delivery) {
        String tag = LOCK_APPLICATION + delivery;
        long key = key(migrationId + "/" + dbname);
        Connection c = target.open();
        try {
            try (PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.set_config('application_name', ?, false)")) {
                ps.setString(1, tag);
                ps.executeQuery().close();
            }
            if (advisory(c, "pg_try_advisory_lock", key)) {
                return new TaskLock(c);
            }
            // Held: by this delivery's first run (a duplicate), or by another task of the database.
            try (PreparedStatement ps = c.prepareStatement("SELECT a.application_name FROM pg_catalog.pg_locks l"
                    + " JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
                    + " AND l.classid = (?::int4)::oid AND l.objid = (?::int4)::oid AND l.objsubid = 2")) {
                ps.setInt(1, (int) (key >>> 32));
                ps.setInt(2, (int) key);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next() && tag.equals(rs.getString(1))) {
                        PgConnector.closeQuietly(c);
                        return null;
                    }
                }
            }
            advisory(c, "pg_advisory_lock", key);
            return new TaskLock(c);
        } catch (SQLException e) {
            PgConnector.closeQuietly(c);
            throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "locking database " + dbname + " of migration "
                    + migrationId, e);
        }
    }

    /** The start of the {@code application_name} of a task lock's session; the delivery follows (at most 63 bytes). */
    static final String LOCK_APPLICATION = "pgferry/lock/";

    /**
     * Blocks until the lock of this migration's roles step is ours: the step runs once per migration, by the first
     * task that takes this lock (migration ids hold no ':' or '/', so the key never meets a database's).
     */
    public static TaskLock acquireRoles(PgConnector target, String migrationId) {
        return lock(target, "roles:" + migrationId, "the roles of migration " + migrationId);
    }

    /**
     * Blocks until the lock of the target server's subscriptions is ours: the look for a free logical replication
     * worker and the creation of the subscription that takes it run one task at a time, whatever the migration.
     */
    public static TaskLock acquireSubscriptions(PgConnector target) {
        return lock(target, "subscriptions:", "the target's subscriptions");
    }

    private static TaskLock lock(PgConnector target, String name, String what) {
        Connection c = target.open();
        try {
            advisory(c, "pg_advisory_lock", key(name));
            return new TaskLock(c);
        } catch (SQLException e) {
            PgConnector.closeQuietly(c);
            throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "locking " + what, e);
        }
    }

    /** Calls advisory lock function {@code function} (blocking or trying) with the two halves of {@code key}. */
    private static boolean advisory(Connection c, String function, long key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_catalog." + function + "(?, ?)::text")) {
            ps.setInt(1, (int) (key >>> 32));
            ps.setInt(2, (int) key);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                // pg_advisory_lock returns void (an empty text), pg_try_advisory_lock whether it got the lock
                return !"false".equals(rs.getString(1));
            }
        }
    }

    static long key(String text) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(("pgferry:" + text).getBytes(StandardCharsets.UTF_8));
            long k = 0;
            for (int i = 0; i < 8; i++) {
                k = (k << 8) | (h[i] & 0xff);
            }
            return k;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always available", e);
        }
    }

    @Override
    public void close() {
        try {
            connection.close();
        } catch (SQLException ignored) {
            // a closed session holds no advisory lock
        }
    }
}
