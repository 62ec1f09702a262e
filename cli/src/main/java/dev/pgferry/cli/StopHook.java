package dev.pgferry.cli;

import java.util.concurrent.Callable;

/**
 * Work of a single-machine command that must not be cut off by Ctrl-C or SIGTERM as the JVM would cut it off: while
 * it runs, a shutdown hook runs {@code onStop} (which stops the work properly and reports) before the JVM exits.
 */
final class StopHook {
    private StopHook() {
    }

    /**
     * Runs {@code work} with {@code onStop} as a shutdown hook; returns work's result, or null when the JVM is stopping:
     * the hook has ended then, and the JVM exits right after (so the caller should only return).
     */
    static <T> T guarded(Callable<T> work, Runnable onStop) throws Exception {
        Thread hook = new Thread(onStop, "pgferry-interrupted");
        Runtime.getRuntime().addShutdownHook(hook);
        T result;
        try {
            result = work.call();
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException stopping) {
                hook.join();
                result = null;
            }
        }
        return result;
    }
}
