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
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
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
 * configuration and clients, the PostgreSQL driver) on a background thread while the broker's JVM starts: the CLI's
 * JVM would otherwise sit idle for those two seconds and do this work afterwards, on the critical path. Only
 * side-effect free work: no server is reached (the producer's one connection attempt goes to the loopback's discard
 * port).
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
            // Constructing the clients themselves (metrics, JMX registration, the producer's sender thread) took
            // about 0.15 s of the coordinator's start on a cold JVM. The consumer is never polled and has no offsets
            // to commit as it closes; the producer's sender asks for metadata at once: one connection attempt to
            // the discard port of the loopback, where a listener (if any) throws away what it gets.
            try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(Map.of("bootstrap.servers", "127.0.0.1:9",
                    "client.id", "pgferry-warmup", "enable.idempotence", "false", "acks", "1"), new StringSerializer(),
                    new ByteArraySerializer());
                 KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(Map.of("bootstrap.servers", "127.0.0.1:9",
                         "client.id", "pgferry-warmup", "group.id", "pgferry-warmup", "enable.auto.commit", "false"),
                         new StringDeserializer(),
                         new ByteArrayDeserializer())) {
                producer.flush();
                consumer.subscription();
            }
            Class.forName("org.postgresql.Driver");
            Class.forName("org.apache.kafka.clients.admin.KafkaAdminClient");
            Class.forName("org.apache.kafka.clients.producer.KafkaProducer");
            Class.forName("org.apache.kafka.clients.consumer.KafkaConsumer");
        } catch (Exception | LinkageError e) {
            // Only a head start: whatever failed here is loaded again, for real, when it is used.
        }
    }
}
