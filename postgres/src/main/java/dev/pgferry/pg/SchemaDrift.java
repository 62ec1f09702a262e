package dev.pgferry.pg;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
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
 * @param changedColumns columns of published tables that the target has otherwise: type, NOT NULL, or default
 *                    (compared only between servers of one major version, which print them alike)
 * @param objects     other schema objects that differ between source and target
 * @param targetOnly  tables, and columns of published tables, that the target has and the source not (dropped there,
 *                    or made on the target; or a column renamed on the source, when a new one takes its place with
 *                    its type)
 * @param problems    other things that keep the target from following (an apply worker that stopped)
 * @param shared      what both sides have, by {@link #tableKey}, {@link #columnKey} and {@link
 *                    SchemaObjects.SchemaObject#key()}: what a later drift may find only on the target because the
 *                    source dropped it (not shown)
 * @param publishedOids the OID of each published table of the source, by {@link #tableKey}
 * @param attnums     the number of each column of a published table of the source, by {@link #columnKey}
 */
public record SchemaDrift(List<Table> newTables, List<Column> newColumns, List<ChangedColumn> changedColumns,
                          List<SchemaObjects.Drifted> objects, List<TargetOnly> targetOnly, List<String> problems,
                          Set<String> shared, Map<String, Long> publishedOids, Map<String, Integer> attnums) {

    public SchemaDrift(List<Table> newTables, List<Column> newColumns, List<ChangedColumn> changedColumns,
                       List<SchemaObjects.Drifted> objects, List<TargetOnly> targetOnly, List<String> problems,
                       Set<String> shared, Map<String, Long> publishedOids) {
        this(newTables, newColumns, changedColumns, objects, targetOnly, problems, shared, publishedOids, Map.of());
    }

    /**
     * A table ({@code column} null), or a column of a published table, that only the target has; {@code renamed}: one
     * the source may have renamed (a new column of its type is there; a published table the target lacks has the
     * same columns), which is never dropped; {@code renameTo}: that table's name on the source; {@code columnTo}:
     * that column's.
     */
    public record TargetOnly(String schema, String table, String column, boolean renamed, String line,
                             SchemaObjects.TableName renameTo, String columnTo) {
        public TargetOnly(String schema, String table, String column, boolean renamed, String line,
                          SchemaObjects.TableName renameTo) {
            this(schema, table, column, renamed, line, renameTo, null);
        }

        /** Its {@link #tableKey} or {@link #columnKey}. */
        public String key() {
            return column == null ? tableKey(schema, table) : columnKey(schema, table, column);
        }
    }

    /** How {@link #shared} names a table. */
    public static String tableKey(String schema, String table) {
        return "TABLE\u0000" + schema + "\u0000" + table;
    }

    /** How {@link #identities} names which table of the source ({@code oid}) a published table is. */
    public static String identityKey(String schema, String table, long oid) {
        return "OID\u0000" + schema + "\u0000" + table + "\u0000" + oid;
    }

    /** Among {@link #identities}, always: a record of them tells that it was kept (pgferry before 2026-12-03 kept none). */
    public static final String IDENTITIES = "OIDS\u0000v1";

    /**
     * Which table of the source ({@link #identityKey}) each published table that both sides have is, with {@link
     * #IDENTITIES}: so that a later drift can tell a table the source dropped and made again under its name, or
     * renamed (the subscription follows tables by name, so the target's table of that name then takes another's rows).
     */
    public Set<String> identities() {
        Set<String> out = new HashSet<>();
        out.add(IDENTITIES);
        publishedOids.forEach((key, oid) -> {
            if (shared.contains(key)) {
                String[] parts = key.split("\u0000", 3);
                out.add(identityKey(parts[1], parts[2], oid));
            }
        });
        // (and which column of it each column is: a column renamed keeps its number)
        attnums.forEach((key, attnum) -> {
            String[] parts = key.split("\u0000", 4);
            Long oid = publishedOids.get(tableKey(parts[1], parts[2]));
            if (shared.contains(key) && oid != null) {
                out.add(columnIdentityKey(parts[1], parts[2], parts[3], oid, attnum));
            }
        });
        return out;
    }

    /** How {@link #identities} names which column ({@code attnum}) of which table of the source ({@code oid}) a column is. */
    public static String columnIdentityKey(String schema, String table, String column, long oid, int attnum) {
        return "ATTNUM\u0000" + schema + "\u0000" + table + "\u0000" + column + "\u0000" + oid + "\u0000" + attnum;
    }

    /** How {@link #shared} names a column. */
    public static String columnKey(String schema, String table, String column) {
        return "COLUMN\u0000" + schema + "\u0000" + table + "\u0000" + column;
    }

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

    /**
     * A column: its type, default expression (null: none; for a generated column, its expression), NOT NULL, whether
     * it is generated ({@code GENERATED ALWAYS AS (...) STORED}), and its identity ({@code pg_attribute.attidentity}:
     * {@code a} always, {@code d} by default, empty: none).
     */
    public record Column(String schema, String table, String name, String type, String defaultExpr, boolean notNull,
                         boolean generated, String identity) {
        /** The clause that adds it: {@code ADD COLUMN name type [DEFAULT expr | GENERATED ...] [NOT NULL]}. */
        public String addClause() {
            return "ADD COLUMN " + Sql.ident(name) + " " + type + (defaultExpr == null ? "" : generated
                    ? " GENERATED ALWAYS AS (" + defaultExpr + ") STORED" : " DEFAULT " + defaultExpr)
                    + identityClause() + (notNull ? " NOT NULL" : "");
        }

        /** {@code GENERATED ... AS IDENTITY} with a leading space, or nothing. */
        String identityClause() {
            return switch (identity) {
                case "a" -> " GENERATED ALWAYS AS IDENTITY";
                case "d" -> " GENERATED BY DEFAULT AS IDENTITY";
                default -> "";
            };
        }

        /** Its type, NOT NULL, default and identity, as {@link ChangedColumn} shows them. */
        public String definition() {
            return type + (notNull ? " NOT NULL" : "") + (defaultExpr == null ? "" : (generated ? " GENERATED ALWAYS AS ("
                    + defaultExpr + ")" : " DEFAULT " + defaultExpr)) + identityClause();
        }

        @Override
        public String toString() {
            return schema + "." + table + "." + name + " (" + type + ")";
        }
    }

    /** A column both sides have, defined otherwise: the source's and the target's. */
    public record ChangedColumn(Column source, Column target) {
        /**
         * The clauses that make the target's column the source's ({@code ALTER COLUMN ... TYPE}, {@code SET} or
         * {@code DROP DEFAULT}, {@code SET} or {@code DROP NOT NULL}), or an empty list when a generated column's
         * expression differs, which only dropping and adding the column changes.
         */
        public List<String> alterClauses() {
            String col = "ALTER COLUMN " + Sql.ident(source.name()) + " ";
            List<String> out = new ArrayList<>();
            if (source.generated() != target.generated()
                    || (source.generated() && !java.util.Objects.equals(source.defaultExpr(), target.defaultExpr()))) {
                return out;
            }
            if (!source.type().equals(target.type())) {
                out.add(col + "TYPE " + source.type() + " USING " + Sql.ident(source.name()) + "::" + source.type());
            }
            if (!source.generated() && !java.util.Objects.equals(source.defaultExpr(), target.defaultExpr())) {
                out.add(col + (source.defaultExpr() == null ? "DROP DEFAULT" : "SET DEFAULT " + source.defaultExpr()));
            }
            if (!source.identity().equals(target.identity())) {
                out.add(col + (source.identity().isEmpty() ? "DROP IDENTITY" : target.identity().isEmpty()
                        ? "ADD" + source.identityClause() : "SET" + source.identityClause().replace(" AS IDENTITY", "")));
            }
            if (source.notNull() != target.notNull()) {
                out.add(col + (source.notNull() ? "SET NOT NULL" : "DROP NOT NULL"));
            }
            return out;
        }

        public String describe() {
            return "column " + source.schema() + "." + source.table() + "." + source.name() + " is "
                    + source.definition() + " on the source but " + target.definition() + " on the target (DDL is not"
                    + " replicated; a row the target's column cannot take stops the apply worker): " + (alterClauses()
                    .isEmpty() ? "drop and add it on the target as on the source" : "pgferry refresh alters it");
        }
    }

    public SchemaDrift {
        newTables = List.copyOf(newTables);
        newColumns = List.copyOf(newColumns);
        changedColumns = List.copyOf(changedColumns);
        objects = List.copyOf(objects);
        targetOnly = List.copyOf(targetOnly);
        problems = List.copyOf(problems);
        shared = Set.copyOf(shared);
        publishedOids = Map.copyOf(publishedOids);
        attnums = Map.copyOf(attnums);
    }

    public boolean none() {
        return newTables.isEmpty() && newColumns.isEmpty() && changedColumns.isEmpty() && objects.isEmpty()
                && targetOnly.isEmpty() && problems.isEmpty();
    }

    /** One line per item, naming the object and what it causes: what the status shows. */
    public List<String> describe() {
        List<String> out = new ArrayList<>();
        newTables.forEach(t -> out.add("table " + t + " is on the source but not in the publication: its rows do not"
                + " reach the target"));
        newColumns.forEach(c -> out.add("column " + c + " is on the source but not on the target: the apply worker"
                + " fails at the next change to " + c.schema() + "." + c.table()));
        changedColumns.forEach(c -> out.add(c.describe()));
        objects.forEach(o -> out.add(o.describe()));
        targetOnly.forEach(t -> out.add(t.line()));
        out.addAll(problems);
        return out;
    }

    private static final String NOT_SYSTEM = CatalogSql.NOT_SYSTEM;
    /** What to do about something only the target has (see {@link SchemaObjects.Drifted#describe()}). */
    public static final String DROPPED = "pgferry refresh drops it if the source dropped it (one made only on the target"
            + " stays: drop it yourself)";

    /**
     * What a refresh says instead of {@link #DROPPED} of something only the target has that the source never had while
     * pgferry compared the two (it knows from its record; a look without the record cannot tell, so it keeps this).
     */
    public static final String KEPT = "the source never had it while pgferry compared the two, so it was made on the target"
            + " and stays: drop it yourself, or cut over with --ignore-drift";

    /**
     * {@code found} (lines of {@link #describe}) with each line that {@code shown} has as {@link #KEPT} (a refresh's
     * word, from its record) as {@code shown} has it.
     */
    public static List<String> keepingKept(List<String> found, List<String> shown) {
        return found.stream().map(l -> shown.contains(l.replace(DROPPED, KEPT)) ? l.replace(DROPPED, KEPT) : l).toList();
    }

    /**
     * Compares a replicating database's source ({@code source}) with its publication and target: {@code copies}
     * says which tables (schema, name) the migration moves, {@code includeExtensionTables} whether extension
     * member tables count. Printing a view, a check constraint or a generated column takes a lock on its table; a
     * lock another session holds longer than {@code lockTimeoutMs} fails the read (SQLSTATE
     * {@value SqlStates#LOCK_NOT_AVAILABLE}) rather than holding up its caller. Each side is read in one transaction,
     * and its sessions' settings are as before.
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
        boolean sameMajor = ServerCatalog.majorVersion(source) == ServerCatalog.majorVersion(target);
        String columns = "SELECT pt.schemaname, pt.tablename, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),"
                + " " + defaultExpr(source) + ", a.attnotnull, " + generated(source) + ", a.attidentity::text, c.oid, a.attnum"
                + " FROM %s JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname"
                + " JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename"
                + " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
                + " LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum"
                + " ORDER BY 1, 2, a.attnum";
        Map<String, Column> onSource = new LinkedHashMap<>();
        Set<String> publishedTables = new TreeSet<>();
        Map<String, Long> publishedOids = new HashMap<>();
        Map<String, Integer> attnums = new HashMap<>();
        // each table's columns in their order, to tell a renamed column from one dropped and one added
        Map<String, List<String>> sourceOrder = new HashMap<>();
        Map<String, List<String>> targetOrder = new HashMap<>();
        try (PreparedStatement ps = source.prepareStatement(String.format(columns,
                "pg_catalog.pg_publication_tables pt").replace("ORDER BY", "WHERE pt.pubname = ? ORDER BY"))) {
            ps.setString(1, publication);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Column c = column(rs);
                    onSource.put(c.schema() + "\u0000" + c.table() + "\u0000" + c.name(), c);
                    publishedTables.add(c.schema() + "\u0000" + c.table());
                    publishedOids.put(tableKey(c.schema(), c.table()), rs.getLong(9));
                    attnums.put(columnKey(c.schema(), c.table(), c.name()), rs.getInt(10));
                    sourceOrder.computeIfAbsent(c.schema() + "\u0000" + c.table(), k -> new ArrayList<>()).add(c.name());
                }
            }
        }
        Map<String, Column> onTarget = new LinkedHashMap<>();
        Set<String> tablesOnTarget = new TreeSet<>();
        try (PreparedStatement ps = target.prepareStatement("SELECT n.nspname, c.relname, a.attname,"
                + " pg_catalog.format_type(a.atttypid, a.atttypmod), " + defaultExpr(target) + ","
                + " a.attnotnull, " + generated(target) + ", a.attidentity::text"
                + " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
                + " LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum"
                + " WHERE c.relkind IN ('r', 'p') AND" + NOT_SYSTEM + " ORDER BY 1, 2, a.attnum");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                Column c = column(rs);
                onTarget.put(c.schema() + "\u0000" + c.table() + "\u0000" + c.name(), c);
                tablesOnTarget.add(c.schema() + "\u0000" + c.table());
                targetOrder.computeIfAbsent(c.schema() + "\u0000" + c.table(), k -> new ArrayList<>()).add(c.name());
            }
        }
        List<Column> newColumns = new ArrayList<>();
        List<ChangedColumn> changedColumns = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        onSource.forEach((key, c) -> {
            Column t = onTarget.get(key);
            if (tablesOnTarget.contains(c.schema() + "\u0000" + c.table()) && t == null) {
                newColumns.add(c);
            } else if (t != null && (!c.type().equals(t.type()) || c.notNull() != t.notNull() || c.generated() != t.generated()
                    || !c.identity().equals(t.identity())
                    || (sameMajor && !java.util.Objects.equals(c.defaultExpr(), t.defaultExpr())))) {
                // (a default is printed as each server's version deparses it: compared between servers of one major)
                changedColumns.add(new ChangedColumn(c, sameMajor ? t : new Column(t.schema(), t.table(), t.name(),
                        t.type(), c.defaultExpr(), t.notNull(), t.generated(), t.identity())));
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
        // (the source's privileges to roles the target lacks: pgferry skips them when it cannot create the role)
        SchemaObjects.Inventory sourceObjects = SchemaObjects.read(source, ServerCatalog.roleNames(target));
        SchemaObjects.Inventory targetObjects = SchemaObjects.read(target);
        List<SchemaObjects.Drifted> objects = SchemaObjects.compare(sourceObjects, targetObjects, sameMajor);
        List<TargetOnly> targetOnly = new ArrayList<>();
        // A new column in the place of one only the target has, of its type, may be that column renamed: adding it
        // would leave the rows the target has without its values, so neither is touched until the user says which.
        Set<String> renamed = new HashSet<>();
        for (Column c : List.copyOf(newColumns)) {
            String table = c.schema() + "\u0000" + c.table();
            int at = sourceOrder.get(table).indexOf(c.name());
            List<String> there = targetOrder.getOrDefault(table, List.of());
            // the target's columns of its type that the source no longer has: the one in its place first
            List<Column> gone = there.stream().map(n -> onTarget.get(table + "\u0000" + n))
                    .filter(o -> !onSource.containsKey(table + "\u0000" + o.name())
                            && !renamed.contains(table + "\u0000" + o.name()) && o.type().equals(c.type())).toList();
            Column old = gone.stream().filter(o -> there.indexOf(o.name()) == at).findFirst()
                    .orElse(gone.isEmpty() ? null : gone.get(0));
            if (old != null) {
                newColumns.remove(c);
                renamed.add(table + "\u0000" + old.name());
                targetOnly.add(new TargetOnly(c.schema(), c.table(), old.name(), true, "column " + c.schema() + "."
                        + c.table() + "." + c.name() + " is on the source where the target has " + old.name() + " (of"
                        + " the same type, which the source no longer has; DDL is not replicated): pgferry refresh"
                        + " renames it when its record says it is that column renamed; else, if it was renamed, rename"
                        + " it on the target (ALTER TABLE " + Sql.qualified(c.schema(), c.table()) + " RENAME COLUMN "
                        + Sql.ident(old.name()) + " TO " + Sql.ident(c.name()) + "), or drop " + old.name() + " there"
                        + " (refresh adds neither: adding " + c.name() + " would leave the target's rows without its"
                        + " values)", null, c.name()));
            }
        }
        // A published table the target lacks was renamed (or moved to another schema) on the source, where it stays in
        // the publication: the target's table with the same columns that the source no longer has is it.
        Set<String> onSourceTables = new HashSet<>();
        sourceObjects.tables().values().forEach(t -> onSourceTables.add(t.schema() + "\u0000" + t.name()));
        Map<String, SchemaObjects.TableName> renamedTables = new HashMap<>();
        for (String table : publishedTables) {
            if (tablesOnTarget.contains(table)) {
                continue;
            }
            List<String> shape = shape(sourceOrder.get(table), table, onSource);
            List<String> same = tablesOnTarget.stream().filter(t -> !onSourceTables.contains(t) && !renamedTables.containsKey(t)
                    && shape.equals(shape(targetOrder.get(t), t, onTarget))).toList();
            String[] now = table.split("\u0000", 2);
            if (same.size() == 1) {
                String[] was = same.get(0).split("\u0000", 2);
                renamedTables.put(same.get(0), new SchemaObjects.TableName(now[0], now[1]));
                targetOnly.add(new TargetOnly(was[0], was[1], null, true, "table " + now[0] + "." + now[1] + " is"
                        + " published but the target has it as " + was[0] + "." + was[1] + " (the same columns; DDL is"
                        + " not replicated, and changes to it stop the apply worker): it was renamed on the source;"
                        + " pgferry refresh renames it on the target", new SchemaObjects.TableName(now[0], now[1])));
            } else {
                problems.add("table " + now[0] + "." + now[1] + " is published but missing on the target");
            }
        }
        new TreeMap<>(targetObjects.tables()).forEach((quoted, t) -> {
            if (!sourceObjects.tables().containsKey(quoted) && !renamedTables.containsKey(t.schema() + "\u0000" + t.name())) {
                targetOnly.add(new TargetOnly(t.schema(), t.name(), null, false, "table " + quoted + " is on the target"
                        + " but not on the source (DDL is not replicated): " + DROPPED, null));
            }
        });
        onTarget.forEach((key, c) -> {
            if (publishedTables.contains(c.schema() + "\u0000" + c.table()) && !onSource.containsKey(key)
                    && !renamed.contains(key)) {
                targetOnly.add(new TargetOnly(c.schema(), c.table(), c.name(), false, "column " + c.schema() + "."
                        + c.table() + "." + c.name() + " is on the target but not on the source (DDL is not replicated"
                        + (c.notNull() && c.defaultExpr() == null ? "; it is NOT NULL without a default, so the apply"
                        + " worker stops at the next row inserted" : "") + "): " + DROPPED, null));
            }
        });
        Set<String> shared = new HashSet<>();
        sourceObjects.objects().keySet().stream().filter(targetObjects.objects()::containsKey).forEach(shared::add);
        sourceObjects.grants().stream().filter(targetObjects.grants()::contains).forEach(shared::add);
        sourceObjects.tables().forEach((quoted, t) -> {
            if (targetObjects.tables().containsKey(quoted)) {
                shared.add(tableKey(t.schema(), t.name()));
            }
        });
        onSource.values().stream().filter(c -> onTarget.containsKey(c.schema() + "\u0000" + c.table() + "\u0000" + c.name()))
                .forEach(c -> shared.add(columnKey(c.schema(), c.table(), c.name())));
        return new SchemaDrift(newTables, newColumns, changedColumns, objects, targetOnly, problems, shared,
                publishedOids, attnums);
    }

    /** A table's columns as {@code name type}, in order ({@code names}: their names; {@code columns}: by key). */
    private static List<String> shape(List<String> names, String table, Map<String, Column> columns) {
        return names == null ? List.of() : names.stream().map(n -> columns.get(table + "\u0000" + n))
                .map(c -> c.name() + " " + c.type()).toList();
    }

    /**
     * A column's default as the server prints it, or a generated column's expression. A default names no column, so
     * it is printed without its table ({@code pg_get_expr(..., 0)}), which takes no lock on it; a generated column's
     * expression does, and is printed with it.
     */
    private static String defaultExpr(Connection c) throws SQLException {
        return ServerCatalog.majorVersion(c) >= 12 ? "CASE WHEN a.attgenerated = 's' THEN pg_catalog.pg_get_expr(ad.adbin,"
                + " ad.adrelid) ELSE pg_catalog.pg_get_expr(ad.adbin, 0) END" : "pg_catalog.pg_get_expr(ad.adbin, 0)";
    }

    /** Whether a column is generated, as the server {@code c} can say (before PostgreSQL 12 none is). */
    private static String generated(Connection c) throws SQLException {
        return ServerCatalog.majorVersion(c) >= 12 ? "a.attgenerated = 's'" : "false";
    }

    private static Column column(ResultSet rs) throws SQLException {
        return new Column(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5),
                rs.getBoolean(6), rs.getBoolean(7), rs.getString(8) == null ? "" : rs.getString(8));
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
