package dev.pgferry.bus;

import java.util.ArrayList;
import java.util.List;

/**
 * Stops several Kafka-backed components at once. Each close leaves a consumer group or ends a producer (a round
 * trip to the broker, and a poll loop to wind down), so stopping them one after another adds those waits up;
 * stopping them side by side costs the longest one. Stateless.
 */
public final class Stopping {
    private Stopping() {
    }

    /** Runs every stop action on its own thread and returns when all have finished (a failure is not rethrown). */
    public static void all(List<Runnable> stops) {
        List<Thread> threads = new ArrayList<>();
        for (Runnable stop : stops) {
            Thread t = new Thread(stop, "stopping");
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
