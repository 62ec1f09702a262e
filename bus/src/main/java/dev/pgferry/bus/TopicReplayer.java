package dev.pgferry.bus;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Reads a whole topic from the beginning (or from given offsets), without a consumer group, and keeps following it, handing every record
 * to a handler: the way state is rebuilt from a topic after a restart. Runs on its own thread; the handler is
 * called on that thread only. {@link #close()} stops it.
 */
public final class TopicReplayer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TopicReplayer.class);

    private final String topic;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Consumer<ConsumerRecord<String, byte[]>> handler;
    private final Supplier<Map<Integer, Long>> start;
    private final Thread thread;
    private final Bus bus;
    /** The next offset to handle, per partition, as of the end of the latest poll. */
    private final Map<TopicPartition, Long> positions = new ConcurrentHashMap<>();
    private volatile boolean running = true;
    private volatile boolean caughtUp;
    private volatile boolean ensured;

    public TopicReplayer(Bus bus, String topic, String clientId, Consumer<ConsumerRecord<String, byte[]>> handler) {
        this(bus, topic, clientId, Map::of, handler);
    }

    /**
     * As above, starting each partition at the offset {@code start} gives for it (called once, on the replay's
     * thread, before the first read), or at the beginning.
     */
    public TopicReplayer(Bus bus, String topic, String clientId, Supplier<Map<Integer, Long>> start,
                         Consumer<ConsumerRecord<String, byte[]>> handler) {
        this.start = start;
        this.topic = bus.topic(topic);
        this.bus = bus;
        this.handler = handler;
        this.consumer = new KafkaConsumer<>(bus.consumerProps(null, clientId));
        this.thread = new Thread(this::run, "replay-" + topic);
        this.thread.setDaemon(true);
    }

    /**
     * Says that the topic exists (its owner created it before this replay, as a coordinator does): a broker that
     * answers without the topic's partitions, as one may just after it started, is then asked again instead of
     * the replay being caught up on an empty topic, which would show the state as empty. Call before
     * {@link #start()}.
     */
    public TopicReplayer topicEnsured() {
        this.ensured = true;
        return this;
    }

    public TopicReplayer start() {
        thread.start();
        return this;
    }

    /** Whether every record that existed when the replay started has been handled. */
    public boolean caughtUp() {
        return caughtUp;
    }

    /** Waits until every record that existed at the start has been handled. */
    public void awaitCaughtUp(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!caughtUp && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        if (!caughtUp) {
            throw new IllegalStateException(topic + " was not replayed within " + timeout);
        }
    }

    /**
     * Waits until every record committed to the topic before this call has been handled: the view is current as of
     * now, not only as of the replay's start (a request about a migration must see every event written before it).
     */
    public void awaitCurrent(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<TopicPartition, Long> end;
        try (Admin admin = Admin.create(bus.adminProps())) {
            List<TopicPartition> partitions = admin.describeTopics(List.of(topic)).allTopicNames()
                    .get(timeout.toMillis(), TimeUnit.MILLISECONDS).get(topic).partitions().stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            end = admin.listOffsets(partitions.stream().collect(Collectors.toMap(p -> p, p -> OffsetSpec.latest())),
                            new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all()
                    .get(timeout.toMillis(), TimeUnit.MILLISECONDS).entrySet().stream()
                    .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("could not read the end of " + topic + ": " + e, e);
        }
        while (System.nanoTime() < deadline) {
            if (end.entrySet().stream().allMatch(e -> positions.getOrDefault(e.getKey(), 0L) >= e.getValue())) {
                return;
            }
            Thread.sleep(20);
        }
        throw new IllegalStateException(topic + " was not read up to its end within " + timeout);
    }

    private void run() {
        try {
            List<TopicPartition> partitions = partitions();
            while (partitions.isEmpty()) {
                // No such topic yet (a reader of a broker nothing was ever written to): nothing to replay, so the
                // replay is caught up; it starts once the topic exists. Unless the topic is known to exist.
                caughtUp = !ensured;
                Thread.sleep(ensured ? 200 : 1_000);
                if (!running) {
                    return;
                }
                partitions = partitions();
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<Integer, Long> from = start.get();
            for (TopicPartition p : partitions) {
                Long offset = from.get(p.partition());
                if (offset != null) {
                    consumer.seek(p, offset);
                }
            }
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (running) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    try {
                        handler.accept(record);
                    } catch (RuntimeException e) {
                        LOG.warn("skipping record {}-{}@{}: {}", record.topic(), record.partition(), record.offset(),
                                e.getMessage());
                    }
                }
                for (TopicPartition p : partitions) {
                    positions.put(p, consumer.position(p));
                }
                if (!caughtUp && end.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue())) {
                    caughtUp = true;
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.error("replay of {} stopped", topic, e);
        } finally {
            // Assigned, not in a group: nothing to hand over, so no wait for the fetch in flight.
            consumer.close(Duration.ZERO);
        }
    }

    private List<TopicPartition> partitions() {
        List<org.apache.kafka.common.PartitionInfo> info = consumer.partitionsFor(topic, Duration.ofMinutes(1));
        return info == null ? List.of() : info.stream().map(p -> new TopicPartition(p.topic(), p.partition())).toList();
    }

    @Override
    public void close() {
        running = false;
        Stopping.pollLoop(consumer, thread, 10_000);
    }
}
