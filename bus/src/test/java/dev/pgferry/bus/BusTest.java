package dev.pgferry.bus;

import org.apache.kafka.clients.producer.ProducerConfig;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class BusTest {
    @Test
    void aTransactionalProducerRetriesSoonUnlessTheSettingsSayOtherwise() {
        KafkaSettings plain = KafkaSettings.of("127.0.0.1:9092");
        Map<String, Object> transactional = Bus.producerProps(plain, "intake", "pgferry-coordinator-intake");
        assertThat(transactional).containsEntry(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, 10)
                .containsEntry(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "pgferry-coordinator-intake")
                .containsEntry(ProducerConfig.CLIENT_ID_CONFIG, "intake-producer");
        // Writes outside transactions keep Kafka's default.
        assertThat(Bus.producerProps(plain, "worker", null)).doesNotContainKeys(ProducerConfig.RETRY_BACKOFF_MS_CONFIG,
                ProducerConfig.TRANSACTIONAL_ID_CONFIG);

        KafkaSettings chosen = new KafkaSettings("127.0.0.1:9092", Map.of("retry.backoff.ms", "250"), "");
        assertThat(Bus.producerProps(chosen, "intake", "pgferry-coordinator-intake"))
                .containsEntry(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, "250");
    }
}
