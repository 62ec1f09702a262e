package dev.pgferry.worker.task;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The target database of one task and its marker: while a migration works on a database, the database's comment
 * says {@code pgferry:<migration>:running:<attempt>}, and {@code pgferry:<migration>:done:<attempt>} once done.
 * The marker is how a stateless worker knows that a task is a retry (drop the half-copied database and start over,
 * so no row is ever duplicated), a duplicate of finished work (skip it), or new work. A database that exists
 * without our marker is used only when it holds no tables. Stateless.
 */
public final class TargetDatabase {
    private static final Pattern MARKER = Pattern.compile("pgferry:([A-Za-z0-9_-]+):(running|done):(\\d+)");

    /** What the target holds for this task before it starts. */
    public record Prior(boolean exists, boolean ours, boolean done, int attempt) {
    }

    private final PgConnector target;
    private final String dbname;
    private final String migrationId;

    public TargetDatabase(PgConnector target, String dbname, String migrationId) {
        this.target = target;
        this.dbname = dbname;
        this.migrationId = migrationId;
    }

    public Prior inspect() {
        try (Connection c = target.open();
             PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.shobj_description(oid, 'pg_database')"
                     + " FROM pg_catalog.pg_database WHERE datname = ?")) {
            ps.setString(1, dbname);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return new Prior(false, false, false, 0);
                }
                Matcher m = MARKER.matcher(Optional.ofNullable(rs.getString(1)).orElse(""));
                if (m.matches() && m.group(1).equals(migrationId)) {
                    return new Prior(true, true, m.group(2).equals("done"), Integer.parseInt(m.group(3)));
                }
                return new Prior(true, false, false, 0);
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "inspecting target database " + dbname, e);
        }
    }

    /**
     * Makes the database ready for attempt {@code attempt}: drops a half-done copy of ours, creates the database
     * if missing (owned by {@code owner} when that role exists), refuses one that holds tables, marks it running.
     */
    public void prepare(Prior prior, int attempt, String owner, String encoding) {
        try (Connection c = target.open()) {
            boolean exists = prior.exists();
            if (prior.ours()) {
                drop(c);
                exists = false;
            }
            if (!exists) {
                create(c, owner, encoding);
            } else {
                List<String> subscriptions = query("SELECT subname FROM pg_catalog.pg_subscription WHERE subdbid ="
                        + " (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()) ORDER BY 1");
                if (!subscriptions.isEmpty()) {
                    throw new MigrationException(ErrorCode.TARGET_NOT_EMPTY, "target database " + dbname
                            + " already receives logical replication (subscription " + String.join(", ", subscriptions)
                            + "); it was left untouched. Remove that migration first (pgferry remove ID), or ignore"
                            + " this database with --ignore-dbs");
                }
                List<String> tables = userTables();
                if (!tables.isEmpty()) {
                    throw new MigrationException(ErrorCode.TARGET_NOT_EMPTY, "target database " + dbname
                            + " already holds tables (" + String.join(", ", tables.subList(0, Math.min(10, tables.size())))
                            + (tables.size() > 10 ? ", ..." : "") + "); drop them or the database, or ignore this"
                            + " database with --ignore-dbs");
                }
            }
            mark(c, "running", attempt);
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, "preparing target database " + dbname, e);
        }
    }

    /** Drops the database after a failed attempt that created it, so that nothing half-copied is left behind. */
    public void dropQuietly() {
        try (Connection c = target.open()) {
            drop(c);
        } catch (SQLException | RuntimeException e) {
            // the marker stays: the next attempt of this migration drops it
        }
    }

    public void markDone(int attempt) {
        try (Connection c = target.open()) {
            mark(c, "done", attempt);
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "marking target database " + dbname + " done", e);
        }
    }

    private void mark(Connection c, String state, int attempt) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("COMMENT ON DATABASE " + Sql.ident(dbname) + " IS "
                    + Sql.literal("pgferry:" + migrationId + ":" + state + ":" + attempt));
        }
    }

    private void create(Connection c, String owner, String encoding) throws SQLException {
        boolean ownerExists = false;
        if (owner != null) {
            try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ?")) {
                ps.setString(1, owner);
                try (ResultSet rs = ps.executeQuery()) {
                    ownerExists = rs.next();
                }
            }
        }
        String base = "CREATE DATABASE " + Sql.ident(dbname) + (ownerExists ? " OWNER " + Sql.ident(owner) : "");
        try (Statement s = c.createStatement()) {
            s.execute(base + " TEMPLATE template0 ENCODING " + Sql.literal(encoding));
        } catch (SQLException e) {
            if ("42P04".equals(e.getSQLState())) {
                return;
            }
            // The encoding may not fit the target's locale: fall back to the target's defaults.
            try (Statement s = c.createStatement()) {
                s.execute(base);
            }
        }
    }

    private List<String> userTables() throws SQLException {
        return query("SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c"
                + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')"
                + " AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'"
                + " AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
                + " AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 1");
    }

    /** First column of every row of a query run in the target database. */
    private List<String> query(String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Connection c = target.open(dbname);
             PreparedStatement ps = c.prepareStatement(sql);
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    /** Drops the database, ending its sessions first where the server can (13+). */
    private void drop(Connection c) throws SQLException {
        boolean force = c.getMetaData().getDatabaseMajorVersion() >= 13;
        try (Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + Sql.ident(dbname) + (force ? " WITH (FORCE)" : ""));
        }
    }
}
