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
     * How many parts to copy table {@code t} in, given {@code share}, all the work divided by the jobs. With
     * {@code splitBytes} > 0: one per {@code splitBytes} of table.
     * Automatic (0): a table is split when its copy plus its longest index build would take longer than an equal
     * share of all the work (copies and index builds) per job: it would finish last, and every job but one would
     * wait for it. It is then cut into as many parts as that share goes into it, so that its rows are in (and its
     * index builds start) early. Tables under {@link #MIN_AUTO_SPLIT_BYTES} are never split automatically, and no
     * more than needed: parallel COPY into one table costs more per byte than COPY of a whole table (no FREEZE; on
     * PostgreSQL 15 and older the writers also queue on the table's extension lock), which BENCHMARKS.md measures.
     */
    static int parts(SourceCatalog.Table t, long share, int jobs, long splitBytes) {
        if (splitBytes > 0) {
            return t.bytes() <= splitBytes ? 1 : (int) Math.min(MAX_PARTS, (t.bytes() - 1) / splitBytes + 1);
        }
        if (jobs < 2 || t.bytes() < MIN_AUTO_SPLIT_BYTES) {
            return 1;
        }
        long critical = t.bytes() + t.indexCost().longest();
        return critical <= share ? 1 : (int) Math.min(MAX_PARTS, Math.max(2, (critical - 1) / share + 1));
    }

    /**
     * The slices to copy, in the order given; a table to split (see {@link #parts}) becomes several. {@code reader}
     * must read the copy's snapshot.
     */
    public static List<Slice> plan(Connection reader, List<SourceCatalog.Table> tables, int jobs, long splitBytes)
            throws SQLException {
        boolean tidRanges = reader.getMetaData().getDatabaseMajorVersion() >= 14;
        // An equal share of all the work per job, in bytes of copy (see SourceCatalog.IndexCost).
        long share = Math.max(1, tables.stream().mapToLong(x -> x.bytes() + x.indexCost().total()).sum() / Math.max(1, jobs));
        List<Slice> out = new ArrayList<>();
        for (SourceCatalog.Table t : tables) {
            int wanted = parts(t, share, jobs, splitBytes);
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
