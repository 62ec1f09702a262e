package dev.pgferry.bus;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class KafkaSettingsTest {
    @TempDir
    Path dir;

    @Test
    void fileThenEnvironmentAndTheCommandLineBootstrapWins() throws Exception {
        Path file = dir.resolve("kafka.properties");
        Files.writeString(file, """
                bootstrap.servers=from-file:9093
                security.protocol=SASL_SSL
                sasl.mechanism=SCRAM-SHA-256
                ssl.truststore.location=/etc/ca.p12
                ssl.truststore.password=Trust-Pw-1
                """);
        KafkaSettings s = KafkaSettings.load("cli:9092", file, Map.of(
                "PGFERRY_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512",
                "PGFERRY_KAFKA_SASL_JAAS_CONFIG", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"Jaas-Pw-2\";",
                "PGFERRY_SECRET_KEY", "not a kafka setting",
                "HOME", "/root"));

        assertThat(s.bootstrapServers()).isEqualTo("cli:9092");
        assertThat(s.client()).containsOnlyKeys("security.protocol", "sasl.mechanism", "ssl.truststore.location",
                "ssl.truststore.password", "sasl.jaas.config");
        assertThat(s.client()).containsEntry("sasl.mechanism", "SCRAM-SHA-512").containsEntry("security.protocol", "SASL_SSL");
        assertThat(s.toString()).contains("cli:9092", "SASL_SSL", "/etc/ca.p12")
                .doesNotContain("Trust-Pw-1", "Jaas-Pw-2");

        // Without --bootstrap-servers, the file's; the file named by PGFERRY_KAFKA_CONFIG when no --kafka-config
        KafkaSettings fromEnvFile = KafkaSettings.load(null, null, Map.of("PGFERRY_KAFKA_CONFIG", file.toString()));
        assertThat(fromEnvFile.bootstrapServers()).isEqualTo("from-file:9093");
        assertThat(fromEnvFile.client()).doesNotContainKey("bootstrap.servers").containsEntry("sasl.mechanism", "SCRAM-SHA-256");
    }

    @Test
    void clearErrorsForAMissingFileAndNoBootstrapServers() {
        assertThatThrownBy(() -> KafkaSettings.load("h:1", dir.resolve("missing.properties"), Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("missing.properties");
        assertThatThrownBy(() -> KafkaSettings.load(null, null, Map.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--bootstrap-servers");
    }

    @Test
    void secretLookingNamesAreHidden() {
        assertThat(KafkaSettings.secret("sasl.jaas.config")).isTrue();
        assertThat(KafkaSettings.secret("ssl.key.password")).isTrue();
        assertThat(KafkaSettings.secret("ssl.keystore.password")).isTrue();
        assertThat(KafkaSettings.secret("sasl.oauthbearer.token.endpoint.url")).isTrue();
        assertThat(KafkaSettings.secret("ssl.keystore.location")).isFalse();
        assertThat(KafkaSettings.secret("security.protocol")).isFalse();
        assertThat(KafkaSettings.secret("sasl.mechanism")).isFalse();
    }
}
