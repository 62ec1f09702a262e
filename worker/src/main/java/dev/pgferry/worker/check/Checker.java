package dev.pgferry.worker.check;

import dev.pgferry.messages.CheckReport;
import dev.pgferry.messages.CheckReport.DatabaseCheck;
import dev.pgferry.messages.CheckReport.Finding;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.ReplicationNames;
import dev.pgferry.pg.CatalogSql;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Secrets;
import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.Side;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;
import dev.pgferry.worker.copy.SourceCatalog;
import dev.pgferry.worker.copy.ToastCompression;
import dev.pgferry.worker.database.DatabaseProperties;
import dev.pgferry.worker.database.ServerSettings;
import dev.pgferry.worker.replication.Preconditions;
import dev.pgferry.worker.replication.ReplicaTriggers;
import dev.pgferry.worker.roles.RoleCopier;
import dev.pgferry.worker.schema.Extensions;
import dev.pgferry.worker.schema.PgTool;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * {@code pgferry check}: validates a migration request without changing anything on either server. For the
 * servers: both reachable, {@code pg_dump} not older than the source, prepared transactions and transactions open
 * for long on the source (they hold up the creation of a replication slot), roles the target user cannot create
 * as they are or cannot make owners. For each database the request would
 * move: the method it would get and, for replication, every precondition; tables without a primary key, unlogged
 * tables and large objects (what replication cannot carry); extensions the target lacks or has older; a locale the
 * target cannot give it; a target database that already holds tables; {@code max_slot_wal_keep_size} smaller than
 * the database; its size and the rows its statistics expect. Only reads. Stateless.
 */
public final class Checker {
    /** By default, a transaction open longer than this on the source is reported (it would hold up slot creation). */
    public static final long LONG_TRANSACTION_SECONDS = 60;

    private final PgConnector source;
    private final PgConnector target;
    private final MigrationRequest request;
    private final Duration longTransaction;

    public Checker(MigrationRequest request, Secrets secrets) {
        this(request, secrets, Duration.ofSeconds(LONG_TRANSACTION_SECONDS));
    }

    /** As {@link #Checker(MigrationRequest, Secrets)}, reporting transactions open longer than {@code longTransaction}. */
    public Checker(MigrationRequest request, Secrets secrets, Duration longTransaction) {
        if (longTransaction.isNegative() || longTransaction.isZero()) {
            throw new IllegalArgumentException("the long transaction limit must be positive, not " + longTransaction);
        }
        this.request = request;
        this.source = new PgConnector(request.source(), Side.SOURCE, "check", secrets);
        this.target = new PgConnector(request.target(), Side.TARGET, "check", secrets);
        this.longTransaction = longTransaction;
    }

    public CheckReport run() {
        List<Finding> server = new ArrayList<>();
        if (request.onOneServer()) {
            server.add(Finding.blocker("servers", "source and target are the same server (" + request.source().describe()
                    + "); migrating a server onto itself would destroy its data"));
            return CheckReport.of(request.source().describe(), request.target().describe(), server, List.of());
        }
        List<String> databases;
        int sourceMajor;
        try (Connection s = source.open(); Connection t = target.open()) {
            sourceMajor = ServerCatalog.majorVersion(s);
            int targetMajor = ServerCatalog.majorVersion(t);
            server.add(Finding.pass("servers", "source is PostgreSQL " + sourceMajor + ", target PostgreSQL " + targetMajor));
            if (targetMajor < sourceMajor) {
                server.add(Finding.warning("versions", "the target is older than the source: objects or syntax of PostgreSQL "
                        + sourceMajor + " may not restore; migrate to PostgreSQL " + sourceMajor + " or later"));
            }
            databases = ServerCatalog.migratedDatabases(s, request::ignores);
            List<String> leftOut = ServerCatalog.leftOutDatabases(s, request::ignores);
            if (!leftOut.isEmpty()) {
                server.add(Finding.warning("databases", leftOut.size() + " database(s) of the source will not be"
                        + " migrated: " + String.join("; ", leftOut)));
            }
            server.addAll(openTransactions(s));
            List<String> roles = RoleCopier.foresee(s, t, request);
            server.add(roles.isEmpty() ? Finding.pass("roles", "every role the migration copies can be created on the"
                    + " target as it is on the source") : Finding.warning("roles", roles.size() + " role(s) will not"
                    + " arrive as they are on the source: " + String.join("; ", roles)));
            String parameterPrivileges = RoleCopier.foreseeParameterPrivileges(s, t, request);
            if (parameterPrivileges != null) {
                server.add(Finding.warning("parameter privileges", parameterPrivileges));
            }
            server.addAll(compression(s, t));
            try {
                List<String> settings = ServerSettings.differences(source, target);
                server.add(settings.isEmpty() ? Finding.pass("server settings", "the server settings applications see"
                        + " (time zone, date and number formats, search path, timeouts, ...) are the same")
                        : Finding.warning("server settings", ServerSettings.describe(settings)));
            } catch (MigrationException e) {
                server.add(Finding.warning("server settings", "not compared: " + e.getMessage()));
            }
        } catch (MigrationException e) {
            server.add(Finding.blocker("connect", e.getMessage()));
            return CheckReport.of(request.source().describe(), request.target().describe(), server, List.of());
        } catch (SQLException e) {
            server.add(Finding.blocker("servers", SqlStates.describe(e)));
            return CheckReport.of(request.source().describe(), request.target().describe(), server, List.of());
        }
        try {
            int dumpMajor = PgTool.pgDumpMajor();
            server.add(dumpMajor >= sourceMajor ? Finding.pass("pg_dump", "pg_dump " + dumpMajor + " can dump a PostgreSQL "
                    + sourceMajor + " source") : Finding.blocker("pg_dump", "pg_dump is version " + dumpMajor
                    + ", older than the source (PostgreSQL " + sourceMajor + "), which it cannot dump: install pg_dump "
                    + sourceMajor + " or later (PGFERRY_PG_BIN names its directory)"));
        } catch (MigrationException e) {
            server.add(Finding.blocker("pg_dump", e.getMessage()));
        }
        if (databases.isEmpty()) {
            server.add(Finding.blocker("databases", "no database of the source is left to migrate (all ignored, templates or"
                    + " not open to " + request.source().user() + ")"));
        }
        List<DatabaseCheck> checks = new ArrayList<>();
        for (String db : databases) {
            checks.add(database(db));
        }
        server.addAll(replicationCapacity(checks));
        return CheckReport.of(request.source().describe(), request.target().describe(), server, checks);
    }

    /** Whether large values will be compressed on the target as on the source (see {@link ToastCompression}). */
    private static List<Finding> compression(Connection s, Connection t) throws SQLException {
        List<String> lost = new ArrayList<>();
        String method = ToastCompression.ofSource(s);
        ToastCompression.forTarget(t, method, lost::add);
        if (!lost.isEmpty()) {
            return List.of(Finding.warning("compression", lost.get(0)));
        }
        return ToastCompression.PGLZ.equals(method) ? List.of() : List.of(Finding.pass("compression",
                "large values will be compressed with " + method + " on the target, as on the source"));
    }

    /** Prepared transactions and transactions open for long, anywhere on the source server. */
    private List<Finding> openTransactions(Connection s) throws SQLException {
        List<Finding> out = new ArrayList<>();
        List<String> prepared = strings(s, "SELECT gid || ' (database ' || database || ', since ' || prepared || ')'"
                + " FROM pg_catalog.pg_prepared_xacts ORDER BY prepared");
        if (prepared.isEmpty()) {
            out.add(Finding.pass("prepared transactions", "no prepared transaction on the source"));
        } else {
            out.add(Finding.warning("prepared transactions", prepared.size() + " prepared transaction(s) on the source: "
                    + String.join("; ", prepared) + ". They hold up the creation of a replication slot and could commit"
                    + " after a cut-over: COMMIT PREPARED or ROLLBACK PREPARED them"));
        }
        List<String> open = new ArrayList<>();
        try (PreparedStatement ps = s.prepareStatement("SELECT pid, usename, application_name, datname, state,"
                + " extract(epoch FROM now() - xact_start)::bigint FROM pg_catalog.pg_stat_activity"
                + " WHERE xact_start < now() - make_interval(secs => ?) AND backend_type = 'client backend'"
                + " AND pid <> pg_catalog.pg_backend_pid() ORDER BY xact_start")) {
            ps.setDouble(1, longTransaction.toMillis() / 1000.0);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    open.add("pid " + rs.getInt(1) + " (user " + rs.getString(2) + ", application '" + rs.getString(3)
                            + "', database " + rs.getString(4) + ", " + rs.getString(5) + " for " + rs.getLong(6) + " s)");
                }
            }
        }
        out.add(open.isEmpty() ? Finding.pass("open transactions", "no transaction open for more than "
                + human(longTransaction) + " on the source")
                : Finding.warning("open transactions", open.size() + " transaction(s) open for more than "
                + human(longTransaction) + " on the source: " + String.join("; ", open) + ". Creating a replication"
                + " slot waits until they end; end them before migrating with replication, or use --max-wait"));
        return out;
    }

    private DatabaseCheck database(String db) {
        List<Finding> findings = new ArrayList<>();
        long size = 0;
        long rows = 0;
        Long seconds = null;
        Long millis = null;
        String method = request.method().wireName();
        try (Connection s = source.open(db); Connection t = target.open()) {
            size = longValue(s, "SELECT pg_catalog.pg_database_size(current_database())");
            List<SourceCatalog.Table> tables = SourceCatalog.tables(s, request.options().includeExtensionTables()).stream()
                    .filter(table -> request.copiesTable(db, table.schema(), table.name())).toList();
            rows = tables.stream().mapToLong(SourceCatalog.Table::rowsEstimate).sum();
            findings.add(Finding.pass("size", String.format("%d table(s), %d rows expected, %.1f MB on the source",
                    tables.size(), rows, size / 1e6)));
            Estimate estimate = Estimate.of(tables, readRate(s, tables));
            seconds = estimate.seconds();
            millis = estimate.millis();
            findings.add(Finding.pass("duration", estimate.describe()));
            boolean replication = false;
            if (request.method() != Method.DUMP) {
                Preconditions.Result pre = Preconditions.check(s, t, request.options().includeExtensionTables());
                replication = pre.ok();
                if (pre.ok()) {
                    findings.add(Finding.pass("replication", "every precondition of logical replication holds"
                            + (pre.sourceViaAivenExtras() || pre.targetViaAivenExtras() ? " (through aiven_extras)" : "")));
                } else if (request.method() == Method.REPLICATION) {
                    findings.add(Finding.blocker("replication", String.join("; ", pre.problems())));
                } else {
                    findings.add(Finding.warning("replication", "dump instead of logical replication: "
                            + String.join("; ", pre.problems())));
                }
                method = replication ? Method.REPLICATION.wireName() : Method.DUMP.wireName();
                if (replication || request.method() == Method.REPLICATION) {
                    findings.addAll(replicationLimits(s, tables));
                }
            }
            findings.addAll(extensions(db, s, t));
            findings.addAll(publications(s, t));
            findings.addAll(targetDatabase(db, s, t));
            findings.addAll(walKeep(s, size, replication));
        } catch (MigrationException e) {
            findings.add(Finding.blocker("connect", e.getMessage()));
        } catch (SQLException e) {
            findings.add(Finding.blocker("catalog", "reading database " + db + ": " + SqlStates.describe(e)));
        }
        return DatabaseCheck.of(db, method, size, rows, seconds, millis, findings);
    }

    /**
     * Whether the servers can run every database that would replicate at once: each holds a slot and a WAL sender on
     * the source and a logical replication worker on the target for as long as it replicates. Each database's own
     * precondition looks at one database; these run out when many replicate (the defaults allow 10, 10 and 4).
     */
    private List<Finding> replicationCapacity(List<DatabaseCheck> checks) {
        long replicating = checks.stream().filter(c -> Method.REPLICATION.wireName().equals(c.method())).count();
        if (replicating == 0) {
            return List.of();
        }
        List<String> scarce = new ArrayList<>();
        try (Connection s = source.open(); Connection t = target.open()) {
            int workers = Preconditions.freeApplyWorkers(t);
            if (workers < replicating) {
                scarce.add("the target can run " + Math.max(0, workers) + " more subscription(s)"
                        + " (max_logical_replication_workers = "
                        + ServerCatalog.setting(t, "max_logical_replication_workers")
                        + "; raise it, and max_worker_processes, on the target and restart it)");
            }
            int slots = Preconditions.freeSlots(s);
            if (slots < replicating) {
                scarce.add("the source can create " + Math.max(0, slots) + " more replication slot(s)"
                        + " (max_replication_slots = "
                        + ServerCatalog.setting(s, "max_replication_slots") + "; raise it on the source and restart it)");
            }
            int senders = Preconditions.freeWalSenders(s);
            if (senders < replicating) {
                scarce.add("the source can start " + Math.max(0, senders) + " more WAL sender(s) (max_wal_senders = "
                        + ServerCatalog.setting(s, "max_wal_senders") + "; raise it on the source and restart it)");
            }
        } catch (MigrationException | SQLException e) {
            return List.of(Finding.warning("replication capacity", "not read: " + e.getMessage()));
        }
        if (scarce.isEmpty()) {
            return List.of(Finding.pass("replication capacity", "both servers can replicate the " + replicating
                    + " database(s) that would replicate, all at once"));
        }
        return List.of(Finding.warning("replication capacity", replicating + " database(s) would replicate, but "
                + String.join(", and ", scarce) + ": the databases past that are dumped instead (method auto) or fail"
                + " (method replication); or migrate fewer databases at a time"));
    }

    /** What logical replication does not carry in this database. */
    private List<Finding> replicationLimits(Connection s, List<SourceCatalog.Table> tables) throws SQLException {
        List<Finding> out = new ArrayList<>();
        List<String> noKey = tables.stream().filter(t -> !t.unlogged() && !t.replicaIdentity())
                .map(SourceCatalog.Table::displayName).toList();
        if (!noKey.isEmpty()) {
            out.add(Finding.warning("primary keys", noKey.size() + " table(s) without primary key or replica identity ("
                    + list(noKey) + "): their INSERTs replicate, but UPDATE and DELETE on them fail on the source once"
                    + " published; add primary keys, or migrate with --replica-identity-full"));
        }
        List<String> unlogged = tables.stream().filter(SourceCatalog.Table::unlogged).map(SourceCatalog.Table::displayName).toList();
        if (!unlogged.isEmpty()) {
            out.add(Finding.warning("unlogged tables", unlogged.size() + " unlogged table(s) (" + list(unlogged)
                    + "): not replicated; copied at the start and again by pgferry cutover, while the source's writes"
                    + " are blocked (or by pgferry remove --final-copy)"));
        }
        List<String> firing = ReplicaTriggers.firing(s);
        if (!firing.isEmpty()) {
            out.add(Finding.warning("triggers", ReplicaTriggers.checkNote(firing)));
        }
        long largeObjects = longValue(s, "SELECT count(*) FROM pg_catalog.pg_largeobject_metadata");
        if (largeObjects > 0) {
            out.add(Finding.warning("large objects", largeObjects + " large object(s): not replicated; copied at the"
                    + " start, and what changed is copied again by pgferry cutover, while the source's writes are blocked"
                    + " (or by pgferry remove --final-copy)"));
        }
        return out;
    }

    /**
     * Extensions of the source database that the target cannot provide, or only in an older version, or that only a
     * superuser may create there (but for those the user's target database already has).
     */
    private List<Finding> extensions(String db, Connection s, Connection t) throws SQLException {
        List<Finding> out = new ArrayList<>();
        List<String[]> installed = new ArrayList<>();
        try (Statement st = s.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT extname, extversion FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql' ORDER BY 1")) {
            while (rs.next()) {
                installed.add(new String[] {rs.getString(1), rs.getString(2)});
            }
        }
        List<String> missing = new ArrayList<>();
        List<String> older = new ArrayList<>();
        for (String[] ext : installed) {
            try (PreparedStatement ps = t.prepareStatement("SELECT default_version, ? = ANY (SELECT version FROM"
                    + " pg_catalog.pg_available_extension_versions WHERE name = ?)"
                    + " FROM pg_catalog.pg_available_extensions WHERE name = ?")) {
                ps.setString(1, ext[1]);
                ps.setString(2, ext[0]);
                ps.setString(3, ext[0]);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        missing.add(ext[0] + " " + ext[1]);
                    } else if (!rs.getBoolean(2)) {
                        older.add(ext[0] + " " + ext[1] + " (the target offers " + rs.getString(1) + ")");
                    }
                }
            }
        }
        if (!missing.isEmpty()) {
            out.add(Finding.blocker("extensions", "the target cannot create extension(s) " + String.join(", ", missing)
                    + ": install them on the target server first"));
        }
        if (!older.isEmpty()) {
            out.add(Finding.warning("extensions", "the target has other versions of " + String.join(", ", older)
                    + "; the restore creates its own version"));
        }
        boolean exists = ServerCatalog.exists(t, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = ?", db);
        Set<String> inTarget = Set.of();
        if (exists && !installed.isEmpty()) {
            try (Connection c = target.open(db)) {
                inTarget = Extensions.of(c).keySet();
            }
        }
        Set<String> present = inTarget;
        List<String> superuserOnly = Extensions.refused(t, installed.stream().map(e -> e[0])
                .filter(e -> !present.contains(e)).toList()).superuserOnly();
        if (!superuserOnly.isEmpty()) {
            out.add(Finding.blocker("extensions", Extensions.superuserOnlyMessage(db, superuserOnly,
                    t.getMetaData().getUserName(), exists)));
        }
        if (missing.isEmpty() && older.isEmpty() && superuserOnly.isEmpty()) {
            out.add(Finding.pass("extensions", installed.isEmpty() ? "no extension besides plpgsql"
                    : "the target offers " + installed.stream().map(e -> e[0] + " " + e[1]).collect(Collectors.joining(", "))));
        }
        return out;
    }

    /**
     * The user's publications, which arrive unless only a superuser may create them and the target user is not one,
     * and the database's subscriptions, which are not copied.
     */
    private List<Finding> publications(Connection s, Connection t) throws SQLException {
        List<Finding> out = new ArrayList<>();
        List<String> all = new ArrayList<>();
        List<String> superuserOnly = new ArrayList<>();
        boolean schemas = ServerCatalog.majorVersion(s) >= 15;
        try (PreparedStatement ps = s.prepareStatement("SELECT p.pubname, p.puballtables"
                + (schemas ? " OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace n WHERE n.pnpubid = p.oid)" : "")
                + " FROM pg_catalog.pg_publication p WHERE p.pubname !~ ? ORDER BY 1")) {
            ps.setString(1, ReplicationNames.PATTERN);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    all.add(rs.getString(1));
                    if (rs.getBoolean(2)) {
                        superuserOnly.add(rs.getString(1));
                    }
                }
            }
        }
        if (!superuserOnly.isEmpty() && !ServerCatalog.isSuperuser(t)) {
            out.add(Finding.warning("publications", superuserOnly.size() + " publication(s) (" + list(superuserOnly)
                    + ") are FOR ALL TABLES or FOR TABLES IN SCHEMA, which only a superuser may create, and the target"
                    + " user is not one: they will be reported and not created; create them on the target yourself"));
        } else if (!all.isEmpty()) {
            out.add(Finding.pass("publications", all.size() + " publication(s) (" + list(all) + ") will arrive"));
        }
        List<String> subscriptions = SourceCatalog.subscriptions(s);
        if (!subscriptions.isEmpty()) {
            out.add(Finding.warning("subscriptions", subscriptions.size() + " subscription(s) (" + list(subscriptions)
                    + ") are not copied: on the target they would take their publishers' changes a second time; create"
                    + " them there when you switch over"));
        }
        List<String> slots = SourceCatalog.logicalSlots(s);
        if (!slots.isEmpty()) {
            out.add(Finding.warning("replication slots", SourceCatalog.slotsNotCopied(slots)));
        }
        return out;
    }

    /** The target database: absent, or present without tables, and a locale the target can give it. */
    private List<Finding> targetDatabase(String db, Connection s, Connection t) throws SQLException {
        List<Finding> out = new ArrayList<>();
        DatabaseProperties properties = DatabaseProperties.read(s, db);
        boolean exists = ServerCatalog.exists(t, "SELECT 1 FROM pg_catalog.pg_database WHERE datname = ?", db);
        if (!exists) {
            try {
                properties.checkLocaleOn(t);
                out.add(Finding.pass("target database", "the target has no database " + db + " yet; it can create it with"
                        + " the source's encoding and locale"));
            } catch (MigrationException e) {
                out.add(Finding.blocker("locale", e.getMessage()));
            }
            return out;
        }
        try (Connection existing = target.open(db)) {
            long tables = longValue(existing, "SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
                    + " ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND" + CatalogSql.NOT_SYSTEM
                    + " AND" + CatalogSql.NOT_EXTENSION);
            out.add(tables == 0 ? Finding.pass("target database", "the target's database " + db + " exists and holds no"
                    + " tables: it is used as it is")
                    : Finding.blocker("target database", "the target's database " + db + " already holds " + tables
                    + " table(s): the migration refuses to overwrite it (TARGET_NOT_EMPTY); drop it, or leave it out with"
                    + " --ignore-dbs"));
        }
        return out;
    }

    /** Reads of the rate probe: at most this long and this much of the largest table. */
    static final long PROBE_NANOS = 1_000_000_000L;
    static final long PROBE_BYTES = 256L << 20;
    /** A table smaller than this says little about the read rate (latency dominates): not probed. */
    static final long PROBE_MIN_TABLE_BYTES = 8L << 20;

    /**
     * The rate (bytes/s) at which this machine reads the database's largest table from the source in binary COPY
     * (what the copy reads), for at most {@link #PROBE_NANOS} or {@link #PROBE_BYTES}; null when no table is large
     * enough to tell. Only reads.
     */
    private static Double readRate(Connection s, List<SourceCatalog.Table> tables) throws SQLException {
        SourceCatalog.Table largest = tables.stream().max(Comparator.comparingLong(SourceCatalog.Table::bytes))
                .orElse(null);
        if (largest == null || largest.bytes() < PROBE_MIN_TABLE_BYTES || largest.columns().isEmpty()) {
            return null;
        }
        String columns = largest.columns().stream().map(Sql::ident).collect(Collectors.joining(", "));
        org.postgresql.copy.CopyOut out = s.unwrap(org.postgresql.PGConnection.class).getCopyAPI().copyOut(
                "COPY (SELECT " + columns + " FROM " + largest.qualifiedName() + ") TO STDOUT (FORMAT binary)");
        long started = System.nanoTime();
        long bytes = 0;
        try {
            byte[] chunk;
            while ((chunk = out.readFromCopy()) != null) {
                bytes += chunk.length;
                if (bytes >= PROBE_BYTES || System.nanoTime() - started >= PROBE_NANOS) {
                    break;
                }
            }
        } finally {
            if (out.isActive()) {
                out.cancelCopy();
            }
        }
        double elapsed = (System.nanoTime() - started) / 1e9;
        return elapsed <= 0 || bytes == 0 ? null : bytes / elapsed;
    }

    /**
     * A rough duration of one database's migration by one worker: a fixed cost per database (roles, schema dump,
     * target database, finish) and per table (its creation, copy round trips, index builds and ANALYZE of an empty or
     * small table), calibrated on BENCHMARKS.md's small databases (0.14-0.42 s of worker time for one of 4 tables)
     * and 500-table database (about 9 ms a table), plus the tables' bytes and their index builds (in bytes of copy
     * that take as long, {@link SourceCatalog.IndexCost}) at half the source's read rate (the target writes every
     * byte, and its WAL, while the source reads it). {@code readRate} null: {@link #ASSUMED_READ_RATE}.
     * {@link #seconds} is at least 1 (a database's own line); {@link #millis} is what a sum over many databases takes.
     */
    record Estimate(long millis, int tables, long workBytes, double readRate, boolean measured) {
        static final double PER_DATABASE_SECONDS = 0.3;
        static final double PER_TABLE_SECONDS = 0.009;
        static final double ASSUMED_READ_RATE = 200e6;

        static Estimate of(List<SourceCatalog.Table> tables, Double readRate) {
            long work = tables.stream().mapToLong(t -> t.bytes() + t.indexCost().total()).sum();
            double rate = readRate == null ? ASSUMED_READ_RATE : readRate;
            double seconds = PER_DATABASE_SECONDS + PER_TABLE_SECONDS * tables.size() + work / (rate / 2);
            return new Estimate(Math.round(seconds * 1000), tables.size(), work, rate, readRate != null);
        }

        long seconds() {
            return Math.max(1, Math.round(millis / 1000.0));
        }

        String describe() {
            String rate = measured
                    ? String.format(Locale.ROOT, "%.0f MB/s, the rate this check read the largest table at", readRate / 1e6)
                    : String.format(Locale.ROOT, "%.0f MB/s assumed (no table large enough to measure)", readRate / 1e6);
            return String.format(Locale.ROOT, "about %s for one worker, roughly: %.1f s for the database and its %d"
                    + " table(s), plus %.1f MB of tables and index builds at half of %s; the target's speed, --jobs and"
                    + " more workers change it", human(seconds()), PER_DATABASE_SECONDS + PER_TABLE_SECONDS * tables,
                    tables, workBytes / 1e6, rate);
        }

        static String human(long s) {
            return s < 120 ? s + " s" : s < 7_200 ? Math.round(s / 60.0) + " min" : String.format(Locale.ROOT, "%.1f h", s / 3600.0);
        }
    }

    /** A slot may be invalidated before the initial copy ends when max_slot_wal_keep_size is below the database size. */
    private List<Finding> walKeep(Connection s, long size, boolean replication) throws SQLException {
        if (!replication || ServerCatalog.majorVersion(s) < 13) {
            return List.of();
        }
        long keepMb = longValue(s, "SELECT setting::bigint FROM pg_catalog.pg_settings WHERE name = 'max_slot_wal_keep_size'");
        if (keepMb >= 0 && keepMb << 20 < size) {
            return List.of(Finding.warning("max_slot_wal_keep_size", "the source keeps at most " + keepMb + " MB of WAL"
                    + " for a slot, less than this database (" + size / (1 << 20) + " MB): writes during the initial copy"
                    + " could get the slot invalidated (SLOT_LOST); raise it for the migration"));
        }
        return List.of();
    }

    private static String human(Duration d) {
        return d.toMillis() % 1000 == 0 ? Estimate.human(d.toSeconds()) : d.toMillis() + " ms";
    }

    private static String list(List<String> names) {
        return String.join(", ", names.subList(0, Math.min(10, names.size()))) + (names.size() > 10 ? " and "
                + (names.size() - 10) + " more" : "");
    }

    private static long longValue(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    private static List<String> strings(Connection c, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }
}
