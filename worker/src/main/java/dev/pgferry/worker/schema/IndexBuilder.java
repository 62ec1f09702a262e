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
 * connection; then its constraints are attached to their indexes and the table is analyzed. {@link #tableReady}
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

    /** Builds run on {@code pool} ({@code jobs} threads, shared with the copy, index builds first). */
    public IndexBuilder(SchemaCopier schema, PostDataPlan plan, Set<String> missingRoles, SessionPool target,
                        Executor pool, String dbname) {
        this.schema = schema;
        this.plan = plan;
        this.missingRoles = missingRoles;
        this.target = target;
        this.dbname = dbname;
        this.pool = pool;
    }

    /** The rows of table {@code oid} are in: start building its indexes. */
    public void tableReady(long oid) {
        PostDataPlan.TableWork work = plan.forTable(oid);
        if (work == null) {
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
                    List<String> statements = new ArrayList<>(work.finish());
                    if (work.analyze()) {
                        // After the indexes: ANALYZE also gathers statistics for expression indexes.
                        statements.add("ANALYZE " + work.table());
                    }
                    execute(statements);
                    if (work.analyze()) {
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
        List<CompletableFuture<List<String>>> all;
        synchronized (chains) {
            all = new ArrayList<>(chains);
        }
        try {
            for (CompletableFuture<List<String>> f : all) {
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
