package dev.pgferry.coordinator.tasks;

import dev.pgferry.bus.Bus;
import dev.pgferry.bus.Stopping;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.TaskClaim;
import dev.pgferry.messages.Topics;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Queues again the task of every claim on {@value Topics#CLAIMS} that has been silent for the claim timeout: its
 * worker died or lost Kafka mid-task (see {@link Topics}). Silence is measured on this process's clock from when a
 * claim was last read, never from a timestamp written on another host; a claim read while catching up after a start
 * counts as just seen, unless this coordinator is the sole user of its Kafka ({@code soleUser}: the single-machine
 * default, whose data directory one command uses at a time): there a claim written before it started is silent
 * already, since nothing can be renewing it (its command was killed). The task is copied from its record on
 * {@value Topics#TASKS}, then the claim is deleted. Runs on its own thread; several coordinators may each run one (a
 * task queued twice runs once, see {@link Topics}).
 */
public final class ClaimReaper implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ClaimReaper.class);

    private final Bus bus;
    private final long timeoutNanos;
    /** With a sole user: when this reaper was made, on the wall clock that stamps the claims' records; else 0. */
    private final long soleSinceMillis;
    private final KafkaConsumer<String, byte[]> claims;
    private final KafkaConsumer<String, byte[]> tasks;
    private final Thread thread;
    private final Map<String, Seen> seen = new HashMap<>();
    private volatile boolean running = true;

    private record Seen(TaskClaim claim, long atNanos) {
    }

    public ClaimReaper(Bus bus, long timeoutMs) {
        this(bus, timeoutMs, false);
    }

    public ClaimReaper(Bus bus, long timeoutMs, boolean soleUser) {
        this.bus = bus;
        this.timeoutNanos = timeoutMs * 1_000_000;
        this.soleSinceMillis = soleUser ? System.currentTimeMillis() : 0;
        this.claims = new KafkaConsumer<>(bus.consumerProps(null, "pgferry-coordinator-claims"));
        this.tasks = new KafkaConsumer<>(bus.consumerProps(null, "pgferry-coordinator-requeue"));
        this.thread = new Thread(this::run, "claim-reaper");
    }

    public ClaimReaper start() {
        thread.start();
        return this;
    }

    private void run() {
        try {
            TopicPartition tp = new TopicPartition(bus.topic(Topics.CLAIMS), 0);
            claims.assign(List.of(tp));
            claims.seekToBeginning(List.of(tp));
            while (running) {
                for (ConsumerRecord<String, byte[]> r : claims.poll(Duration.ofMillis(500))) {
                    if (r.value() == null) {
                        seen.remove(r.key());
                    } else {
                        try {
                            // A claim of a killed command, for the sole user: silent since long before now.
                            long at = r.timestamp() < soleSinceMillis ? System.nanoTime() - timeoutNanos - 1
                                    : System.nanoTime();
                            seen.put(r.key(), new Seen(Json.read(r.value(), TaskClaim.class), at));
                        } catch (RuntimeException e) {
                            LOG.warn("unreadable claim {} ignored: {}", r.key(), e.toString());
                        }
                    }
                }
                long now = System.nanoTime();
                for (Map.Entry<String, Seen> e : List.copyOf(seen.entrySet())) {
                    if (now - e.getValue().atNanos() > timeoutNanos) {
                        requeue(e.getKey(), e.getValue().claim());
                    }
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            LOG.error("claim reaper stopped", e);
        } finally {
            // Assigned, not in a group: nothing to hand over, so no wait for the fetches in flight.
            claims.close(Duration.ZERO);
            tasks.close(Duration.ZERO);
        }
    }

    private void requeue(String key, TaskClaim claim) {
        try {
            Optional<ConsumerRecord<String, byte[]>> task = taskRecord(claim);
            if (task.isPresent()) {
                bus.send(Topics.TASKS, task.get().key(), task.get().value());
                LOG.warn("worker {} has not renewed its claim on task {} for {} s: queued it again", claim.workerId(),
                        claim.taskKey(), timeoutNanos / 1_000_000_000);
            } else {
                LOG.warn("the task of claim {} is no longer on {}: claim dropped", key, Topics.TASKS);
            }
            bus.claim(key, null);
            seen.remove(key);
        } catch (RuntimeException e) {
            // Kafka is away: try again on the next round.
            LOG.warn("could not queue task {} again: {}", claim.taskKey(), e.toString());
        }
    }

    private Optional<ConsumerRecord<String, byte[]>> taskRecord(TaskClaim claim) {
        TopicPartition tp = new TopicPartition(bus.topic(Topics.TASKS), claim.partition());
        tasks.assign(List.of(tp));
        long end = tasks.endOffsets(List.of(tp), Duration.ofSeconds(30)).get(tp);
        if (claim.offset() >= end) {
            return Optional.empty();
        }
        tasks.seek(tp, claim.offset());
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline && tasks.position(tp) <= claim.offset()) {
            for (ConsumerRecord<String, byte[]> r : tasks.poll(Duration.ofMillis(200))) {
                if (r.offset() == claim.offset()) {
                    return Optional.of(r);
                }
                if (r.offset() > claim.offset()) {
                    return Optional.empty();
                }
            }
        }
        return Optional.empty();
    }

    @Override
    public void close() {
        running = false;
        Stopping.pollLoop(claims, thread, 10_000);
    }
}
