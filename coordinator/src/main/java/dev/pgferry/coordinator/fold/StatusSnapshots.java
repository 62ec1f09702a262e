package dev.pgferry.coordinator.fold;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.pgferry.bus.Bus;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Topics;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The status snapshots topic ({@value Topics#STATUS_SNAPSHOTS}): each migration's folded state under its id, and
 * under {@value #MARKER_KEY} the status offsets from which a reader of the snapshots goes on. Written by
 * {@link StatusCheckpointer}, read by {@link StatusFollower} before the status topic.
 */
public final class StatusSnapshots {
    private static final Logger LOG = LoggerFactory.getLogger(StatusSnapshots.class);

    /** Not a migration id (those are letters, digits, '-' and '_'). */
    public static final String MARKER_KEY = "~position";

    /** The marker: every event before {@code positions} (per status partition) is in the snapshots before it. */
    public record Marker(@JsonProperty("version") int version, @JsonProperty("positions") Map<Integer, Long> positions) {
    }

    /** What a reader starts from: the snapshots to restore and the marker's positions (empty: the beginning). */
    public record Loaded(Map<String, byte[]> snapshots, Map<Integer, Long> positions) {
    }

    private StatusSnapshots() {
    }

    /**
     * Reads the whole snapshots topic (compacted: about one record per migration). Snapshots of another format
     * version are not used: the status topic is then read from the beginning.
     */
    public static Loaded load(Bus bus, String clientId) {
        Map<String, byte[]> snapshots = new HashMap<>();
        Marker marker = null;
        KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(bus.consumerProps(null, clientId + "-snapshots"));
        try {
            List<PartitionInfo> info = consumer.partitionsFor(bus.topic(Topics.STATUS_SNAPSHOTS), Duration.ofMinutes(1));
            if (info == null || info.isEmpty()) {
                return new Loaded(Map.of(), Map.of());
            }
            List<TopicPartition> partitions = info.stream().map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            while (end.entrySet().stream().anyMatch(e -> consumer.position(e.getKey()) < e.getValue())) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.key() == null) {
                        continue;
                    }
                    if (r.key().equals(MARKER_KEY)) {
                        marker = r.value() == null ? null : Json.read(r.value(), Marker.class);
                    } else if (r.value() == null) {
                        snapshots.remove(r.key());
                    } else {
                        snapshots.put(r.key(), r.value());
                    }
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("status snapshots not read ({}); reading the status topic from the beginning", e.toString());
            return new Loaded(Map.of(), Map.of());
        } finally {
            // Assigned, not in a group: nothing to hand over. Closed with the default timeout it would wait for the
            // fetch left in flight, which the broker holds for fetch.max.wait.ms (500 ms) at the end of the topic:
            // half a second more for every status read (each CLI command, each coordinator start).
            consumer.close(Duration.ZERO);
        }
        if (marker != null && marker.version() != StatusFold.SNAPSHOT_VERSION) {
            LOG.info("status snapshots are of format {}, this pgferry reads {}: reading the status topic from the beginning",
                    marker.version(), StatusFold.SNAPSHOT_VERSION);
            return new Loaded(Map.of(), Map.of());
        }
        return new Loaded(snapshots, marker == null ? Map.of() : marker.positions());
    }
}
