package dev.pgferry.cli;

import dev.pgferry.messages.Connection;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.Phase;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.time.Clock;
import java.util.List;
import java.util.Map;

/**
 * Loads and exercises what the coordinator and workers need first (JSON mapping of every message kind, Kafka client
 * configuration, the PostgreSQL driver) on a background thread while the broker's JVM starts: the CLI's JVM would
 * otherwise sit idle for those two seconds and do this work afterwards, on the critical path. Only side-effect
 * free work: nothing connects anywhere.
 */
final class Warmup {
    private Warmup() {
    }

    static void inBackground() {
        Thread t = new Thread(Warmup::run, "warmup");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        t.start();
    }

    private static void run() {
        try {
            Connection c = new Connection("127.0.0.1", 5432, "postgres", "postgres", "x", null, "disable");
            MigrationRequest r = MigrationRequest.of(c, c, Method.AUTO, List.of("a"), List.of(), List.of());
            Json.readRequestMessage(Json.write(r));
            Json.readTask(Json.write(MigrationTask.of(r, "db")));
            EventSource events = new EventSource(r.migrationId(), "db", "w", 1, Clock.systemUTC());
            for (Object e : List.of(events.accepted(r), events.planned(List.of("db")), events.started(Method.DUMP, null),
                    events.phase(Phase.DATA), events.progress(1, 2, 3, 4), events.syncing())) {
                Json.readEvent(Json.write(e));
            }
            Map<String, Object> props = Map.of("bootstrap.servers", "127.0.0.1:9");
            new ProducerConfig(Map.of("bootstrap.servers", "127.0.0.1:9", "key.serializer", StringSerializer.class,
                    "value.serializer", ByteArraySerializer.class));
            new ConsumerConfig(Map.of("bootstrap.servers", "127.0.0.1:9", "key.deserializer", StringDeserializer.class,
                    "value.deserializer", ByteArrayDeserializer.class));
            new AdminClientConfig(props);
            Class.forName("org.postgresql.Driver");
            Class.forName("org.apache.kafka.clients.admin.KafkaAdminClient");
            Class.forName("org.apache.kafka.clients.producer.KafkaProducer");
            Class.forName("org.apache.kafka.clients.consumer.KafkaConsumer");
        } catch (Exception | LinkageError e) {
            // Only a head start: whatever failed here is loaded again, for real, when it is used.
        }
    }
}
