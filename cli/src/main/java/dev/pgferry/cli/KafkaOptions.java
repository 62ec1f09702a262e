package dev.pgferry.cli;

import dev.pgferry.bus.KafkaSettings;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/**
 * {@code --kafka-config} and {@code --topic-prefix}: how a command that talks to a running pgferry reaches its
 * Kafka and names its topics.
 */
final class KafkaOptions {
    @Option(names = "--kafka-config", paramLabel = "FILE",
            description = "Kafka client settings for every producer, consumer and admin client of this process, as Java"
                    + " properties (security.protocol, ssl.*, sasl.*, ...). PGFERRY_KAFKA_CONFIG names such a file;"
                    + " PGFERRY_KAFKA_<NAME> variables set one setting each (PGFERRY_KAFKA_SASL_JAAS_CONFIG is"
                    + " sasl.jaas.config) and win over the file.")
    Path kafkaConfig;

    @Option(names = "--topic-prefix", paramLabel = "PREFIX",
            description = "Start the names of pgferry's topics, consumer groups and transactional id with PREFIX"
                    + " (letters, digits, '.', '_', '-'), so that several installations share one Kafka cluster; every"
                    + " process of one installation needs the same prefix. PGFERRY_TOPIC_PREFIX sets it too.")
    String topicPrefix;

    /** Whether a running pgferry's Kafka is named at all (else a command may use the single-machine data). */
    boolean named(String bootstrapServers) {
        return bootstrapServers != null || kafkaConfig != null || System.getenv(KafkaSettings.CONFIG_FILE_ENV) != null;
    }

    KafkaSettings settings(String bootstrapServers) {
        KafkaSettings settings = KafkaSettings.load(bootstrapServers, kafkaConfig, System.getenv());
        return topicPrefix == null ? settings : settings.withTopicPrefix(topicPrefix);
    }
}
