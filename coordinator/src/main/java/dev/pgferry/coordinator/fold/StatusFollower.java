package dev.pgferry.coordinator.fold;

import dev.pgferry.bus.Bus;
import dev.pgferry.bus.TopicReplayer;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Topics;

import java.time.Duration;

/**
 * Applies every event of the status topic, from the beginning, to a {@link StatusFold}: after a restart the view
 * is rebuilt by replay. An event that cannot be read is logged and skipped. {@link #close()} stops it.
 */
public final class StatusFollower implements AutoCloseable {
    private final TopicReplayer replayer;

    public StatusFollower(Bus bus, StatusFold fold, String clientId) {
        this.replayer = new TopicReplayer(bus, Topics.STATUS, clientId, r -> fold.apply(Json.readEvent(r.value())));
    }

    public StatusFollower start() {
        replayer.start();
        return this;
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
