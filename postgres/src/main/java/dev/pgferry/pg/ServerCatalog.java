package dev.pgferry.pg;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/** Server-wide catalog reads shared by the coordinator and the workers. Stateless. */
public final class ServerCatalog {
    private ServerCatalog() {
    }

    /**
     * The databases a migration moves, sorted by name: connectable, neither template0 nor template1 (a template
     * database of the user's is moved, and is one on the target too), open to the connecting user, and not
     * {@code ignored}.
     */
    public static List<String> migratedDatabases(Connection c, Predicate<String> ignored) throws SQLException {
        return migratedDatabases(c, ignored, "datname");
    }

    /**
     * As {@link #migratedDatabases(Connection, Predicate)}, largest first (then by name): the order their tasks are
     * queued in, so that the longest ones start first instead of finishing last.
     */
    public static List<String> migratedDatabasesLargestFirst(Connection c, Predicate<String> ignored) throws SQLException {
        return migratedDatabases(c, ignored, "pg_catalog.pg_database_size(oid) DESC, datname");
    }

    private static List<String> migratedDatabases(Connection c, Predicate<String> ignored, String order) throws SQLException {
        List<String> databases = new ArrayList<>();
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT datname FROM pg_catalog.pg_database"
                     + " WHERE datallowconn AND datname NOT IN ('template0', 'template1')"
                     + " AND pg_catalog.has_database_privilege(datname, 'CONNECT') ORDER BY " + order)) {
            while (rs.next()) {
                if (!ignored.test(rs.getString(1))) {
                    databases.add(rs.getString(1));
                }
            }
        }
        return databases;
    }

    /** Databases of managed platforms that their users may not connect to: never migrated, never reported. */
    private static final Set<String> PLATFORM_DATABASES = Set.of("rdsadmin", "cloudsqladmin", "_aiven",
            "azure_maintenance");

    /**
     * The source's databases that are neither migrated nor left out by {@code ignored}, each with why and the fix:
     * those that allow no connections (template0 and template1 excepted) and those the user may not connect to
     * (managed platforms' own excepted). Empty when every database is migrated or ignored.
     */
    public static List<String> leftOutDatabases(Connection c, Predicate<String> ignored) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT datname, datallowconn, CURRENT_USER FROM pg_catalog.pg_database"
                     + " WHERE datname NOT IN ('template0', 'template1') AND (NOT datallowconn"
                     + " OR NOT pg_catalog.has_database_privilege(datname, 'CONNECT')) ORDER BY datname")) {
            while (rs.next()) {
                String name = rs.getString(1);
                if (ignored.test(name) || PLATFORM_DATABASES.contains(name)) {
                    continue;
                }
                out.add(name + " (" + (rs.getBoolean(2)
                        ? "the source user may not connect to it: GRANT CONNECT ON DATABASE " + Sql.ident(name) + " TO "
                        + Sql.ident(rs.getString(3))
                        : "it allows no connections: ALTER DATABASE " + Sql.ident(name) + " ALLOW_CONNECTIONS true")
                        + " on the source migrates it, --ignore-dbs " + name + " says it is meant)");
            }
        }
        return out;
    }

    /** Whether {@code sql}, with {@code value} as its one parameter, returns any row. */
    public static boolean exists(Connection c, String sql, String value) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, value);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** The OID of the database {@code c} is connected to (a database dropped and made again gets another). */
    public static long currentDatabaseOid(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Whether the connected user is a superuser. */
    public static boolean isSuperuser(Connection c) throws SQLException {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = CURRENT_USER")) {
            return rs.next() && rs.getBoolean(1);
        }
    }

    /** The names of every role on the server. */
    public static Set<String> roleNames(Connection c) throws SQLException {
        Set<String> names = new java.util.HashSet<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT rolname FROM pg_catalog.pg_roles")) {
            while (rs.next()) {
                names.add(rs.getString(1));
            }
        }
        return names;
    }

    /** A setting's value as the connected session sees it ({@code current_setting}). */
    public static String setting(Connection c, String name) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.current_setting(?)")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    /** The server's major version (e.g. 15), from {@code server_version_num}. */
    public static int majorVersion(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SHOW server_version_num")) {
            rs.next();
            return Integer.parseInt(rs.getString(1)) / 10_000;
        }
    }
}
