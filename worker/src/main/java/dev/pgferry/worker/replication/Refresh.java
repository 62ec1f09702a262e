package dev.pgferry.worker.replication;

import dev.pgferry.bus.Ledger;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.SchemaDrift;
import dev.pgferry.pg.SchemaObjects;
import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;
import dev.pgferry.worker.schema.PgTool;
import dev.pgferry.worker.schema.SchemaCopier;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Repairs the schema drift of one replicating database ({@link SchemaDrift}): first drops on the target what the
 * source dropped (what both sides had when pgferry compared them, {@link MadeObjects}; never what was made on the
 * target alone), then creates on the target each table made on the source since replication began (its definition, indexes, constraints and owned sequences, by
 * {@code pg_dump --table}; its schema first when the target lacks it), adds each column the target's tables lack
 * (type, default, NOT NULL), makes the other schema objects it can as on the source ({@link ObjectRepair}: indexes,
 * constraints, triggers, functions, views, an enum's new values), holds the triggers that would fire in the apply
 * worker disabled ({@link ReplicaTriggers}), adds the new tables to the publication and refreshes the subscription,
 * whose table sync then copies their rows, and waits until every table is ready. The replication runs throughout; a
 * failure stops the refresh (an object that could not be made only itself) and is reported, never failing the
 * database. Confined to one thread.
 */
public final class Refresh {
    /** How long reading the drift waits for a lock another session holds on a table (see {@link SchemaDrift#of}). */
    private static final long LOCK_TIMEOUT_MS = 30_000;
    /** How long a repaired database's stopped apply worker is given to run again (it retries every 5 s by default). */
    private static final java.time.Duration APPLY_RESTART = java.time.Duration.ofSeconds(20);

    /**
     * What a refresh did ({@code applied}), what drift is still seen after it, why it stopped (null: it did not),
     * and whether that reason may pass (a server away or restarting), so that running it again is worth it.
     */
    public record Result(List<String> applied, List<String> remaining, String error, boolean retriable) {
    }

    private final PgConnector source;
    private final PgConnector target;
    private final String dbname;
    private final String name;
    private final MigrationRequest request;
    private final Ledger ledger;
    private final String migrationId;
    /** New tables of the source that the target has as an old copy it could not drop (see {@link #createTables}). */
    private final List<SchemaDrift.Table> notRemade = new ArrayList<>();
    /** What both sides had when pgferry last compared them, once read (null before, or when it kept no record). */
    private MadeObjects record;

    public Refresh(PgConnector source, PgConnector target, String dbname, String name, MigrationRequest request,
                   Ledger ledger, String migrationId) {
        this.source = source;
        this.target = target;
        this.dbname = dbname;
        this.name = name;
        this.request = request;
        this.ledger = ledger;
        this.migrationId = migrationId;
    }

    public Result run(Replicator.SyncProgress progress) {
        List<String> applied = new ArrayList<>();
        String error = null;
        boolean retriable = false;
        Optional<MadeObjects> made = Optional.empty();
        List<SchemaDrift.Table> created = new ArrayList<>();
        try {
            made = madeObjects();
            record = made.orElse(null);
            SchemaDrift drift = read();
            List<String> renameFailures = renameTables(drift, applied);
            if (renameFailures.size() < drift.targetOnly().stream().filter(t -> t.renameTo() != null).count()) {
                drift = read();  // (a renamed table's objects and columns compare now)
            }
            int renamedColumns = applied.size();
            renameFailures.addAll(renameColumns(drift, applied));
            if (applied.size() > renamedColumns) {
                drift = read();
            }
            if (!drift.none()) {
                // (a new table's owner, a new policy's role: the cut-over would make them, but only after this)
                copyRoles(applied);
            }
            SchemaDrift now = drift;
            List<SchemaDrift.Table> reused = new ArrayList<>(made.map(m -> reused(now, m)).orElse(List.of()));
            reused.addAll(publishedMissing(drift));
            // (a new table whose name the target has is one the source dropped and made again: see createTables)
            List<SchemaDrift.Table> remade = new ArrayList<>(reused);
            remade.addAll(drift.newTables());
            List<String> dropFailures = made.isPresent() ? dropDropped(drift, made.get(), remade, applied) : List.of();
            if (made.isEmpty() && (drift.targetOnly().stream().anyMatch(t -> !t.renamed())
                    || drift.objects().stream().anyMatch(o -> o.difference() == SchemaObjects.Difference.EXTRA))) {
                applied.add("dropped nothing that only the target has: pgferry kept no record of what both sides had"
                        + " when " + dbname + " began to replicate (it began before pgferry kept one; it keeps one from"
                        + " this refresh on)");
            }
            List<String> notRepaired = new ArrayList<>(repair(drift, reused, created, applied));
            if (!dropFailures.isEmpty()) {
                // (a view made again as on the source may no longer need what the source dropped)
                dropFailures = dropDropped(read(), made.get(), List.of(), applied);
            }
            notRepaired.addAll(0, dropFailures);
            notRepaired.addAll(0, renameFailures);
            // (a table the target could not make anew is not published: its rows would meet the old copy's)
            List<SchemaDrift.Table> publishing = drift.newTables().stream().filter(n -> !notRemade.contains(n)).toList();
            if (!publishing.isEmpty()) {
                boolean extension = publish(publishing);
                applied.add("added " + publishing.stream().map(SchemaDrift.Table::toString)
                        .collect(Collectors.joining(", ")) + " to publication " + name
                        + (extension ? " (made again through aiven_extras)" : ""));
            }
            if (!drift.newTables().isEmpty() || !drift.newColumns().isEmpty() || !reused.isEmpty()) {
                if (refreshSubscription()) {
                    applied.add("refreshed subscription " + name + " through aiven_extras");
                }
                new Replicator(source, target, dbname, name).awaitReady(progress);
            }
            if (!created.isEmpty()) {
                applied.add("copied the rows of " + created.stream().map(SchemaDrift.Table::toString)
                        .collect(Collectors.joining(", ")) + " (subscription table sync)");
            }
            if (!notRepaired.isEmpty()) {
                error = String.join("; ", notRepaired);
            } else if (!drift.problems().isEmpty() && !applied.isEmpty()) {
                // an apply worker that stopped on a row the target could not take tries again once repaired
                new Replicator(source, target, dbname, name).awaitApplyWorker(APPLY_RESTART);
            }
        } catch (MigrationException e) {
            error = e.getMessage();
            retriable = e.retriable();
        }
        List<String> remaining;
        try {
            SchemaDrift after = read();
            remaining = made.map(m -> describe(after, m)).orElseGet(after::describe);
            // (a table whose name belongs to another table of the source than at the last look, and that this refresh
            // did not make anew, keeps no identity: the next refresh, and a cut-over, still take it for one to remake)
            Set<String> identities = new HashSet<>(after.identities());
            made.map(m -> reused(after, m)).orElse(List.of()).stream()
                    .filter(t -> created.stream().noneMatch(c -> c.schema().equals(t.schema()) && c.name().equals(t.name())))
                    .forEach(t -> identities.remove(SchemaDrift.identityKey(t.schema(), t.name(),
                            after.publishedOids().get(SchemaDrift.tableKey(t.schema(), t.name())))));
            record(made.orElseGet(MadeObjects::none), after.shared(), identities, applied);
        } catch (MigrationException e) {
            remaining = List.of();
            retriable = error == null ? e.retriable() : retriable;
            error = error == null ? e.getMessage() : error;
        }
        return new Result(applied, remaining, error, retriable);
    }

    /**
     * Renames each table the source renamed (or moved to another schema) as there: the target's table keeps its rows,
     * and the subscription, which follows it by its OID, applies the source's changes to it again. Returns those it
     * could not rename, one line each.
     */
    private List<String> renameTables(SchemaDrift drift, List<String> applied) {
        List<String> failed = new ArrayList<>();
        List<SchemaDrift.TargetOnly> renamed = drift.targetOnly().stream().filter(t -> t.renameTo() != null).toList();
        if (renamed.isEmpty()) {
            return failed;
        }
        try (Connection t = target.open(dbname)) {
            EventTriggers.pass(t);
            t.setAutoCommit(false);
            for (SchemaDrift.TargetOnly r : renamed) {
                String to = r.renameTo().schema() + "." + r.renameTo().name();
                try (Statement st = t.createStatement()) {
                    String table = Sql.qualified(r.schema(), r.table());
                    if (!r.schema().equals(r.renameTo().schema())) {
                        st.execute("ALTER TABLE " + table + " SET SCHEMA " + Sql.ident(r.renameTo().schema()));
                        table = Sql.qualified(r.renameTo().schema(), r.table());
                    }
                    if (!r.table().equals(r.renameTo().name())) {
                        st.execute("ALTER TABLE " + table + " RENAME TO " + Sql.ident(r.renameTo().name()));
                    }
                    t.commit();
                    applied.add("renamed table " + r.schema() + "." + r.table() + " to " + to + " on the target, as the"
                            + " source renamed it (its rows stay)");
                } catch (SQLException e) {
                    t.rollback();
                    failed.add("table " + r.schema() + "." + r.table() + " could not be renamed to " + to + " as on the"
                            + " source: " + SqlStates.describe(e));
                }
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, "renaming tables in target database " + dbname, e);
        }
        return failed;
    }

    /**
     * The published tables of the source that are not the table of their name when pgferry last compared the sides:
     * the source dropped that one and made another under its name, or renamed another to it (an online schema change's
     * swap, after a refresh had added the new table as {@code t_new}). The subscription follows tables by name, so
     * the target's table of that name, the old one's copy, has taken the new one's changes since: it is made anew and
     * copied again. Empty when the record does not name which tables they were (pgferry before 2026-12-03).
     */
    static List<SchemaDrift.Table> reused(SchemaDrift drift, MadeObjects made) {
        if (!made.knowsTables()) {
            return List.of();
        }
        List<SchemaDrift.Table> out = new ArrayList<>();
        new java.util.TreeMap<>(drift.publishedOids()).forEach((key, oid) -> {
            String[] parts = key.split("\u0000", 3);
            if (drift.shared().contains(key) && made.contains(key)
                    && !made.isTable(SchemaDrift.identityKey(parts[1], parts[2], oid))) {
                out.add(new SchemaDrift.Table(parts[1], parts[2], null));
            }
        });
        return out;
    }

    /**
     * The published tables of the source that the target lacks and has under no other name: a table renamed on the
     * source whose copy on the target is not known to be it, or one dropped on the target. Each is created and copied.
     */
    static List<SchemaDrift.Table> publishedMissing(SchemaDrift drift) {
        List<String> renamedTo = drift.targetOnly().stream().filter(t -> t.renameTo() != null)
                .map(t -> SchemaDrift.tableKey(t.renameTo().schema(), t.renameTo().name())).toList();
        List<SchemaDrift.Table> out = new ArrayList<>();
        new java.util.TreeMap<>(drift.publishedOids()).forEach((key, oid) -> {
            if (!drift.shared().contains(key) && !renamedTo.contains(key)) {
                String[] parts = key.split("\u0000", 3);
                out.add(new SchemaDrift.Table(parts[1], parts[2], null));
            }
        });
        return out;
    }

    /**
     * {@code drift} with a table rename kept only where the record says the target's table was that very table of the
     * source (by its OID), when the record names the tables' OIDs: a table whose columns merely match is another one
     * (a rotation: {@code t} renamed to {@code t_old} and {@code t_new} to {@code t}), whose copy holds other rows. It
     * then counts as only on the target, and the published table as missing there.
     */
    static SchemaDrift exactRenames(SchemaDrift drift, MadeObjects made) {
        if (!made.knowsTables()) {
            return drift;
        }
        List<SchemaDrift.TargetOnly> targetOnly = new ArrayList<>();
        List<String> problems = new ArrayList<>(drift.problems());
        for (SchemaDrift.TargetOnly t : drift.targetOnly()) {
            Long oid = t.renameTo() == null ? null : drift.publishedOids().get(SchemaDrift.tableKey(t.renameTo().schema(),
                    t.renameTo().name()));
            if (t.renameTo() == null || (oid != null && made.isTable(SchemaDrift.identityKey(t.schema(), t.table(), oid)))) {
                targetOnly.add(t);
            } else {
                targetOnly.add(new SchemaDrift.TargetOnly(t.schema(), t.table(), null, false, "table " + t.schema() + "."
                        + t.table() + " is on the target but not on the source (DDL is not replicated): "
                        + SchemaDrift.DROPPED, null));
                problems.add("table " + t.renameTo().schema() + "." + t.renameTo().name() + " is published but missing"
                        + " on the target");
            }
        }
        return new SchemaDrift(drift.newTables(), drift.newColumns(), drift.changedColumns(), drift.objects(),
                targetOnly, problems, drift.shared(), drift.publishedOids(), drift.attnums());
    }

    /**
     * Creates the roles made on the source since the migration began, as a cut-over does first. Its warnings (roles
     * without a password, a service's own roles the target lacks, ...) were the migration's and are the cut-over's
     * again; one made since that cannot be created shows in what needs it (a policy, an owner: 42704).
     */
    private void copyRoles(List<String> applied) {
        try {
            List<String> created = new Uncarried(source, target, dbname, request, ledger, w -> { }).roles();
            if (!created.isEmpty()) {
                applied.add("created role(s) " + String.join(", ", created.stream().sorted().toList()) + " on the target"
                        + " (made on the source since the migration began)");
            }
        } catch (MigrationException e) {
            applied.add("roles: roles made on the source since the migration began were not created: " + e.getMessage());
        }
    }

    /**
     * Renames each column the source renamed as there, where the record says the target's column is that very column
     * (by its table's OID and its number): its values stay, and the apply worker, which maps columns by name, takes the
     * source's rows again. Returns those it could not rename, one line each.
     */
    private List<String> renameColumns(SchemaDrift drift, List<String> applied) {
        List<String> failed = new ArrayList<>();
        List<SchemaDrift.TargetOnly> renamed = record == null ? List.of() : drift.targetOnly().stream()
                .filter(t -> columnRenamed(drift, record, t)).toList();
        if (renamed.isEmpty()) {
            return failed;
        }
        try (Connection t = target.open(dbname)) {
            EventTriggers.pass(t);
            t.setAutoCommit(true);
            for (SchemaDrift.TargetOnly c : renamed) {
                String column = c.schema() + "." + c.table() + "." + c.column();
                try (Statement st = t.createStatement()) {
                    st.execute("ALTER TABLE " + Sql.qualified(c.schema(), c.table()) + " RENAME COLUMN "
                            + Sql.ident(c.column()) + " TO " + Sql.ident(c.columnTo()));
                    applied.add("renamed column " + column + " to " + c.columnTo() + " on the target, as the source"
                            + " renamed it (its values stay)");
                } catch (SQLException e) {
                    failed.add("column " + column + " could not be renamed to " + c.columnTo() + " as on the source: "
                            + SqlStates.describe(e));
                }
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, "renaming columns in target database " + dbname, e);
        }
        return failed;
    }

    /**
     * Whether {@code t}, a column only the target has where the source has a new one of its type ({@link
     * SchemaDrift.TargetOnly#columnTo}), is that column renamed: the record says the target's column was the column
     * of the source's table that has the new one's number.
     */
    static boolean columnRenamed(SchemaDrift drift, MadeObjects made, SchemaDrift.TargetOnly t) {
        if (t.column() == null || t.columnTo() == null || !made.knowsTables()) {
            return false;
        }
        Long oid = drift.publishedOids().get(SchemaDrift.tableKey(t.schema(), t.table()));
        Integer attnum = drift.attnums().get(SchemaDrift.columnKey(t.schema(), t.table(), t.columnTo()));
        return oid != null && attnum != null
                && made.isTable(SchemaDrift.columnIdentityKey(t.schema(), t.table(), t.column(), oid, attnum));
    }

    /** What both sides had when pgferry last compared them ({@link MadeObjects}); empty when it kept no record. */
    private Optional<MadeObjects> madeObjects() {
        try {
            return MadeObjects.read(ledger, migrationId, dbname);
        } catch (RuntimeException e) {
            throw new MigrationException(ErrorCode.INTERNAL, null, "reading pgferry's ledger (Kafka) for " + dbname
                    + ": " + e.getMessage(), true, e);
        }
    }

    /**
     * Adds what both sides have now to the record (begun now for a database that has none), so that a later refresh
     * drops it if the source drops it.
     */
    private void record(MadeObjects made, Set<String> shared, Set<String> identities, List<String> applied) {
        String why;
        try {
            if (made.recordWith(ledger, migrationId, dbname, shared, identities)) {
                return;
            }
            why = "more than " + MadeObjects.MAX + " tables, columns and objects";
        } catch (RuntimeException e) {
            why = e.getMessage();
        }
        applied.add("kept no record of what both sides have now (" + why + "): what the source drops from now on stays"
                + " on the target for you to drop");
    }

    /** The drift's lines, saying of what only the target has and the sides never shared that it was made there. */
    static List<String> describe(SchemaDrift drift, MadeObjects made) {
        List<String> keep = new ArrayList<>();
        drift.targetOnly().stream().filter(t -> !t.renamed() && !made.contains(t.key())).forEach(t -> keep.add(t.line()));
        drift.objects().stream().filter(o -> o.difference() == SchemaObjects.Difference.EXTRA && !made.contains(o.key()))
                .forEach(o -> keep.add(o.describe()));
        return drift.describe().stream().map(line -> keep.contains(line) ? line.replace(SchemaDrift.DROPPED, KEPT) : line)
                .toList();
    }

    /** What the drift says of something only the target has that the source never had while pgferry looked. */
    static final String KEPT = SchemaDrift.KEPT;

    /**
     * Drops on the target what the source dropped: each table, column (not one the source may have renamed) and
     * schema object only the target has that both sides had when pgferry compared them ({@code made}); what the
     * sides never shared was made on the target, and stays. Each drop is its own statement, without CASCADE, so
     * that nothing else goes with it; one that something else still needs is tried again once the others are done
     * (a view over a dropped table, a key on a dropped index), until a round drops nothing more. Returns those that
     * could not be dropped, one line each.
     */
    private List<String> dropDropped(SchemaDrift drift, MadeObjects made, List<SchemaDrift.Table> remade,
                                     List<String> applied) {
        Map<String, String> todo = new LinkedHashMap<>();
        // (nor is what a table made anew has dropped apart: it goes with the table)
        drift.objects().stream().filter(o -> o.difference() == SchemaObjects.Difference.EXTRA && made.contains(o.key())
                        && (o.table() == null || remade.stream().noneMatch(r -> o.table().replace("\"", "")
                        .equals(r.schema() + "." + r.name()))))
                .sorted(Comparator.comparingInt(o -> dropOrder(o.kind())))
                .forEach(o -> todo.put(o.kind().word() + " " + o.name(), dropStatement(o)));
        // (a table made anew loses its old columns with it)
        drift.targetOnly().stream().filter(t -> !t.renamed() && made.contains(t.key()) && (t.column() == null
                || remade.stream().noneMatch(r -> r.schema().equals(t.schema()) && r.name().equals(t.table()))))
                .forEach(t -> {
            if (t.column() == null) {
                todo.put("table " + t.schema() + "." + t.table(), "DROP TABLE IF EXISTS " + Sql.qualified(t.schema(),
                        t.table()));
            } else {
                todo.put("column " + t.schema() + "." + t.table() + "." + t.column(), "ALTER TABLE IF EXISTS "
                        + Sql.qualified(t.schema(), t.table()) + " DROP COLUMN IF EXISTS " + Sql.ident(t.column()));
            }
        });
        if (todo.isEmpty()) {
            return List.of();
        }
        Map<String, String> failed;
        try (Connection t = target.open(dbname)) {
            EventTriggers.pass(t);
            t.setAutoCommit(true);
            failed = inRounds(t, todo.keySet(), what -> revokeStatement(t, typeStatement(t, todo.get(what)), made),
                    what -> applied.add(todo.get(what).startsWith(REVOKE_SHARED) ? "revoked the " + what + " on the target"
                            + " that the source revoked" : "dropped " + what + " on the target (the source dropped it)"));
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, "dropping what the source dropped in target database "
                    + dbname, e);
        }
        List<String> out = new ArrayList<>();
        failed.forEach((what, why) -> out.add(what + " could not be dropped as on the source: " + why));
        return out;
    }

    private static int dropOrder(SchemaObjects.Kind k) {
        return switch (k) {
            case VIEW, MATERIALIZED_VIEW -> 0;
            case TRIGGER -> 1;
            case CONSTRAINT -> 2;
            case INDEX -> 3;
            case FUNCTION, PROCEDURE -> 4;
            case SEQUENCE -> 5;
            case TYPE -> 6;
            case EXTENSION -> 7;
            case POLICY -> 1;
            case ROW_SECURITY -> 2;
            // (a comment or a privilege before what it is on: a view, an index, a column may go in this refresh)
            case PRIVILEGES -> -1;
            case COMMENT -> -2;
        };
    }

    /** The statement that drops {@code o} (names as the server quoted them); a type's is settled by {@link #typeStatement}. */
    private static String dropStatement(SchemaObjects.Drifted o) {
        return switch (o.kind()) {
            case INDEX -> "DROP INDEX IF EXISTS " + o.name();
            case CONSTRAINT -> "ALTER TABLE IF EXISTS " + o.table() + " DROP CONSTRAINT IF EXISTS " + Sql.ident(o.own());
            case TRIGGER -> "DROP TRIGGER IF EXISTS " + Sql.ident(o.own()) + " ON " + o.table();
            case FUNCTION -> "DROP FUNCTION IF EXISTS " + o.name();
            case PROCEDURE -> "DROP PROCEDURE IF EXISTS " + o.name();
            case VIEW -> "DROP VIEW IF EXISTS " + o.name();
            case MATERIALIZED_VIEW -> "DROP MATERIALIZED VIEW IF EXISTS " + o.name();
            case SEQUENCE -> "DROP SEQUENCE IF EXISTS " + o.name();
            case TYPE -> DROP_TYPE + o.name();
            case EXTENSION -> "DROP EXTENSION IF EXISTS " + o.name();
            case POLICY -> "DROP POLICY IF EXISTS " + Sql.ident(o.own()) + " ON " + o.table();
            case ROW_SECURITY -> "ALTER TABLE IF EXISTS " + o.table() + " DISABLE ROW LEVEL SECURITY,"
                    + " NO FORCE ROW LEVEL SECURITY";
            case PRIVILEGES -> REVOKE_SHARED + o.name();
            case COMMENT -> "COMMENT ON " + o.own() + " IS NULL";
        };
    }

    private static final String DROP_TYPE = "DROP TYPE IF EXISTS ";
    /** Stands for the REVOKE of the privileges on a relation that both sides had ({@link #revokeStatement}). */
    private static final String REVOKE_SHARED = "REVOKE SHARED ";

    /**
     * For {@code sql} {@link #REVOKE_SHARED} a relation, the REVOKE of each privilege on it both sides had when
     * pgferry last compared them ({@code made}; one granted on the target alone stays), or a statement that does
     * nothing when there are none; else {@code sql}.
     */
    private static String revokeStatement(Connection t, String sql, MadeObjects made) throws SQLException {
        if (!sql.startsWith(REVOKE_SHARED)) {
            return sql;
        }
        String relation = sql.substring(REVOKE_SHARED.length());
        List<String> revokes = ObjectRepair.grants(t, relation).entrySet().stream()
                .filter(g -> made.contains(SchemaObjects.grantKey(relation, g.getKey())))
                .map(g -> g.getValue().revoke(relation)).toList();
        return revokes.isEmpty() ? "SELECT 1" : String.join("; ", revokes);
    }

    /** {@code sql}, or for a type that is a domain, {@code DROP DOMAIN} instead (DROP TYPE refuses a domain). */
    private static String typeStatement(Connection t, String sql) throws SQLException {
        if (!sql.startsWith(DROP_TYPE)) {
            return sql;
        }
        String type = sql.substring(DROP_TYPE.length());
        boolean domain = ServerCatalog.exists(t, "SELECT 1 FROM pg_catalog.pg_type"
                + " WHERE oid = pg_catalog.to_regtype(?) AND typtype = 'd'", type);
        return domain ? "DROP DOMAIN IF EXISTS " + type : sql;
    }

    private SchemaDrift read() {
        try (Connection s = source.open(dbname); Connection t = target.open(dbname)) {
            SchemaDrift drift = SchemaDrift.of(s, t, name, name, (schema, table) -> request.copiesTable(dbname, schema,
                    table), request.options().includeExtensionTables(), LOCK_TIMEOUT_MS);
            return record == null ? drift : exactRenames(drift, record);
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.PRECONDITION_FAILED, "comparing the schema of " + dbname + " on both sides", e);
        }
    }

    /**
     * Creates the tables the target lacks; returns those it created. A new table of the source that the target has
     * under its name as a table this subscription follows was dropped and created again on the source (an online
     * schema change's swap, say): the target's, the old one's copy, is dropped and made anew, so that the table sync
     * copies the new one's rows into an empty table of its definition. So are the published tables in {@code
     * reused} ({@link #reused}).
     */
    private List<SchemaDrift.Table> createTables(List<SchemaDrift.Table> tables, List<String> applied,
                                                 List<String> failed) {
        List<SchemaDrift.Table> missing = new ArrayList<>();
        List<SchemaDrift.Table> remake = new ArrayList<>();
        boolean pastEventTriggers;
        try (Connection t = target.open(dbname)) {
            pastEventTriggers = EventTriggers.pass(t);
            for (SchemaDrift.Table table : tables) {
                try (PreparedStatement ps = t.prepareStatement("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_subscription_rel r"
                        + " JOIN pg_catalog.pg_subscription s ON s.oid = r.srsubid WHERE r.srrelid = c.oid AND s.subname = ?)"
                        + " FROM pg_catalog.pg_class c"
                        + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relname = ?")) {
                    ps.setString(1, name);
                    ps.setString(2, table.schema());
                    ps.setString(3, table.name());
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next()) {
                            missing.add(table);
                        } else if (rs.getBoolean(1)) {
                            remake.add(table);
                        }
                    }
                }
            }
            // All in one statement first: those made anew may need each other (a sequence one owns is another's
            // default, a key between them); then one by one, so that one that cannot go keeps only itself back
            if (!remake.isEmpty()) {
                t.setAutoCommit(true);
                List<SchemaDrift.Table> dropping = new ArrayList<>(remake);
                try (Statement st = t.createStatement()) {
                    st.execute("DROP TABLE " + remake.stream().map(SchemaDrift.Table::qualifiedName)
                            .collect(Collectors.joining(", ")));
                    dropping.clear();
                    missing.addAll(remake);
                    remake.forEach(table -> applied.add(remadeNote(table)));
                } catch (SQLException e) {
                    // (one by one below)
                }
                inRounds(t, dropping, table -> "DROP TABLE " + table.qualifiedName(), table -> {
                    missing.add(table);
                    applied.add(remadeNote(table));
                }).forEach((table, why) -> {
                    notRemade.add(table);
                    failed.add("table " + table + " could not be made anew (the source dropped it and created it again,"
                            + " or its name now belongs to another table of the source): " + why);
                });
            }
            try (Statement st = t.createStatement()) {
                for (SchemaDrift.Table table : missing) {
                    if (!ServerCatalog.exists(t, "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ?", table.schema())) {
                        boolean ownerExists = ServerCatalog.exists(t, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ?",
                                table.schemaOwner());
                        st.execute("CREATE SCHEMA " + Sql.ident(table.schema())
                                + (ownerExists ? " AUTHORIZATION " + Sql.ident(table.schemaOwner()) : ""));
                        applied.add("created schema " + table.schema() + " on the target");
                    }
                }
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, "preparing new tables in target database " + dbname, e);
        }
        if (missing.isEmpty()) {
            return missing;
        }
        missing.sort(Comparator.comparing(SchemaDrift.Table::schema).thenComparing(SchemaDrift.Table::name));
        Path dump = null;
        Path list = null;
        try {
            dump = Files.createTempFile("pgferry-refresh-", ".dump");
            list = Files.createTempFile("pgferry-refresh-", ".list");
            List<String> args = new ArrayList<>(List.of("--schema-only", "--format=custom", "--file=" + dump));
            // A pattern in double quotes is taken literally (a doubled quote stands for one).
            missing.forEach(table -> args.add("--table=" + quoted(table.schema()) + "." + quoted(table.name())));
            PgTool.run("pg_dump", args, source.libpqEnv(dbname), ErrorCode.SCHEMA_DUMP_FAILED,
                    "dumping the new tables of source database " + dbname);
            PgTool.Result listed = PgTool.exec("pg_restore", List.of("--list", dump.toString()), Map.of(),
                    ErrorCode.SCHEMA_DUMP_FAILED, "listing the new tables of source database " + dbname, list);
            if (listed.exitCode() != 0) {
                throw new MigrationException(ErrorCode.SCHEMA_DUMP_FAILED, "listing the new tables of source database "
                        + dbname + " failed: " + PgTool.tail(listed.stderr()));
            }
            Files.write(list, attachesLast(Files.readAllLines(list, StandardCharsets.UTF_8)), StandardCharsets.UTF_8);
            PgTool.run("pg_restore", List.of("--dbname=" + SchemaCopier.conninfoDbname(dbname), "--exit-on-error",
                            "--single-transaction", "--use-list=" + list, dump.toString()), restoreEnv(pastEventTriggers),
                    ErrorCode.SCHEMA_RESTORE_FAILED, "creating the new tables in target database " + dbname);
        } catch (MigrationException e) {
            // (what could not be dropped is why, often: say it first)
            throw failed.isEmpty() ? e : new MigrationException(e.code(), null, String.join("; ", failed) + "; "
                    + e.getMessage(), e.retriable(), e);
        } catch (IOException e) {
            throw new MigrationException(ErrorCode.INTERNAL, null, "temporary file for the new tables of " + dbname + ": "
                    + e.getMessage(), false, e);
        } finally {
            for (Path p : new Path[] {dump, list}) {
                try {
                    if (p != null) {
                        Files.deleteIfExists(p);
                    }
                } catch (IOException ignored) {
                    // a temp file
                }
            }
        }
        applied.add("created " + missing.stream().map(SchemaDrift.Table::toString).collect(Collectors.joining(", "))
                + " on the target (with indexes, constraints and owned sequences)");
        return missing;
    }

    private static final java.util.regex.Pattern ATTACH = java.util.regex.Pattern.compile("^\\d+; \\d+ \\d+ (TABLE|INDEX) ATTACH .*");

    /**
     * {@code toc} (a {@code pg_restore --list}) with its partitions attached last, tables before indexes: a new
     * partition's dump attaches it before its keys and indexes are made, and attaching it to a partitioned table
     * that has them (the target's, unlike an empty one in a whole dump's restore) makes them on it, so that its own
     * would be made twice (42P16, multiple primary keys). Made first, they are the ones attaching takes; an index
     * attached so is attached again as a no-op.
     */
    static List<String> attachesLast(List<String> toc) {
        List<String> out = new ArrayList<>();
        toc.stream().filter(l -> !ATTACH.matcher(l).matches()).forEach(out::add);
        toc.stream().filter(l -> ATTACH.matcher(l).matches() && l.contains(" TABLE ATTACH ")).forEach(out::add);
        toc.stream().filter(l -> ATTACH.matcher(l).matches() && l.contains(" INDEX ATTACH ")).forEach(out::add);
        return out;
    }

    /** The statement that does one of a batch's steps. */
    private interface StepStatement<K> {
        String sql(K step) throws SQLException;
    }

    /**
     * Runs the statement of each of {@code steps} on {@code t} (autocommit), in rounds until a round gets none more
     * through (one may need another done first: a view over a dropped table, a sequence one table owns and another
     * uses); {@code done} hears of each that went through. Returns why each of the others failed, in their order.
     */
    private static <K> Map<K, String> inRounds(Connection t, java.util.Collection<K> steps, StepStatement<K> statement,
                                               java.util.function.Consumer<K> done) throws SQLException {
        List<K> todo = new ArrayList<>(steps);
        Map<K, String> refused = new LinkedHashMap<>();
        boolean progress = true;
        while (progress && !todo.isEmpty()) {
            progress = false;
            refused.clear();
            for (Iterator<K> it = todo.iterator(); it.hasNext(); ) {
                K step = it.next();
                try (Statement st = t.createStatement()) {
                    st.execute(statement.sql(step));
                    done.accept(step);
                    it.remove();
                    progress = true;
                } catch (SQLException e) {
                    refused.put(step, SqlStates.describe(e));
                }
            }
        }
        return refused;
    }

    private static String remadeNote(SchemaDrift.Table table) {
        return "dropped " + table + " on the target to make it anew: the source dropped it and created it again, or its"
                + " name now belongs to another table of the source (its rows are copied anew)";
    }

    /**
     * The new tables' triggers that would fire in the apply worker, held disabled as the others are, on {@code s} and
     * {@code t} (the target's session past its event triggers).
     */
    private void holdTriggers(Connection s, Connection t, List<String> applied) throws SQLException {
        ReplicaTriggers.Held held = ReplicaTriggers.hold(s, t);
        if (!held.held().isEmpty()) {
            applied.add(ReplicaTriggers.heldNote(held.held()));
        }
        if (!held.refused().isEmpty()) {
            throw new MigrationException(ErrorCode.PERMISSION_DENIED, null, ReplicaTriggers.refusedNote(held.refused()),
                    false, null);
        }
    }

    private static String quoted(String identifier) {
        return "\"" + identifier.replace("\"", "\"\"") + "\"";
    }

    /**
     * Makes the target's schema the source's: the types, sequences and functions it lacks or has otherwise first (a
     * new table or column may need them; {@link ObjectRepair}), then the new tables ({@code created}: those it
     * created) with their triggers that fire on a replica held, the new columns, the columns defined otherwise, and
     * the other schema objects. Returns the columns and objects it could not make, one line each.
     */
    private List<String> repair(SchemaDrift drift, List<SchemaDrift.Table> reused, List<SchemaDrift.Table> created,
                                List<String> applied) {
        boolean objects = drift.objects().stream().anyMatch(dev.pgferry.pg.SchemaObjects.Drifted::repairable);
        try (Connection s = source.open(dbname); Connection t = target.open(dbname)) {
            ObjectRepair repair = new ObjectRepair(source, dbname, restoreEnv(EventTriggers.pass(t)), s, t, applied,
                    key -> record != null && record.contains(key));
            if (objects) {
                repair.early(drift.objects());
            }
            List<String> failed = new ArrayList<>();
            List<SchemaDrift.Table> making = new ArrayList<>(drift.newTables());
            making.addAll(reused);
            created.addAll(createTables(making, applied, failed));
            if (!making.isEmpty()) {
                holdTriggers(s, t, applied);
            }
            // (a table made anew has the source's columns)
            java.util.function.Predicate<SchemaDrift.Column> old = c -> reused.stream()
                    .noneMatch(r -> r.schema().equals(c.schema()) && r.name().equals(c.table()));
            addColumns(drift.newColumns().stream().filter(old).toList(), applied);
            failed.addAll(alterColumns(t, drift.changedColumns().stream().filter(c -> old.test(c.source())).toList(),
                    applied));
            if (objects) {
                // (read again: the new tables made some of the objects, the new columns made others possible)
                failed.addAll(repair.late(read().objects()));
            }
            return failed;
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, "making schema objects as on the source in target"
                    + " database " + dbname, e);
        }
    }

    /** pg_restore's environment for the target database, past its event triggers as the session was (see EventTriggers). */
    private Map<String, String> restoreEnv(boolean pastEventTriggers) {
        Map<String, String> env = new HashMap<>(target.libpqEnv(dbname));
        if (pastEventTriggers) {
            env.merge("PGOPTIONS", "-c session_replication_role=replica", (a, b) -> a + " " + b);
        }
        return env;
    }

    /**
     * Makes each column the target has otherwise the source's, each in its own statement on {@code t} (a session past
     * the target's event triggers); returns those it could not, one line each.
     */
    private List<String> alterColumns(Connection t, List<SchemaDrift.ChangedColumn> columns, List<String> applied) {
        List<String> failed = new ArrayList<>();
        for (SchemaDrift.ChangedColumn c : columns) {
            List<String> clauses = c.alterClauses();
            String name = c.source().schema() + "." + c.source().table() + "." + c.source().name();
            if (clauses.isEmpty()) {
                continue;  // (its line in the drift says what to do)
            }
            try (Statement st = t.createStatement()) {
                st.execute("ALTER TABLE " + Sql.qualified(c.source().schema(), c.source().table()) + " "
                        + String.join(", ", clauses));
                applied.add("altered column " + name + " on the target to " + c.source().definition());
            } catch (SQLException e) {
                failed.add("column " + name + " could not be altered as on the source: " + SqlStates.describe(e));
            }
        }
        return failed;
    }

    private void addColumns(List<SchemaDrift.Column> columns, List<String> applied) {
        if (columns.isEmpty()) {
            return;
        }
        try (Connection t = target.open(dbname); Statement st = t.createStatement()) {
            EventTriggers.pass(t);
            for (SchemaDrift.Column c : columns) {
                st.execute("ALTER TABLE " + Sql.qualified(c.schema(), c.table()) + " " + c.addClause());
                applied.add("added column " + c + " on the target");
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, "adding new columns in target database " + dbname, e);
        }
    }

    /**
     * Adds the tables to the publication. Only the owner of a table may add it; a user that is not, on a source with
     * aiven_extras (which made the publication), has the publication made again through the extension with every
     * table: dropped and created in one transaction, so that the walsender, which reads the publication as of each
     * change it decodes, never finds it missing. Returns whether the extension was used.
     */
    private boolean publish(List<SchemaDrift.Table> tables) {
        String added = tables.stream().map(SchemaDrift.Table::qualifiedName).collect(Collectors.joining(", "));
        try (Connection s = source.open(dbname)) {
            EventTriggers.pass(s);
            try (Statement st = s.createStatement()) {
                st.execute("ALTER PUBLICATION " + Sql.ident(name) + " ADD TABLE " + added);
                return false;
            } catch (SQLException e) {
                if (!SqlStates.INSUFFICIENT_PRIVILEGE.equals(e.getSQLState()) || !Preconditions.hasAivenExtras(s)) {
                    throw e;
                }
            }
            s.setAutoCommit(false);
            List<String> all = new ArrayList<>();
            try (PreparedStatement ps = s.prepareStatement("SELECT pg_catalog.format('%I.%I', schemaname, tablename)"
                    + " FROM pg_catalog.pg_publication_tables WHERE pubname = ? ORDER BY 1")) {
                ps.setString(1, name);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        all.add(rs.getString(1));
                    }
                }
            }
            tables.forEach(t -> all.add(t.qualifiedName()));
            try (Statement st = s.createStatement()) {
                st.execute("DROP PUBLICATION " + Sql.ident(name));
            }
            Replicator.publishThroughExtension(s, name, all);
            s.commit();
            return true;
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.PERMISSION_DENIED, "adding the new tables to publication " + name
                    + " on source database " + dbname, e);
        }
    }

    /**
     * Refreshes the subscription so that it copies and follows the new tables. Only its owner may; a subscription
     * that aiven_extras made (its owner a superuser) is refreshed through the extension. Returns whether it was.
     */
    private boolean refreshSubscription() {
        try (Connection t = target.open(dbname)) {
            t.setAutoCommit(true);
            EventTriggers.pass(t);
            try (Statement st = t.createStatement()) {
                st.execute("ALTER SUBSCRIPTION " + Sql.ident(name) + " REFRESH PUBLICATION WITH (copy_data = true)");
                return false;
            } catch (SQLException e) {
                if (!SqlStates.INSUFFICIENT_PRIVILEGE.equals(e.getSQLState()) || !Preconditions.hasAivenExtras(t)) {
                    throw e;
                }
            }
            // Outside a transaction block, as the extension's function requires.
            try (PreparedStatement ps = t.prepareStatement(
                    "SELECT aiven_extras.pg_alter_subscription_refresh_publication(?, true)")) {
                ps.setString(1, name);
                ps.executeQuery().close();
            }
            return true;
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.PERMISSION_DENIED, "refreshing subscription " + name + " in target database "
                    + dbname, e);
        }
    }
}
