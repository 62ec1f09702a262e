package dev.pgferry.worker.log;

import org.slf4j.MDC;

import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The log context of a task (its migration and database, which every log line shows) carried to the threads that
 * work for it: a pool's copy and index jobs, the source read ahead, the pre-data restore. Without it their lines
 * ("connection lost during COMMIT", "binary COPY not possible") named neither, and a worker running several
 * databases, or a log of many workers, did not say which one they were about. Stateless.
 */
public final class LogContext {
    private LogContext() {
    }

    /** {@code work}, to be run on another thread with the log context of the thread that calls this. */
    public static Runnable carried(Runnable work) {
        return captured().apply(work);
    }

    /**
     * What makes work run with the log context this thread has now, whichever thread runs it later (a pool's threads
     * start on the thread of the first job submitted, which may be any).
     */
    public static UnaryOperator<Runnable> captured() {
        Map<String, String> context = MDC.getCopyOfContextMap();
        return work -> () -> {
            Map<String, String> before = MDC.getCopyOfContextMap();
            set(context);
            try {
                work.run();
            } finally {
                set(before);
            }
        };
    }

    private static void set(Map<String, String> context) {
        if (context == null) {
            MDC.clear();
        } else {
            MDC.setContextMap(context);
        }
    }
}
