package dev.pgferry.worker.task;

import dev.pgferry.bus.Ledger;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;
import dev.pgferry.worker.database.DatabaseProperties;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The target database of one task and its crash-safety marker, which lives in pgferry's ledger topic
 * ({@link LedgerEntry}), never in the user's database: {@code running} with the attempt is written before the
 * target database is created or touched, {@code done} once it is finished. The marker is how a stateless worker
 * knows that a task is a retry (drop the half-copied database and start over, so no row is ever duplicated), a
 * duplicate of finished work (skip it), or new work. A database that exists without a marker of this migration
 * is used only when it holds no tables. Callers hold the task's {@link TaskLock}, which serializes the marker's
 * writers. Stateless.
 */
public final class TargetDatabase {

    /**
     * What the target holds for this task before it starts: whether the database exists, whether this migration
     * has a marker for it ({@code ours}), whether that marker says done, its attempt, and whether pgferry created
     * the database.
     */
    public record Prior(boolean exists, boolean ours, boolean done, int attempt, boolean created, String finalState,
                        boolean published, boolean removed) {
    }

    private final PgConnector target;
    private final Connection session;
    private final Ledger ledger;
    private final String dbname;
    private final String key;
    private volatile String serverStartedAt;
    /** The attempt whose marker this object wrote ({@link #prepare}, {@link #countFailedAttempt}); 0: none. */
    private int marked;

    /**
     * {@code session}: the task's own session on the target's bootstrap database (its lock's, {@link TaskLock#session}),
     * on which the database is inspected, created, dropped and given its properties: no new session each time.
     */
    public TargetDatabase(PgConnector target, Connection session, Ledger ledger, String dbname, String migrationId) {
        this.target = target;
        this.session = session;
        this.ledger = ledger;
        this.dbname = dbname;
        this.key = LedgerEntry.databaseKey(migrationId, dbname);
    }

    public Prior inspect() {
        boolean exists;
        try (PreparedStatement ps = session.prepareStatement("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database"
                + " WHERE datname = ?), pg_catalog.pg_postmaster_start_time()::text")) {
            ps.setString(1, dbname);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                exists = rs.getBoolean(1);
                serverStartedAt = rs.getString(2);
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "inspecting target database " + dbname, e);
        }
        Optional<LedgerEntry> entry = ledger.read(key);
        return entry.map(e -> new Prior(exists, true, e.state() == LedgerEntry.State.DONE, e.attempt(), e.created(),
                        e.finalState(), e.published(), e.state() == LedgerEntry.State.REMOVED))
                .orElse(new Prior(exists, false, false, 0, false, null, false, false));
    }

    /**
     * When the target server last started ({@code pg_postmaster_start_time()}, its own clock), as {@link #inspect}
     * read it; null before that.
     */
    public String serverStartedAt() {
        return serverStartedAt;
    }

    /** Whether a failure of this attempt may drop the database: only when pgferry created it. */
    public static boolean createdByUs(Prior prior) {
        return prior.ours() ? prior.created() || !prior.exists() : !prior.exists();
    }

    /**
     * Makes the database ready for attempt {@code attempt}: drops a half-done copy that pgferry created, creates the
     * database with the source's owner, encoding and locale if missing, refuses one it did not create that holds
     * tables or receives replication. A database pgferry did not create is never dropped, and is checked before the
     * marker is written: a second run of a refused task (a redelivered task) finds no marker and refuses again,
     * rather than taking the database for a half-done copy of its own.
     */
    public void prepare(Prior prior, int attempt, DatabaseProperties source, Consumer<String> warn) {
        boolean ourCopy = prior.exists() && prior.ours() && prior.created();
        try {
            if (prior.exists() && !ourCopy) {
                refuseIfInUse(prior);
            }
            ledger.write(key, LedgerEntry.running(attempt, createdByUs(prior)));
            marked = attempt;
            if (ourCopy) {
                drop(session);
            }
            if (!prior.exists() || ourCopy) {
                create(session, source, warn);
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, "preparing target database " + dbname, e);
        }
    }

    private void refuseIfInUse(Prior prior) throws SQLException {
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
                    + (tables.size() > 10 ? ", ..." : "") + ")" + (prior.ours() ? ", perhaps left by attempt "
                    + prior.attempt() + " of this migration, which did not finish; pgferry did not create this database"
                    + " and never drops it" : "") + "; drop them or the database, or ignore this database with --ignore-dbs");
        }
    }

    /**
     * Gives the finished database the source's properties that would have hindered the copy (settings, ACL,
     * connection limit) and the rest that is not fixed at creation (comment, labels, per-role settings).
     */
    public void applyProperties(DatabaseProperties source, Set<String> missingRoles, Consumer<String> warn) {
        try {
            source.applyTo(session, DatabaseProperties.read(session, dbname), missingRoles, warn);
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "setting the properties of target database " + dbname, e);
        }
    }

    /**
     * Counts attempt {@code attempt}, which failed in a way worth retrying, in the marker when it failed before
     * {@link #prepare} wrote it (in the roles step, say): the next run, on this worker or another, is then attempt
     * {@code attempt + 1}, the attempt its row is told of. Without it that run counted itself {@code attempt} again,
     * and the status view, which drops the events of an attempt older than the newest it has seen, never saw it
     * finish. The marker says the database is pgferry's only when an earlier attempt's marker said so.
     */
    public void countFailedAttempt(Prior prior, int attempt) {
        if (marked < attempt) {
            ledger.write(key, LedgerEntry.running(attempt, prior.ours() && prior.created()));
            marked = attempt;
        }
    }

    /** Drops the database after a failed attempt that created it, so that nothing half-copied is left behind. */
    public void dropQuietly() {
        try {
            drop(session);
        } catch (SQLException | RuntimeException e) {
            // the marker stays: the next attempt of this migration drops it
        }
    }

    /** Notes that the database's migration was removed: no later task of it touches the database. */
    public void markRemoved(int attempt) {
        ledger.write(key, LedgerEntry.removed(attempt));
    }

    /** Finished as {@code finalState} ({@code done} or {@code syncing}): from here on the database is never dropped. */
    public void markDone(int attempt, Prior prior, String finalState) {
        ledger.write(key, LedgerEntry.done(attempt, createdByUs(prior), finalState));
    }

    /** The final status event of a finished database is written. */
    public void markPublished(int attempt, boolean created, String finalState) {
        ledger.write(key, LedgerEntry.done(attempt, created, finalState).asPublished());
    }

    private void create(Connection c, DatabaseProperties source, Consumer<String> warn) throws SQLException {
        int major = ServerCatalog.majorVersion(c);
        boolean ownerExists = ServerCatalog.exists(c, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ?", source.owner());
        boolean mayGive = ownerExists && mayGiveTo(c, source.owner(), major);
        if (!ownerExists) {
            warn.accept("database " + dbname + ": its owner " + source.owner() + " does not exist on the target; the"
                    + " target user owns it instead");
        } else if (!mayGive) {
            warn.accept("database " + dbname + ": its owner " + source.owner() + " exists on the target, but the target"
                    + " user may not give it a database (PostgreSQL requires " + (major >= 16 ? "SET ROLE on" : "membership in")
                    + " the new owner); the target user owns it instead: a superuser can run ALTER DATABASE "
                    + Sql.ident(dbname) + " OWNER TO " + Sql.ident(source.owner()));
        }
        boolean tablespaceExists = ServerCatalog.exists(c, "SELECT 1 FROM pg_catalog.pg_tablespace WHERE spcname = ?", source.tablespace());
        String sql = source.createStatement(mayGive, tablespaceExists, major, warn);
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        } catch (SQLException e) {
            if (SqlStates.DUPLICATE_DATABASE.equals(e.getSQLState())) {
                return;
            }
            // A locale the target lacks was ruled out before anything was touched; an encoding that does not suit
            // the target's locale of the same name is still possible (22023).
            boolean locale = SqlStates.INVALID_PARAMETER_VALUE.equals(e.getSQLState()) || "42809".equals(e.getSQLState());
            throw new MigrationException(SqlStates.codeFor(e.getSQLState(), ErrorCode.PRECONDITION_FAILED), e.getSQLState(),
                    "creating target database " + dbname + " as on the source (owner " + source.owner() + ", encoding "
                    + source.encoding() + ", LC_COLLATE " + source.collate() + ", LC_CTYPE " + source.ctype() + ") failed: "
                    + SqlStates.describe(e) + (locale ? "; the target's locale of that name does not suit the encoding:"
                    + " create the database there yourself, empty, with a locale of your choice, and migrate again" : ""),
                    false, e);
        }
    }

    /** Whether the connected user may make {@code role} a database's owner (superusers always may). */
    private static boolean mayGiveTo(Connection c, String role, int major) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.pg_has_role(?, ?)")) {
            ps.setString(1, role);
            ps.setString(2, major >= 16 ? "SET" : "MEMBER");
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
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

    /**
     * Drops the database, ending its sessions first where the server can (13+); one an earlier attempt of ours
     * finished as a template (as the source's) first stops being one, since PostgreSQL drops no template.
     */
    private void drop(Connection c) throws SQLException {
        boolean force = c.getMetaData().getDatabaseMajorVersion() >= 13;
        try (Statement s = c.createStatement()) {
            if (ServerCatalog.exists(c, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = ? AND datistemplate", dbname)) {
                s.execute("ALTER DATABASE " + Sql.ident(dbname) + " IS_TEMPLATE false");
            }
            s.execute("DROP DATABASE IF EXISTS " + Sql.ident(dbname) + (force ? " WITH (FORCE)" : ""));
        }
    }
}
