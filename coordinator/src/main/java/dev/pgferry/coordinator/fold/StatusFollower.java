package dev.pgferry.coordinator.fold;

import dev.pgferry.bus.Bus;
import dev.pgferry.bus.TopicReplayer;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Topics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Applies the status topic's events to a {@link StatusFold}: after a restart the view is rebuilt from the latest
 * status snapshots ({@link StatusSnapshots}) and the events written after them, or from every event when there are
 * none. An event that cannot be read is logged and skipped. {@link #close()} stops it.
 */
public final class StatusFollower implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StatusFollower.class);

    private final TopicReplayer replayer;
    private final AtomicLong eventsRead = new AtomicLong();
    private volatile int snapshotsRestored;

    public StatusFollower(Bus bus, StatusFold fold, String clientId) {
        this(bus, fold, clientId, true);
    }

    /** As above; without {@code useSnapshots} the whole status topic is read (benchmarks compare both). */
    public StatusFollower(Bus bus, StatusFold fold, String clientId, boolean useSnapshots) {
        this.replayer = new TopicReplayer(bus, Topics.STATUS, clientId, () -> useSnapshots ? restore(bus, fold, clientId) : Map.of(),
                r -> {
                    eventsRead.incrementAndGet();
                    fold.apply(Json.readEvent(r.value()), r.partition(), r.offset());
                });
    }

    private Map<Integer, Long> restore(Bus bus, StatusFold fold, String clientId) {
        StatusSnapshots.Loaded loaded = StatusSnapshots.load(bus, clientId);
        try {
            fold.restore(loaded.snapshots(), loaded.positions());
        } catch (RuntimeException e) {
            LOG.warn("status snapshots not restored ({}); reading the status topic from the beginning", e.getMessage());
            return Map.of();
        }
        snapshotsRestored = loaded.snapshots().size();
        return loaded.positions();
    }

    /** The status topic exists (see {@link TopicReplayer#topicEnsured()}); before {@link #start()}. */
    public StatusFollower topicEnsured() {
        replayer.topicEnsured();
        return this;
    }

    public StatusFollower start() {
        replayer.start();
        return this;
    }

    /** Status events read from the topic since the start (those before the snapshots' position are not read). */
    public long eventsRead() {
        return eventsRead.get();
    }

    /** Migrations whose state came from a snapshot at the start. */
    public int snapshotsRestored() {
        return snapshotsRestored;
    }

    /** Whether every event that existed when the follower started has been applied. */
    public boolean caughtUp() {
        return replayer.caughtUp();
    }

    /** Waits until the follower has applied everything that existed when it started. */
    public void awaitCaughtUp(Duration timeout) throws InterruptedException {
        replayer.awaitCaughtUp(timeout);
    }

    /** Waits until every event committed before this call has been applied. */
    public void awaitCurrent(Duration timeout) throws InterruptedException {
        replayer.awaitCurrent(timeout);
    }

    @Override
    public void close() {
        replayer.close();
    }
}
