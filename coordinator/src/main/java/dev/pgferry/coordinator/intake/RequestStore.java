package dev.pgferry.coordinator.intake;

import dev.pgferry.bus.Bus;
import dev.pgferry.bus.TopicReplayer;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.Request;
import dev.pgferry.messages.Topics;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every migration request ever submitted, by migration id, rebuilt by replaying the requests topic: how the
 * coordinator knows a migration's servers when asked to remove it or to measure its replication lag. Holds
 * passwords in memory only. Thread-safe.
 */
public final class RequestStore implements AutoCloseable {
    private final Map<String, MigrationRequest> requests = new ConcurrentHashMap<>();
    private final TopicReplayer replayer;

    public RequestStore(Bus bus) {
        this.replayer = new TopicReplayer(bus, Topics.REQUESTS, "pgferry-coordinator-requests", r -> {
            Request request = Json.readRequestMessage(r.value());
            if (request instanceof MigrationRequest m) {
                requests.putIfAbsent(m.migrationId(), m);
            }
        }).topicEnsured();
    }

    public RequestStore start() {
        replayer.start();
        return this;
    }

    public Optional<MigrationRequest> get(String migrationId) {
        return Optional.ofNullable(requests.get(migrationId));
    }

    /** Waits (bounded) for a request that was published before a message referring to it. */
    public Optional<MigrationRequest> await(String migrationId, Duration timeout) throws InterruptedException {
        long start = System.nanoTime();
        while (!requests.containsKey(migrationId) && System.nanoTime() - start < timeout.toNanos()) {
            // Once the replay has caught up, a short grace covers a request written just before.
            if (replayer.caughtUp() && System.nanoTime() - start > Duration.ofSeconds(2).toNanos()) {
                break;
            }
            Thread.sleep(20);
        }
        return get(migrationId);
    }

    @Override
    public void close() {
        replayer.close();
    }
}
