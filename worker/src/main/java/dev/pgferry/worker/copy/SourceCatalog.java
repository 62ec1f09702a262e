package dev.pgferry.worker.copy;

import dev.pgferry.messages.ReplicationNames;
import dev.pgferry.pg.CatalogSql;
import dev.pgferry.pg.Sql;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * Catalog queries on a source database, run inside the copy's snapshot. Objects that belong to an extension are
 * left out: {@code CREATE EXTENSION} on the target provides them. Stateless.
 */
public final class SourceCatalog {
    private SourceCatalog() {
    }

    /**
     * A table whose rows are copied: a plain table or a leaf partition. {@code unlogged} tables are not
     * replicated by PostgreSQL; {@code replicaIdentity} is false when UPDATE/DELETE could not be replicated
     * (no primary key and no replica identity index or FULL).
     */
    public record Table(String schema, String name, List<String> columns, long bytes, boolean unlogged,
                        boolean replicaIdentity, long rowsEstimate, long oid, IndexCost indexCost) {
        public String qualifiedName() {
            return Sql.qualified(schema, name);
        }

        public String displayName() {
            return schema + "." + name;
        }
    }

    /**
     * What building a table's indexes costs, in bytes of copy that take as long: all of them ({@code total}) and
     * the longest single build ({@code longest}; a table's indexes build side by side). Per byte of index, a
     * b-tree takes about twice as long as copying a byte of table, GIN and GiST several times that (measured in
     * BENCHMARKS.md: on the benchmark's 2 cores a 64 MB b-tree built in 0.75-1.0 s, a 61 MB GIN index in 2.8 s
     * alone, while 385 MB of table copied in 2.5-3.8 s).
     */
    public record IndexCost(long total, long longest) {
        public static final IndexCost NONE = new IndexCost(0, 0);
    }

    /** A sequence and its current state. */
    public record Sequence(String schema, String name, long lastValue, boolean isCalled) {
    }

    /** A materialized view and whether it holds data on the source. */
    public record MatView(String schema, String name, boolean populated) {
    }

    private static final String NOT_SYSTEM = CatalogSql.NOT_SYSTEM;
    private static final String NOT_EXTENSION = CatalogSql.NOT_EXTENSION;

    /** Tables holding rows (relkind r, including leaf partitions), costliest first, without extension tables. */
    public static List<Table> tables(Connection c) throws SQLException {
        return tables(c, false);
    }

    /** Tables holding rows, costliest first (see below); extension member tables only when asked. */
    public static List<Table> tables(Connection c, boolean includeExtensionTables) throws SQLException {
        boolean generatedColumns = c.getMetaData().getDatabaseMajorVersion() >= 12;
        String sql = "SELECT n.nspname, c.relname, size.bytes,"
                + " ARRAY(SELECT a.attname FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0"
                + " AND NOT a.attisdropped" + (generatedColumns ? " AND a.attgenerated = ''" : "")
                + " ORDER BY a.attnum)::text[], c.relpersistence = 'u',"
                + " c.relreplident = 'f' OR EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid"
                + "   AND ((c.relreplident = 'd' AND i.indisprimary) OR (c.relreplident = 'i' AND i.indisreplident))),"
                + " greatest(c.reltuples, 0)::bigint, c.oid, coalesce(ix.total, 0), coalesce(ix.longest, 0)"
                + " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                // once per table: written in both the list and the ORDER BY, the size was read twice (a stat of
                // every fork of the table and of its TOAST table each time; 70 instead of 28 ms for 500 tables)
                + " CROSS JOIN LATERAL (SELECT pg_catalog.pg_table_size(c.oid) AS bytes) size"
                + " LEFT JOIN LATERAL (SELECT sum(w.cost)::bigint AS total, max(w.cost)::bigint AS longest FROM"
                + "   (SELECT pg_catalog.pg_relation_size(i.indexrelid)"
                + "      * CASE am.amname WHEN 'btree' THEN 2 WHEN 'hash' THEN 2 WHEN 'brin' THEN 0 ELSE 8 END AS cost"
                + "    FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
                + "    JOIN pg_catalog.pg_am am ON am.oid = ic.relam WHERE i.indrelid = c.oid) w) ix ON true"
                + " WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND" + NOT_SYSTEM
                + (includeExtensionTables ? "" : " AND" + NOT_EXTENSION)
                // Costliest first, counting the indexes built once the rows are in (IndexCost), so that a table
                // with costly indexes starts early and its index builds do not trail behind the copy.
                + " ORDER BY size.bytes + coalesce(ix.total, 0) DESC, 1, 2";
        List<Table> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(sql); ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                String[] cols = (String[]) rs.getArray(4).getArray();
                out.add(new Table(rs.getString(1), rs.getString(2), List.of(cols), rs.getLong(3), rs.getBoolean(5),
                        rs.getBoolean(6), rs.getLong(7), rs.getLong(8),
                        new IndexCost(rs.getLong(9), rs.getLong(10))));
            }
        }
        return out;
    }

    public static List<Sequence> sequences(Connection c) throws SQLException {
        List<String[]> names = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
                + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND" + NOT_SYSTEM
                + " AND" + NOT_EXTENSION + " ORDER BY 1, 2");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                names.add(new String[]{rs.getString(1), rs.getString(2)});
            }
        }
        List<Sequence> out = new ArrayList<>();
        for (String[] n : names) {
            try (PreparedStatement ps = c.prepareStatement("SELECT last_value, is_called FROM "
                    + Sql.qualified(n[0], n[1]));
                 ResultSet rs = ps.executeQuery()) {
                rs.next();
                out.add(new Sequence(n[0], n[1], rs.getLong(1), rs.getBoolean(2)));
            }
        }
        return out;
    }

    /** The database's subscriptions but pgferry's own, by name. */
    public static List<String> subscriptions(Connection c) throws SQLException {
        return column(c, "SELECT subname FROM pg_catalog.pg_subscription WHERE subdbid ="
                + " (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())"
                + " AND subname !~ ? ORDER BY 1", ReplicationNames.PATTERN);
    }

    /**
     * The database's logical replication slots but pgferry's own, as {@code name (plugin)}: a change-data-capture
     * consumer's (Debezium's, say) position in the source's WAL, which no copy can carry to the target.
     */
    public static List<String> logicalSlots(Connection c) throws SQLException {
        return column(c, "SELECT slot_name || ' (' || coalesce(plugin, '') || ')'"
                + " FROM pg_catalog.pg_replication_slots WHERE slot_type = 'logical'"
                + " AND database = pg_catalog.current_database() AND slot_name !~ ? ORDER BY 1", ReplicationNames.PATTERN);
    }

    /** The first column of every row of {@code sql}, run with {@code params} bound in order. */
    public static List<String> column(Connection c, String sql, String... params) throws SQLException {
        List<String> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                ps.setString(i + 1, params[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
        }
        return out;
    }

    /** What becomes of {@link #logicalSlots}, for the status and {@code pgferry check}. */
    public static String slotsNotCopied(List<String> slots) {
        return "logical replication slot(s) " + String.join(", ", slots) + " of the source database are not copied: a"
                + " slot is its consumer's position in the source's WAL, which the target does not share. When you"
                + " switch over, create each on the target (pg_create_logical_replication_slot) and point its"
                + " consumer there, taking a fresh snapshot as it starts; until then the source's slot keeps its WAL";
    }

    public static List<MatView> matViews(Connection c) throws SQLException {
        List<MatView> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT n.nspname, c.relname, c.relispopulated"
                + " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE c.relkind = 'm' AND" + NOT_SYSTEM + " AND" + NOT_EXTENSION + " ORDER BY 1, 2");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                out.add(new MatView(rs.getString(1), rs.getString(2), rs.getBoolean(3)));
            }
        }
        return out;
    }

    public static List<Long> largeObjects(Connection c) throws SQLException {
        List<Long> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT oid FROM pg_catalog.pg_largeobject_metadata ORDER BY oid");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                out.add(rs.getLong(1));
            }
        }
        return out;
    }

    /**
     * A table of an extension that the extension marked as configuration ({@code pg_extension_config_dump}): the
     * rows its {@code condition} selects ({@code WHERE ...}, empty for every row) are the user's, not the
     * extension's, and {@code CREATE EXTENSION} on the target does not bring them (pg_dump dumps them as data).
     */
    public record ConfigTable(String schema, String name, List<String> columns, String condition) {
        public String qualifiedName() {
            return Sql.qualified(schema, name);
        }

        public String displayName() {
            return schema + "." + name;
        }

        /** {@code SELECT cols FROM table WHERE condition}: the user's rows. */
        public String select() {
            return "SELECT " + String.join(", ", columns.stream().map(Sql::ident).toList()) + " FROM " + qualifiedName()
                    + (condition.isBlank() ? "" : " " + condition);
        }
    }

    /** Every extension configuration table (plain tables only; sequences are set with the others). */
    public static List<ConfigTable> configTables(Connection c) throws SQLException {
        boolean generatedColumns = c.getMetaData().getDatabaseMajorVersion() >= 12;
        List<ConfigTable> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT n.nspname, t.relname, ARRAY(SELECT a.attname"
                + " FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped"
                + (generatedColumns ? " AND a.attgenerated = ''" : "") + " ORDER BY a.attnum)::text[],"
                + " coalesce(e.extcondition[x.i], '')"
                + " FROM pg_catalog.pg_extension e CROSS JOIN LATERAL pg_catalog.generate_subscripts(e.extconfig, 1) x(i)"
                + " JOIN pg_catalog.pg_class t ON t.oid = e.extconfig[x.i]"
                + " JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace WHERE t.relkind = 'r' ORDER BY 1, 2");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                out.add(new ConfigTable(rs.getString(1), rs.getString(2), List.of((String[]) rs.getArray(3).getArray()),
                        rs.getString(4)));
            }
        }
        return out;
    }
}
