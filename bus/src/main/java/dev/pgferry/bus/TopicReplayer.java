package dev.pgferry.bus;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Reads a whole topic from the beginning, without a consumer group, and keeps following it, handing every record
 * to a handler: the way state is rebuilt from a topic after a restart. Runs on its own thread; the handler is
 * called on that thread only. {@link #close()} stops it.
 */
public final class TopicReplayer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TopicReplayer.class);

    private final String topic;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Consumer<ConsumerRecord<String, byte[]>> handler;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile boolean caughtUp;

    public TopicReplayer(Bus bus, String topic, String clientId, Consumer<ConsumerRecord<String, byte[]>> handler) {
        this.topic = topic;
        this.handler = handler;
        this.consumer = new KafkaConsumer<>(bus.consumerProps(null, clientId));
        this.thread = new Thread(this::run, "replay-" + topic);
        this.thread.setDaemon(true);
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

    private void run() {
        try {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofMinutes(1)).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
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
                if (!caughtUp && end.entrySet().stream().allMatch(e -> consumer.position(e.getKey()) >= e.getValue())) {
                    caughtUp = true;
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            LOG.error("replay of {} stopped", topic, e);
        } finally {
            consumer.close();
        }
    }

    @Override
    public void close() {
        running = false;
        Stopping.pollLoop(consumer, thread, 10_000);
    }
}
