package dev.pgferry.worker.replication;

import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.Sql;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks, before anything is touched, whether one database can be migrated with logical replication, and says
 * for each failed precondition how to fix it. Also tells which side must go through {@code aiven_extras}.
 * Stateless.
 */
public final class Preconditions {

    /**
     * The outcome: problems (empty when replication is possible) and whether aiven_extras stands in for privileges:
     * on the source for owning the published tables (the publication is made through it), on the target for
     * creating and dropping the subscription.
     */
    public record Result(List<String> problems, boolean sourceViaAivenExtras, boolean targetViaAivenExtras) {
        public boolean ok() {
            return problems.isEmpty();
        }
    }

    private Preconditions() {
    }

    /**
     * @param source a connection to the source database being migrated
     * @param target a connection to the target's bootstrap database (the migrated one may not exist yet)
     * @param includeExtensionTables whether extension tables will be published (ownership is checked on them too)
     */
    public static Result check(Connection source, Connection target, boolean includeExtensionTables) throws SQLException {
        List<String> problems = new ArrayList<>();
        int sourceVersion = intSetting(source, "server_version_num");
        int targetVersion = intSetting(target, "server_version_num");
        if (sourceVersion < 100000) {
            problems.add("source is PostgreSQL " + sourceVersion / 10000 + "; logical replication needs 10 or later");
        }
        if (targetVersion < 100000) {
            problems.add("target is PostgreSQL " + targetVersion / 10000 + "; logical replication needs 10 or later");
        }
        if (!problems.isEmpty()) {
            return new Result(problems, false, false);
        }
        String template = string(source, "SELECT datname FROM pg_catalog.pg_database"
                + " WHERE datname = pg_catalog.current_database() AND datistemplate");
        if (template != null) {
            problems.add("database " + template + " is a template: while a subscription replicated it, the source's"
                    + " CREATE DATABASE ... TEMPLATE " + Sql.ident(template) + " would fail (SQLSTATE 55006, the"
                    + " template is in use), so it is copied once (method auto or dump)");
        }
        String walLevel = ServerCatalog.setting(source, "wal_level");
        if (!"logical".equals(walLevel)) {
            problems.add("source wal_level is " + walLevel + "; set wal_level = logical and restart the source"
                    + " (on RDS: rds.logical_replication = 1; on Cloud SQL: cloudsql.logical_decoding = on)");
        }
        boolean sourceSuper = ServerCatalog.isSuperuser(source);
        boolean sourceReplication = bool(source, "SELECT rolreplication FROM pg_catalog.pg_roles WHERE rolname = CURRENT_USER");
        boolean sourceExtras = hasAivenExtras(source);
        String sourceUser = string(source, "SELECT CURRENT_USER");
        // The subscription's WAL sender runs as the source user: that needs REPLICATION (or a superuser) whatever
        // else is installed; aiven_extras only stands in for owning the published tables.
        if (!sourceSuper && !sourceReplication) {
            problems.add("source user " + sourceUser + " may not replicate: it has neither SUPERUSER nor REPLICATION,"
                    + " which the subscription's WAL sender needs; run ALTER ROLE " + sourceUser + " REPLICATION");
        }
        List<String> notOwned = sourceSuper ? List.of() : notOwnedTables(source, includeExtensionTables);
        if (!notOwned.isEmpty() && !sourceExtras) {
            problems.add("source user " + sourceUser + " does not own " + notOwned.size() + " table(s) ("
                    + String.join(", ", notOwned.subList(0, Math.min(5, notOwned.size())))
                    + (notOwned.size() > 5 ? ", ..." : "") + "); CREATE PUBLICATION needs the owner or a superuser"
                    + " (or the aiven_extras extension in this database)");
        }
        if (freeSlots(source) <= 0) {
            problems.add("source has no free replication slot (max_replication_slots = "
                    + ServerCatalog.setting(source, "max_replication_slots") + ", all in use); drop unused slots"
                    + " (pg_drop_replication_slot) or raise max_replication_slots and restart the source");
        }
        if (freeWalSenders(source) <= 0) {
            problems.add("source has no free WAL sender (max_wal_senders = "
                    + ServerCatalog.setting(source, "max_wal_senders")
                    + ", all in use); raise max_wal_senders and restart the source");
        }
        if (freeApplyWorkers(target) <= 0) {
            problems.add(noFreeApplyWorker(target));
        }
        boolean targetSuper = ServerCatalog.isSuperuser(target);
        boolean targetExtras = hasAivenExtras(target);
        boolean targetCreateSub = targetVersion >= 160000
                && bool(target, "SELECT pg_catalog.pg_has_role(CURRENT_USER, 'pg_create_subscription', 'MEMBER')");
        if (!targetSuper && !targetCreateSub && !targetExtras) {
            String targetUser = string(target, "SELECT CURRENT_USER");
            problems.add("target user " + targetUser + " may not create subscriptions: it is not a superuser"
                    + (targetVersion >= 160000 ? ", not a member of pg_create_subscription," : "")
                    + " and aiven_extras is not installed; "
                    + (targetVersion >= 160000 ? "GRANT pg_create_subscription TO " + targetUser + " or " : "")
                    + "CREATE EXTENSION aiven_extras on the target");
        }
        return new Result(problems, !notOwned.isEmpty() && sourceExtras,
                !targetSuper && !targetCreateSub && targetExtras);
    }

    /** Replication slots the source ({@code source}: any session of it) can still create. */
    public static int freeSlots(Connection source) throws SQLException {
        return intQuery(source, "SELECT pg_catalog.current_setting('max_replication_slots')::int"
                + " - (SELECT count(*) FROM pg_catalog.pg_replication_slots)");
    }

    /** WAL senders the source can still start: one streams to each subscription. */
    public static int freeWalSenders(Connection source) throws SQLException {
        return intQuery(source, "SELECT pg_catalog.current_setting('max_wal_senders')::int"
                + " - (SELECT count(*) FROM pg_catalog.pg_stat_replication)");
    }

    /**
     * How many more subscriptions the target can run ({@code target}: any session of it): its
     * {@code max_logical_replication_workers} less one for each enabled subscription of any database (counted from
     * the moment it is created, before its apply worker has started) and each table sync worker running. A
     * subscription beyond that never gets an apply worker: the server only logs "out of logical replication worker
     * slots", and the database would never catch up.
     */
    public static int freeApplyWorkers(Connection target) throws SQLException {
        return intQuery(target, "SELECT pg_catalog.current_setting('max_logical_replication_workers')::int"
                + " - GREATEST((SELECT count(*) FROM pg_catalog.pg_subscription WHERE subenabled)"
                + " + (SELECT count(*) FROM pg_catalog.pg_stat_subscription WHERE relid IS NOT NULL),"
                + " (SELECT count(*) FROM pg_catalog.pg_stat_subscription WHERE pid IS NOT NULL))");
    }

    /** That the target has no logical replication worker left for one more subscription, and the fix. */
    public static String noFreeApplyWorker(Connection target) throws SQLException {
        return "target has no free logical replication worker (max_logical_replication_workers = "
                + ServerCatalog.setting(target, "max_logical_replication_workers") + ", each taken by a subscription or a"
                + " table sync); raise it (and max_worker_processes) on the target and restart it";
    }

    private static List<String> notOwnedTables(Connection c, boolean includeExtensionTables) throws SQLException {
        List<String> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c"
                + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')"
                + " AND c.relpersistence = 'p' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                + " AND n.nspname !~ '^pg_' AND NOT pg_catalog.pg_has_role(c.relowner, 'USAGE')"
                + (includeExtensionTables ? "" : " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE"
                + " d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')")
                + " ORDER BY 1"); ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    static boolean hasAivenExtras(Connection c) throws SQLException {
        return bool(c, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'aiven_extras')");
    }

    private static int intSetting(Connection c, String name) throws SQLException {
        return Integer.parseInt(ServerCatalog.setting(c, name));
    }

    /** The first column of the first row; null when there is none. */
    private static String string(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static boolean bool(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() && rs.getBoolean(1);
        }
    }

    private static int intQuery(Connection c, String sql) throws SQLException {
        return Integer.parseInt(string(c, sql));
    }
}
