package dev.pgferry.coordinator.fold;

import dev.pgferry.bus.Bus;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.Topics;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Reads the whole status topic from the beginning, without a consumer group, and applies every event to a
 * {@link StatusFold}: after a restart the view is rebuilt by replay. Runs on its own thread; {@link #close()}
 * stops it. An event that cannot be read is logged and skipped (the status topic has one writer family: us).
 */
public final class StatusFollower implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StatusFollower.class);

    private final KafkaConsumer<String, byte[]> consumer;
    private final StatusFold fold;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile boolean caughtUp;

    public StatusFollower(Bus bus, StatusFold fold, String clientId) {
        this.fold = fold;
        this.consumer = new KafkaConsumer<>(bus.consumerProps(null, clientId));
        this.thread = new Thread(this::run, "status-follower");
        this.thread.setDaemon(true);
    }

    public StatusFollower start() {
        thread.start();
        return this;
    }

    /** Whether every event that existed when the follower started has been applied. */
    public boolean caughtUp() {
        return caughtUp;
    }

    /** Waits until the follower has applied everything that existed when it started. */
    public void awaitCaughtUp(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!caughtUp && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        if (!caughtUp) {
            throw new IllegalStateException("status topic was not replayed within " + timeout);
        }
    }

    private void run() {
        try {
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.STATUS, Duration.ofMinutes(1)).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (running) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    try {
                        fold.apply(Json.readEvent(record.value()));
                    } catch (MigrationException e) {
                        LOG.warn("skipping unreadable status event at {}-{}@{}: {}", record.topic(),
                                record.partition(), record.offset(), e.getMessage());
                    }
                }
                if (!caughtUp && end.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue())) {
                    caughtUp = true;
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            LOG.error("status follower stopped", e);
        } finally {
            consumer.close();
        }
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
