package dev.pgferry.worker.roles;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * Creates on the target the roles one source database uses (its owner, every role that owns an object or holds a
 * grant there, and the roles those are members of), with their attributes, memberships and per-role settings,
 * so that ownership and grants restore as on the source. Roles that already exist on the target are left as they
 * are. Passwords are copied (as stored hashes) when the source user may read {@code pg_authid}; otherwise the role
 * gets no password and a warning says so. A role that cannot be created is a warning, never a failure. Doing this
 * for each database of a migration is idempotent. Stateless.
 */
public final class RoleCopier {
    private static final String USED_ROLES = """
            WITH RECURSIVE used(oid) AS (
                SELECT datdba FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()
              UNION
                SELECT refobjid FROM pg_catalog.pg_shdepend
                 WHERE refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass
                   AND dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
              UNION
                SELECT m.roleid FROM pg_catalog.pg_auth_members m JOIN used u ON m.member = u.oid
            )
            SELECT r.oid, r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
                   r.rolreplication, r.rolbypassrls, r.rolconnlimit, r.rolvaliduntil::text
              FROM pg_catalog.pg_roles r JOIN used u ON u.oid = r.oid
             WHERE r.rolname !~ '^pg_' ORDER BY r.oid""";

    private record Role(long oid, String name, String attributes, boolean canLogin) {
    }

    /** What happened: roles created, and roles that the database uses but that could not be created. */
    public record Result(List<String> created, Set<String> missing) {
    }

    private RoleCopier() {
    }

    /**
     * Copies the roles of {@code dbname}; each problem is passed to {@code warn}. When the target user is not a
     * superuser it is made a member of each role it creates, as PostgreSQL requires for giving that role
     * ownership of the database and its objects.
     */
    public static Result copy(PgConnector source, PgConnector target, String dbname, Consumer<String> warn) {
        try (Connection src = source.open(dbname); Connection dst = target.open()) {
            Map<Long, Role> roles = readRoles(src);
            Map<String, String> passwords = readPasswords(src);
            boolean superuser = isSuperuser(dst);
            Set<String> onTarget = targetRoles(dst);
            List<String> created = new ArrayList<>();
            Set<String> missing = new TreeSet<>();
            for (Role role : roles.values()) {
                if (onTarget.contains(role.name())) {
                    continue;
                }
                try (Statement s = dst.createStatement()) {
                    s.execute("CREATE ROLE " + Sql.ident(role.name()) + " WITH " + role.attributes());
                    created.add(role.name());
                    onTarget.add(role.name());
                } catch (SQLException e) {
                    if ("42710".equals(e.getSQLState())) {
                        onTarget.add(role.name());  // another worker created it a moment ago
                    } else {
                        missing.add(role.name());
                        warn.accept("role " + role.name() + " was not created on the target: "
                                + SqlStates.wrap(ErrorCode.PERMISSION_DENIED, "CREATE ROLE", e).getMessage()
                                + "; objects it owns there belong to " + target.connection().user() + " instead");
                    }
                    continue;
                }
                if (!superuser) {
                    try (Statement s = dst.createStatement()) {
                        s.execute("GRANT " + Sql.ident(role.name()) + " TO CURRENT_USER");
                    }
                }
                setPassword(dst, role, passwords, warn);
                copySettings(src, dst, role, warn);
            }
            copyMemberships(src, dst, roles, onTarget, warn);
            return new Result(created, missing);
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.INTERNAL, "copying roles of database " + dbname, e);
        }
    }

    private static Map<Long, Role> readRoles(Connection src) throws SQLException {
        Map<Long, Role> roles = new LinkedHashMap<>();
        try (PreparedStatement ps = src.prepareStatement(USED_ROLES); ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                StringBuilder a = new StringBuilder();
                a.append(rs.getBoolean(3) ? "SUPERUSER" : "NOSUPERUSER");
                a.append(rs.getBoolean(4) ? " INHERIT" : " NOINHERIT");
                a.append(rs.getBoolean(5) ? " CREATEROLE" : " NOCREATEROLE");
                a.append(rs.getBoolean(6) ? " CREATEDB" : " NOCREATEDB");
                a.append(rs.getBoolean(7) ? " LOGIN" : " NOLOGIN");
                a.append(rs.getBoolean(8) ? " REPLICATION" : " NOREPLICATION");
                a.append(rs.getBoolean(9) ? " BYPASSRLS" : " NOBYPASSRLS");
                a.append(" CONNECTION LIMIT ").append(rs.getInt(10));
                if (rs.getString(11) != null) {
                    a.append(" VALID UNTIL ").append(Sql.literal(rs.getString(11)));
                }
                roles.put(rs.getLong(1), new Role(rs.getLong(1), rs.getString(2), a.toString(), rs.getBoolean(7)));
            }
        }
        return roles;
    }

    /** Stored password hashes, or an empty map when the source user may not read them. */
    private static Map<String, String> readPasswords(Connection src) throws SQLException {
        Map<String, String> out = new LinkedHashMap<>();
        try (Statement s = src.createStatement();
             ResultSet rs = s.executeQuery("SELECT rolname, rolpassword FROM pg_catalog.pg_authid WHERE rolpassword IS NOT NULL")) {
            while (rs.next()) {
                out.put(rs.getString(1), rs.getString(2));
            }
        } catch (SQLException e) {
            if (!"42501".equals(e.getSQLState())) {
                throw e;
            }
        }
        return out;
    }

    private static boolean isSuperuser(Connection dst) throws SQLException {
        try (Statement s = dst.createStatement();
             ResultSet rs = s.executeQuery("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = CURRENT_USER")) {
            return rs.next() && rs.getBoolean(1);
        }
    }

    private static Set<String> targetRoles(Connection dst) throws SQLException {
        Set<String> names = new java.util.HashSet<>();
        try (Statement s = dst.createStatement(); ResultSet rs = s.executeQuery("SELECT rolname FROM pg_catalog.pg_roles")) {
            while (rs.next()) {
                names.add(rs.getString(1));
            }
        }
        return names;
    }

    private static void setPassword(Connection dst, Role role, Map<String, String> passwords, Consumer<String> warn) {
        String hash = passwords.get(role.name());
        if (hash == null) {
            if (role.canLogin()) {
                warn.accept("role " + role.name() + ": password not copied (the source user may not read pg_authid,"
                        + " or the role has none); it has no password on the target: set one with ALTER ROLE");
            }
            return;
        }
        try (Statement s = dst.createStatement()) {
            // A stored SCRAM or MD5 hash is accepted verbatim by ALTER ROLE ... PASSWORD.
            s.execute("ALTER ROLE " + Sql.ident(role.name()) + " PASSWORD " + Sql.literal(hash));
        } catch (SQLException e) {
            warn.accept("role " + role.name() + ": password not copied (SQLSTATE " + e.getSQLState() + ")");
        }
    }

    private static void copySettings(Connection src, Connection dst, Role role, Consumer<String> warn) throws SQLException {
        List<String> settings = new ArrayList<>();
        try (PreparedStatement ps = src.prepareStatement("SELECT unnest(setconfig) FROM pg_catalog.pg_db_role_setting"
                + " WHERE setrole = ?::pg_catalog.oid AND setdatabase = 0")) {
            ps.setLong(1, role.oid());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    settings.add(rs.getString(1));
                }
            }
        }
        for (String setting : settings) {
            int eq = setting.indexOf('=');
            try (Statement s = dst.createStatement()) {
                s.execute("ALTER ROLE " + Sql.ident(role.name()) + " SET " + Sql.ident(setting.substring(0, eq))
                        + " TO " + Sql.literal(setting.substring(eq + 1)));
            } catch (SQLException e) {
                warn.accept("role " + role.name() + ": setting " + setting.substring(0, eq) + " not copied: "
                        + e.getMessage());
            }
        }
    }

    private static void copyMemberships(Connection src, Connection dst, Map<Long, Role> roles, Set<String> onTarget,
                                        Consumer<String> warn) throws SQLException {
        Set<String> used = new java.util.HashSet<>();
        roles.values().forEach(r -> used.add(r.name()));
        try (PreparedStatement ps = src.prepareStatement("SELECT g.rolname, m.rolname, am.admin_option"
                + " FROM pg_catalog.pg_auth_members am JOIN pg_catalog.pg_roles g ON g.oid = am.roleid"
                + " JOIN pg_catalog.pg_roles m ON m.oid = am.member WHERE m.rolname !~ '^pg_' ORDER BY 1, 2");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                String group = rs.getString(1);
                String member = rs.getString(2);
                boolean involved = used.contains(member) || used.contains(group);
                if (!involved || !onTarget.contains(group) || !onTarget.contains(member)) {
                    continue;
                }
                try (Statement s = dst.createStatement()) {
                    s.execute("GRANT " + Sql.ident(group) + " TO " + Sql.ident(member)
                            + (rs.getBoolean(3) ? " WITH ADMIN OPTION" : ""));
                } catch (SQLException e) {
                    warn.accept("membership of " + member + " in " + group + " not copied: " + e.getMessage());
                }
            }
        }
    }
}
