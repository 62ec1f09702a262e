package dev.pgferry.worker.database;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.GucSetting;
import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * What a database is besides its contents, read from {@code pg_database} and the shared catalogs: owner, encoding,
 * collation and ctype, locale provider and ICU locale, connection limit, {@code ALLOW_CONNECTIONS},
 * {@code IS_TEMPLATE}, tablespace,
 * the database ACL, {@code ALTER DATABASE ... SET}, {@code ALTER ROLE ... IN DATABASE ... SET}, comment and
 * security labels. The locale and encoding are given at {@code CREATE DATABASE}; everything that could hinder the
 * migration's own sessions (settings such as {@code default_transaction_read_only}, a connection limit, the ACL) is
 * applied by {@link #applyTo} once the database is finished. Immutable.
 *
 * @param grants the database ACL as (grantee, privilege, grantable) rows, grantee {@code null} for PUBLIC;
 *               {@code null} when the database has the default ACL
 * @param settings stored {@code name=value} settings of the database
 * @param roleSettings per role, its stored settings in this database
 */
public record DatabaseProperties(String name, String owner, String encoding, String collate, String ctype,
                                 String localeProvider, String iculocale, int connectionLimit,
                                 boolean allowConnections, boolean template, String tablespace, List<Grant> grants,
                                 List<String> settings, Map<String, List<String>> roleSettings, String comment,
                                 List<Label> labels) {

    /** One privilege of the database ACL. */
    public record Grant(String grantee, String privilege, boolean grantable) {
        @Override
        public String toString() {
            return (grantee == null ? "PUBLIC" : grantee) + ":" + privilege + (grantable ? " WITH GRANT OPTION" : "");
        }
    }

    /** A security label of the database. */
    public record Label(String provider, String label) {
    }

    /** Reads the properties of {@code dbname} over any connection to its server. */
    public static DatabaseProperties read(Connection c, String dbname) throws SQLException {
        int major = ServerCatalog.majorVersion(c);
        String provider = major >= 15 ? "CASE d.datlocprovider WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin' ELSE 'libc' END"
                : "'libc'";
        String icu = major >= 17 ? "d.datlocale" : major >= 15 ? "d.daticulocale" : "NULL::text";
        try (PreparedStatement ps = c.prepareStatement("SELECT d.oid, pg_catalog.pg_get_userbyid(d.datdba),"
                + " pg_catalog.pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, " + provider + ", " + icu + ","
                + " d.datconnlimit, d.datallowconn, d.datistemplate, t.spcname, d.datacl IS NULL,"
                + " pg_catalog.shobj_description(d.oid, 'pg_database')"
                + " FROM pg_catalog.pg_database d JOIN pg_catalog.pg_tablespace t ON t.oid = d.dattablespace"
                + " WHERE d.datname = ?")) {
            ps.setString(1, dbname);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new MigrationException(ErrorCode.DATABASE_MISSING, "database " + dbname + " does not exist");
                }
                long oid = rs.getLong(1);
                return new DatabaseProperties(dbname, rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5),
                        rs.getString(6), rs.getString(7), rs.getInt(8), rs.getBoolean(9), rs.getBoolean(10),
                        rs.getString(11), rs.getBoolean(12) ? null : grants(c, oid), settings(c, oid),
                        roleSettings(c, oid), rs.getString(13), labels(c, oid));
            }
        }
    }

    private static List<Grant> grants(Connection c, long oid) throws SQLException {
        List<Grant> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT CASE WHEN a.grantee = 0 THEN NULL"
                + " ELSE pg_catalog.pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable"
                + " FROM pg_catalog.pg_database d, pg_catalog.aclexplode(d.datacl) a WHERE d.oid = ?::pg_catalog.oid"
                + " ORDER BY 1 NULLS FIRST, 2")) {
            ps.setLong(1, oid);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new Grant(rs.getString(1), rs.getString(2), rs.getBoolean(3)));
                }
            }
        }
        return out;
    }

    private static List<String> settings(Connection c, long oid) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT unnest(setconfig) FROM pg_catalog.pg_db_role_setting"
                + " WHERE setdatabase = ?::pg_catalog.oid AND setrole = 0")) {
            ps.setLong(1, oid);
            return column(ps);
        }
    }

    private static Map<String, List<String>> roleSettings(Connection c, long oid) throws SQLException {
        Map<String, List<String>> out = new TreeMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.pg_get_userbyid(setrole), unnest(setconfig)"
                + " FROM pg_catalog.pg_db_role_setting WHERE setdatabase = ?::pg_catalog.oid AND setrole <> 0")) {
            ps.setLong(1, oid);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.computeIfAbsent(rs.getString(1), k -> new ArrayList<>()).add(rs.getString(2));
                }
            }
        }
        return out;
    }

    private static List<Label> labels(Connection c, long oid) throws SQLException {
        List<Label> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT provider, label FROM pg_catalog.pg_shseclabel"
                + " WHERE objoid = ?::pg_catalog.oid AND classoid = 'pg_catalog.pg_database'::pg_catalog.regclass"
                + " ORDER BY provider")) {
            ps.setLong(1, oid);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new Label(rs.getString(1), rs.getString(2)));
                }
            }
        }
        return out;
    }

    private static List<String> column(PreparedStatement ps) throws SQLException {
        List<String> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    private boolean defaultLocale() {
        return Set.of("C", "POSIX").contains(collate) && Set.of("C", "POSIX").contains(ctype);
    }

    /**
     * Fails with {@link ErrorCode#PRECONDITION_FAILED}, naming the fix, when the target cannot give a new database
     * this locale: it lacks the locale, or (before 15) cannot make ICU a database's default. The check creates a
     * temporary collation in a transaction that is rolled back, so it changes nothing.
     */
    public void checkLocaleOn(Connection target) throws SQLException {
        int major = ServerCatalog.majorVersion(target);
        if (!"libc".equals(localeProvider) && major < 15) {
            throw new MigrationException(ErrorCode.PRECONDITION_FAILED, "source database " + name + " uses the "
                    + localeProvider + " locale provider (" + iculocale + "), which a PostgreSQL " + major
                    + " target cannot give a database; migrate to PostgreSQL 15 or later, or leave this database"
                    + " out with --ignore-dbs");
        }
        List<String> checks = new ArrayList<>();
        if (!defaultLocale()) {
            checks.add("(provider = libc, lc_collate = " + Sql.literal(collate) + ", lc_ctype = " + Sql.literal(ctype) + ")");
        }
        if ("icu".equals(localeProvider) && iculocale != null) {
            checks.add("(provider = icu, locale = " + Sql.literal(iculocale) + ")");
        }
        boolean autoCommit = target.getAutoCommit();
        for (String check : checks) {
            target.setAutoCommit(false);
            try (Statement s = target.createStatement()) {
                s.execute("CREATE COLLATION pg_temp.pgferry_locale_check " + check);
            } catch (SQLException e) {
                throw new MigrationException(ErrorCode.PRECONDITION_FAILED, e.getSQLState(), "the target cannot create"
                        + " database " + name + " with the source's locale (" + describeLocale() + "): "
                        + SqlStates.describe(e) + "; install that locale on the target's operating system (e.g."
                        + " locale-gen), or create the database there yourself with a locale of your choice, empty,"
                        + " and migrate again", false, e);
            } finally {
                target.rollback();
                target.setAutoCommit(autoCommit);
            }
        }
    }

    private String describeLocale() {
        return "encoding " + encoding + ", LC_COLLATE " + collate + ", LC_CTYPE " + ctype
                + ("libc".equals(localeProvider) ? "" : ", " + localeProvider + " locale " + iculocale);
    }

    /**
     * {@code CREATE DATABASE} with this database's owner (when {@code withOwner}; the caller says why not), encoding
     * and locale, in the tablespace of the same name when the target has it (else the default, with a warning).
     */
    public String createStatement(boolean withOwner, boolean tablespaceExists, int targetMajor, Consumer<String> warn) {
        StringBuilder sql = new StringBuilder("CREATE DATABASE ").append(Sql.ident(name));
        if (withOwner) {
            sql.append(" OWNER ").append(Sql.ident(owner));
        }
        sql.append(" TEMPLATE template0 ENCODING ").append(Sql.literal(encoding));
        sql.append(" LC_COLLATE ").append(Sql.literal(collate)).append(" LC_CTYPE ").append(Sql.literal(ctype));
        if (targetMajor >= 15 && !"libc".equals(localeProvider)) {
            sql.append(" LOCALE_PROVIDER ").append(localeProvider);
            if (iculocale != null) {
                sql.append("icu".equals(localeProvider) ? " ICU_LOCALE " : " BUILTIN_LOCALE ").append(Sql.literal(iculocale));
            }
        }
        if (!"pg_default".equals(tablespace)) {
            if (tablespaceExists) {
                sql.append(" TABLESPACE ").append(Sql.ident(tablespace));
            } else {
                warn.accept("database " + name + ": tablespace " + tablespace + " does not exist on the target; the"
                        + " database is in the target's default tablespace");
            }
        }
        return sql.toString();
    }

    /**
     * Gives the target database {@code dbname} these properties, except owner, encoding, locale and tablespace
     * (fixed at creation): connection limit, {@code ALLOW_CONNECTIONS}, ACL, settings, per-role settings, comment,
     * security labels and, last, {@code IS_TEMPLATE}. Each statement that fails is a warning naming what was not
     * copied; a grant to, or a setting of, a role in {@code missingRoles} is reported as such.
     */
    public void applyTo(Connection target, DatabaseProperties current, Set<String> missingRoles, Consumer<String> warn)
            throws SQLException {
        String db = Sql.ident(name);
        if (connectionLimit != current.connectionLimit()) {
            apply(target, "ALTER DATABASE " + db + " CONNECTION LIMIT " + connectionLimit, "connection limit", warn);
        }
        if (allowConnections != current.allowConnections()) {
            apply(target, "ALTER DATABASE " + db + " ALLOW_CONNECTIONS " + allowConnections, "ALLOW_CONNECTIONS", warn);
        }
        if (!Objects.equals(grants, current.grants())) {
            applyGrants(target, current, missingRoles, warn);
        }
        if (!settings.equals(current.settings())) {
            apply(target, "ALTER DATABASE " + db + " RESET ALL", "settings", warn);
            for (String s : settings) {
                GucSetting g = GucSetting.parse(s);
                apply(target, "ALTER DATABASE " + db + " SET " + g.toSql(), "setting " + g.name(), warn);
            }
        }
        for (Map.Entry<String, List<String>> e : roleSettings.entrySet()) {
            if (e.getValue().equals(current.roleSettings().get(e.getKey()))) {
                continue;
            }
            if (missingRoles.contains(e.getKey())) {
                warn.accept("database " + name + ": settings of role " + e.getKey() + " in it were not copied: the"
                        + " role does not exist on the target");
                continue;
            }
            for (String s : e.getValue()) {
                GucSetting g = GucSetting.parse(s);
                apply(target, "ALTER ROLE " + Sql.ident(e.getKey()) + " IN DATABASE " + db + " SET " + g.toSql(),
                        "setting " + g.name() + " of role " + e.getKey(), warn);
            }
        }
        if (!Objects.equals(comment, current.comment())) {
            apply(target, "COMMENT ON DATABASE " + db + " IS " + (comment == null ? "NULL" : Sql.literal(comment)),
                    "comment", warn);
        }
        for (Label l : labels) {
            if (!current.labels().contains(l)) {
                apply(target, "SECURITY LABEL FOR " + Sql.ident(l.provider()) + " ON DATABASE " + db + " IS "
                        + Sql.literal(l.label()), "security label of provider " + l.provider(), warn);
            }
        }
        if (template != current.template()) {
            apply(target, "ALTER DATABASE " + db + " IS_TEMPLATE " + template, "IS_TEMPLATE", warn);
        }
    }

    /** Makes the target's ACL this one: everything revoked, then each privilege granted as on the source. */
    private void applyGrants(Connection target, DatabaseProperties current, Set<String> missingRoles,
                             Consumer<String> warn) throws SQLException {
        String db = Sql.ident(name);
        apply(target, "REVOKE ALL ON DATABASE " + db + " FROM PUBLIC", "ACL", warn);
        apply(target, "REVOKE ALL ON DATABASE " + db + " FROM " + Sql.ident(current.owner()), "ACL", warn);
        for (Grant g : current.grants() == null ? List.<Grant>of() : current.grants()) {
            if (g.grantee() != null && !g.grantee().equals(current.owner())) {
                apply(target, "REVOKE ALL ON DATABASE " + db + " FROM " + Sql.ident(g.grantee()), "ACL", warn);
            }
        }
        for (Grant g : grants == null ? defaultGrants() : grants) {
            String grantee = g.grantee() == null ? "PUBLIC" : g.grantee().equals(owner) ? current.owner() : g.grantee();
            if (missingRoles.contains(grantee)) {
                warn.accept("database " + name + ": privilege " + g.privilege() + " of role " + grantee + " not copied:"
                        + " the role does not exist on the target");
                continue;
            }
            String who = g.grantee() == null ? "PUBLIC" : Sql.ident(grantee);
            apply(target, "GRANT " + g.privilege() + " ON DATABASE " + db + " TO " + who
                    + (g.grantable() ? " WITH GRANT OPTION" : ""), "privilege " + g.privilege() + " of " + grantee, warn);
        }
    }

    /** PostgreSQL's default database ACL: the owner has every privilege, PUBLIC may connect and create temp tables. */
    private List<Grant> defaultGrants() {
        return List.of(new Grant(null, "CONNECT", false), new Grant(null, "TEMPORARY", false),
                new Grant(owner, "CREATE", false), new Grant(owner, "CONNECT", false), new Grant(owner, "TEMPORARY", false));
    }

    private void apply(Connection target, String sql, String what, Consumer<String> warn) {
        try (Statement s = target.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            warn.accept("database " + name + ": " + what + " not copied: " + SqlStates.describe(e));
        }
    }

    /**
     * These properties with the stored setting {@code name} as {@code value} ({@code null}: not set): the source as it
     * was before a cut-over blocked its writes, for comparing it with the target.
     */
    public DatabaseProperties withSetting(String name, String value) {
        List<String> changed = new ArrayList<>();
        boolean placed = false;
        for (String s : settings) {
            if (s.startsWith(name + "=")) {
                if (value != null && !placed) {
                    changed.add(name + "=" + value);
                    placed = true;
                }
            } else {
                changed.add(s);
            }
        }
        if (value != null && !placed) {
            changed.add(name + "=" + value);
        }
        return new DatabaseProperties(this.name, owner, encoding, collate, ctype, localeProvider, iculocale, connectionLimit,
                allowConnections, template, tablespace, grants, List.copyOf(changed), roleSettings, comment, labels);
    }

    /**
     * The differences between this (the source's) and {@code other} (the target's), one line each; empty when they
     * match. The tablespace is compared by name; an owner or grantee in {@code missingRoles} is not a difference.
     */
    public List<String> differences(DatabaseProperties other) {
        List<String> out = new ArrayList<>();
        diff(out, "owner", owner, other.owner());
        diff(out, "encoding", encoding, other.encoding());
        diff(out, "LC_COLLATE", collate, other.collate());
        diff(out, "LC_CTYPE", ctype, other.ctype());
        diff(out, "locale provider", localeProvider, other.localeProvider());
        diff(out, "ICU locale", iculocale, other.iculocale());
        diff(out, "connection limit", connectionLimit, other.connectionLimit());
        diff(out, "ALLOW_CONNECTIONS", allowConnections, other.allowConnections());
        diff(out, "IS_TEMPLATE", template, other.template());
        diff(out, "tablespace", tablespace, other.tablespace());
        diff(out, "ACL", grants == null ? "default" : grants, other.grants() == null ? "default" : other.grants());
        diff(out, "settings", settings, other.settings());
        diff(out, "role settings", roleSettings, other.roleSettings());
        diff(out, "comment", comment, other.comment());
        diff(out, "security labels", labels, other.labels());
        return out;
    }

    private static void diff(List<String> out, String what, Object source, Object target) {
        if (!Objects.equals(source, target)) {
            out.add(what + ": " + source + " on the source, " + target + " on the target");
        }
    }
}
