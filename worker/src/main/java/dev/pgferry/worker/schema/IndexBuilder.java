package dev.pgferry.worker.schema;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Builds each table's indexes and constraints as soon as the table's rows are in, on {@code jobs} threads of its
 * own, while other tables still copy (see {@link PostDataPlan}). {@link #tableReady} may be called from any thread;
 * {@link #awaitAll} returns the tolerated restore errors or throws the first failure. {@link #close()} stops the
 * threads.
 */
public final class IndexBuilder implements AutoCloseable {
    private final SchemaCopier schema;
    private final PostDataPlan plan;
    private final Set<String> missingRoles;
    private final ExecutorService pool;
    private final List<Future<List<String>>> builds = new ArrayList<>();

    public IndexBuilder(SchemaCopier schema, PostDataPlan plan, Set<String> missingRoles, int jobs, String dbname) {
        this.schema = schema;
        this.plan = plan;
        this.missingRoles = missingRoles;
        this.pool = Executors.newFixedThreadPool(Math.max(1, jobs), r -> {
            Thread t = new Thread(r, "index-" + dbname);
            t.setDaemon(true);
            return t;
        });
    }

    /** The rows of table {@code oid} are in: start building its indexes. */
    public void tableReady(long oid) {
        List<String> entries = plan.forTable(oid);
        if (entries.isEmpty()) {
            return;
        }
        synchronized (builds) {
            builds.add(pool.submit(() -> schema.restorePostData(missingRoles, 1, entries)));
        }
    }

    /** Waits for every build started so far. */
    public List<String> awaitAll() throws IOException {
        List<String> tolerated = new ArrayList<>();
        List<Future<List<String>>> all;
        synchronized (builds) {
            all = new ArrayList<>(builds);
        }
        try {
            for (Future<List<String>> f : all) {
                tolerated.addAll(f.get());
            }
        } catch (ExecutionException e) {
            if (e.getCause() instanceof MigrationException m) {
                throw m;
            }
            throw new MigrationException(ErrorCode.SCHEMA_RESTORE_FAILED, null, "building indexes: " + e.getCause(),
                    false, e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigrationException(ErrorCode.INTERNAL, "building indexes was interrupted");
        }
        return tolerated;
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
