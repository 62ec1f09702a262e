package dev.pgferry.worker.verify;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.ReplicationNames;
import dev.pgferry.messages.Verification;
import dev.pgferry.messages.Verification.Check;
import dev.pgferry.messages.Verification.Result;
import dev.pgferry.messages.Verification.TableCheck;
import dev.pgferry.pg.CatalogSql;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.Sql;
import dev.pgferry.worker.copy.ObjectCopier;
import dev.pgferry.worker.copy.SourceCatalog;
import dev.pgferry.worker.database.DatabaseProperties;
import dev.pgferry.worker.roles.RoleComparison;
import dev.pgferry.worker.schema.PgTool;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.worker.replication.Cutover;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code pgferry verify} for one database: compares source and target with nothing taken on trust from the copy
 * that produced the target. Checks the database's properties, the migration's roles and memberships (by the
 * migration's first database only: they are the server's), the schema ({@link SchemaDiff}), sequences (not while
 * replicating: they are copied at cut-over), large objects, materialized view population, and every table's rows
 * ({@link TableVerifier}). A database that is replicating is compared online. Stateless.
 */
public final class Verifier {
    private static final int MAX_LINES = 20;

    private final PgConnector source;
    private final PgConnector target;
    private final MigrationRequest request;
    private final String dbname;
    private final int jobs;
    private final Optional<LedgerEntry> cutover;

    public Verifier(PgConnector source, PgConnector target, MigrationRequest request, String dbname, int jobs) {
        this(source, target, request, dbname, jobs, Optional.empty());
    }

    /**
     * {@code cutover}: the database's cut-over entry in the ledger, if any. While a cut-over blocks the source's
     * writes (and after it), the source's {@code default_transaction_read_only} is compared as it was before.
     */
    public Verifier(PgConnector source, PgConnector target, MigrationRequest request, String dbname, int jobs,
                    Optional<LedgerEntry> cutover) {
        this.source = source;
        this.target = target;
        this.request = request;
        this.dbname = dbname;
        this.jobs = jobs;
        this.cutover = cutover.filter(e -> e.state() != LedgerEntry.State.ABORTED);
    }

    /** The verification; a failure of the verification itself is a result of {@code error}, never an exception. */
    public Verification run() {
        Instant start = Instant.now();
        try {
            return verify(start);
        } catch (SQLException | IOException | RuntimeException e) {
            return new Verification(Result.ERROR, List.of(), List.of(), null, seconds(start),
                    e instanceof SQLException s ? dev.pgferry.pg.SqlStates.describe(s) : e.getMessage());
        }
    }

    private Verification verify(Instant start) throws SQLException, IOException {
        List<Check> checks = new ArrayList<>();
        String slot;
        boolean fastHash;
        List<TableVerifier.Plan> plans = new ArrayList<>();
        List<TableCheck> tables = new ArrayList<>();
        try (Connection src = source.open(dbname); Connection dst = target.open(dbname)) {
            slot = liveSlot(src);
            fastHash = ServerCatalog.majorVersion(src) >= 11 && ServerCatalog.majorVersion(dst) >= 11;
            DatabaseProperties before = DatabaseProperties.read(src, dbname);
            if (cutover.isPresent()) {
                before = before.withSetting(Cutover.SETTING, cutover.get().savedSetting());
            }
            List<String> differences = before.differences(DatabaseProperties.read(dst, dbname));
            checks.add(check("database properties", differences));
            if (dbname.equals(ServerCatalog.migratedDatabases(src, request::ignores).stream().findFirst().orElse(null))) {
                checks.add(check("roles", RoleComparison.differences(src, dst, request)));
            }
            checks.add(schema(Math.max(ServerCatalog.majorVersion(src), ServerCatalog.majorVersion(dst)), slot != null));
            // While a cut-over blocks the source's writes (and after it), the sequences, large objects and unlogged
            // tables it copied again compare like any other.
            boolean replicating = slot != null && cutover.isEmpty();
            checks.add(replicating ? new Check("sequences", Result.NOT_COMPARABLE,
                    List.of("replication does not carry sequences: they are copied at cut-over (pgferry cutover, or remove)"))
                    : compare("sequences", src, dst, Verifier::sequences));
            checks.add(replicating ? new Check("large objects", Result.NOT_COMPARABLE,
                    List.of("replication does not carry large objects: they are copied at cut-over (pgferry cutover, or remove --final-copy)"))
                    : compare("large objects", src, dst, Verifier::largeObjects));
            checks.add(matViews(src, dst));
            for (SourceCatalog.Table t : SourceCatalog.tables(src, request.options().includeExtensionTables())) {
                if (!request.copiesTable(dbname, t.schema(), t.name())) {
                    tables.add(new TableCheck(t.displayName(), Result.NOT_COMPARABLE, null, null, null,
                            "its data is not migrated (--skip-table / --with-table)"));
                } else if (replicating && t.unlogged()) {
                    tables.add(new TableCheck(t.displayName(), Result.NOT_COMPARABLE, null, null, null,
                            "unlogged: not replicated; copied once, and again at cut-over"));
                } else {
                    plans.add(plan(src, t));
                }
            }
            if (!request.options().includeExtensionTables()) {
                // The user's rows of extension configuration tables: those pg_dump would dump as data.
                for (SourceCatalog.ConfigTable t : SourceCatalog.configTables(src)) {
                    plans.add(new TableVerifier.Plan(t.displayName() + " (rows not provided by its extension)",
                            t.qualifiedName(), t.columns(), primaryKey(src, t.qualifiedName()).key(), List.of(new long[0]),
                            t.condition()));
                }
            }
        }
        try (TableVerifier rows = new TableVerifier(source, target, dbname, slot, jobs, fastHash)) {
            tables.addAll(rows.verify(plans));
        }
        boolean match = checks.stream().allMatch(c -> c.result() != Result.DIFFERS)
                && tables.stream().allMatch(t -> t.result() != Result.DIFFERS);
        List<TableCheck> listed = tables;
        Integer matching = null;
        if (tables.size() > 500) {
            // Keep the event small: the tables that match are counted, the others listed.
            listed = tables.stream().filter(t -> t.result() != Result.MATCH).toList();
            matching = tables.size() - listed.size();
        }
        return new Verification(match ? Result.MATCH : Result.DIFFERS, checks, listed, matching, seconds(start), null);
    }

    private static double seconds(Instant start) {
        return Duration.between(start, Instant.now()).toMillis() / 1000.0;
    }

    /** The slot of this migration's replication when it exists on the source: the database is compared online. */
    private String liveSlot(Connection src) throws SQLException {
        String name = ReplicationNames.of(request.migrationId(), dbname);
        try (PreparedStatement ps = src.prepareStatement("SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? name : null;
            }
        }
    }

    /** A table's primary key columns in key order, and whether it is one integer column. */
    private record Key(List<String> key, boolean integer) {
    }

    private static Key primaryKey(Connection src, String relation) throws SQLException {
        List<String> key = new ArrayList<>();
        boolean integerKey = false;
        try (PreparedStatement ps = src.prepareStatement("SELECT a.attname, a.atttypid IN (20, 21, 23)"
                + " FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid"
                + " AND a.attnum = ANY (i.indkey) WHERE i.indrelid = ?::pg_catalog.regclass AND i.indisprimary"
                + " ORDER BY array_position(i.indkey::int2[], a.attnum)")) {
            ps.setString(1, relation);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    key.add(rs.getString(1));
                    integerKey = rs.getBoolean(2);
                }
            }
        }
        return new Key(key, key.size() == 1 && integerKey);
    }

    private TableVerifier.Plan plan(Connection src, SourceCatalog.Table t) throws SQLException {
        Key k = primaryKey(src, t.qualifiedName());
        List<String> key = k.key();
        if (!k.integer() || t.rowsEstimate() <= TableVerifier.RANGE_ROWS) {
            return new TableVerifier.Plan(t, key, List.of(new long[0]));
        }
        try (Statement s = src.createStatement();
             ResultSet rs = s.executeQuery("SELECT min(" + Sql.ident(key.get(0)) + "), max(" + Sql.ident(key.get(0))
                     + ") FROM " + t.qualifiedName())) {
            rs.next();
            return new TableVerifier.Plan(t, key, TableVerifier.ranges(rs.getLong(1), rs.getLong(2), t.rowsEstimate()));
        }
    }

    /**
     * Both schema dumps, compared after {@link SchemaDiff}'s normalization ({@code replicating}: the database's
     * replication still runs); not comparable when pg_dump is older than either server (it refuses to dump those).
     */
    private Check schema(int newestServer, boolean replicating) throws IOException {
        int pgDump = PgTool.pgDumpMajor();
        if (pgDump < newestServer) {
            return new Check("schema", Result.NOT_COMPARABLE, List.of("pg_dump " + pgDump + " cannot dump a PostgreSQL "
                    + newestServer + " server: set PGFERRY_PG_BIN to the bin directory of PostgreSQL " + newestServer
                    + " or later client programs to compare the schemas"));
        }
        Path a = Files.createTempFile("pgferry-verify-source-", ".sql");
        Path b = Files.createTempFile("pgferry-verify-target-", ".sql");
        try {
            dump(source, a);
            dump(target, b);
            return check("schema", SchemaDiff.differences(Files.readAllLines(a), Files.readAllLines(b), MAX_LINES,
                    replicating));
        } finally {
            Files.deleteIfExists(a);
            Files.deleteIfExists(b);
        }
    }

    private void dump(PgConnector side, Path file) {
        PgTool.run("pg_dump", List.of("--schema-only", "--no-subscriptions", "--file=" + file),
                side.libpqEnv(dbname), ErrorCode.SCHEMA_DUMP_FAILED, "dumping the schema of " + dbname + " to verify it");
    }

    private static List<String> sequences(Connection c) throws SQLException {
        return SourceCatalog.sequences(c).stream()
                .map(s -> s.schema() + "." + s.name() + " = " + s.lastValue() + (s.isCalled() ? "" : " (not called)")).toList();
    }

    private static List<String> largeObjects(Connection c) throws SQLException {
        return lines(c, "SELECT count(*) || ' large objects, content hash ' || coalesce(sum(('x' || substr(md5(m.oid::text"
                + " || " + CatalogSql.largeObjectHash("m.oid") + "), 1, 16))::bit(64)::bigint::numeric), 0)"
                + " FROM pg_catalog.pg_largeobject_metadata m");
    }

    /**
     * The materialized views, populated or not, with their rows (count and an order-free hash). One whose rows differ
     * is compared with what its query gives on the source now: a view the source last refreshed before its tables
     * changed (stale) cannot be copied as it is (only a {@code REFRESH} fills a view, from its tables), so a target
     * that holds what the query gives now is a match, and a detail says that the source's is stale. One whose query
     * gives other rows each time (a volatile function) is compared by its row count alone, which a detail says.
     */
    private static Check matViews(Connection src, Connection dst) throws SQLException {
        Check plain = compare("materialized views", src, dst, Verifier::matViews);
        if (plain.result() == Result.MATCH) {
            return plain;
        }
        List<String> details = new ArrayList<>(plain.details());
        List<String> stale = new ArrayList<>();
        for (SourceCatalog.MatView m : SourceCatalog.matViews(src)) {
            String shown = m.schema() + "." + m.name();
            String name = Sql.qualified(m.schema(), m.name());
            if (!m.populated() || details.stream().noneMatch(d -> d.startsWith(shown + " "))) {
                continue;
            }
            String now = ObjectCopier.queryHash(src, name);
            String there = ObjectCopier.contentHash(dst, name);
            if (now == null || there == null) {
                continue;
            }
            String here = ObjectCopier.contentHash(src, name);
            if (!now.equals(ObjectCopier.queryHash(src, name))) {
                // (its query gives other rows each time: now(), random(); no copy could hold the source's rows)
                String rows = here.substring(0, here.indexOf(':'));
                if (there.startsWith(rows + ":")) {
                    details.removeIf(d -> d.startsWith(shown + " "));
                    stale.add(shown + ": its query gives other rows each time it runs (a volatile function such as"
                            + " now() or random()), so only its rows are counted: " + rows + " on both sides");
                }
            } else if (!now.equals(here) && now.equals(there)) {
                details.removeIf(d -> d.startsWith(shown + " "));
                stale.add(shown + ": stale on the source (its rows are not what its query gives now: it was not"
                        + " refreshed since its tables changed); the target holds what the query gives now, as REFRESH"
                        + " MATERIALIZED VIEW on the source would make it");
            }
        }
        details.addAll(stale);
        return new Check("materialized views", details.size() == stale.size() ? Result.MATCH : Result.DIFFERS, details);
    }

    private static List<String> matViews(Connection c) throws SQLException {
        List<String> out = new ArrayList<>();
        for (SourceCatalog.MatView m : SourceCatalog.matViews(c)) {
            String name = Sql.qualified(m.schema(), m.name());
            // (count:hash, as the cut-over compares them: a view with as many rows, but other ones, differs too)
            String[] rows = m.populated() ? ObjectCopier.contentHash(c, name).split(":", 2) : null;
            out.add(m.schema() + "." + m.name() + (rows != null ? " populated, " + rows[0] + " rows (hash " + rows[1] + ")"
                    : " not populated"));
        }
        return out;
    }

    private static List<String> lines(Connection c, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    /** Reads the same listing on both sides; each entry that differs is a detail. */
    private static Check compare(String name, Connection src, Connection dst, SqlFunction<Connection, List<String>> read)
            throws SQLException {
        List<String> a = read.apply(src);
        List<String> b = read.apply(dst);
        List<String> details = new ArrayList<>();
        for (String line : a) {
            if (!b.contains(line) && details.size() < MAX_LINES) {
                details.add(line + " on the source");
            }
        }
        for (String line : b) {
            if (!a.contains(line) && details.size() < MAX_LINES) {
                details.add(line + " on the target");
            }
        }
        return check(name, details);
    }

    private static Check check(String name, List<String> differences) {
        return new Check(name, differences.isEmpty() ? Result.MATCH : Result.DIFFERS,
                differences.subList(0, Math.min(MAX_LINES, differences.size())));
    }

    /** A function that reads from a connection. */
    @FunctionalInterface
    private interface SqlFunction<T, R> {
        R apply(T t) throws SQLException;
    }
}
