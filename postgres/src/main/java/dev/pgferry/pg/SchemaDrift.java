package dev.pgferry.pg;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiPredicate;

/**
 * What changed on the source since a database began to replicate, that logical replication does not carry: tables
 * created since (not in the publication: their rows never arrive), columns added since (the target lacks them: the
 * apply worker fails at the next change to that table), the other schema objects that differ ({@link SchemaObjects}:
 * an index, a constraint, a function, an enum's new value, ...), and an apply worker that stopped. Read from one connection
 * to each side of the database; used by the coordinator to warn, by {@code cutover} to refuse, and by
 * {@code refresh} to repair. Stateless.
 *
 * @param newTables   tables the migration copies that are not in the publication, as {@code schema.table}
 * @param newColumns  columns of published tables that the target's table lacks
 * @param objects     other schema objects that differ between source and target
 * @param problems    other things that keep the target from following (an apply worker that stopped)
 */
public record SchemaDrift(List<Table> newTables, List<Column> newColumns, List<SchemaObjects.Drifted> objects,
                          List<String> problems) {

    /** A table of the source, with its schema's owner (for a schema the target lacks). */
    public record Table(String schema, String name, String schemaOwner) {
        public String qualifiedName() {
            return Sql.qualified(schema, name);
        }

        @Override
        public String toString() {
            return schema + "." + name;
        }
    }

    /** A column of the source: its type, default expression (null: none) and NOT NULL. */
    public record Column(String schema, String table, String name, String type, String defaultExpr, boolean notNull) {
        /** The clause that adds it: {@code ADD COLUMN name type [DEFAULT expr] [NOT NULL]}. */
        public String addClause() {
            return "ADD COLUMN " + Sql.ident(name) + " " + type + (defaultExpr == null ? "" : " DEFAULT " + defaultExpr)
                    + (notNull ? " NOT NULL" : "");
        }

        @Override
        public String toString() {
            return schema + "." + table + "." + name + " (" + type + ")";
        }
    }

    public SchemaDrift {
        newTables = List.copyOf(newTables);
        newColumns = List.copyOf(newColumns);
        objects = List.copyOf(objects);
        problems = List.copyOf(problems);
    }

    public boolean none() {
        return newTables.isEmpty() && newColumns.isEmpty() && objects.isEmpty() && problems.isEmpty();
    }

    /** One line per item, naming the object and what it causes: what the status shows. */
    public List<String> describe() {
        List<String> out = new ArrayList<>();
        newTables.forEach(t -> out.add("table " + t + " is on the source but not in the publication: its rows do not"
                + " reach the target"));
        newColumns.forEach(c -> out.add("column " + c + " is on the source but not on the target: the apply worker"
                + " fails at the next change to " + c.schema() + "." + c.table()));
        objects.forEach(o -> out.add(o.describe()));
        out.addAll(problems);
        return out;
    }

    private static final String NOT_SYSTEM = CatalogSql.NOT_SYSTEM;

    /**
     * Compares a replicating database's source ({@code source}) with its publication and target: {@code copies}
     * says which tables (schema, name) the migration moves, {@code includeExtensionTables} whether extension
     * member tables count. Printing a default, a view or a check constraint takes a lock on its table; a lock another
     * session holds longer than {@code lockTimeoutMs} fails the read (SQLSTATE {@value SqlStates#LOCK_NOT_AVAILABLE})
     * rather than holding up its caller. Each side is read in one transaction, and its sessions' settings are as before.
     */
    public static SchemaDrift of(Connection source, Connection target, String publication, String subscription,
                                 BiPredicate<String, String> copies, boolean includeExtensionTables, long lockTimeoutMs)
            throws SQLException {
        boolean sourceAuto = source.getAutoCommit();
        boolean targetAuto = target.getAutoCommit();
        source.setAutoCommit(false);
        target.setAutoCommit(false);
        try {
            for (Connection c : List.of(source, target)) {
                try (PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.set_config('lock_timeout', ?, true)")) {
                    ps.setString(1, Math.max(1, lockTimeoutMs) + "ms");
                    ps.executeQuery().close();
                }
            }
            return read(source, target, publication, subscription, copies, includeExtensionTables);
        } finally {
            // (it only read)
            source.rollback();
            target.rollback();
            source.setAutoCommit(sourceAuto);
            target.setAutoCommit(targetAuto);
        }
    }

    private static SchemaDrift read(Connection source, Connection target, String publication, String subscription,
                                    BiPredicate<String, String> copies, boolean includeExtensionTables) throws SQLException {
        List<Table> newTables = new ArrayList<>();
        try (PreparedStatement ps = source.prepareStatement("SELECT n.nspname, c.relname, pg_catalog.pg_get_userbyid(n.nspowner)"
                + " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND" + NOT_SYSTEM
                + (includeExtensionTables ? "" : " AND" + CatalogSql.NOT_EXTENSION)
                + " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables pt WHERE pt.pubname = ?"
                + "   AND pt.schemaname = n.nspname AND pt.tablename = c.relname)"
                + " ORDER BY 1, 2")) {
            ps.setString(1, publication);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (copies.test(rs.getString(1), rs.getString(2))) {
                        newTables.add(new Table(rs.getString(1), rs.getString(2), rs.getString(3)));
                    }
                }
            }
        }
        String columns = "SELECT pt.schemaname, pt.tablename, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),"
                + " pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), a.attnotnull"
                + " FROM %s JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname"
                + " JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename"
                + " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
                + " LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum"
                + " ORDER BY 1, 2, a.attnum";
        Map<String, Column> onSource = new LinkedHashMap<>();
        Set<String> publishedTables = new TreeSet<>();
        try (PreparedStatement ps = source.prepareStatement(String.format(columns,
                "pg_catalog.pg_publication_tables pt").replace("ORDER BY", "WHERE pt.pubname = ? ORDER BY"))) {
            ps.setString(1, publication);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Column c = new Column(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                            rs.getString(5), rs.getBoolean(6));
                    onSource.put(c.schema() + "\u0000" + c.table() + "\u0000" + c.name(), c);
                    publishedTables.add(c.schema() + "\u0000" + c.table());
                }
            }
        }
        Set<String> onTarget = new TreeSet<>();
        Set<String> tablesOnTarget = new TreeSet<>();
        try (PreparedStatement ps = target.prepareStatement("SELECT n.nspname, c.relname, a.attname"
                + " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
                + " WHERE c.relkind IN ('r', 'p') AND" + NOT_SYSTEM);
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                onTarget.add(rs.getString(1) + "\u0000" + rs.getString(2) + "\u0000" + rs.getString(3));
                tablesOnTarget.add(rs.getString(1) + "\u0000" + rs.getString(2));
            }
        }
        List<Column> newColumns = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (String table : publishedTables) {
            if (!tablesOnTarget.contains(table)) {
                problems.add("table " + table.replace('\u0000', '.') + " is published but missing on the target");
            }
        }
        onSource.forEach((key, c) -> {
            if (tablesOnTarget.contains(c.schema() + "\u0000" + c.table()) && !onTarget.contains(key)) {
                newColumns.add(c);
            }
        });
        try (PreparedStatement ps = target.prepareStatement("SELECT s.subenabled, EXISTS (SELECT 1 FROM"
                + " pg_catalog.pg_stat_subscription st WHERE st.subid = s.oid AND st.relid IS NULL AND st.pid IS NOT NULL)"
                + " FROM pg_catalog.pg_subscription s WHERE s.subname = ?")) {
            ps.setString(1, subscription);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next() && rs.getBoolean(1) && !rs.getBoolean(2) && applyFailed(target, subscription)) {
                    problems.add("the apply worker of subscription " + subscription + " is not running and has failed"
                            + " (pg_stat_subscription_stats.apply_error_count); the target's server log says why");
                }
            }
        }
        List<SchemaObjects.Drifted> objects = SchemaObjects.compare(SchemaObjects.read(source), SchemaObjects.read(target),
                ServerCatalog.majorVersion(source) == ServerCatalog.majorVersion(target));
        return new SchemaDrift(newTables, newColumns, objects, problems);
    }

    /** Whether the subscription's apply worker has failed (PostgreSQL 15+ counts it; before, unknown: false). */
    private static boolean applyFailed(Connection target, String subscription) throws SQLException {
        if (ServerCatalog.majorVersion(target) < 15) {
            return false;
        }
        try (PreparedStatement ps = target.prepareStatement(
                "SELECT apply_error_count FROM pg_catalog.pg_stat_subscription_stats WHERE subname = ?")) {
            ps.setString(1, subscription);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getLong(1) > 0;
            }
        }
    }
}
