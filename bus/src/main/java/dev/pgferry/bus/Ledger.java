package dev.pgferry.bus;

import dev.pgferry.messages.Json;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.messages.Topics;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * pgferry's bookkeeping of target-side steps ({@link LedgerEntry}) in the compacted topic {@value Topics#LEDGER}.
 * A key always goes to the same partition ({@code floorMod(key.hashCode(), partitions)}, stable across JVMs), so
 * {@link #read} scans one partition to its end. Writes are acknowledged by the broker before they return.
 * Callers serialize the writes of one key among themselves (the workers hold the task's target lock); a read
 * made after taking that lock sees every earlier holder's writes. Thread-safe (reads are serialized).
 */
public final class Ledger implements AutoCloseable {
    private final Bus bus;
    private final KafkaConsumer<String, byte[]> consumer;
    /** Settled entries this ledger has read or written (see {@link #readSettled}); the most recent few hundred. */
    private final Map<String, LedgerEntry> settled = java.util.Collections.synchronizedMap(
            new java.util.LinkedHashMap<>(16, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, LedgerEntry> eldest) {
                    return size() > SETTLED_KEPT;
                }
            });
    static final int SETTLED_KEPT = 256;

    public Ledger(Bus bus, String clientId) {
        this.bus = bus;
        Map<String, Object> props = bus.consumerProps(null, clientId + "-ledger");
        props.put("max.poll.records", 5_000);
        // After each poll the consumer fetches ahead, and the broker holds a fetch that finds nothing for up to
        // fetch.max.wait.ms; the next read's offset lookup queues behind it on the same connection. At the default
        // (500 ms) every read cost half a second: twice per database task.
        props.put("fetch.max.wait.ms", 10);
        this.consumer = new KafkaConsumer<>(props);
    }

    static int partition(String key) {
        return Math.floorMod(key.hashCode(), Topics.LEDGER_PARTITIONS);
    }

    /** The latest entry of {@code key}, if any. */
    public synchronized Optional<LedgerEntry> read(String key) {
        TopicPartition tp = new TopicPartition(bus.topic(Topics.LEDGER), partition(key));
        consumer.assign(List.of(tp));
        consumer.seekToBeginning(List.of(tp));
        long end = consumer.endOffsets(List.of(tp), Duration.ofSeconds(60)).get(tp);
        byte[] latest = null;
        while (consumer.position(tp, Duration.ofSeconds(60)) < end) {
            for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                if (key.equals(r.key())) {
                    latest = r.value();
                }
            }
        }
        return latest == null ? Optional.empty() : Optional.of(Json.read(latest, LedgerEntry.class));
    }

    /**
     * The entry of a key that never changes once written (a migration's roles step, done once for all its
     * databases): from memory when this ledger has read or written it before, which spares the caller the lock
     * it would otherwise take to read it (each database of a migration after the first one asked for it again).
     * Empty when this ledger has not seen it; the caller then takes its lock and {@link #readAndSettle}s (or, when
     * there is none yet, does the step and {@link #writeSettled}s).
     */
    public Optional<LedgerEntry> readSettled(String key) {
        return Optional.ofNullable(settled.get(key));
    }

    /** As {@link #read}, remembering an entry found as settled (see {@link #readSettled}). */
    public Optional<LedgerEntry> readAndSettle(String key) {
        Optional<LedgerEntry> entry = read(key);
        entry.ifPresent(e -> settled.put(key, e));
        return entry;
    }

    /** As {@link #write}, for a key whose entry never changes again (see {@link #readSettled}). */
    public void writeSettled(String key, LedgerEntry entry) {
        write(key, entry);
        settled.put(key, entry);
    }

    /** Writes the entry of {@code key} and waits for the broker's acknowledgement. */
    public void write(String key, LedgerEntry entry) {
        bus.send(new ProducerRecord<>(Topics.LEDGER, partition(key), key, Json.write(entry)));
    }

    /** Deletes the entry of {@code key} (a step to be done again), acknowledged by the broker. */
    public void delete(String key) {
        bus.send(new ProducerRecord<>(Topics.LEDGER, partition(key), key, null));
        settled.remove(key);
    }

    @Override
    public synchronized void close() {
        // Assigned, not in a group: nothing to hand over, so no wait for the fetch in flight.
        consumer.close(Duration.ZERO);
    }
}
