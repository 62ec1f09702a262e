package dev.pgferry.worker.runtime;

import dev.pgferry.bus.Bus;
import dev.pgferry.messages.StatusEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Publishes a worker's status events. Those that only say how a task goes (started, phase, progress, warning,
 * waiting, cut-over step) are handed to one sending thread and the task goes on; any other event ends something the
 * status must show (done, syncing, failed, removed, cut over...): every event handed over before it is sent and
 * flushed first, then it is written and acknowledged, so that a task's outcome is in Kafka, after everything said
 * before it, when {@link #accept} returns (or an exception says it is not). A copy thread that reports progress
 * thus never waits for a broker round trip, nor for a broker that is away (a Kafka send can block for a minute
 * while no broker answers), and a small database saves a round trip per event. One thread keeps the order; an
 * event Kafka gave up on is logged (it loses no outcome), and so is one dropped because {@value #MAX_QUEUED} are
 * waiting. Thread-safe.
 */
final class StatusPublisher implements Consumer<StatusEvent>, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StatusPublisher.class);
    /** Events waiting for the sending thread, at most (a broker away for long; each task reports every second). */
    static final int MAX_QUEUED = 10_000;

    private final Bus bus;
    private final ThreadPoolExecutor sender;

    StatusPublisher(Bus bus, String workerId) {
        this.bus = bus;
        this.sender = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(MAX_QUEUED), r -> {
            Thread t = new Thread(r, "status-" + workerId);
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public void accept(StatusEvent event) {
        if (isProgress(event)) {
            try {
                sender.execute(() -> {
                    try {
                        bus.publishAsync(event, e -> lost(event, e));
                    } catch (RuntimeException e) {
                        lost(event, e);
                    }
                });
            } catch (RejectedExecutionException e) {
                lost(event, new IllegalStateException(sender.isShutdown() ? "the worker is stopping"
                        : MAX_QUEUED + " events are waiting for Kafka"));
            }
            return;
        }
        flush();
        bus.publish(event);
    }

    /**
     * Waits until every event handed over so far has been sent and acknowledged (or given up on); when the sending
     * thread takes no more (the worker is stopping, or the queue is full), only for what Kafka has.
     */
    void flush() {
        try {
            sender.submit(() -> { }).get();
        } catch (RejectedExecutionException e) {
            // nothing more is queued behind: what is queued goes out (or is dropped) on its own
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while flushing status events", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("flushing status events: " + e.getCause(), e.getCause());
        }
        bus.flush();
    }

    private static void lost(StatusEvent event, Exception e) {
        LOG.warn("a status event of {}/{} ({}) could not be written: {}", event.migrationId(), event.dbname(),
                event.getClass().getSimpleName(), e.toString());
    }

    /** Whether the event only says how a task goes, so that losing it loses no outcome. */
    static boolean isProgress(StatusEvent event) {
        return event instanceof StatusEvent.TaskStarted || event instanceof StatusEvent.PhaseChanged
                || event instanceof StatusEvent.TaskProgress || event instanceof StatusEvent.TaskWarning
                || event instanceof StatusEvent.TaskWaiting || event instanceof StatusEvent.CutoverStep;
    }

    /** Sends what is waiting (as far as Kafka takes it), then stops the sending thread. */
    @Override
    public void close() {
        sender.shutdown();
        try {
            if (!sender.awaitTermination(5, TimeUnit.SECONDS)) {
                sender.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            sender.shutdownNow();
        }
    }
}
