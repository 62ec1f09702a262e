package dev.pgferry.it;

import dev.pgferry.bus.Bus;
import dev.pgferry.bus.KafkaSettings;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.messages.Connection;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.Topics;
import dev.pgferry.worker.runtime.Worker;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two installations on one Kafka cluster, told apart by {@code --topic-prefix}: each has its own topics, groups and
 * transactional id; a request and a task of one reach that installation's coordinator and worker only.
 */
class TopicPrefixIT {

    @Test
    void anInstallationWithATopicPrefixSeesOnlyItsOwnRequestsTasksAndStatus() throws Exception {
        String prefix = "it-" + UUID.randomUUID().toString().substring(0, 6) + ".";
        KafkaSettings mine = KafkaSettings.of(Infra.kafka()).withTopicPrefix(prefix);
        try (Bus bus = new Bus(mine, "it-prefix");
             Coordinator prefixed = Coordinator.start(mine, Coordinator.Settings.of("127.0.0.1", -1));
             Coordinator plain = Coordinator.start(Infra.kafka(), "127.0.0.1", -1)) {
            Worker worker = new Worker(bus, Worker.Settings.defaults().withWorkerId("it-prefix-worker").withJobs(1)).start();
            try {
                // Its topics carry the prefix
                try (Admin admin = Admin.create(bus.adminProps())) {
                    Set<String> topics = admin.listTopics().names().get(30, TimeUnit.SECONDS);
                    assertThat(topics).contains(prefix + Topics.REQUESTS, prefix + Topics.TASKS, prefix + Topics.STATUS,
                            prefix + Topics.CLAIMS, prefix + Topics.LEDGER, prefix + Topics.STATUS_SNAPSHOTS,
                            prefix + Topics.DEAD_LETTERS);
                }
                // A request to an unreachable source, through the prefixed requests topic: its coordinator plans it
                // (and fails it, saying why), the other installation never hears of it
                MigrationRequest unreachable = MigrationRequest.of(
                        new Connection("127.0.0.1", 1, "postgres", "postgres", null, null, "disable"),
                        new Connection("127.0.0.1", 2, "postgres", "postgres", null, null, "disable"),
                        Method.DUMP, List.of(), List.of(), List.of());
                bus.send(Topics.REQUESTS, unreachable.migrationId(), Json.write(unreachable));
                MigrationStatus failed = Pgferry.awaitView(prefixed, unreachable.migrationId(), MigrationStatus::isFinal);
                assertThat(failed.migration().status()).isEqualTo(MigrationStatus.State.FAILED);

                // A task on the prefixed tasks topic: the prefixed worker takes it (and reports its failure there)
                MigrationTask task = MigrationTask.of(unreachable, "db1");
                bus.send(Topics.TASKS, task.key(), Json.write(task));
                MigrationStatus.DatabaseStatus row = Pgferry.awaitRow(prefixed, unreachable.migrationId(), "db1",
                        d -> d.status() == MigrationStatus.State.FAILED);
                assertThat(row.workerId()).isEqualTo("it-prefix-worker");
                assertThat(row.errorCode()).isIn(ErrorCode.TARGET_UNREACHABLE, ErrorCode.SOURCE_UNREACHABLE);

                plain.follower().awaitCurrent(Duration.ofSeconds(30));
                assertThat(plain.fold().view(unreachable.migrationId())).isEmpty();
            } finally {
                worker.close();
            }
        }
    }
}
