package dev.pgferry.worker.task;

import dev.pgferry.worker.log.LogContext;

import java.util.concurrent.Callable;
import java.util.concurrent.Executor;
import java.util.concurrent.FutureTask;
import java.util.concurrent.PriorityBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The {@code jobs} threads one database's copy, index builds and ANALYZE share. Work waits in one queue, index builds
 * ahead of copies: once a table's rows are in, its index builds (the longest chain of work left) take the next
 * free thread, instead of competing for the CPU with more copies than there are jobs. Within a kind, first come
 * first served. Thread-safe; {@link #close()} stops the threads.
 */
public final class JobPool implements AutoCloseable {
    /** What a job does; lower runs first. */
    public enum Kind { INDEX, COPY }

    private final ThreadPoolExecutor pool;
    private final AtomicLong sequence = new AtomicLong();

    /** Jobs run with the log context of the thread that makes the pool (see {@link LogContext}). */
    public JobPool(int jobs, String name) {
        int n = Math.max(1, jobs);
        java.util.function.UnaryOperator<Runnable> inContext = LogContext.captured();
        this.pool = new ThreadPoolExecutor(n, n, 0, TimeUnit.MILLISECONDS, new PriorityBlockingQueue<>(), r -> {
            Thread t = new Thread(inContext.apply(r), name);
            t.setDaemon(true);
            return t;
        });
    }

    private final class Job<T> extends FutureTask<T> implements Comparable<Job<?>> {
        private final Kind kind;
        private final long seq = sequence.incrementAndGet();

        Job(Kind kind, Callable<T> work) {
            super(work);
            this.kind = kind;
        }

        @Override
        public int compareTo(Job<?> o) {
            int byKind = kind.compareTo(o.kind);
            return byKind != 0 ? byKind : Long.compare(seq, o.seq);
        }
    }

    /** An executor that queues what it is given as {@code kind} (for CompletableFuture stages). */
    public Executor executor(Kind kind) {
        return r -> pool.execute(new Job<>(kind, () -> {
            r.run();
            return null;
        }));
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
