package dev.pgferry.worker.replication;

import dev.pgferry.bus.Ledger;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.worker.copy.ObjectCopier;
import dev.pgferry.worker.copy.SourceCatalog;
import dev.pgferry.worker.database.DatabaseProperties;
import dev.pgferry.worker.roles.RoleCopier;
import dev.pgferry.worker.task.TaskLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Makes what logical replication does not carry the source's on the target, for one replicating database: the roles
 * and the database's properties and the user's rows of extension configuration tables ({@link #settings}), then
 * the sequences, unlogged tables, large objects and materialized views ({@link #rows}). A cut-over runs the first
 * part before it blocks writes and the second while they are blocked; a removal with a final copy runs both, writes
 * not blocked. Each step is idempotent; {@link #rows} runs its target session past the database's event triggers
 * ({@link EventTriggers}). Confined to the thread that runs it.
 */
public final class Uncarried {
    private static final Logger LOG = LoggerFactory.getLogger(Uncarried.class);
    private static final String LARGE_OBJECTS = "pg_catalog.pg_largeobject_metadata";

    private final PgConnector source;
    private final PgConnector target;
    private final String dbname;
    private final MigrationRequest request;
    private final Ledger ledger;
    private final Consumer<String> warn;

    /** {@code warn}: where a warning goes (the database's row). */
    public Uncarried(PgConnector source, PgConnector target, String dbname, MigrationRequest request, Ledger ledger,
                     Consumer<String> warn) {
        this.source = source;
        this.target = target;
        this.dbname = dbname;
        this.request = request;
        this.ledger = ledger;
        this.warn = warn;
    }

    /**
     * Roles, the database's properties (with {@code setting} as the source's own {@code default_transaction_read_only},
     * null: none) and extension rows, on {@code s} and {@code t}, sessions of the source and target database.
     */
    public void settings(Connection s, Connection t, String setting, Cutover.Steps steps) throws SQLException {
        steps.step("copying_roles", "creating the roles made on the source since the migration began, and"
                + " bringing those it created and the database's properties up to date");
        LedgerEntry roles = ledger.read(LedgerEntry.rolesKey(request.migrationId()))
                .orElse(LedgerEntry.rolesDone(List.of(), List.of()));
        copyRoles(roles);
        copyProperties(s, t, setting, Set.copyOf(roles.missing()));
        copyConfigRows(s, t, steps);
    }

    /**
     * Sequences (set to the source's), unlogged tables, large objects and materialized views, each only where the
     * database has any; {@code when} begins each step's detail ("writes blocked; ", or nothing).
     */
    public void rows(Connection s, Connection t, String when, Cutover.Steps steps) throws SQLException {
        // (a refresh and disabling triggers are DDL, which an event trigger of the application's may refuse)
        EventTriggers.pass(t);
        steps.step("copying_sequences", when + "setting the target's sequences from the source");
        ObjectCopier.copySequences(SourceCatalog.sequences(s), t);
        List<SourceCatalog.Table> unlogged = !exists(s, "pg_catalog.pg_class WHERE relkind = 'r' AND relpersistence = 'u'")
                ? List.of() : SourceCatalog.tables(s, request.options().includeExtensionTables()).stream()
                .filter(tb -> tb.unlogged() && request.copiesTable(dbname, tb.schema(), tb.name())).toList();
        if (!unlogged.isEmpty()) {
            steps.step("copying_unlogged", when + "copying the rows of " + unlogged.size() + " unlogged"
                    + " table(s) again (" + String.join(", ", unlogged.stream().limit(5).map(SourceCatalog.Table::displayName)
                    .toList()) + (unlogged.size() > 5 ? ", ..." : "") + "), as replication does not carry them");
            long n = ObjectCopier.copyUnloggedTables(unlogged, s, t);
            LOG.info("database {}: {} unlogged table(s) copied again, {} rows", dbname, unlogged.size(), n);
        }
        if (exists(s, LARGE_OBJECTS) || exists(t, LARGE_OBJECTS)) {
            steps.step("copying_large_objects", when + "comparing the large objects of both sides and copying"
                    + " what changed, as replication does not carry them");
            try (Connection reader = target.open(dbname)) {
                ObjectCopier.LargeObjectSync sync = ObjectCopier.resyncLargeObjects(s, reader, t);
                LOG.info("database {}: large objects copied again: {}", dbname, sync);
            }
        }
        List<SourceCatalog.MatView> views = SourceCatalog.matViews(s);
        if (!views.isEmpty()) {
            steps.step("refreshing_materialized_views", when + "refreshing the materialized views whose"
                    + " rows differ from the source's (a refresh is not replicated)");
            List<String> refreshed = ObjectCopier.refreshChangedMatViews(views, s, t);
            LOG.info("database {}: materialized views refreshed: {}", dbname, refreshed);
        }
    }

    /**
     * Roles are the server's, not the database's, and replication does not carry them: roles created on the source
     * since the migration's roles step are created now, and those that step created get the source's attributes,
     * password, settings, comment and memberships (a role that was on the target before is never changed, only
     * reported). Under the migration's roles lock, as the other databases of the migration do the same.
     */
    /**
     * The roles alone, as {@link #settings} copies them (for a refresh: a new table's owner, a new policy's role);
     * returns those created.
     */
    public List<String> roles() {
        return copyRoles(ledger.read(LedgerEntry.rolesKey(request.migrationId()))
                .orElse(LedgerEntry.rolesDone(List.of(), List.of())));
    }

    private List<String> copyRoles(LedgerEntry step) {
        List<String> ours = step.createdRoles();
        try (TaskLock lock = TaskLock.acquireRoles(target, request.migrationId())) {
            RoleCopier.Result r = RoleCopier.copy(source, target, request, Set.copyOf(ours), warn);
            if (!r.created().isEmpty() || !r.updated().isEmpty()) {
                LOG.info("database {}: roles: created {}, brought up to date {}", dbname, r.created(), r.updated());
                List<String> all = new ArrayList<>(ours);
                r.created().stream().filter(c -> !all.contains(c)).forEach(all::add);
                // The next cut-over of this migration brings these up to date too.
                ledger.write(LedgerEntry.rolesKey(request.migrationId()), LedgerEntry.rolesDone(step.missing(), all));
            }
            return r.created();
        }
    }

    /**
     * Gives the target database the source's properties as they are now (settings, per-role settings, ACL, comment,
     * connection limit...: a change to them is not replicated), with {@code setting} as the source's own read-only
     * setting (a cut-over's block is not the source's).
     */
    private void copyProperties(Connection s, Connection t, String setting, Set<String> missing) throws SQLException {
        DatabaseProperties now = DatabaseProperties.read(s, dbname).withSetting(Cutover.SETTING, setting);
        // (read and altered by name: from a session in the database itself as from any other)
        DatabaseProperties there = DatabaseProperties.read(t, dbname);
        if (!now.differences(there).isEmpty()) {
            now.applyTo(t, there, missing, warn);
            LOG.info("database {}: properties brought up to date: {}", dbname, now.differences(there));
        }
    }

    /**
     * The user's rows of extension configuration tables (a custom spatial reference system of postgis, say), which
     * replication does not carry, replaced where they differ. Before a cut-over's block: comparing them reads the
     * whole table on both servers (a quarter of a second for postgis'), and the user hardly changes them.
     */
    private void copyConfigRows(Connection s, Connection t, Cutover.Steps steps) throws SQLException {
        List<SourceCatalog.ConfigTable> config = request.options().includeExtensionTables() ? List.of()
                : SourceCatalog.configTables(s);
        if (!config.isEmpty()) {
            steps.step("copying_extension_rows", "copying the user's rows of extension configuration tables that"
                    + " changed (" + String.join(", ", config.stream().map(SourceCatalog.ConfigTable::displayName)
                    .toList()) + "), as replication does not carry them");
            List<String> replaced = ObjectCopier.replaceChangedConfigRows(config, s, t);
            LOG.info("database {}: extension rows replaced: {}", dbname, replaced);
        }
    }

    /** The source database's own {@code default_transaction_read_only} ({@code s}: a session in it; null: none). */
    static String ownSetting(Connection s) throws SQLException {
        try (PreparedStatement ps = s.prepareStatement("SELECT substr(cfg, length(?) + 2)"
                + " FROM pg_catalog.pg_db_role_setting rs JOIN pg_catalog.pg_database d ON d.oid = rs.setdatabase,"
                + " unnest(rs.setconfig) cfg WHERE d.datname = current_database() AND rs.setrole = 0"
                + " AND cfg LIKE ? || '=%'")) {
            ps.setString(1, Cutover.SETTING);
            ps.setString(2, Cutover.SETTING);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    /** Whether {@code from} (a relation and its condition, constant SQL) holds a row. */
    private static boolean exists(Connection c, String from) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT EXISTS (SELECT 1 FROM " + from + ")")) {
            rs.next();
            return rs.getBoolean(1);
        }
    }
}
