package dev.pgferry.worker.copy;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyOut;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * Streams table data from source to target: {@code COPY ... TO STDOUT} on a connection reading the shared
 * snapshot, straight into {@code COPY ... FROM STDIN} on the target, one CopyData message at a time, so memory
 * stays bounded whatever the table size. Each table is copied in one target transaction that first truncates it,
 * so a retried table never duplicates rows ({@code FREEZE} is allowed because the truncate happened in the same
 * transaction). Tables run in parallel on {@code jobs} threads, largest first.
 */
public final class TableCopier {

    /** Called after each table with totals so far; must be thread-safe. */
    public interface Progress {
        void tableDone(int tablesDone, int tablesTotal, long rows, long bytes);
    }

    private final PgConnector source;
    private final PgConnector target;
    private final String dbname;
    private final SourceSnapshot snapshot;
    private final int jobs;

    public TableCopier(PgConnector source, PgConnector target, String dbname, SourceSnapshot snapshot, int jobs) {
        this.source = source;
        this.target = target;
        this.dbname = dbname;
        this.snapshot = snapshot;
        this.jobs = Math.max(1, jobs);
    }

    /** Copies every table; the first failure cancels the rest and is rethrown. */
    public void copyAll(List<SourceCatalog.Table> tables, Progress progress) {
        AtomicInteger done = new AtomicInteger();
        AtomicLong rows = new AtomicLong();
        AtomicLong bytes = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(jobs, Math.max(1, tables.size())), r -> {
            Thread t = new Thread(r, "copy-" + dbname);
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (SourceCatalog.Table table : tables) {
                futures.add(pool.submit(() -> {
                    long[] copied = copy(table);
                    // Counting and reporting under one lock keeps the reported totals monotonic.
                    synchronized (done) {
                        progress.tableDone(done.incrementAndGet(), tables.size(), rows.addAndGet(copied[0]),
                                bytes.addAndGet(copied[1]));
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } catch (ExecutionException e) {
            throw e.getCause() instanceof MigrationException m ? m
                    : new MigrationException(ErrorCode.COPY_FAILED, null, "copying data of " + dbname + ": " + e.getCause(),
                    false, e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigrationException(ErrorCode.INTERNAL, "copy of " + dbname + " interrupted");
        } finally {
            pool.shutdownNow();
        }
    }

    /** Copies one table; returns {rows, bytes}. */
    long[] copy(SourceCatalog.Table table) {
        String name = Sql.qualified(table.schema(), table.name());
        String columns = table.columns().isEmpty() ? ""
                : table.columns().stream().map(Sql::ident).collect(Collectors.joining(", ", "(", ")"));
        String what = "copying table " + table.schema() + "." + table.name() + " of database " + dbname;
        try (Connection in = snapshot.openReader(source, dbname); Connection out = target.open(dbname)) {
            out.setAutoCommit(false);
            try (Statement s = out.createStatement()) {
                s.execute("TRUNCATE ONLY " + name);
            }
            CopyOut reader = in.unwrap(PGConnection.class).getCopyAPI()
                    .copyOut("COPY " + name + " " + columns + " TO STDOUT (FORMAT binary)");
            CopyIn writer = null;
            long bytes = 0;
            try {
                writer = out.unwrap(PGConnection.class).getCopyAPI()
                        .copyIn("COPY " + name + " " + columns + " FROM STDIN (FORMAT binary, FREEZE)");
                byte[] chunk;
                while ((chunk = reader.readFromCopy()) != null) {
                    writer.writeToCopy(chunk, 0, chunk.length);
                    bytes += chunk.length;
                }
                long rows = writer.endCopy();
                writer = null;
                out.commit();
                in.commit();
                return new long[]{rows, bytes};
            } finally {
                // On failure, cancel whichever side is still mid-COPY so that both connections close cleanly.
                if (reader.isActive()) {
                    reader.cancelCopy();
                }
                if (writer != null && writer.isActive()) {
                    writer.cancelCopy();
                }
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.COPY_FAILED, what, e);
        }
    }
}
