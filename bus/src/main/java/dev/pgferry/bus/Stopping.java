package dev.pgferry.bus;

import org.apache.kafka.clients.consumer.Consumer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Stopping Kafka-backed components: one poll loop ({@link #pollLoop}), or several components at once ({@link #all}).
 * Each close leaves a consumer group or ends a producer (a round trip to the broker, and a poll loop to wind down),
 * so stopping them one after another adds those waits up; stopping them side by side costs the longest one.
 * Stateless.
 */
public final class Stopping {
    private Stopping() {
    }

    /**
     * How long the close of a group member whose offsets are all committed may take: a round trip to leave its group.
     * Closed with Kafka's default timeout instead, it also waits for a rebalance in progress and for the fetch left in
     * flight, which the broker holds for {@code fetch.max.wait.ms} (500 ms) while the topic is idle.
     */
    public static final Duration LEAVE_GROUP_TIMEOUT = Duration.ofMillis(100);

    /**
     * Ends a poll loop: wakes {@code consumer} out of its poll (the loop must check its own running flag, cleared
     * by the caller first) and waits up to {@code timeoutMs} for the loop's {@code thread} to finish, which closes
     * the consumer.
     */
    public static void pollLoop(Consumer<?, ?> consumer, Thread thread, long timeoutMs) {
        consumer.wakeup();
        try {
            thread.join(timeoutMs);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
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
