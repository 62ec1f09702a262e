package dev.pgferry.worker.task;

import dev.pgferry.bus.Ledger;
import dev.pgferry.messages.CopyUnit;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.Phase;
import dev.pgferry.messages.ReplicationNames;
import dev.pgferry.messages.StatusEvent;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.SessionPool;
import dev.pgferry.pg.SqlStates;
import dev.pgferry.worker.copy.ObjectCopier;
import dev.pgferry.worker.copy.SharedUnits;
import dev.pgferry.worker.copy.SourceCatalog;
import dev.pgferry.worker.copy.SourceSnapshot;
import dev.pgferry.worker.copy.ToastCompression;
import dev.pgferry.worker.copy.TableCopier;
import dev.pgferry.worker.copy.TableSlicer;
import dev.pgferry.worker.database.DatabaseProperties;
import dev.pgferry.worker.database.ServerSettings;
import dev.pgferry.worker.log.LogContext;
import dev.pgferry.worker.replication.Removal;
import dev.pgferry.worker.roles.RoleCopier;
import dev.pgferry.worker.schema.Extensions;
import dev.pgferry.worker.schema.IndexBuilder;
import dev.pgferry.worker.schema.PreDataRestore;
import dev.pgferry.worker.schema.PostDataPlan;
import dev.pgferry.worker.schema.SchemaCopier;
import org.slf4j.MDC;

import java.io.IOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * The steps of one attempt that both methods share ({@link DumpMigration}, {@link ReplicationMigration}): the
 * source database's properties, the roles, the target database, the read of the source under a snapshot (schema
 * dump and catalog), and the copy itself (pre-data, rows, large objects, post-data, sequences, materialized views,
 * ANALYZE), then the database's properties on the target. What differs between the methods (where the snapshot
 * comes from, what happens before the read and after the copy) is theirs. Confined to the task's thread.
 */
final class CopyPipeline {
    /** Which tables the pipeline copies itself: all, or only those PostgreSQL's table sync skips. */
    enum Scope { ALL, UNLOGGED_ONLY }

    /**
     * The most statements a restore reports one by one; a schema with thousands of objects of a missing role would
     * otherwise bury the row's other warnings.
     */
    private static final int TOLERATED_SHOWN = 20;

    final MigrationTask task;
    final String db;
    final PgConnector source;
    final PgConnector target;
    final EventSource events;
    private final Consumer<StatusEvent> emit;
    private final Ledger ledger;
    private final int jobs;
    private final long splitTableBytes;
    /** Publishes the ranges of split tables as tasks any worker may take (null: this worker copies them alone). */
    private Consumer<MigrationTask> offers;
    /** The event triggers' statements, rendered from the dump, for {@link #createEventTriggers}; confined to the task. */
    private List<String> eventTriggers = List.of();
    /** The source's extensions that the user's target database already has ({@link #checkExtensions}). */
    private Set<String> keptExtensions = Set.of();

    CopyPipeline(MigrationTask task, PgConnector source, PgConnector target, EventSource events,
                 Consumer<StatusEvent> emit, Ledger ledger, int jobs, long splitTableBytes) {
        this.task = task;
        this.db = task.dbname();
        this.source = source;
        this.target = target;
        this.events = events;
        this.emit = emit;
        this.ledger = ledger;
        this.jobs = jobs;
        this.splitTableBytes = splitTableBytes;
    }

    /**
     * Offers the ranges of split tables, and large tables copied whole, to other workers through {@code publish} (see
     * {@link SharedUnits}).
     */
    CopyPipeline withOffers(Consumer<MigrationTask> publish) {
        this.offers = publish;
        return this;
    }

    /** The units this attempt shares with other workers, read under {@code snapshot}; null when it shares none. */
    private SharedUnits sharedUnits(SourceSnapshot snapshot) {
        if (offers == null) {
            return null;
        }
        return new SharedUnits(ledger, task.migrationId(), db, events.attempt(), events.workerId(), offered -> {
            long targetOid = targetDatabaseOid();
            for (SharedUnits.Offered o : offered) {
                TableSlicer.Slice slice = o.slice();
                SourceCatalog.Table t = slice.table();
                TableSlicer.Range range = slice.range();
                offers.accept(MigrationTask.copyUnit(task.request(), db, new CopyUnit(snapshot.id(), events.attempt(),
                        o.index(), o.count(), t.schema(), t.name(), t.columns(), range == null ? null : range.keyColumn(),
                        range == null ? null : range.lower(), range == null ? null : range.upper(), slice.part(),
                        slice.parts(), events.workerId(), targetOid)));
            }
        });
    }

    /** The OID of the target database this attempt copies into (a database made again gets another). */
    private long targetDatabaseOid() {
        try (Connection c = target.open(db)) {
            return ServerCatalog.currentDatabaseOid(c);
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "reading target database " + db, e);
        }
    }

    /** What the copy reads from the source under its snapshot, before anything is copied; closing it ends the snapshot. */
    record SourceRead(SourceSnapshot snapshot, List<SourceCatalog.Table> tables,
                      List<SourceCatalog.Sequence> sequences, List<SourceCatalog.MatView> matViews,
                      List<Long> largeObjects, List<SourceCatalog.ConfigTable> configTables, PostDataPlan plan,
                      PostDataPlan.Deferred postData, String toastCompression)
            implements AutoCloseable {
        @Override
        public void close() {
            snapshot.close();
        }
    }

    /**
     * The light post-data statements, their privileges ({@code DEFAULT ACL}) apart, as the roles step decides
     * whether pg_restore would have granted them. Null lists: the dump is not in UTF-8 (see
     * {@link SchemaCopier#render}), and pg_restore runs the entries.
     */
    record LightRest(List<String> statements, List<String> privileges) {
        /**
         * The statements to run: with roles that could not be created, privileges are left out, as pg_restore's
         * {@code --no-privileges} leaves them (they were granted one by one after the pre-data).
         */
        List<String> toRun(Set<String> missingRoles) {
            if (!missingRoles.isEmpty() || privileges.isEmpty()) {
                return statements;
            }
            List<String> all = new ArrayList<>(statements);
            all.addAll(privileges);
            return all;
        }
    }

    /** What one attempt's copy holds open: the schema dump, the target's sessions and the jobs' threads. */
    record Resources(SchemaCopier schema, SessionPool targetSessions, JobPool pool) implements AutoCloseable {
        @Override
        public void close() {
            try (SchemaCopier s = schema; SessionPool t = targetSessions; JobPool p = pool) {
                // closed in reverse order
            } catch (IOException e) {
                throw new MigrationException(ErrorCode.INTERNAL, null, "deleting the temporary schema dump: "
                        + e.getMessage(), false, e);
            }
        }
    }

    Resources open() {
        try {
            SchemaCopier schema = new SchemaCopier(source, target, db);
            schema.keepTargetExtensions(keptExtensions);
            // One pool of --jobs threads for copies, index builds and ANALYZE: a table's index builds (the longest
            // chain of work left once its rows are in) go ahead of further copies.
            return new Resources(schema, new SessionPool(() -> target.open(db)), new JobPool(jobs, "jobs-" + db));
        } catch (IOException e) {
            throw new MigrationException(ErrorCode.INTERNAL, null, "temporary file for the schema dump of " + db
                    + ": " + e.getMessage(), false, e);
        }
    }

    void emit(StatusEvent event) {
        emit.accept(event);
    }

    Ledger ledger() {
        return ledger;
    }

    void warn(String message) {
        emit.accept(events.warning(message));
    }

    void phase(Phase phase) {
        MDC.put("phase", phase.wireName());
        emit.accept(events.phase(phase));
    }

    /**
     * The source database's properties, read on {@code s} (a session in the source database); for a database the
     * target does not have yet, fails before anything is touched when the target ({@code t}, a session in its
     * bootstrap database) cannot give it the source's locale.
     */
    DatabaseProperties properties(TargetDatabase.Prior prior, Connection s, Connection t) {
        DatabaseProperties properties;
        try {
            properties = DatabaseProperties.read(s, db);
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SOURCE_UNREACHABLE, "reading source database " + db, e);
        }
        if (!prior.exists() || prior.ours()) {
            try {
                properties.checkLocaleOn(t);
            } catch (SQLException e) {
                throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "checking the target's locales", e);
            }
        }
        return properties;
    }

    /**
     * Fails when the target cannot create an extension that the source database ({@code s}) uses, before anything is
     * touched ({@link Extensions}); {@code t}: the task's session on the target's bootstrap database. Those that the
     * user's own target database already has are kept as they are there (the restore leaves their comments alone),
     * with a warning where such a comment differs from the source's.
     */
    void checkExtensions(TargetDatabase.Prior prior, Connection s, Connection t) {
        try {
            Map<String, String> extensions = Extensions.of(s);
            if (extensions.isEmpty()) {
                return;
            }
            boolean usersDatabase = prior.exists() && !TargetDatabase.createdByUs(prior);
            Map<String, String> inTarget = Map.of();
            if (usersDatabase) {
                try (Connection c = target.open(db)) {
                    inTarget = Extensions.of(c);
                }
            }
            Extensions.require(t, db, extensions, inTarget, usersDatabase);
            keptExtensions = extensions.keySet().stream().filter(inTarget::containsKey).collect(Collectors.toSet());
            Extensions.keptComments(extensions, inTarget).forEach(this::warn);
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "checking the extensions of " + db + " on the target", e);
        }
    }

    /**
     * The roles phase, then the schema phase up to an empty target database: whatever an earlier attempt of this
     * migration left of its replication is removed, and the target database is made ready. Returns the roles that
     * could not be created.
     */
    Set<String> rolesAndTarget(TargetDatabase targetDb, TargetDatabase.Prior prior, int attempt,
                               DatabaseProperties properties) {
        phase(Phase.ROLES);
        Set<String> missingRoles = roles();
        phase(Phase.SCHEMA);
        if (prior.ours()) {
            // A previous attempt of this migration may have left a subscription, slot or publication.
            Removal.removeQuietly(source, target, db, ReplicationNames.of(task.migrationId(), db));
        }
        targetDb.prepare(prior, attempt, properties, this::warn);
        return missingRoles;
    }

    /**
     * Runs the migration's roles step unless another task of it already did (the ledger says so, and the roles
     * lock makes the others wait meanwhile); the roles that could not be created either way. Once this worker has
     * seen the step done, its later databases of the migration take neither the lock nor a ledger read.
     */
    private Set<String> roles() {
        String key = LedgerEntry.rolesKey(task.migrationId());
        Optional<LedgerEntry> known = ledger.readSettled(key);
        if (known.isPresent()) {
            return Set.copyOf(known.get().missing());
        }
        try (TaskLock lock = TaskLock.acquireRoles(target, task.migrationId())) {
            Optional<LedgerEntry> done = ledger.readAndSettle(key);
            if (done.isPresent()) {
                return Set.copyOf(done.get().missing());
            }
            // The server-wide warnings (two sessions of their own, about 50 ms) are read while the roles are copied;
            // both end before the ledger says the step is done, so a task that dies before that does both again.
            CompletableFuture<Void> warnings = CompletableFuture.runAsync(this::serverWarnings,
                    onThreadOfItsOwn("server-warnings-" + db));
            RoleCopier.Result roles;
            try {
                roles = RoleCopier.copy(source, target, task.request(), Set.of(), this::warn);
            } catch (RuntimeException e) {
                warnings.exceptionally(x -> null).join();
                throw e;
            }
            try {
                warnings.join();
            } catch (CompletionException e) {
                throw e.getCause() instanceof RuntimeException r ? r : new MigrationException(ErrorCode.INTERNAL, null,
                        "reading the source server's databases and settings: " + e.getCause(), false, e.getCause());
            }
            ledger.writeSettled(key, LedgerEntry.rolesDone(List.copyOf(roles.missing()), roles.created()));
            return roles.missing();
        }
    }

    /**
     * Names, once per migration (with the roles), what of the source server as a whole does not arrive: databases
     * that are not migrated though not ignored, and server settings applications see that differ on the target.
     */
    private void serverWarnings() {
        try (Connection c = source.open()) {
            List<String> leftOut = ServerCatalog.leftOutDatabases(c, task.request()::ignores);
            if (!leftOut.isEmpty()) {
                warn("database(s) of the source not migrated: " + String.join("; ", leftOut));
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SOURCE_UNREACHABLE, "listing the databases of the source", e);
        }
        try {
            List<String> settings = ServerSettings.differences(source, target);
            if (!settings.isEmpty()) {
                warn(ServerSettings.describe(settings));
            }
        } catch (MigrationException e) {
            warn("server settings not compared: " + e.getMessage());
        }
    }

    /**
     * Dumps the schema under {@code snapshot} and reads the catalog under it; the result owns the snapshot (closed
     * here on failure). With {@code planIndexes}, each plain table's indexes are planned to be built as soon as its
     * rows are in; otherwise the read has no plan.
     */
    SourceRead read(SourceSnapshot snapshot, SchemaCopier schema, boolean planIndexes) {
        return read(snapshot, schema, planIndexes, () -> { });
    }

    /** As {@link #read(SourceSnapshot, SchemaCopier, boolean)}, calling {@code dumped} once the schema dump is written. */
    private SourceRead read(SourceSnapshot snapshot, SchemaCopier schema, boolean planIndexes, Runnable dumped) {
        MigrationRequest request = task.request();
        try {
            schema.dump(snapshot.id());
            dumped.run();
            return snapshot.read(reader -> {
                List<SourceCatalog.Table> tables = SourceCatalog.tables(reader, request.options().includeExtensionTables())
                        .stream().filter(t -> request.copiesTable(db, t.schema(), t.name())).toList();
                PostDataPlan.Deferred postData;
                try {
                    postData = PostDataPlan.Deferred.of(schema.postDataEntries(), reader);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                PostDataPlan plan = !planIndexes ? null : schema.planPostData(postData.others(), reader, tables.stream()
                        .map(SourceCatalog.Table::oid).collect(Collectors.toSet()));
                List<String> subscriptions = SourceCatalog.subscriptions(reader);
                if (!subscriptions.isEmpty()) {
                    warn("subscription(s) " + String.join(", ", subscriptions) + " of the source database are not"
                            + " copied: on the target they would take their publishers' changes a second time. Create"
                            + " them there when you switch over (CREATE SUBSCRIPTION ... WITH (create_slot = false,"
                            + " slot_name = ...) once the source's is disabled, to go on from the same slot)");
                }
                List<String> slots = SourceCatalog.logicalSlots(reader);
                if (!slots.isEmpty()) {
                    warn(SourceCatalog.slotsNotCopied(slots));
                }
                // With --include-extension-tables their whole tables are copied like any other.
                return new SourceRead(snapshot, tables, SourceCatalog.sequences(reader), SourceCatalog.matViews(reader),
                        SourceCatalog.largeObjects(reader), request.options().includeExtensionTables() ? List.of()
                        : SourceCatalog.configTables(reader), plan, postData, ToastCompression.ofSource(reader));
            });
        } catch (SQLException e) {
            snapshot.close();
            throw SqlStates.wrap(ErrorCode.COPY_FAILED, "reading the catalog of source database " + db, e);
        } catch (java.io.UncheckedIOException e) {
            snapshot.close();
            throw new MigrationException(ErrorCode.INTERNAL, null, "temporary file for the schema of " + db
                    + ": " + e.getCause().getMessage(), false, e.getCause());
        } catch (RuntimeException e) {
            snapshot.close();
            throw e;
        }
    }

    /**
     * Renders the light post-data entries ({@link PostDataPlan#restIsLight}) on a thread of their own (a pg_restore
     * process, no server), beside the copy.
     */
    private CompletableFuture<LightRest> renderLightRest(SchemaCopier schema, List<String> rest) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                List<String> statements = schema.render(rest.stream().filter(e -> !PostDataPlan.isPrivilege(e)).toList());
                List<String> privileges = schema.render(rest.stream().filter(PostDataPlan::isPrivilege).toList());
                return statements == null || privileges == null ? new LightRest(null, null)
                        : new LightRest(statements, privileges);
            } catch (IOException e) {
                throw new MigrationException(ErrorCode.INTERNAL, null, "temporary file for the post-data schema of "
                        + db + ": " + e.getMessage(), false, e);
            }
        }, onThreadOfItsOwn("render-" + db));
    }

    /** The rendered light post-data, or null when pg_restore must run it. */
    private static LightRest join(CompletableFuture<LightRest> lightRest) {
        if (lightRest == null) {
            return null;
        }
        try {
            LightRest r = lightRest.join();
            return r.statements() == null ? null : r;
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r
                    : new MigrationException(ErrorCode.INTERNAL, null, "rendering the post-data schema: " + e.getCause(),
                    false, e.getCause());
        }
    }

    /**
     * The source read under a snapshot exported now, on a thread of its own: with no slot to wait for, it runs
     * while the roles and the target database are prepared (none of it touches the target).
     */
    ReadAhead readAhead(SchemaCopier schema, boolean planIndexes) {
        return new ReadAhead(db, dumped -> read(SourceSnapshot.export(source, db), schema, planIndexes, dumped));
    }

    /** As {@link #readAhead(SchemaCopier, boolean)}, exporting the snapshot on {@code session}, which it takes over. */
    ReadAhead readAhead(SchemaCopier schema, boolean planIndexes, Connection session) {
        return new ReadAhead(db, dumped -> read(SourceSnapshot.export(session, source, db), schema, planIndexes, dumped));
    }

    /**
     * Everything between an empty target database and its properties: the pre-data schema (with {@link Scope#ALL},
     * restored beside the copy, which takes each table once it is there), the rows ({@code scope}),
     * large objects and extension configuration rows, the post-data schema (each plain table's indexes as soon as
     * its rows are in, when the read planned them), sequences, materialized views and ANALYZE.
     */
    void copy(Resources res, SourceRead read, Set<String> missingRoles, Scope scope, boolean replicating) {
        if (scope == Scope.ALL) {
            try (PreDataRestore preData = startPreData(res, missingRoles)) {
                copyRestored(res, read, missingRoles, scope, replicating, preData);
            }
            return;
        }
        restorePreData(res, missingRoles);
        copyRestored(res, read, missingRoles, scope, replicating, null);
    }

    /**
     * Starts restoring the pre-data section (types, tables, functions) of the schema dump, which must be written,
     * beside the copy ({@link PreDataRestore}): for {@link #copyRestored}, which copies each table once it is there.
     */
    PreDataRestore startPreData(Resources res, Set<String> missingRoles) {
        try {
            return res.schema().startPreData(missingRoles);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The pre-data section (types, tables, functions) of the schema dump, which must be written, onto the target. */
    void restorePreData(Resources res, Set<String> missingRoles) {
        try {
            warnCapped("pre-data restore: ", res.schema().restorePreData(missingRoles));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * As {@link #copy}, once the pre-data section is restored ({@link #restorePreData}), or while it is ({@code
     * preData}, not null: each table is copied once it is there, and the rest waits for the whole section).
     */
    void copyRestored(Resources res, SourceRead read, Set<String> missingRoles, Scope scope, boolean replicating,
                      PreDataRestore preData) {
        SchemaCopier schema = res.schema();
        try {
            phase(Phase.DATA);
            List<String> tolerated = new ArrayList<>();
            Set<String> analyzed = Set.of();
            String toast = ToastCompression.forTarget(res.targetSessions(), db, read.toastCompression(), this::warn);
            if (scope == Scope.ALL) {
                // When the post-data left after the tables is light enough for one session, its statements are
                // rendered while the rows copy: a pg_restore with its parallel jobs and sessions after the copy would
                // take longer than the few statements themselves.
                CompletableFuture<LightRest> lightRest = read.plan().restIsLight()
                        ? renderLightRest(schema, read.plan().rest()) : null;
                IndexBuilder indexes = new IndexBuilder(schema, read.plan(), missingRoles, res.targetSessions(),
                        res.pool().executor(JobPool.Kind.INDEX), db);
                TableCopier copier = new TableCopier(source, target, res.targetSessions(), db, read.snapshot(), jobs,
                        splitTableBytes, res.pool().executor(JobPool.Kind.COPY), this::warn)
                        .withSharedUnits(sharedUnits(read.snapshot())).withToastCompression(toast);
                if (preData != null) {
                    copier.whenCreated(preData::ready, preData::order);
                }
                copier.copyAll(read.tables(),
                        p -> emit.accept(events.progress(p)), t -> indexes.tableReady(t.oid()), t -> indexes.takeInline(t.oid()));
                if (preData != null) {
                    // large objects, extension configuration rows and the post-data need all of it
                    warnCapped("pre-data restore: ", preData.await());
                }
                copyLargeObjects(read);
                copyConfigRows(read, replicating);
                phase(Phase.POST_DATA);
                tolerated.addAll(indexes.awaitAll());
                analyzed = indexes.analyzed();
                LightRest light = join(lightRest);
                tolerated.addAll(light != null ? schema.runScript(light.toRun(missingRoles), missingRoles)
                        : schema.restorePostData(missingRoles, jobs, read.plan().rest()));
                tolerated.addAll(schema.restorePublications(read.postData().publications(), missingRoles));
                tolerated.addAll(deferEventTriggers(schema, read, missingRoles));
            } else {
                // The tables PostgreSQL's table sync skips; their indexes come with the whole post-data section.
                new TableCopier(source, target, res.targetSessions(), db, read.snapshot(), jobs, splitTableBytes,
                        res.pool().executor(JobPool.Kind.COPY), this::warn)
                        .withToastCompression(toast)
                        .copyAll(
                        read.tables().stream().filter(SourceCatalog.Table::unlogged).toList(),
                        p -> emit.accept(events.progress(p)), t -> { }, t -> List.of());
                copyLargeObjects(read);
                copyConfigRows(read, replicating);
                phase(Phase.POST_DATA);
                tolerated.addAll(schema.restorePostData(missingRoles, jobs, read.postData().others()));
                tolerated.addAll(schema.restorePublications(read.postData().publications(), missingRoles));
                tolerated.addAll(deferEventTriggers(schema, read, missingRoles));
            }
            warnCapped("post-data restore: ", tolerated);
            try (SessionPool.Lease lease = res.targetSessions().lease()) {
                Connection writer = lease.connection();
                ObjectCopier.copySequences(read.sequences(), writer);
                ObjectCopier.refreshMatViews(read.matViews(), writer);
                writer.setAutoCommit(true);
                lease.release();
            }
            phase(Phase.ANALYZE);
            schema.analyzeExcept(analyzed, jobs, res.pool().executor(JobPool.Kind.INDEX), res.targetSessions());
            if (replicating && !read.largeObjects().isEmpty()) {
                warn(read.largeObjects().size() + " large object(s) were copied now; logical replication does not"
                        + " carry later changes to large objects: pgferry cutover copies what changed, while the"
                        + " source's writes are blocked (pgferry remove --final-copy, without blocking them)");
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.COPY_FAILED, "migrating database " + db, e);
        } catch (IOException e) {
            throw new MigrationException(ErrorCode.INTERNAL, null, "temporary file for the schema of " + db
                    + ": " + e.getMessage(), false, e);
        }
    }

    /** The finish phase's common step: the source database's properties (settings, comment, owner...) on the target. */
    void finish(TargetDatabase targetDb, DatabaseProperties properties, Set<String> missingRoles) {
        phase(Phase.FINISH);
        targetDb.applyProperties(properties, missingRoles, this::warn);
    }

    private void copyLargeObjects(SourceRead read) throws SQLException {
        if (read.largeObjects().isEmpty()) {
            return;
        }
        try (Connection writer = target.open(db)) {
            read.snapshot().read(reader -> {
                ObjectCopier.copyLargeObjects(read.largeObjects(), reader, writer);
                return null;
            });
        }
    }

    /** The user's rows of extension configuration tables (e.g. a custom srid in postgis' spatial_ref_sys). */
    private void copyConfigRows(SourceRead read, boolean replicating) throws SQLException {
        List<SourceCatalog.ConfigTable> tables = read.configTables();
        if (tables.isEmpty()) {
            return;
        }
        long rows;
        try (Connection writer = target.open(db)) {
            rows = read.snapshot().read(reader -> ObjectCopier.copyConfigRows(tables, reader, writer));
        }
        if (replicating && rows > 0) {
            warn(rows + " row(s) of extension configuration tables ("
                    + String.join(", ", tables.stream().map(SourceCatalog.ConfigTable::displayName).toList())
                    + ") were copied now; logical replication does not carry later changes to them: pgferry cutover"
                    + " copies them again, while the source's writes are blocked");
        }
    }

    /**
     * Renders the event triggers now, while the dump is there, for {@link #createEventTriggers}; a dump not in UTF-8
     * (which pgferry does not render) has them restored now.
     */
    private List<String> deferEventTriggers(SchemaCopier schema, SourceRead read, Set<String> missingRoles) throws IOException {
        List<String> entries = read.postData().eventTriggers();
        if (entries.isEmpty()) {
            return List.of();
        }
        List<String> statements = schema.render(entries);
        if (statements == null) {
            return schema.restorePostData(missingRoles, 1, entries);
        }
        eventTriggers = statements;
        return List.of();
    }

    /**
     * Creates the database's event triggers as its last schema step, once pgferry's own DDL on the target is over
     * (materialized views refreshed, publications, the subscription), as pg_restore restores them last: a trigger
     * that refuses DDL would refuse that DDL and fail the database. One the target refuses for good (only a
     * superuser may create one) is a warning.
     */
    void createEventTriggers() {
        warnCapped("post-data restore: ", SchemaCopier.runSkipping(target, db, eventTriggers, "event trigger"));
        eventTriggers = List.of();
    }

    private void warnCapped(String prefix, List<String> tolerated) {
        tolerated.stream().limit(TOLERATED_SHOWN).forEach(e -> warn(prefix + e));
        if (tolerated.size() > TOLERATED_SHOWN) {
            warn(prefix + (tolerated.size() - TOLERATED_SHOWN) + " more statement(s) naming the"
                    + " same roles were not applied");
        }
    }

    /** Runs each task given on a new daemon thread called {@code name}, in the log context of the one that gives it. */
    private static java.util.concurrent.Executor onThreadOfItsOwn(String name) {
        return r -> {
            Thread t = new Thread(LogContext.carried(r), name);
            t.setDaemon(true);
            t.start();
        };
    }

    /**
     * The source read ({@link #read}) running on a thread of its own. {@link #awaitDump} waits until its schema
     * dump is written (the pre-data section can then be restored while the catalog is still being read);
     * {@link #take} waits for all of it and hands its snapshot to the caller; closed without a take, it closes the
     * snapshot once the read ends.
     */
    static final class ReadAhead implements AutoCloseable {
        private final CompletableFuture<SourceRead> future;
        private final CompletableFuture<Void> dumped = new CompletableFuture<>();
        private boolean taken;

        /** {@code read} is given what to call once the schema dump is written. */
        ReadAhead(String db, java.util.function.Function<Runnable, SourceRead> read) {
            this.future = CompletableFuture.supplyAsync(() -> read.apply(() -> dumped.complete(null)),
                    onThreadOfItsOwn("read-ahead-" + db));
            future.whenComplete((r, e) -> {
                if (e != null) {
                    dumped.completeExceptionally(e);
                }
            });
        }

        /** Waits until the schema dump is written; throws what made the read fail before that. */
        void awaitDump() {
            try {
                dumped.join();
            } catch (CompletionException e) {
                take(); // the read failed: this throws its failure
                throw e;
            }
        }

        SourceRead take() {
            try {
                SourceRead read = future.join();
                taken = true;
                return read;
            } catch (CompletionException e) {
                throw e.getCause() instanceof RuntimeException r ? r
                        : new MigrationException(ErrorCode.INTERNAL, null, "reading the source: " + e.getCause(), false, e.getCause());
            }
        }

        @Override
        public void close() {
            if (!taken) {
                try {
                    future.join().close();
                } catch (CompletionException e) {
                    // the read failed and closed its snapshot itself
                }
            }
        }
    }
}
