package dev.pgferry.worker.verify;

import dev.pgferry.messages.Verification.Result;
import dev.pgferry.messages.Verification.TableCheck;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Sql;
import dev.pgferry.worker.copy.SourceCatalog;
import org.postgresql.util.PSQLState;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Compares the rows of tables between source and target, with nothing taken from the copy: per key range, the row
 * count and an order-independent content hash (the sum of a 64-bit hash of each row's text) computed by each
 * server, the two sides at once, {@code jobs} connections per side at most. A table with a single-column integer
 * primary key is split into ranges of that key, so a big table spreads over the jobs; any other table is one
 * range. For a table that differs, up to {@link #SAMPLES} keys of rows missing, extra or changed on the target are
 * found by merging both sides' (key, row hash) streams of the differing ranges, in key order: memory stays bounded.
 *
 * <p>Online (a database that is syncing): each range is read on the source first, then the source's WAL position
 * is taken as a fence, and the target is read once the replication slot has confirmed that position, so the target
 * holds at least every change the source's read saw; a range that still differs (the source changed it since) is
 * read again, up to {@link #ONLINE_TRIES} times, and a last time while its source table is locked in SHARE mode
 * (writers to that one table wait for that moment) before it is reported. A range that matches at once needs no
 * fence. Thread-safe per instance only through
 * {@link #verify}, which owns its pools and connections.
 */
final class TableVerifier implements AutoCloseable {
    static final int SAMPLES = 10;
    static final int ONLINE_TRIES = 5;
    /** How long one try waits for the slot to confirm its fence (an idle source may confirm late). */
    static final long FENCE_WAIT_MS = 5_000;
    /** Rows per key range: ranges of a big table keep every job busy, small enough to re-check cheaply. */
    static final long RANGE_ROWS = 250_000;

    private final PgConnector source;
    private final PgConnector target;
    private final String dbname;
    private final String slot;
    private final boolean fastHash;
    private final ExecutorService sourcePool;
    private final ExecutorService targetPool;
    private final ExecutorService drivers;
    private final ThreadLocal<Connection> connection = new ThreadLocal<>();
    private final List<Connection> opened = Collections.synchronizedList(new ArrayList<>());

    /**
     * {@code slot}: the replication slot that feeds the target (online comparison), or null. {@code fastHash}: both
     * servers have {@code hashtextextended} (11+).
     */
    TableVerifier(PgConnector source, PgConnector target, String dbname, String slot, int jobs, boolean fastHash) {
        this.fastHash = fastHash;
        this.source = source;
        this.target = target;
        this.dbname = dbname;
        this.slot = slot;
        this.sourcePool = Executors.newFixedThreadPool(jobs, r -> daemon(r, "verify-source-" + dbname));
        this.targetPool = Executors.newFixedThreadPool(jobs, r -> daemon(r, "verify-target-" + dbname));
        this.drivers = Executors.newFixedThreadPool(jobs, r -> daemon(r, "verify-" + dbname));
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /**
     * One table to compare and how: its name in the result, its key columns (empty: no primary key), integer key
     * bounds, and a condition on the rows compared ({@code WHERE ...}, empty for all).
     */
    record Plan(String name, String relation, List<String> columns, List<String> key, List<long[]> ranges,
                String filter) {
        Plan(SourceCatalog.Table t, List<String> key, List<long[]> ranges) {
            this(t.displayName(), t.qualifiedName(), t.columns(), key, ranges, "");
        }
    }

    /** What one side holds in one range. */
    record Digest(long rows, String hash) {
    }

    /** Compares every planned table; one result per table, in plan order. */
    List<TableCheck> verify(List<Plan> plans) throws SQLException {
        Map<Plan, long[]> counts = new ConcurrentHashMap<>();
        Map<Plan, List<long[]>> differing = new ConcurrentHashMap<>();
        List<Future<?>> all = new ArrayList<>();
        for (Plan plan : plans) {
            counts.put(plan, new long[2]);
            differing.put(plan, Collections.synchronizedList(new ArrayList<>()));
            for (long[] range : plan.ranges()) {
                all.add(drivers.submit(() -> {
                    Digest[] d = compareRange(plan, range);
                    synchronized (counts.get(plan)) {
                        counts.get(plan)[0] += d[0].rows();
                        counts.get(plan)[1] += d[1] == null ? 0 : d[1].rows();
                    }
                    if (d[1] == null || !d[0].equals(d[1])) {
                        differing.get(plan).add(range);
                    }
                    return null;
                }));
            }
        }
        for (Future<?> f : all) {
            await(f);
        }
        List<TableCheck> out = new ArrayList<>();
        for (Plan plan : plans) {
            long[] c = counts.get(plan);
            String name = plan.name();
            if (differing.get(plan).isEmpty()) {
                out.add(new TableCheck(name, Result.MATCH, c[0], c[1], null, null));
            } else if (!exists(plan)) {
                out.add(new TableCheck(name, Result.DIFFERS, c[0], null, null, "missing on the target"));
            } else if (plan.key().isEmpty()) {
                out.add(new TableCheck(name, Result.DIFFERS, c[0], c[1], null,
                        "the table has no primary key, so no sample keys can be named"));
            } else {
                out.add(new TableCheck(name, Result.DIFFERS, c[0], c[1], samples(plan, differing.get(plan)), null));
            }
        }
        return out;
    }

    private Digest[] compareRange(Plan plan, long[] range) throws Exception {
        String sql = "SELECT count(*), coalesce(sum(" + rowHash(plan) + "), 0)::text FROM " + plan.relation() + " t"
                + where(plan, range);
        if (slot == null) {
            Future<Digest> s = sourcePool.submit(() -> digest(source, sql));
            Future<Digest> t = targetPool.submit(() -> digestOrMissing(sql));
            return new Digest[]{await(s), await(t)};
        }
        // Idle or lightly written: both sides agree at once.
        Digest[] d = {await(sourcePool.submit(() -> digest(source, sql))), await(targetPool.submit(() -> digestOrMissing(sql)))};
        for (int i = 0; i < ONLINE_TRIES && d[1] != null && !d[0].equals(d[1]); i++) {
            Digest s = await(sourcePool.submit(() -> digest(source, sql)));
            String fence = await(sourcePool.submit(() -> scalar(source, "SELECT pg_catalog.pg_current_wal_lsn()::text")));
            await(sourcePool.submit(() -> awaitConfirmed(fence, FENCE_WAIT_MS)));
            d = new Digest[]{s, await(targetPool.submit(() -> digestOrMissing(sql)))};
        }
        if (d[1] != null && !d[0].equals(d[1])) {
            d = await(sourcePool.submit(() -> compareLocked(plan, sql)));
        }
        return d;
    }

    /**
     * The last try for a range that kept changing: the source table is locked in SHARE mode (its writers wait;
     * readers do not) while the source is read, the target catches up to the fence and is read, then released.
     * Runs on a source thread.
     */
    private Digest[] compareLocked(Plan plan, String sql) throws SQLException, InterruptedException {
        Connection c = connection(source);
        c.setAutoCommit(false);
        try (Statement st = c.createStatement()) {
            st.execute("SET LOCAL lock_timeout = '10s'");
            st.execute("LOCK TABLE " + plan.relation() + " IN SHARE MODE");
            Digest s = digest(source, sql);
            String fence = scalar(source, "SELECT pg_catalog.pg_current_wal_lsn()::text");
            awaitConfirmed(fence, 4 * FENCE_WAIT_MS);
            return new Digest[]{s, await(targetPool.submit(() -> digestOrMissing(sql)))};
        } catch (SQLException e) {
            // No lock to be had (privileges, a long writer): the range is reported as the tries left it.
            return new Digest[]{digest(source, sql), await(targetPool.submit(() -> digestOrMissing(sql)))};
        } finally {
            c.rollback();
            c.setAutoCommit(true);
        }
    }

    /** Waits until the slot has confirmed {@code fence}: the subscriber applied everything up to it. */
    private Void awaitConfirmed(String fence, long maxMillis) throws SQLException, InterruptedException {
        long deadline = System.nanoTime() + maxMillis * 1_000_000L;
        while (System.nanoTime() < deadline) {
            try (PreparedStatement ps = connection(source).prepareStatement("SELECT confirmed_flush_lsn >= ?::pg_lsn"
                    + " FROM pg_catalog.pg_replication_slots WHERE slot_name = ?")) {
                ps.setString(1, fence);
                ps.setString(2, slot);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next() || rs.getBoolean(1)) {
                        return null;
                    }
                }
            }
            Thread.sleep(100);
        }
        return null;
    }

    /**
     * A row's 64-bit hash, summed by the caller (sum(bigint) is numeric: no overflow). {@code hashtextextended} is
     * the hash PostgreSQL's hash partitioning relies on, so it must stay the same across versions (on one byte
     * order); over the "C" collation it hashes the bytes. Several times cheaper than md5, which older servers use.
     */
    private String rowHash(Plan plan) {
        return fastHash ? "pg_catalog.hashtextextended(" + rowText(plan) + " COLLATE \"C\", 0)"
                : "('x' || substr(md5(" + rowText(plan) + "), 1, 16))::bit(64)::bigint";
    }

    /** {@code ROW(c1, c2, ...)::text}: the row's text, columns named (so column order on disk does not matter). */
    private static String rowText(Plan plan) {
        return "ROW(" + String.join(", ", plan.columns().stream().map(c -> "t." + Sql.ident(c)).toList()) + ")::text";
    }

    private static String where(Plan plan, long[] range) {
        if (range.length == 0) {
            return plan.filter().isBlank() ? "" : " " + plan.filter();
        }
        String k = "t." + Sql.ident(plan.key().get(0));
        List<String> bounds = new ArrayList<>();
        if (range[0] != Long.MIN_VALUE) {
            bounds.add(k + " >= " + range[0]);
        }
        if (range[1] != Long.MAX_VALUE) {
            bounds.add(k + " < " + range[1]);
        }
        return bounds.isEmpty() ? "" : " WHERE " + String.join(" AND ", bounds);
    }

    private Digest digest(PgConnector side, String sql) throws SQLException {
        try (Statement s = connection(side).createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return new Digest(rs.getLong(1), rs.getString(2));
        }
    }

    /** The target's digest, or null when the table does not exist there. */
    private Digest digestOrMissing(String sql) throws SQLException {
        Connection c = connection(target);
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return new Digest(rs.getLong(1), rs.getString(2));
        } catch (SQLException e) {
            if (PSQLState.UNDEFINED_TABLE.getState().equals(e.getSQLState())) {
                return null;
            }
            throw e;
        }
    }

    private boolean exists(Plan plan) throws SQLException {
        try (Connection c = target.open(dbname);
             PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.to_regclass(?) IS NOT NULL")) {
            ps.setString(1, plan.relation());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        }
    }

    /**
     * Up to {@link #SAMPLES} keys of rows that differ, by merging both sides' (key, row md5) streams in byte order of
     * the key's text, range by range. Only differing ranges are read.
     */
    private List<String> samples(Plan plan, List<long[]> ranges) throws SQLException {
        List<String> out = new ArrayList<>();
        String keyText = "ROW(" + String.join(", ", plan.key().stream().map(c -> "t." + Sql.ident(c)).toList()) + ")::text";
        for (long[] range : ranges) {
            String sql = "SELECT " + keyText + " COLLATE \"C\" AS k, md5(" + rowText(plan) + ") FROM "
                    + plan.relation() + " t" + where(plan, range) + " ORDER BY 1";
            try (Connection s = source.open(dbname); Connection t = target.open(dbname)) {
                s.setAutoCommit(false);
                t.setAutoCommit(false);
                try (PreparedStatement ps = s.prepareStatement(sql); PreparedStatement pt = t.prepareStatement(sql)) {
                    ps.setFetchSize(10_000);
                    pt.setFetchSize(10_000);
                    try (ResultSet a = ps.executeQuery(); ResultSet b = pt.executeQuery()) {
                        merge(a, b, out);
                    }
                }
            }
            if (out.size() >= SAMPLES) {
                break;
            }
        }
        return out;
    }

    private static void merge(ResultSet a, ResultSet b, List<String> out) throws SQLException {
        boolean hasA = a.next();
        boolean hasB = b.next();
        while ((hasA || hasB) && out.size() < SAMPLES) {
            int cmp = !hasA ? 1 : !hasB ? -1 : compareUtf8(a.getString(1), b.getString(1));
            if (cmp < 0) {
                out.add(a.getString(1) + " missing on the target");
                hasA = a.next();
            } else if (cmp > 0) {
                out.add(b.getString(1) + " only on the target");
                hasB = b.next();
            } else {
                if (!a.getString(2).equals(b.getString(2))) {
                    out.add(a.getString(1) + " differs");
                }
                hasA = a.next();
                hasB = b.next();
            }
        }
    }

    /** Byte order of the UTF-8 encodings: the order of {@code COLLATE "C"}. */
    static int compareUtf8(String x, String y) {
        return Arrays.compareUnsigned(x.getBytes(StandardCharsets.UTF_8), y.getBytes(StandardCharsets.UTF_8));
    }

    /** Ranges of the integer key between the source's bounds, about {@link #RANGE_ROWS} rows each; one whole range else. */
    static List<long[]> ranges(long min, long max, long rowsEstimate) {
        long n = Math.max(1, Math.min(10_000, (rowsEstimate + RANGE_ROWS - 1) / RANGE_ROWS));
        if (n == 1 || max <= min) {
            return List.of(new long[0]);
        }
        List<long[]> out = new ArrayList<>();
        long step = Math.max(1, (long) Math.ceil(((double) max - min + 1) / n));
        out.add(new long[]{Long.MIN_VALUE, min + step});
        for (long lo = min + step; ; lo += step) {
            // Long.MAX_VALUE marks an open end: a range whose real bound would be it is the last one.
            boolean last = lo > max - step || lo + step == Long.MAX_VALUE;
            out.add(new long[]{lo, last ? Long.MAX_VALUE : lo + step});
            if (last) {
                return out;
            }
        }
    }

    private Connection connection(PgConnector side) {
        Connection c = connection.get();
        if (c == null) {
            c = side.open(dbname);
            connection.set(c);
            opened.add(c);
        }
        return c;
    }

    /** The first column of {@code sql}'s one row, on this thread's session to {@code side}. */
    private String scalar(PgConnector side, String sql) throws SQLException {
        try (Statement s = connection(side).createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static <T> T await(Future<T> f) throws SQLException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof SQLException s) {
                throw s;
            }
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new SQLException(e.getCause());
        }
    }

    @Override
    public void close() {
        drivers.shutdownNow();
        sourcePool.shutdownNow();
        targetPool.shutdownNow();
        synchronized (opened) {
            for (Connection c : opened) {
                try {
                    c.close();
                } catch (SQLException ignored) {
                    // closing what we opened; nothing more to release
                }
            }
        }
    }
}
