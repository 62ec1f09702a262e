package dev.pgferry.bus;

import dev.pgferry.messages.Json;
import dev.pgferry.messages.Redaction;
import dev.pgferry.messages.StatusEvent;
import dev.pgferry.messages.TaskClaim;
import dev.pgferry.messages.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * One process's connection to the pgferry topics (see {@link Topics}): client settings, topic creation and a
 * producer whose sends are synchronous, so that "written" means acknowledged by the broker (but for
 * {@link #publishAsync}, which a worker uses for the status events that do not end a task). Thread-safe (the
 * Kafka producer is).
 */
public final class Bus implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Bus.class);

    /**
     * What the requests and dead-letter topics accept: more than a request may be ({@link Json#MAX_MESSAGE_BYTES}),
     * so that an oversized request reaches the coordinator and is dead-lettered with its reason.
     */
    static final int TOPIC_MAX_MESSAGE_BYTES = 4 * Json.MAX_MESSAGE_BYTES;

    private final KafkaSettings settings;
    private final KafkaProducer<String, byte[]> producer;

    public Bus(String bootstrapServers, String clientId) {
        this(KafkaSettings.of(bootstrapServers), clientId, null);
    }

    public Bus(KafkaSettings settings, String clientId) {
        this(settings, clientId, null);
    }

    /**
     * A bus whose writes happen in Kafka transactions ({@link #begin()} ... {@link #commit}), for a reader that
     * must turn each input message into its outputs exactly once. A second instance with the same
     * {@code transactionalId} fences the first: its open transaction is aborted and it can no longer write.
     */
    public Bus(KafkaSettings settings, String clientId, String transactionalId) {
        this.settings = settings;
        Map<String, Object> p = producerProps(settings, clientId, transactionalId);
        this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        if (transactionalId != null) {
            try {
                producer.initTransactions();
            } catch (RuntimeException e) {
                producer.close(java.time.Duration.ZERO);
                throw refused(e);
            }
        }
    }

    /** The settings of a bus's producer; {@code transactionalId} null for one that writes outside transactions. */
    static Map<String, Object> producerProps(KafkaSettings settings, String clientId, String transactionalId) {
        Map<String, Object> p = new HashMap<>(settings.client());
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        p.put(ProducerConfig.CLIENT_ID_CONFIG, clientId + "-producer");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, TOPIC_MAX_MESSAGE_BYTES + 1024);
        if (transactionalId != null) {
            p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, settings.name(transactionalId));
            // A transactional producer finds the group's coordinator before the first offsets it adds to a
            // transaction, and the Kafka client then waits out retry.backoff.ms (100 ms by default) before it sends
            // them (seen in its DEBUG log: the coordinator found, the offsets sent 100 ms later); its
            // initTransactions took as much longer. Both are on the path of the first request a coordinator takes,
            // and so of every `./pgferry migrate` (BENCHMARKS.md). Retries after real errors still back off
            // exponentially, up to retry.backoff.max.ms (1 s). A value given in the Kafka settings is kept.
            p.putIfAbsent(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, 10);
        }
        return p;
    }

    /** Starts a transaction (transactional buses only). */
    public void begin() {
        producer.beginTransaction();
    }

    /** Commits the writes of the open transaction together with the consumer offsets that produced them. */
    public void commit(Map<TopicPartition, OffsetAndMetadata> offsets, ConsumerGroupMetadata group) {
        producer.sendOffsetsToTransaction(offsets, group);
        producer.commitTransaction();
    }

    /** Aborts the open transaction: none of its writes become visible to read_committed readers. */
    public void abort() {
        producer.abortTransaction();
    }

    public String bootstrapServers() {
        return settings.bootstrapServers();
    }

    public KafkaSettings settings() {
        return settings;
    }

    /**
     * The name in Kafka of pgferry's topic {@code name} ({@link Topics}): with {@code --topic-prefix}, the prefix and
     * the name. Writes through this bus and the groups of {@link #consumerProps} are named so already; a reader
     * that assigns or subscribes to a topic itself names it with this.
     */
    public String topic(String name) {
        return settings.name(name);
    }

    /**
     * A clearer error for a broker that refused pgferry's credentials or TLS handshake (the broker's message
     * names no secret); other errors unchanged.
     */
    RuntimeException refused(Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof org.apache.kafka.common.errors.AuthenticationException) {
                return new IllegalStateException("Kafka at " + settings.bootstrapServers() + " refused pgferry's"
                        + " credentials or TLS handshake (" + c.getClass().getSimpleName() + ": " + c.getMessage()
                        + "); check security.protocol, sasl.mechanism, sasl.jaas.config and ssl.truststore.* in"
                        + " --kafka-config (or PGFERRY_KAFKA_* variables)", c);
            }
            if (c instanceof org.apache.kafka.common.errors.AuthorizationException) {
                return new IllegalStateException("Kafka at " + settings.bootstrapServers() + " does not allow pgferry's"
                        + " user this (" + c.getClass().getSimpleName() + ": " + c.getMessage() + "); grant it the"
                        + " topic, group and transactional-id ACLs the README lists", c);
            }
        }
        return e instanceof RuntimeException r ? r : new IllegalStateException(e.toString(), e);
    }

    /** Settings for a consumer of this bus; offsets are committed by the caller, never automatically. */
    public Map<String, Object> consumerProps(String groupId, String clientId) {
        Map<String, Object> c = new HashMap<>(settings.client());
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        if (groupId != null) {
            c.put(ConsumerConfig.GROUP_ID_CONFIG, settings.name(groupId));
        }
        c.put(ConsumerConfig.CLIENT_ID_CONFIG, clientId);
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, TOPIC_MAX_MESSAGE_BYTES + 1024);
        return c;
    }

    /** Settings for an admin client of this bus. */
    public Map<String, Object> adminProps() {
        Map<String, Object> a = new HashMap<>(settings.client());
        a.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        return a;
    }

    /**
     * Removes every member of the consumer {@code groups} (of a broker reached without settings: the single-machine
     * one), dynamic ones included: for a caller that knows them all gone, whose sessions would otherwise be waited
     * out. Best effort: a group that does not exist, or a removal that fails, is left as it is.
     */
    public static void removeAllMembers(String bootstrapServers, String... groups) {
        try (Admin admin = Admin.create(Map.<String, Object>of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers))) {
            for (String group : groups) {
                try {
                    admin.removeMembersFromConsumerGroup(group, new RemoveMembersFromConsumerGroupOptions()).all()
                            .get(30, TimeUnit.SECONDS);
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    LOG.debug("members of group {} not removed: {}", group, e.toString());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Creates the pgferry topics that do not exist yet. Safe to call from every process at start. */
    public void ensureTopics() {
        Map<String, Object> a = new HashMap<>(adminProps());
        try (Admin admin = Admin.create(a)) {
            Set<String> existing = admin.listTopics().names().get(60, TimeUnit.SECONDS);
            // The status topic is replayed to rebuild every view: it must never lose events to retention.
            Map<String, String> keepForever = Map.of("retention.ms", "-1", "retention.bytes", "-1");
            Map<String, String> keepForeverLarge = Map.of("retention.ms", "-1", "retention.bytes", "-1",
                    "max.message.bytes", Integer.toString(TOPIC_MAX_MESSAGE_BYTES));
            List<NewTopic> wanted = List.of(
                    new NewTopic(topic(Topics.REQUESTS), 3, (short) -1).configs(keepForeverLarge),
                    new NewTopic(topic(Topics.TASKS), Topics.TASK_PARTITIONS, (short) -1),
                    new NewTopic(topic(Topics.STATUS), 3, (short) -1).configs(keepForever),
                    new NewTopic(topic(Topics.DEAD_LETTERS), 1, (short) -1).configs(keepForeverLarge),
                    // The claims of running tasks: only the latest of each key matters, and most end as a tombstone.
                    new NewTopic(topic(Topics.CLAIMS), 1, (short) -1).configs(Map.of("cleanup.policy", "compact",
                            "segment.ms", Long.toString(java.time.Duration.ofHours(1).toMillis()),
                            "delete.retention.ms", Long.toString(java.time.Duration.ofHours(1).toMillis()))),
                    // The latest snapshot of each migration's status, and the marker: compaction keeps the latest of each.
                    new NewTopic(topic(Topics.STATUS_SNAPSHOTS), 1, (short) -1).configs(Map.of("cleanup.policy", "compact",
                            "max.message.bytes", Integer.toString(TOPIC_MAX_MESSAGE_BYTES),
                            "segment.ms", Long.toString(java.time.Duration.ofHours(1).toMillis()))),
                    // One entry per key is all a reader needs; compaction keeps the latest of each for ever.
                    new NewTopic(topic(Topics.LEDGER), Topics.LEDGER_PARTITIONS, (short) -1).configs(Map.of(
                            "cleanup.policy", "compact", "segment.ms", Long.toString(java.time.Duration.ofHours(6).toMillis()))));
            List<NewTopic> missing = wanted.stream().filter(t -> !existing.contains(t.name())).toList();
            if (missing.isEmpty()) {
                return;
            }
            try {
                admin.createTopics(missing).all().get(60, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw e;
                }
            }
            LOG.info("created topics {}", missing.stream().map(NewTopic::name).toList());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating topics", e);
        } catch (Exception e) {
            RuntimeException clear = refused(e);
            if (clear != e) {
                throw clear;
            }
            throw new IllegalStateException("cannot create the pgferry topics on " + settings.bootstrapServers() + ": " + e, e);
        }
    }

    /** Sends and waits for the broker's acknowledgement. */
    public void send(String topic, String key, byte[] value) {
        send(new ProducerRecord<>(topic, key, value));
    }

    /** The largest record value a pgferry topic takes. */
    public static int maxRecordBytes() {
        return TOPIC_MAX_MESSAGE_BYTES;
    }

    /** Sends without waiting; {@link java.util.concurrent.Future#get()} tells whether the broker took it. */
    public java.util.concurrent.Future<org.apache.kafka.clients.producer.RecordMetadata> sendAsync(String topic, String key,
                                                                                              byte[] value) {
        return producer.send(new ProducerRecord<>(topic(topic), key, value));
    }

    /** Sends {@code logical} (whose topic is one of {@link Topics}) to this installation's topic of that name. */
    void send(ProducerRecord<String, byte[]> logical) {
        ProducerRecord<String, byte[]> record = new ProducerRecord<>(topic(logical.topic()), logical.partition(),
                logical.timestamp(), logical.key(), logical.value(), logical.headers());
        try {
            producer.send(record).get(2, TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while writing to " + record.topic(), e);
        } catch (Exception e) {
            RuntimeException clear = refused(e);
            throw clear != e ? clear : new IllegalStateException("cannot write to " + record.topic() + ": " + e, e);
        }
    }

    /** Writes (or, with a null claim, deletes) the claim of the task record {@code key}, acknowledged by the broker. */
    public void claim(String key, TaskClaim claim) {
        send(Topics.CLAIMS, key, claim == null ? null : Json.write(claim));
    }

    /** Publishes a status event, keyed by migration id so that one migration's events stay in order. */
    public void publish(StatusEvent event) {
        send(Topics.STATUS, event.migrationId(), Json.write(event));
    }

    /**
     * Publishes a status event without waiting for the broker; {@code failed} gets the reason if it is never written
     * (Kafka gave up: the broker was unreachable for {@code delivery.timeout.ms}). The events of one migration keep
     * their order, before and after {@link #publish} (one idempotent producer, one partition per migration key).
     */
    public void publishAsync(StatusEvent event, java.util.function.Consumer<Exception> failed) {
        producer.send(new ProducerRecord<>(topic(Topics.STATUS), event.migrationId(), Json.write(event)), (meta, e) -> {
            if (e != null) {
                failed.accept(e);
            }
        });
    }

    /**
     * Learns where the pgferry topic {@code name}'s partitions are, ahead of a first send to it, which otherwise waits
     * for that round trip first.
     */
    public void prepare(String name) {
        producer.partitionsFor(topic(name));
    }

    /** Waits until every record sent so far is written or has failed (see {@link #publishAsync}). */
    public void flush() {
        producer.flush();
    }

    /**
     * Moves a message that cannot be handled to the dead-letter topic with the reason: its bytes unchanged, except
     * that passwords in it are replaced by {@code ***} (see {@link Redaction}).
     */
    public void deadLetter(ConsumerRecord<String, byte[]> record, String reason) {
        ProducerRecord<String, byte[]> dead = new ProducerRecord<>(Topics.DEAD_LETTERS, null, record.key(),
                Redaction.redact(record.value()),
                List.of(new RecordHeader(Topics.REASON_HEADER, reason.getBytes(StandardCharsets.UTF_8)),
                        new RecordHeader(Topics.SOURCE_TOPIC_HEADER, record.topic().getBytes(StandardCharsets.UTF_8))));
        send(dead);
        LOG.warn("moved message at {}-{}@{} to {}: {}", record.topic(), record.partition(), record.offset(),
                Topics.DEAD_LETTERS, reason);
    }

    @Override
    public void close() {
        producer.close();
    }
}
