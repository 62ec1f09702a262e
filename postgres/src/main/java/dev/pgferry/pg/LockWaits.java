package dev.pgferry.pg;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Watches every session of one task on both servers (its connections and the pg_dump and pg_restore it runs share
 * one {@code application_name}) and says which other sessions hold a lock one of them waits for: an application's
 * {@code LOCK TABLE}, a long transaction holding a table pg_dump must read, a session on the target holding a table
 * an index is built on. Once a second, after a grace period (small databases finish before it and pay nothing),
 * on one connection per server; the listener hears a description naming each blocking session (pid, user,
 * application, database, state and since when, query) and how to unblock it, and {@code null} once nothing waits.
 * The sessions themselves are never touched. Watching is a courtesy: a failure to watch is logged, never raised.
 */
public final class LockWaits implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LockWaits.class);
    static final long GRACE_MS = 2_000;
    static final long POLL_MS = 1_000;

    private final Map<String, PgConnector> servers;
    private final String applicationName;
    private final BlockerWatch.Listener listener;
    private final Thread thread;
    /** Guarded by this object's lock, as is every call of the listener. */
    private boolean running = true;
    private String reported;

    private LockWaits(Map<String, PgConnector> servers, String applicationName, BlockerWatch.Listener listener) {
        this.servers = servers;
        this.applicationName = applicationName;
        this.listener = listener;
        this.thread = new Thread(this::run, "lock-waits");
        this.thread.setDaemon(true);
    }

    /** Starts watching the sessions named {@code connectors}' application name on the source and the target. */
    public static LockWaits start(PgConnector source, PgConnector target, BlockerWatch.Listener listener) {
        Map<String, PgConnector> servers = new LinkedHashMap<>();
        servers.put("source", source);
        servers.put("target", target);
        LockWaits w = new LockWaits(servers, source.applicationName(), listener);
        w.thread.start();
        return w;
    }

    private void run() {
        Map<String, Connection> open = new LinkedHashMap<>();
        try {
            Thread.sleep(GRACE_MS);
            while (isRunning()) {
                List<String> waits = new ArrayList<>();
                TreeSet<Integer> blockers = new TreeSet<>();
                for (Map.Entry<String, PgConnector> server : servers.entrySet()) {
                    try {
                        Connection c = open.get(server.getKey());
                        if (c == null) {
                            c = server.getValue().open();
                            open.put(server.getKey(), c);
                        }
                        waits.addAll(read(c, server.getKey(), blockers));
                    } catch (SQLException | RuntimeException e) {
                        Connection broken = open.remove(server.getKey());
                        closeQuietly(broken);
                        LOG.debug("could not read the lock waits on the {}: {}", server.getKey(), e.toString());
                    }
                }
                String now = waits.isEmpty() ? null : String.join("; ", waits) + ". Commit or roll back the blocking"
                        + " transaction" + (blockers.size() == 1 ? "" : "s") + ", or end "
                        + (blockers.size() == 1 ? "it " : "them ") + BlockingSessions.howToEnd(blockers);
                synchronized (this) {
                    if (!running) {
                        break;
                    }
                    if (!java.util.Objects.equals(now, reported)) {
                        reported = now;
                        listener.waiting(now);
                    }
                }
                Thread.sleep(POLL_MS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            open.values().forEach(LockWaits::closeQuietly);
        }
    }

    private synchronized boolean isRunning() {
        return running;
    }

    /** The waits of this task's sessions on one server, one line per waiting session; adds the blockers' pids. */
    private List<String> read(Connection c, String side, TreeSet<Integer> blockers) throws SQLException {
        Map<Integer, String> waiting = new LinkedHashMap<>();
        Map<Integer, List<String>> by = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT w.pid, left(regexp_replace(w.query, '\\s+', ' ', 'g'), 80),"
                + " to_char(w.query_start, 'YYYY-MM-DD HH24:MI:SS TZ'), " + BlockingSessions.columns("b")
                + " FROM pg_catalog.pg_stat_activity w"
                + " CROSS JOIN LATERAL unnest(pg_catalog.pg_blocking_pids(w.pid)) AS blocker(pid)"
                + " JOIN pg_catalog.pg_stat_activity b ON b.pid = blocker.pid"
                + " WHERE w.application_name = ? AND w.backend_type = 'client backend' AND w.wait_event_type = 'Lock'"
                + " AND b.application_name IS DISTINCT FROM ? ORDER BY w.pid, b.pid")) {
            ps.setString(1, applicationName);
            ps.setString(2, applicationName);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    int pid = rs.getInt(1);
                    waiting.putIfAbsent(pid, rs.getString(2) + " (since " + rs.getString(3) + ")");
                    blockers.add(rs.getInt(4));
                    by.computeIfAbsent(pid, k -> new ArrayList<>()).add(BlockingSessions.describe(rs, 4));
                }
            }
        }
        List<String> out = new ArrayList<>();
        waiting.forEach((pid, query) -> out.add("on the " + side + ", " + query + " waits for a lock held by "
                + String.join(", ", by.get(pid))));
        return out;
    }

    private static void closeQuietly(Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // closing a watching session
            }
        }
    }

    /**
     * Stops watching at once (a watcher still connecting to a server that does not answer ends on its own, and
     * reports nothing more); a listener that heard of a wait hears {@code null}.
     */
    @Override
    public void close() {
        String last;
        synchronized (this) {
            running = false;
            last = reported;
        }
        thread.interrupt();
        if (last != null) {
            listener.waiting(null);
        }
    }
}
