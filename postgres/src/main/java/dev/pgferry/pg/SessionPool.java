package dev.pgferry.pg;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.Supplier;

/**
 * Reuses the sessions of one database on one server. Opening a session costs a fork on the server and a SCRAM
 * exchange (thousands of hash rounds on both sides): a database of hundreds of small tables spent most of its copy
 * opening sessions. A leased session goes back to the pool only when the work marks it healthy
 * ({@link Lease#release()}) and left it in autocommit mode with no transaction open; any other session is closed,
 * so a broken or half-used session is never handed out again. The pool keeps at most as many sessions as were in
 * use at once. Thread-safe.
 */
public final class SessionPool implements AutoCloseable {
    private final Supplier<Connection> opener;
    private final Deque<Connection> idle = new ArrayDeque<>();
    private final List<Connection> all = new ArrayList<>();
    private boolean closed;

    /** {@code opener} opens a new session (e.g. {@code () -> connector.open(dbname)}). */
    public SessionPool(Supplier<Connection> opener) {
        this.opener = opener;
    }

    /** A session: an idle one, or a new one. */
    public Lease lease() {
        Connection c;
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("session pool closed");
            }
            c = idle.poll();
        }
        if (c == null) {
            c = opener.get();
            synchronized (this) {
                all.add(c);
            }
        }
        return new Lease(c);
    }

    private void giveBack(Connection c, boolean healthy) {
        boolean keep = false;
        try {
            keep = healthy && !c.isClosed() && c.getAutoCommit();
        } catch (SQLException e) {
            // not usable
        }
        synchronized (this) {
            if (keep && !closed) {
                idle.push(c);
                return;
            }
            all.remove(c);
        }
        PgConnector.closeQuietly(c);
    }

    /** Closes every session, idle or leased. */
    @Override
    public void close() {
        List<Connection> toClose;
        synchronized (this) {
            closed = true;
            toClose = new ArrayList<>(all);
            all.clear();
            idle.clear();
        }
        toClose.forEach(PgConnector::closeQuietly);
    }

    /** One leased session; closing the lease returns it to the pool if {@link #release()} was called, else closes it. */
    public final class Lease implements AutoCloseable {
        private final Connection connection;
        private boolean healthy;

        private Lease(Connection connection) {
            this.connection = connection;
        }

        public Connection connection() {
            return connection;
        }

        /** The work succeeded and left the session in autocommit mode: it may serve the next lease. */
        public void release() {
            healthy = true;
        }

        @Override
        public void close() {
            giveBack(connection, healthy);
        }
    }
}
