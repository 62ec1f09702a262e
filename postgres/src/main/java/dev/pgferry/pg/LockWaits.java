package dev.pgferry.pg;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Watches every session of one task on both servers (its connections and the pg_dump and pg_restore it runs share
 * one {@code application_name}) and says which other sessions hold a lock one of them waits for: an application's
 * {@code LOCK TABLE}, a long transaction holding a table pg_dump must read, a session on the target holding a table
 * an index is built on. Once a second, after a grace period (small databases finish before it and pay nothing),
 * on one connection per server; the listener hears a description naming each blocking session (pid, user,
 * application, database, state and since when, query) and how to unblock it, and {@code null} once nothing waits.
 * The user's sessions are never touched. With a maximum wait, a session of the task that has been seen waiting
 * that long has its statement cancelled ({@code pg_cancel_backend} on pgferry's own backend), and {@link #gaveUp}
 * says why, naming the blockers, so that the task fails with {@code WAIT_TIMEOUT} rather than with the
 * cancellation. Watching is a courtesy: a failure to watch is logged, never raised.
 */
public final class LockWaits implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LockWaits.class);
    static final long GRACE_MS = 2_000;
    static final long POLL_MS = 1_000;

    private final Map<String, PgConnector> servers;
    private final String applicationName;
    private final Duration maxWait;
    private final BlockerWatch.Listener listener;
    private final Thread thread;
    /** When each waiting session of the task ("side:pid") was first seen waiting (this process's clock). */
    private final Map<String, Long> waitingSince = new HashMap<>();
    /** Guarded by this object's lock, as is every call of the listener. */
    private boolean running = true;
    private String reported;
    private volatile String gaveUp;

    /** One session of the task waiting for a lock, as read on one server. */
    private record Wait(String side, int pid, String line) {
    }

    private LockWaits(Map<String, PgConnector> servers, String applicationName, Duration maxWait,
                      BlockerWatch.Listener listener) {
        this.servers = servers;
        this.applicationName = applicationName;
        this.maxWait = maxWait;
        this.listener = listener;
        this.thread = new Thread(this::run, "lock-waits");
        this.thread.setDaemon(true);
    }

    /** Starts watching the sessions named {@code connectors}' application name on the source and the target. */
    public static LockWaits start(PgConnector source, PgConnector target, BlockerWatch.Listener listener) {
        return start(source, target, null, listener);
    }

    /** As {@link #start(PgConnector, PgConnector, BlockerWatch.Listener)}; {@code maxWait} null: wait as long as it takes. */
    public static LockWaits start(PgConnector source, PgConnector target, Duration maxWait,
                                  BlockerWatch.Listener listener) {
        Map<String, PgConnector> servers = new LinkedHashMap<>();
        servers.put("source", source);
        servers.put("target", target);
        LockWaits w = new LockWaits(servers, source.applicationName(), maxWait, listener);
        w.thread.start();
        return w;
    }

    private void run() {
        Map<String, Connection> open = new LinkedHashMap<>();
        try {
            Thread.sleep(GRACE_MS);
            while (isRunning()) {
                List<Wait> waits = new ArrayList<>();
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
                        PgConnector.closeQuietly(broken);
                        LOG.debug("could not read the lock waits on the {}: {}", server.getKey(), e.toString());
                    }
                }
                String now = waits.isEmpty() ? null : String.join("; ", waits.stream().map(Wait::line).toList())
                        + ". Commit or roll back the blocking transaction" + (blockers.size() == 1 ? "" : "s")
                        + ", or end " + (blockers.size() == 1 ? "it " : "them ") + BlockingSessions.howToEnd(blockers);
                long t = System.nanoTime();
                waitingSince.keySet().retainAll(waits.stream().map(w -> w.side() + ":" + w.pid()).toList());
                List<Wait> overdue = new ArrayList<>();
                for (Wait w : waits) {
                    long since = waitingSince.computeIfAbsent(w.side() + ":" + w.pid(), k -> t);
                    if (maxWait != null && t - since >= maxWait.toNanos()) {
                        overdue.add(w);
                    }
                }
                synchronized (this) {
                    if (!running) {
                        break;
                    }
                    if (!overdue.isEmpty()) {
                        // Said before the cancellation, so that the task's failure finds it.
                        gaveUp = "gave up after " + maxWait.toSeconds() + " s (max_wait_seconds): " + now;
                    }
                    if (!java.util.Objects.equals(now, reported)) {
                        reported = now;
                        listener.waiting(now == null || maxWait == null ? now
                                : now + "; pgferry gives up after " + maxWait.toSeconds() + " s");
                    }
                }
                if (!overdue.isEmpty()) {
                    cancel(open, overdue);
                    return;
                }
                Thread.sleep(POLL_MS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            open.values().forEach(PgConnector::closeQuietly);
        }
    }

    /** Cancels the statements of the task's own sessions that waited too long; the user's sessions stay. */
    private static void cancel(Map<String, Connection> open, List<Wait> overdue) {
        for (Wait w : overdue) {
            try (PreparedStatement ps = open.get(w.side()).prepareStatement("SELECT pg_catalog.pg_cancel_backend(?)")) {
                ps.setInt(1, w.pid());
                ps.executeQuery().close();
            } catch (SQLException | RuntimeException e) {
                LOG.warn("could not cancel pgferry's own session {} on the {} after its maximum wait: {}", w.pid(),
                        w.side(), e.toString());
            }
        }
    }

    /**
     * Why the task's statements were cancelled ({@code gave up after N s (max_wait_seconds): } and the waits, naming
     * the blockers), or empty when they were not.
     */
    public Optional<String> gaveUp() {
        return Optional.ofNullable(gaveUp);
    }

    private synchronized boolean isRunning() {
        return running;
    }

    /** The waits of this task's sessions on one server, one per waiting session; adds the blockers' pids. */
    private List<Wait> read(Connection c, String side, TreeSet<Integer> blockers) throws SQLException {
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
        List<Wait> out = new ArrayList<>();
        waiting.forEach((pid, query) -> out.add(new Wait(side, pid, "on the " + side + ", " + query
                + " waits for a lock held by " + String.join(", ", by.get(pid)))));
        return out;
    }

    /**
     * Stops watching at once, and may be called again (a watcher still connecting to a server that does not answer
     * ends on its own, and reports nothing more); a listener that heard of a wait hears {@code null}.
     */
    @Override
    public void close() {
        String last;
        synchronized (this) {
            running = false;
            last = reported;
            reported = null;
        }
        thread.interrupt();
        if (last != null) {
            listener.waiting(null);
        }
    }
}
