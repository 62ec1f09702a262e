package dev.pgferry.coordinator.fold;

import dev.pgferry.bus.Bus;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Topics;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Writes status snapshots, as Kafka Connect keeps the latest state of each connector in a compacted topic: every
 * period, the folded state of each migration whose status changed, then the marker with the status offsets they
 * cover. A coordinator or {@code pgferry status} starting later reads the snapshots and only the events after the
 * marker, however long the history. Nothing is written before the fold has caught up with the topic; when a write
 * fails, the same migrations are written again next time and the marker stays where it was.
 */
public final class StatusCheckpointer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StatusCheckpointer.class);

    private final Bus bus;
    private final StatusFold fold;
    private final StatusFollower follower;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "status-checkpoint");
        t.setDaemon(true);
        return t;
    });
    private Map<Integer, Long> written = Map.of();

    public StatusCheckpointer(Bus bus, StatusFold fold, StatusFollower follower) {
        this.bus = bus;
        this.fold = fold;
        this.follower = follower;
    }

    public StatusCheckpointer start(long periodMs) {
        timer.scheduleWithFixedDelay(() -> {
            try {
                checkpoint();
            } catch (RuntimeException e) {
                LOG.warn("status checkpoint failed, retried in {} ms: {}", periodMs, e.toString());
            }
        }, periodMs, periodMs, TimeUnit.MILLISECONDS);
        return this;
    }

    /** Writes the snapshots of the migrations changed since the last checkpoint, then the marker; how many. */
    public synchronized int checkpoint() {
        if (!follower.caughtUp()) {
            return 0;
        }
        StatusFold.Checkpoint c = fold.checkpoint();
        if (c.changed().isEmpty() && c.positions().equals(written)) {
            return 0;
        }
        List<String> unwritten = new ArrayList<>();
        List<Map.Entry<String, Future<RecordMetadata>>> sent = new ArrayList<>();
        for (Map.Entry<String, byte[]> e : c.changed().entrySet()) {
            if (e.getValue().length > Bus.maxRecordBytes()) {
                LOG.warn("the status snapshot of migration {} is {} bytes, more than a record may hold: its events are"
                        + " read from the status topic on every start", e.getKey(), e.getValue().length);
                unwritten.add(e.getKey());
            } else {
                sent.add(Map.entry(e.getKey(), bus.sendAsync(Topics.STATUS_SNAPSHOTS, e.getKey(), e.getValue())));
            }
        }
        RuntimeException failure = null;
        for (Map.Entry<String, Future<RecordMetadata>> s : sent) {
            try {
                s.getValue().get(2, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                unwritten.add(s.getKey());
                failure = new IllegalStateException("interrupted while writing status snapshots", e);
            } catch (Exception e) {
                unwritten.add(s.getKey());
                failure = new IllegalStateException("cannot write status snapshots: " + e, e);
            }
        }
        if (!unwritten.isEmpty()) {
            // the marker would claim events that no written snapshot holds
            fold.markChanged(unwritten);
            if (failure != null) {
                throw failure;
            }
            return sent.size();
        }
        bus.send(Topics.STATUS_SNAPSHOTS, StatusSnapshots.MARKER_KEY,
                Json.write(new StatusSnapshots.Marker(StatusFold.SNAPSHOT_VERSION, c.positions())));
        written = c.positions();
        return sent.size();
    }

    /** Stops the timer and writes a last checkpoint. */
    @Override
    public void close() {
        timer.shutdownNow();
        try {
            timer.awaitTermination(10, TimeUnit.SECONDS);
            checkpoint();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.warn("last status checkpoint not written: {}", e.toString());
        }
    }
}
