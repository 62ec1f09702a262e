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
import java.util.Objects;
import java.util.Set;

/**
 * The schema objects of a database besides tables and columns, which logical replication does not carry either when
 * they change: indexes (other than those of constraints), constraints of tables, triggers, functions and procedures,
 * views and materialized views, sequences, and enum, domain and composite types. Each is read as its kind, its
 * name (as {@link SchemaDrift#describe()} shows it) and an md5 of its definition as the server prints it
 * ({@code pg_get_indexdef}, {@code pg_get_functiondef}, ...), so that two servers of one major version that hold the
 * same object read the same; between majors those texts may be printed differently, so only names are compared
 * there. Objects of extensions, and of extensions' tables, are left out (the extension provides them); extensions
 * themselves are compared by name (a target may provide another version), and one only the target has is not named
 * (a managed service's own). Stateless.
 */
public final class SchemaObjects {

    /** What kind of object; the first word of its line in the drift. */
    public enum Kind {
        INDEX("index"), CONSTRAINT("constraint"), TRIGGER("trigger"), FUNCTION("function"), PROCEDURE("procedure"),
        VIEW("view"), MATERIALIZED_VIEW("materialized view"), SEQUENCE("sequence"), TYPE("type"), EXTENSION("extension"),
        POLICY("policy"), ROW_SECURITY("row-level security of table"), PRIVILEGES("privileges on"), COMMENT("comment on");

        private final String word;

        Kind(String word) {
            this.word = word;
        }

        public String word() {
            return word;
        }
    }

    /**
     * One object: its kind, its name (quoted where it needs to be), the md5 of its definition, and the table it
     * belongs to ({@code schema.table} quoted, for an index, a constraint, a trigger or a sequence a column owns; else
     * null), which brings it along when the table is created, and its own name as the catalog holds it (unquoted).
     */
    public record SchemaObject(Kind kind, String name, String definitionMd5, String table, String own) {
        public String key() {
            return kind + "\0" + name;
        }
    }

    /** A table's schema and name, as the catalog holds them (unquoted). */
    public record TableName(String schema, String name) {
    }

    /**
     * A database's objects by {@link SchemaObject#key()}, and its tables by their quoted name ({@code schema.table},
     * as {@link SchemaObject#table()} has it).
     */
    public record Inventory(Map<String, SchemaObject> objects, Map<String, TableName> tables, Set<String> grants) {
        public Inventory(Map<String, SchemaObject> objects, Map<String, TableName> tables) {
            this(objects, tables, Set.of());
        }
    }

    /** How {@link Inventory#grants} (and {@link SchemaDrift#shared}) names one privilege granted on a relation. */
    public static String grantKey(String relation, String grant) {
        return "GRANT\u0000" + relation + "\u0000" + grant;
    }

    private static final String NOT_SYSTEM = CatalogSql.NOT_SYSTEM;
    /** The table {@code c} in schema {@code n}, as {@link SchemaObject#table()} holds it. */
    private static final String TABLE = "pg_catalog.format('%I.%I', n.nspname, c.relname)";
    /** The table {@code c} is not an extension's. */
    private static final String TABLE_NOT_EXTENSION = CatalogSql.NOT_EXTENSION;

    /**
     * The query of the privileges on relation {@code c} granted to roles other than its owner ({@code onlyRoles}: to
     * PUBLIC or the roles of the query's parameter), as one text ({@code grants}: {@code role:PRIVILEGE} with {@code *}
     * when grantable, sorted; PUBLIC as such), null when there are none.
     */
    private static String grants(boolean onlyRoles) {
        return "SELECT pg_catalog.string_agg(q.g, ',' ORDER BY q.g) AS grants FROM (SELECT " + GRANT + " AS g"
                + " FROM pg_catalog.aclexplode(c.relacl) a WHERE a.grantee <> c.relowner" + (onlyRoles ? ONLY_ROLES : "")
                + ") q";
    }

    /** The grantee of {@code a} is PUBLIC or one of the roles of the query's parameter (a text array). */
    private static final String ONLY_ROLES = " AND (a.grantee = 0 OR pg_catalog.pg_get_userbyid(a.grantee)::text"
            + " = ANY (?::text[]))";

    /**
     * The comments on tables, views, materialized views, sequences, indexes and columns: {@code name} (as the drift
     * shows it: {@code table public.t}, {@code column public.t.c}), {@code description}, {@code tab} (the table, for
     * one of a table or its column), {@code own} (the object as {@code COMMENT ON} names it).
     */
    public static final String COMMENTS = "SELECT pg_catalog.lower(k.word) || ' ' || pg_catalog.format('%I.%I', n.nspname,"
            + " c.relname) || CASE WHEN d.objsubid > 0 THEN '.' || pg_catalog.quote_ident(a.attname) ELSE '' END AS name,"
            + " d.description, CASE WHEN c.relkind IN ('r', 'p') THEN pg_catalog.format('%I.%I', n.nspname, c.relname)"
            + " END AS tab, k.word || ' ' || pg_catalog.format('%I.%I', n.nspname, c.relname) || CASE WHEN d.objsubid > 0"
            + " THEN '.' || pg_catalog.quote_ident(a.attname) ELSE '' END AS own"
            + " FROM pg_catalog.pg_description d JOIN pg_catalog.pg_class c ON c.oid = d.objoid"
            + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            + " LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0"
            + " CROSS JOIN LATERAL (SELECT CASE WHEN d.objsubid > 0 THEN 'COLUMN' ELSE CASE c.relkind WHEN 'v' THEN 'VIEW'"
            + "   WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'i' THEN 'INDEX' ELSE 'TABLE' END END AS word) k"
            + " WHERE d.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i')"
            + " AND (d.objsubid = 0 OR NOT a.attisdropped) AND" + CatalogSql.NOT_SYSTEM + " AND" + CatalogSql.NOT_EXTENSION;

    /** One privilege {@code a} of {@code aclexplode}: {@code role:PRIVILEGE}, with {@code *} when grantable. */
    public static final String GRANT = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text"
            + " END || ':' || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END";

    private SchemaObjects() {
    }

    /** {@code sql} prepared on {@code c}, with {@code roles} as its one parameter when not null. */
    private static PreparedStatement prepare(Connection c, String sql, java.util.Collection<String> roles) throws SQLException {
        PreparedStatement ps = c.prepareStatement(sql);
        if (roles != null) {
            ps.setArray(1, c.createArrayOf("text", roles.toArray()));
        }
        return ps;
    }

    /** Every such object of the database {@code c} is connected to, and its tables. */
    public static Inventory read(Connection c) throws SQLException {
        return read(c, null);
    }

    /**
     * As {@link #read(Connection)}, with only the privileges granted to PUBLIC or to {@code roles} (null: all): those
     * to a role the other side lacks are not there to compare (pgferry skips them when it cannot create the role).
     */
    public static Inventory read(Connection c, java.util.Collection<String> roles) throws SQLException {
        boolean prokind = ServerCatalog.majorVersion(c) >= 11;
        List<String> parts = new ArrayList<>();
        parts.add("SELECT 'INDEX', pg_catalog.format('%I.%I', n.nspname, ic.relname),"
                + " pg_catalog.md5(pg_catalog.pg_get_indexdef(i.indexrelid)), " + TABLE + ", ic.relname::text"
                + " FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid"
                + " JOIN pg_catalog.pg_class c ON c.oid = i.indrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE" + NOT_SYSTEM + " AND" + TABLE_NOT_EXTENSION
                + " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.conindid = i.indexrelid"
                + "   AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))");
        parts.add("SELECT 'CONSTRAINT', pg_catalog.format('%I on %I.%I', k.conname, n.nspname, c.relname),"
                + " pg_catalog.md5(pg_catalog.pg_get_constraintdef(k.oid)), " + TABLE + ", k.conname::text"
                + " FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid"
                + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE k.contype IN ('c', 'f', 'p', 'u', 'x') AND" + NOT_SYSTEM + " AND" + TABLE_NOT_EXTENSION);
        parts.add("SELECT 'TRIGGER', pg_catalog.format('%I on %I.%I', t.tgname, n.nspname, c.relname),"
                + " pg_catalog.md5(pg_catalog.pg_get_triggerdef(t.oid)), " + TABLE + ", t.tgname::text"
                + " FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid"
                + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE NOT t.tgisinternal AND" + NOT_SYSTEM + " AND" + TABLE_NOT_EXTENSION);
        parts.add("SELECT " + (prokind ? "CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END" : "'FUNCTION'")
                + ", pg_catalog.format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)),"
                + " pg_catalog.md5(pg_catalog.pg_get_functiondef(p.oid)), NULL, p.proname::text"
                + " FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
                + " WHERE " + (prokind ? "p.prokind IN ('f', 'p')" : "NOT p.proisagg AND NOT p.proiswindow")
                + " AND" + NOT_SYSTEM + " AND" + CatalogSql.notExtension("pg_proc", "p.oid"));
        parts.add("SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' ELSE 'MATERIALIZED_VIEW' END,"
                + " pg_catalog.format('%I.%I', n.nspname, c.relname), pg_catalog.md5(pg_catalog.pg_get_viewdef(c.oid)), NULL, c.relname::text"
                + " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE c.relkind IN ('v', 'm') AND" + NOT_SYSTEM + " AND" + TABLE_NOT_EXTENSION);
        parts.add("SELECT 'SEQUENCE', pg_catalog.format('%I.%I', n.nspname, c.relname),"
                + " pg_catalog.md5(pg_catalog.format_type(s.seqtypid, NULL) || ' ' || s.seqincrement || ' ' || s.seqmin"
                + "   || ' ' || s.seqmax || ' ' || s.seqcycle),"
                + " (SELECT pg_catalog.format('%I.%I', on_.nspname, oc.relname) FROM pg_catalog.pg_depend d"
                + "   JOIN pg_catalog.pg_class oc ON oc.oid = d.refobjid JOIN pg_catalog.pg_namespace on_ ON on_.oid = oc.relnamespace"
                + "   WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid"
                + "   AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i') LIMIT 1),"
                + " c.relname::text"
                + " FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid"
                + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE" + NOT_SYSTEM + " AND" + TABLE_NOT_EXTENSION
                // (an identity column's sequence comes and goes with the column: see SchemaDrift's columns)
                + " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
                + "   AND d.objid = c.oid AND d.deptype = 'i')");
        parts.add("SELECT 'TYPE', pg_catalog.format('%I.%I', n.nspname, t.typname), pg_catalog.md5(CASE t.typtype"
                + " WHEN 'e' THEN (SELECT pg_catalog.string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)"
                + "   FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid)"
                + " WHEN 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) || ' ' || t.typnotnull || ' '"
                + "   || coalesce((SELECT pg_catalog.string_agg(pg_catalog.pg_get_constraintdef(k.oid), ',' ORDER BY k.conname)"
                + "   FROM pg_catalog.pg_constraint k WHERE k.contypid = t.oid), '')"
                + " ELSE (SELECT pg_catalog.string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod),"
                + "   ',' ORDER BY a.attnum) FROM pg_catalog.pg_attribute a"
                + "   WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END), NULL, t.typname::text"
                + " FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace"
                + " WHERE (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class r"
                + "   WHERE r.oid = t.typrelid AND r.relkind = 'c'))) AND" + NOT_SYSTEM
                + " AND" + CatalogSql.notExtension("pg_type", "t.oid"));
        parts.add("SELECT 'POLICY', pg_catalog.format('%I on %I.%I', p.polname, n.nspname, c.relname),"
                + " pg_catalog.md5(p.polcmd::text || ' ' || p.polpermissive::text || ' ' || coalesce((SELECT"
                + "   pg_catalog.string_agg(q.role, ',' ORDER BY q.role) FROM (SELECT CASE WHEN r = 0 THEN 'public'"
                + "   ELSE pg_catalog.pg_get_userbyid(r)::text END AS role FROM pg_catalog.unnest(p.polroles) r) q), '')"
                + "   || ' ' || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '') || ' '"
                + "   || coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '')), " + TABLE
                + ", p.polname::text FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid"
                + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE" + NOT_SYSTEM + " AND" + TABLE_NOT_EXTENSION);
        parts.add("SELECT 'ROW_SECURITY', " + TABLE + ", pg_catalog.md5(c.relrowsecurity::text || c.relforcerowsecurity::text),"
                + " " + TABLE + ", c.relname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE c.relkind IN ('r', 'p') AND (c.relrowsecurity OR c.relforcerowsecurity) AND" + NOT_SYSTEM
                + " AND" + TABLE_NOT_EXTENSION);
        // the privileges granted on a table, view, materialized view or sequence to roles other than its owner
        parts.add("SELECT 'PRIVILEGES', " + TABLE + ", pg_catalog.md5(g.grants), CASE WHEN c.relkind IN ('r', 'p') THEN "
                + TABLE + " END, c.relname::text FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " CROSS JOIN LATERAL (" + grants(roles != null) + ") g"
                + " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND c.relacl IS NOT NULL AND g.grants IS NOT NULL AND"
                + NOT_SYSTEM + " AND" + TABLE_NOT_EXTENSION);
        parts.add("SELECT 'COMMENT', q.name, pg_catalog.md5(q.description), q.tab, q.own FROM (" + COMMENTS + ") q");
        parts.add("SELECT 'EXTENSION', pg_catalog.format('%I', e.extname), pg_catalog.md5(e.extname::text), NULL,"
                + " e.extname::text FROM pg_catalog.pg_extension e WHERE e.extname <> 'plpgsql'");
        Map<String, SchemaObject> out = new LinkedHashMap<>();
        try (PreparedStatement ps = prepare(c, String.join(" UNION ALL ", parts) + " ORDER BY 1, 2", roles);
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                SchemaObject o = new SchemaObject(Kind.valueOf(rs.getString(1)), rs.getString(2), rs.getString(3),
                        rs.getString(4), rs.getString(5));
                out.put(o.key(), o);
            }
        }
        Map<String, TableName> tables = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT " + TABLE + ", n.nspname, c.relname FROM pg_catalog.pg_class c"
                + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND" + NOT_SYSTEM);
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                tables.put(rs.getString(1), new TableName(rs.getString(2), rs.getString(3)));
            }
        }
        // each privilege granted to a role other than the owner, so that a refresh revokes only those both sides had
        Set<String> grants = new HashSet<>();
        try (PreparedStatement ps = prepare(c, "SELECT " + TABLE + ", " + GRANT
                + " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a"
                + " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND a.grantee <> c.relowner AND" + NOT_SYSTEM
                + " AND" + TABLE_NOT_EXTENSION + (roles != null ? ONLY_ROLES : ""), roles);
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                grants.add(grantKey(rs.getString(1), rs.getString(2)));
            }
        }
        return new Inventory(out, tables, grants);
    }

    /** How an object differs between the two sides. */
    public enum Difference {
        /** On the source, not on the target. */
        MISSING,
        /** On both, defined otherwise. */
        DIFFERS,
        /** On the target, not (or no longer) on the source. */
        EXTRA
    }

    /** One object that differs, as {@link SchemaObject} has it. */
    public record Drifted(Kind kind, String name, Difference difference, String table, String own) {
        /** As {@link SchemaObject#key()}. */
        public String key() {
            return kind + "\0" + name;
        }

        /** Whether {@code pgferry refresh} makes it as on the source. */
        public boolean repairable() {
            return switch (difference) {
                case MISSING, DIFFERS -> true;
                case EXTRA -> false;
            };
        }

        /** The line the drift shows: what differs, and what to do. */
        public String describe() {
            String what = kind.word() + " " + name;
            if (kind == Kind.PRIVILEGES && difference == Difference.EXTRA) {
                return what + " are granted on the target but not on the source (DDL is not replicated): "
                        + SchemaDrift.DROPPED;
            }
            if (kind == Kind.PRIVILEGES) {
                return what + " are granted " + (difference == Difference.MISSING ? "on the source but not on the target"
                        : "otherwise on the source than on the target") + " (DDL is not replicated): pgferry refresh grants"
                        + " them as on the source, and revokes those the source revoked (one granted on the target alone"
                        + " stays)";
            }
            return switch (difference) {
                case MISSING -> what + " is on the source but not on the target (DDL is not replicated): " + (repairable()
                        ? "pgferry refresh creates it" : "create it on the target as on the source");
                case DIFFERS -> what + " is defined otherwise on the source than on the target (DDL is not replicated): "
                        + (kind == Kind.TYPE ? "pgferry refresh makes it as on the source (an enum's new or renamed"
                        + " values, a domain's constraints, NOT NULL and default, a composite type's attributes; a"
                        + " domain's base type by hand)" : "pgferry refresh makes it as on the source");
                case EXTRA -> what + " is on the target but not on the source (DDL is not replicated): "
                        + SchemaDrift.DROPPED;
            };
        }
    }

    /**
     * The objects that differ between {@code source} and {@code target} (read by {@link #read}), in kind and name
     * order; definitions are compared only when {@code sameMajor}. An object of a table the other side lacks is left
     * out: it comes and goes with its table.
     */
    public static List<Drifted> compare(Inventory source, Inventory target, boolean sameMajor) {
        List<Drifted> out = new ArrayList<>();
        source.objects().forEach((key, s) -> {
            SchemaObject t = target.objects().get(key);
            if (t == null) {
                if (s.table() == null || target.tables().containsKey(s.table())) {
                    out.add(new Drifted(s.kind(), s.name(), Difference.MISSING, s.table(), s.own()));
                }
            } else if (sameMajor && !Objects.equals(s.definitionMd5(), t.definitionMd5())) {
                out.add(new Drifted(s.kind(), s.name(), Difference.DIFFERS, s.table(), s.own()));
            }
        });
        target.objects().forEach((key, t) -> {
            if (!source.objects().containsKey(key) && (t.table() == null || source.tables().containsKey(t.table()))
                    && t.kind() != Kind.EXTENSION) {
                out.add(new Drifted(t.kind(), t.name(), Difference.EXTRA, t.table(), t.own()));
            }
        });
        out.sort(java.util.Comparator.comparing(Drifted::kind).thenComparing(Drifted::name));
        return out;
    }
}
