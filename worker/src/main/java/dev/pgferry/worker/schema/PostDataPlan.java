package dev.pgferry.worker.schema;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Splits the post-data part of a schema dump so that index builds overlap the data copy: the indexes and
 * (non-foreign-key) constraints of each plain table can be built as soon as that table's rows are in; everything
 * else (foreign keys, which need the indexes of other tables, triggers, rules, partition indexes and their
 * attachments, materialized view data, ...) runs after all tables. Entries are read from {@code pg_restore -l} and
 * tied to their table through the source catalog OIDs the listing carries (so names are never parsed).
 * Immutable.
 */
public final class PostDataPlan {
    private static final long PG_CLASS = 1259;
    private static final long PG_CONSTRAINT = 2606;

    private final Map<Long, List<String>> perTable;
    private final List<String> rest;

    private PostDataPlan(Map<Long, List<String>> perTable, List<String> rest) {
        this.perTable = perTable;
        this.rest = rest;
    }

    /** Table-of-contents lines to restore once table {@code tableOid} holds its rows (empty when none). */
    public List<String> forTable(long tableOid) {
        return perTable.getOrDefault(tableOid, List.of());
    }

    /** The lines to restore after every table (for the tables in {@code plan} minus what {@link #forTable} gave). */
    public List<String> rest() {
        return rest;
    }

    /**
     * @param toc         the output of {@code pg_restore -l}
     * @param source      a connection reading the same snapshot as the dump
     * @param earlyTables OIDs of the plain (non-partition) tables whose indexes may be built early
     */
    static PostDataPlan of(List<String> toc, Connection source, Set<Long> earlyTables) throws SQLException {
        record Entry(String line, long classId, long objId, String desc) {
        }
        List<Entry> entries = new ArrayList<>();
        for (String line : toc) {
            if (line.isBlank() || line.startsWith(";")) {
                continue;
            }
            String[] t = line.split("\\s+", 4);
            if (t.length < 4) {
                continue;
            }
            try {
                entries.add(new Entry(line, Long.parseLong(t[1]), Long.parseLong(t[2]), t[3]));
            } catch (NumberFormatException e) {
                // not an entry line
            }
        }
        Map<Long, Long> indexTable = owners(source, "SELECT indexrelid, indrelid FROM pg_catalog.pg_index WHERE indexrelid = ANY(?::pg_catalog.oid[])",
                entries.stream().filter(e -> e.classId() == PG_CLASS && e.desc().startsWith("INDEX ")
                        && !e.desc().startsWith("INDEX ATTACH")).map(Entry::objId).toList());
        Map<Long, Long> constraintTable = owners(source, "SELECT oid, conrelid FROM pg_catalog.pg_constraint"
                        + " WHERE oid = ANY(?::pg_catalog.oid[]) AND contype IN ('p', 'u', 'x', 'c')",
                entries.stream().filter(e -> e.classId() == PG_CONSTRAINT && e.desc().startsWith("CONSTRAINT ")).map(Entry::objId).toList());
        Map<Long, List<String>> perTable = new LinkedHashMap<>();
        List<String> rest = new ArrayList<>();
        for (Entry e : entries) {
            Long table = e.classId() == PG_CLASS ? indexTable.get(e.objId())
                    : e.classId() == PG_CONSTRAINT ? constraintTable.get(e.objId()) : null;
            if (table != null && earlyTables.contains(table)) {
                perTable.computeIfAbsent(table, k -> new ArrayList<>()).add(e.line());
            } else {
                rest.add(e.line());
            }
        }
        return new PostDataPlan(perTable, rest);
    }

    private static Map<Long, Long> owners(Connection c, String sql, List<Long> ids) throws SQLException {
        Map<Long, Long> out = new HashMap<>();
        if (ids.isEmpty()) {
            return out;
        }
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setArray(1, c.createArrayOf("int8", ids.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getLong(1), rs.getLong(2));
                }
            }
        }
        return out;
    }

    static Path writeList(List<String> lines) throws IOException {
        Path f = Files.createTempFile("pgferry-toc-", ".list");
        Files.write(f, lines);
        return f;
    }
}
