package dev.pgferry.cli;

import java.util.List;
import java.util.concurrent.CountDownLatch;

/** Runs long-lived services until the process is told to stop (SIGTERM, SIGINT). */
final class Daemon {
    private Daemon() {
    }

    /**
     * Blocks until shutdown; the shutdown hook closes {@code resources} in reverse order before the JVM exits,
     * so a stopped coordinator or worker leaves its consumer group cleanly.
     */
    static int runUntilStopped(AutoCloseable... resources) throws InterruptedException {
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            List<AutoCloseable> list = List.of(resources);
            for (int i = list.size() - 1; i >= 0; i--) {
                try {
                    list.get(i).close();
                } catch (Exception e) {
                    System.err.println("pgferry: error while stopping: " + e);
                }
            }
            closed.countDown();
        }, "pgferry-shutdown"));
        closed.await();
        return 0;
    }
}
