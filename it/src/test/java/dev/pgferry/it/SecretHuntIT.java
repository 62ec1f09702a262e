package dev.pgferry.it;

import dev.pgferry.messages.Topics;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs after every other integration test (see junit-platform.properties) and searches everything they left
 * behind for a password: every record of every pgferry topic of the shared broker and every log file. Every
 * migration of the suite used the recognisable {@link Infra#PASSWORD}.
 */
@Order(Integer.MAX_VALUE)
class SecretHuntIT {
    /** The password inside the raw request of FaultInjectionIT, which --raw publishes unchanged on purpose. */
    static final String RAW_SECRET = "Raw-Secret-4411";

    @Test
    void noPasswordIsInAnyTopicOrLog() throws Exception {
        int checked = 0;
        for (String topic : List.of(Topics.REQUESTS, Topics.TASKS, Topics.STATUS, Topics.DEAD_LETTERS)) {
            for (ConsumerRecord<String, byte[]> record : FaultsIT.readAll(topic)) {
                String text = new String(record.value(), StandardCharsets.UTF_8);
                assertThat(text).as("%s@%d", topic, record.offset()).doesNotContain(Infra.PASSWORD);
                if (!(topic.equals(Topics.REQUESTS) && "raw-bad-1".equals(record.key()))) {
                    assertThat(text).as("%s@%d", topic, record.offset()).doesNotContain(RAW_SECRET);
                }
                if (!topic.equals(Topics.REQUESTS)) {
                    // Given inline by SecretsByDefaultIT's requests: sealed or refused, never passed on
                    assertThat(text).as("%s@%d", topic, record.offset()).doesNotContain(SecretsByDefaultIT.INLINE, SecretsByDefaultIT.RAW_INLINE);
                }
                checked++;
            }
        }
        // Log files: this JVM's (target/), and those of the processes and brokers the suite started (the work
        // directory, where Kafka's own segment files, also named *.log, are searched too).
        int logs = 0;
        for (Path root : List.of(Path.of("target"), Infra.work())) {
            try (var files = Files.walk(root)) {
                for (Path log : files.filter(p -> p.toString().endsWith(".log") && Files.isRegularFile(p)).toList()) {
                    String text = Files.readString(log, StandardCharsets.ISO_8859_1);
                    assertThat(text).as("%s", log).doesNotContain(Infra.PASSWORD);
                    if (!log.toString().contains("pgferry.requests-")) {
                        assertThat(text).as("%s", log).doesNotContain(RAW_SECRET, SecretsByDefaultIT.INLINE, SecretsByDefaultIT.RAW_INLINE);
                    }
                    logs++;
                }
            }
        }
        assertThat(checked).as("topic records searched").isGreaterThan(100);
        assertThat(logs).as("log files searched").isPositive();
        Reliability.record("secret hunt after the whole suite: " + checked + " topic records, " + logs + " log files",
                "no password found (requests sealed with the shared key; the one --raw request is its own bytes)",
                null, null);
    }
}
