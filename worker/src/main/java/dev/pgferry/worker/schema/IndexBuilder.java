package dev.pgferry.worker.schema;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.SessionPool;
import dev.pgferry.pg.SqlStates;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;

/**
 * Builds each table's indexes and constraints as soon as the table's rows are in, while other tables still copy
 * (see {@link PostDataPlan}): the table's index builds run side by side, largest first, each on its own target
 * connection; then its constraints are attached to their indexes and the table is analyzed. Each foreign key
 * between such tables is added once both of its tables are done, beside the other work, instead of after every
 * table (those that become ready together are added in one transaction). {@link #tableReady}
 * may be called from any thread; {@link #awaitAll} returns the tolerated restore errors or throws the first
 * failure. Thread-safe; the threads belong to whoever passed the executor.
 */
public final class IndexBuilder {
    private static final Logger LOG = LoggerFactory.getLogger(IndexBuilder.class);

    private final SchemaCopier schema;
    private final PostDataPlan plan;
    private final Set<String> missingRoles;
    private final SessionPool target;
    private final String dbname;
    private final Executor pool;
    private final List<CompletableFuture<List<String>>> chains = new ArrayList<>();
    private final Set<String> analyzed = Collections.synchronizedSet(new HashSet<>());
    private final Set<Long> inlined = Collections.synchronizedSet(new HashSet<>());
    /** Tables whose rows and indexes are in, and the foreign keys still waiting for one of their tables; guarded by this. */
    private final Set<Long> done = new HashSet<>();
    private final List<PostDataPlan.ForeignKey> waitingKeys;

    /** Builds run on {@code pool} ({@code jobs} threads, shared with the copy, index builds first). */
    public IndexBuilder(SchemaCopier schema, PostDataPlan plan, Set<String> missingRoles, SessionPool target,
                        Executor pool, String dbname) {
        this.schema = schema;
        this.plan = plan;
        this.missingRoles = missingRoles;
        this.target = target;
        this.dbname = dbname;
        this.pool = pool;
        this.waitingKeys = new ArrayList<>(plan.foreignKeys());
    }

    /**
     * For a table whose copy transaction can also build its indexes (a small table, copied in a batch): the
     * statements that do it, in order (index builds, then constraints and settings, then ANALYZE), and from now on
     * {@link #tableReady} leaves that table alone. Empty when the table has no early work; null when its work needs
     * pg_restore (entries restored as dumped), so it must go through {@link #tableReady}.
     */
    public List<String> takeInline(long oid) {
        PostDataPlan.TableWork work = plan.forTable(oid);
        if (work == null) {
            inlined.add(oid);
            return List.of();
        }
        if (!work.restoreEntries().isEmpty()) {
            return null;
        }
        inlined.add(oid);
        List<String> statements = new ArrayList<>();
        work.builds().forEach(b -> statements.add(b.sql()));
        statements.addAll(work.finish());
        if (work.analyze()) {
            statements.add("ANALYZE " + work.table());
            // Should the batch fail, so does the database: nothing is left to analyze at the end either way.
            analyzed.add(work.table());
        }
        return statements;
    }

    /** The rows of table {@code oid} are in: start building its indexes. */
    public void tableReady(long oid) {
        PostDataPlan.TableWork work = plan.forTable(oid);
        if (work == null) {
            return;
        }
        if (inlined.contains(oid)) {
            // Its copy transaction built them.
            tableDone(oid);
            return;
        }
        List<CompletableFuture<List<String>>> steps = new ArrayList<>();
        for (PostDataPlan.IndexBuild build : work.builds()) {
            steps.add(CompletableFuture.supplyAsync(() -> {
                execute(List.of(build.sql()));
                return List.of();
            }, pool));
        }
        if (!work.restoreEntries().isEmpty()) {
            steps.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return schema.restorePostData(missingRoles, 1, work.restoreEntries());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }, pool));
        }
        CompletableFuture<List<String>> chain = CompletableFuture.allOf(steps.toArray(CompletableFuture[]::new))
                .thenApplyAsync(done -> {
                    execute(work.finish());
                    // Its keys need its indexes and constraints, not its statistics: they start beside the ANALYZE.
                    tableDone(oid);
                    if (work.analyze()) {
                        // After the indexes: ANALYZE also gathers statistics for expression indexes.
                        execute(List.of("ANALYZE " + work.table()));
                        analyzed.add(work.table());
                    }
                    List<String> tolerated = new ArrayList<>();
                    steps.forEach(s -> tolerated.addAll(s.join()));
                    return tolerated;
                }, pool);
        synchronized (chains) {
            chains.add(chain);
        }
    }

    /**
     * Table {@code oid} holds its rows and indexes: adds the foreign keys whose tables are now both done, together,
     * as one job. Called before the job that finished the table completes, so {@link #awaitAll} waits for these too.
     */
    private void tableDone(long oid) {
        List<PostDataPlan.ForeignKey> ready = new ArrayList<>();
        synchronized (this) {
            done.add(oid);
            for (var it = waitingKeys.iterator(); it.hasNext(); ) {
                PostDataPlan.ForeignKey fk = it.next();
                if (done.contains(fk.table()) && done.contains(fk.refTable())) {
                    ready.add(fk);
                    it.remove();
                }
            }
        }
        if (!ready.isEmpty()) {
            addForeignKeys(ready);
        }
    }

    /**
     * Adds foreign keys as jobs: the keys of small tables together, in implicit transactions of at most
     * {@value #KEYS_PER_TRANSACTION} keys (one round trip and one commit each); every other key in a job of its own,
     * added NOT VALID (a brief lock on both tables, no scan) and then validated, which locks the referenced table only
     * against writes, so that the validations of keys referencing one table run side by side (a plain ADD CONSTRAINT
     * would hold both tables against each other's keys for the whole scan).
     */
    private void addForeignKeys(List<PostDataPlan.ForeignKey> keys) {
        List<String> small = keys.stream().filter(k -> k.bytes() <= SMALL_KEY_TABLE_BYTES).map(PostDataPlan.ForeignKey::sql).toList();
        for (int from = 0; from < small.size(); from += KEYS_PER_TRANSACTION) {
            job(List.of(String.join(";\n", small.subList(from, Math.min(small.size(), from + KEYS_PER_TRANSACTION)))));
        }
        // The quicker checks first: they free the tables that the longer ones would hold.
        keys.stream().filter(k -> k.bytes() > SMALL_KEY_TABLE_BYTES)
                .sorted(java.util.Comparator.comparingLong(PostDataPlan.ForeignKey::bytes)).forEach(k ->
                job(k.validated() ? List.of(k.notValidSql(), k.validateSql()) : List.of(k.sql())));
    }

    /**
     * The most keys added in one transaction. Each key locks its two tables until its transaction ends: thousands of
     * tables that reference one table copied last (a tenants table) would otherwise need more locks than a target's
     * lock table holds ({@code max_locks_per_transaction} per connection, SQLSTATE 53200). pgjdbc itself ends the
     * implicit transaction of a long multi-statement string every 256 statements or so (to bound what it must
     * buffer), an implementation detail this does not rely on.
     */
    private static final int KEYS_PER_TRANSACTION = 200;
    /** Tables up to this size have their foreign keys added together (their checks cost next to nothing). */
    private static final long SMALL_KEY_TABLE_BYTES = 1L << 20;
    private static final int FOREIGN_KEY_ATTEMPTS = 5;

    /**
     * Runs the statements in order as one job, each in its own transaction; a statement that fails with a retriable
     * SQLSTATE (two jobs that lock the same tables in opposite orders deadlock, and PostgreSQL cancels one) runs
     * again. (A job waits for the locks it needs like any session: giving up after a short lock_timeout to let other
     * work run was tried, and never got its lock while autovacuum held the table, since PostgreSQL cancels an
     * autovacuum that blocks someone only after deadlock_timeout.)
     */
    private void job(List<String> statements) {
        CompletableFuture<List<String>> job = CompletableFuture.supplyAsync(() -> {
            for (String sql : statements) {
                for (int attempt = 1; ; attempt++) {
                    try {
                        execute(List.of(sql));
                        break;
                    } catch (MigrationException e) {
                        if (!e.retriable() || attempt >= FOREIGN_KEY_ATTEMPTS) {
                            throw e;
                        }
                        LOG.info("adding foreign keys in {}: attempt {} failed ({}), trying again", dbname, attempt,
                                e.getMessage());
                    }
                }
            }
            return List.of();
        }, pool);
        synchronized (chains) {
            chains.add(job);
        }
    }

    /** Runs {@code statements} in order on one target connection (autocommit). */
    private void execute(List<String> statements) {
        if (statements.isEmpty()) {
            return;
        }
        try (SessionPool.Lease lease = target.lease(); Statement s = lease.connection().createStatement()) {
            for (String sql : statements) {
                long started = System.nanoTime();
                s.execute(sql);
                LOG.debug("{} ms: {}", (System.nanoTime() - started) / 1_000_000, sql);
            }
            lease.release();
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, "building indexes and constraints in target database "
                    + dbname, e);
        }
    }

    /** Waits for every build started so far; returns the tolerated pg_restore errors. */
    public List<String> awaitAll() {
        List<String> tolerated = new ArrayList<>();
        try {
            // Jobs may add jobs (foreign keys) before they end: wait until the list stops growing.
            for (int i = 0; ; i++) {
                CompletableFuture<List<String>> f;
                synchronized (chains) {
                    if (i == chains.size()) {
                        List<PostDataPlan.ForeignKey> left;
                        synchronized (this) {
                            left = new ArrayList<>(waitingKeys);
                            waitingKeys.clear();
                        }
                        if (left.isEmpty()) {
                            break;
                        }
                        // A table of theirs never reported done (none expected): add them now, after everything else.
                        addForeignKeys(left);
                    }
                    f = chains.get(i);
                }
                tolerated.addAll(f.get());
            }
        } catch (ExecutionException e) {
            // CompletableFuture.get() reports the cause itself, not the CompletionException a stage wrapped it in.
            Throwable cause = e.getCause();
            if (cause instanceof MigrationException m) {
                throw m;
            }
            throw new MigrationException(ErrorCode.SCHEMA_RESTORE_FAILED, null, "building indexes: " + cause, false, cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigrationException(ErrorCode.INTERNAL, "building indexes was interrupted");
        }
        return tolerated;
    }

    /** Qualified names of the tables analyzed after their indexes were built. */
    public Set<String> analyzed() {
        synchronized (analyzed) {
            return Set.copyOf(analyzed);
        }
    }
}
