package dev.pgferry.worker.copy;

import dev.pgferry.pg.Sql;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits tables much larger than the rest into ranges, so that one huge table does not leave the other copy jobs
 * idle. On PostgreSQL 14 and later a range is a span of heap pages ({@code ctid}, read by a TID range scan); on
 * older sources, where a ctid condition would scan the whole table once per range, a table is split only by a
 * single-column integer primary key. Each range reads what the snapshot sees in it; the first and last ranges are
 * open-ended, so together the ranges cover every row exactly once. Stateless.
 */
public final class TableSlicer {
    /** Tables smaller than this are never split by the automatic rule. */
    public static final long MIN_AUTO_SPLIT_BYTES = 64L << 20;
    private static final int MAX_PARTS = 256;

    private TableSlicer() {
    }

    /**
     * A part of a table, copied in one target transaction. {@code range} is null for the whole table (copied
     * after a TRUNCATE, with FREEZE); otherwise it selects this part's rows.
     */
    public record Slice(SourceCatalog.Table table, Range range, int part, int parts) {
        public boolean whole() {
            return range == null;
        }

        /** The condition selecting this part's rows (null for the whole table). */
        public String where() {
            return range == null ? null : range.where();
        }

        public String describe() {
            return whole() ? table.displayName() : table.displayName() + " (part " + (part + 1) + " of " + parts + ")";
        }
    }

    /**
     * What writing a table in ranges costs against writing it whole: its ranges go into the table without
     * {@code FREEZE} (several writers, none of which created or truncated it), so every page is written once more
     * when the index builds, foreign-key checks or the next vacuum set its hint bits and freeze it, and PostgreSQL 15
     * and older also queue the writers on the table's extension lock. Measured in BENCHMARKS.md: a 671 MB
     * {@code pgbench_accounts} in 2 ranges made a 2-job migration 20 % slower than the table whole, and 400 MB in 2
     * ranges cost 12 more CPU seconds.
     */
    static final int SPLIT_COST_FACTOR = 2;

    /**
     * How many parts to copy table {@code t} in, given {@code total}, all the work (copies and index builds, in bytes
     * of copy: {@link SourceCatalog.IndexCost}) of the database, and {@code jobs}. With {@code splitBytes} > 0: one per
     * {@code splitBytes} of table.
     * Automatic (0): the shorter of two estimates of when the last job ends. Whole, that is the later of an equal
     * share of the work per job and the table's own chain, its copy plus its longest index build. In k parts, the
     * table's copy costs {@link #SPLIT_COST_FACTOR} times as much but spreads over the jobs: the later of the larger
     * share and one part plus that index build, with the fewest parts (at most one per job) that bring the chain
     * within the share. So a table is split only when its chain would outlast everything else by more than splitting
     * costs: never on 2 jobs (each of 2 parts costs as long as the whole table), and on more jobs a table that is a
     * large part of the database. Tables under {@link #MIN_AUTO_SPLIT_BYTES} are never split automatically.
     */
    static int parts(SourceCatalog.Table t, long total, int jobs, long splitBytes) {
        if (splitBytes > 0) {
            return t.bytes() <= splitBytes ? 1 : (int) Math.min(MAX_PARTS, (t.bytes() - 1) / splitBytes + 1);
        }
        if (jobs < 2 || t.bytes() < MIN_AUTO_SPLIT_BYTES) {
            return 1;
        }
        long longest = t.indexCost().longest();
        long whole = Math.max(total / jobs, t.bytes() + longest);
        long splitCopy = t.bytes() * SPLIT_COST_FACTOR;
        long splitShare = (total + splitCopy - t.bytes()) / jobs;
        long room = splitShare - longest;
        // More parts than jobs would not shorten the chain: the jobs copy at most that many parts at once.
        int k = room <= 0 ? jobs : (int) Math.min(jobs, Math.max(2, (splitCopy - 1) / room + 1));
        long split = Math.max(splitShare, splitCopy / k + longest);
        return split < whole ? k : 1;
    }

    /**
     * The slices to copy, in the order given; a table to split (see {@link #parts}) becomes several. {@code reader}
     * must read the copy's snapshot.
     */
    public static List<Slice> plan(Connection reader, List<SourceCatalog.Table> tables, int jobs, long splitBytes)
            throws SQLException {
        boolean tidRanges = reader.getMetaData().getDatabaseMajorVersion() >= 14;
        // All the work, in bytes of copy (see SourceCatalog.IndexCost).
        long total = tables.stream().mapToLong(x -> x.bytes() + x.indexCost().total()).sum();
        List<Slice> out = new ArrayList<>();
        for (SourceCatalog.Table t : tables) {
            int wanted = parts(t, total, jobs, splitBytes);
            List<Range> ranges = wanted < 2 || t.columns().isEmpty() ? List.of()
                    : tidRanges ? pageRanges(reader, t, wanted) : keyRanges(reader, t, wanted);
            if (ranges.size() < 2) {
                out.add(new Slice(t, null, 0, 1));
            } else {
                for (int i = 0; i < ranges.size(); i++) {
                    out.add(new Slice(t, ranges.get(i), i, ranges.size()));
                }
            }
        }
        return out;
    }

    /**
     * The rows of a range, as numbers: heap pages {@code [lower, upper)} when {@code keyColumn} is null, else values
     * of that integer column; a null bound is open. Its SQL is made here from those numbers and the quoted column
     * name, so a range received from another worker ({@code CopyUnit}) never carries SQL.
     */
    public record Range(String keyColumn, Long lower, Long upper) {
        public Range {
            if (lower == null && upper == null) {
                throw new IllegalArgumentException("a range needs at least one bound");
            }
        }

        /** The condition; COPY (SELECT ...) takes no bind parameters, and the bounds are numbers. */
        public String where() {
            String column = keyColumn == null ? "ctid" : Sql.ident(keyColumn);
            String lowerSql = lower == null ? null : column + " >= " + bound(lower);
            String upperSql = upper == null ? null : column + " < " + bound(upper);
            return lowerSql == null ? upperSql : upperSql == null ? lowerSql : lowerSql + " AND " + upperSql;
        }

        private String bound(long value) {
            return keyColumn == null ? "'(" + value + ",0)'::pg_catalog.tid" : Long.toString(value);
        }
    }


    private static List<Range> pageRanges(Connection reader, SourceCatalog.Table t, int wanted) throws SQLException {
        long pages;
        try (PreparedStatement ps = reader.prepareStatement("SELECT pg_catalog.pg_relation_size(?::pg_catalog.oid)"
                + " / pg_catalog.current_setting('block_size')::bigint")) {
            ps.setLong(1, t.oid());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                pages = rs.getLong(1);
            }
        }
        int parts = (int) Math.min(wanted, pages);
        List<Long> bounds = new ArrayList<>();
        for (int i = 1; i < parts; i++) {
            bounds.add(pages * i / parts);
        }
        return boundedRanges(null, bounds);
    }

    private static List<Range> keyRanges(Connection reader, SourceCatalog.Table t, int wanted) throws SQLException {
        String key = null;
        try (PreparedStatement ps = reader.prepareStatement("SELECT a.attname FROM pg_catalog.pg_index i"
                + " JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
                + " WHERE i.indrelid = ?::pg_catalog.oid AND i.indisprimary AND i.indnatts = 1"
                + " AND a.atttypid IN ('pg_catalog.int2'::pg_catalog.regtype, 'pg_catalog.int4'::pg_catalog.regtype,"
                + " 'pg_catalog.int8'::pg_catalog.regtype)")) {
            ps.setLong(1, t.oid());
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    key = rs.getString(1);
                }
            }
        }
        if (key == null) {
            return List.of();
        }
        String column = Sql.ident(key);
        long min;
        long max;
        try (PreparedStatement ps = reader.prepareStatement("SELECT min(" + column + "), max(" + column + ") FROM "
                + t.qualifiedName()); ResultSet rs = ps.executeQuery()) {
            rs.next();
            min = rs.getLong(1);
            max = rs.getLong(2);
            if (rs.wasNull()) {
                return List.of();
            }
        }
        // Doubles, because the span of an int8 key may exceed Long.MAX_VALUE; the bounds only need to increase.
        double span = (double) max - (double) min + 1;
        int parts = (int) Math.min(wanted, Math.max(1, span));
        List<Long> bounds = new ArrayList<>();
        for (int i = 1; i < parts; i++) {
            long bound = (long) (min + span * i / parts);
            if (bound > min && (bounds.isEmpty() || bound > bounds.get(bounds.size() - 1))) {
                bounds.add(bound);
            }
        }
        return boundedRanges(key, bounds);
    }

    /** Contiguous ranges split at {@code bounds}: below the first, between each pair, from the last on. */
    private static List<Range> boundedRanges(String keyColumn, List<Long> bounds) {
        List<Range> out = new ArrayList<>();
        for (int i = 0; i <= bounds.size(); i++) {
            out.add(new Range(keyColumn, i == 0 ? null : bounds.get(i - 1), i == bounds.size() ? null : bounds.get(i)));
        }
        return out;
    }
}
