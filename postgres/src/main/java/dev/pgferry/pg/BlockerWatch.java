package dev.pgferry.pg;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Watches one of pgferry's own backends while it runs a statement that may wait on other sessions (the creation of
 * a replication slot waits for every transaction open on the server): once a second it reads the sessions that block
 * it ({@code pg_blocking_pids}) and tells the listener, in words that name each session (pid, user, application,
 * database, state and since when, query) and how to unblock it; when the wait ends, the listener hears
 * {@code null}. With a maximum wait, the watched statement is cancelled once it has waited that long, and
 * {@link #failure} turns the cancellation into a {@code WAIT_TIMEOUT} that names the blockers. The sessions
 * themselves are never touched. Runs its own thread; close it when the statement returns.
 */
public final class BlockerWatch implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BlockerWatch.class);
    private static final long POLL_MS = 1_000;
    /** SQLSTATE of a cancelled statement. */
    private static final String QUERY_CANCELED = "57014";

    /** Hears what the watched backend waits for, or {@code null} once it no longer waits. */
    public interface Listener {
        void waiting(String description);
    }

    private final PgConnector connector;
    private final String dbname;
    private final int pid;
    private final String what;
    private final Duration maxWait;
    private final Listener listener;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile String blockers;
    private volatile boolean cancelled;
    private boolean reported;

    private BlockerWatch(PgConnector connector, String dbname, int pid, String what, Duration maxWait, Listener listener) {
        this.connector = connector;
        this.dbname = dbname;
        this.pid = pid;
        this.what = what;
        this.maxWait = maxWait;
        this.listener = listener;
        this.thread = new Thread(this::run, "blocker-watch-" + pid);
        this.thread.setDaemon(true);
    }

    /**
     * Starts watching backend {@code pid} (reached through {@code connector}'s database {@code dbname}) that is about
     * to do {@code what} (e.g. "create replication slot x"); {@code maxWait} null waits as long as it takes.
     */
    public static BlockerWatch start(PgConnector connector, String dbname, int pid, String what, Duration maxWait,
                                     Listener listener) {
        BlockerWatch watch = new BlockerWatch(connector, dbname, pid, what, maxWait, listener);
        watch.thread.start();
        return watch;
    }

    /** The backend pid of {@code c} (a replication connection of a database answers SQL too). */
    public static int backendPid(Connection c) throws SQLException {
        try (var s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_catalog.pg_backend_pid()")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private void run() {
        long start = System.nanoTime();
        try (Connection c = connector.open(dbname);
             PreparedStatement ps = c.prepareStatement("SELECT " + BlockingSessions.columns("a")
                     + " FROM pg_catalog.pg_stat_activity a WHERE a.pid = ANY (pg_catalog.pg_blocking_pids(?)) ORDER BY a.pid")) {
            ps.setInt(1, pid);
            while (running) {
                Thread.sleep(POLL_MS);
                List<String> sessions = new ArrayList<>();
                List<Integer> pids = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        pids.add(rs.getInt(1));
                        sessions.add(BlockingSessions.describe(rs, 1));
                    }
                }
                if (!running) {
                    break;
                }
                String now = sessions.isEmpty() ? null : what + " waits for " + sessions.size() + " session(s) to end"
                        + " their transactions: " + String.join("; ", sessions) + ". Commit or roll them back, or end them "
                        + BlockingSessions.howToEnd(pids);
                if (now != null && !now.equals(blockers)) {
                    blockers = now;
                    reported = true;
                    listener.waiting(now + (maxWait == null ? "" : "; pgferry gives up after " + maxWait.toSeconds() + " s"));
                }
                if (now != null && maxWait != null && System.nanoTime() - start > maxWait.toNanos()) {
                    cancelled = true;
                    try (PreparedStatement cancel = c.prepareStatement("SELECT pg_catalog.pg_cancel_backend(?)")) {
                        cancel.setInt(1, pid);
                        cancel.executeQuery().close();
                    }
                    return;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (SQLException | RuntimeException e) {
            // Watching is a courtesy: the watched statement goes on without it.
            LOG.warn("could not watch what {} waits for: {}", what, e.toString());
        }
    }

    /**
     * The error for a watched statement that failed with {@code e}: a {@code WAIT_TIMEOUT} naming the blockers when
     * this watch cancelled it, else {@code e} wrapped as usual with {@code fallback}.
     */
    public MigrationException failure(SQLException e, ErrorCode fallback, String doing) {
        if (cancelled && QUERY_CANCELED.equals(e.getSQLState())) {
            return new MigrationException(ErrorCode.WAIT_TIMEOUT, e.getSQLState(), "gave up after " + maxWait.toSeconds()
                    + " s (max_wait_seconds): " + blockers, false, e);
        }
        return SqlStates.wrap(fallback, doing, e);
    }

    /** Stops watching; a listener that heard of a wait hears {@code null}. */
    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (reported) {
            listener.waiting(null);
        }
    }
}
