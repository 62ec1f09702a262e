package dev.pgferry.cli;

import dev.pgferry.bus.KafkaSettings;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** {@code --kafka-config}: the Kafka client settings of a command that talks to a running pgferry's Kafka. */
final class KafkaOptions {
    @Option(names = "--kafka-config", paramLabel = "FILE",
            description = "Kafka client settings for every producer, consumer and admin client of this process, as Java"
                    + " properties (security.protocol, ssl.*, sasl.*, ...). PGFERRY_KAFKA_CONFIG names such a file;"
                    + " PGFERRY_KAFKA_<NAME> variables set one setting each (PGFERRY_KAFKA_SASL_JAAS_CONFIG is"
                    + " sasl.jaas.config) and win over the file.")
    Path kafkaConfig;

    /** Whether a running pgferry's Kafka is named at all (else a command may use the single-machine data). */
    boolean named(String bootstrapServers) {
        return bootstrapServers != null || kafkaConfig != null || System.getenv(KafkaSettings.CONFIG_FILE_ENV) != null;
    }

    KafkaSettings settings(String bootstrapServers) {
        return KafkaSettings.load(bootstrapServers, kafkaConfig, System.getenv());
    }
}
