package dev.pgferry.it;

import dev.pgferry.bus.Bus;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.Phase;
import dev.pgferry.messages.StatusEvent;
import dev.pgferry.messages.Topics;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A restarted coordinator starts from the status snapshots: the same view as before the restart, without reading
 * the events the snapshots hold, and it goes on following the topic after them.
 */
class StatusSnapshotIT {
    private static final int MIGRATIONS = 150;

    @Test
    void aRestartedCoordinatorServesTheSameViewFromSnapshotsAndReadsOnlyWhatCameAfter() throws Exception {
        String run = "m-snap-" + UUID.randomUUID().toString().substring(0, 8) + "-";
        List<String> ids = new ArrayList<>();
        List<MigrationStatus> before;
        try (Bus bus = new Bus(Infra.kafka(), "it-snapshots")) {
            Coordinator first = Coordinator.start(Infra.kafka(), "127.0.0.1", -1);
            try {
                first.follower().awaitCaughtUp(Duration.ofSeconds(60));
                // Given a status history of 150 finished migrations of two databases each (1,650 events)
                List<Future<RecordMetadata>> sent = new ArrayList<>();
                for (int i = 0; i < MIGRATIONS; i++) {
                    String id = run + i;
                    ids.add(id);
                    List<StatusEvent> events = new ArrayList<>();
                    events.add(new EventSource(id, null, "coordinator", 1, Clock.systemUTC()).planned(List.of("a", "b")));
                    for (String db : List.of("a", "b")) {
                        EventSource e = new EventSource(id, db, "w-1", 1, Clock.systemUTC());
                        events.addAll(List.of(e.started(Method.DUMP, null), e.phase(Phase.DATA), e.progress(3, 3, 1000L * i, 4096L * i),
                                e.warning("warning " + i + " of " + db), e.done(Method.DUMP)));
                    }
                    events.forEach(ev -> sent.add(bus.sendAsync(Topics.STATUS, id, Json.write(ev))));
                }
                for (Future<RecordMetadata> f : sent) {
                    f.get();
                }
                first.follower().awaitCurrent(Duration.ofSeconds(60));
                // When the coordinator has checkpointed and is restarted
                assertThat(first.checkpointer().checkpoint()).isGreaterThanOrEqualTo(MIGRATIONS);
                before = ids.stream().map(id -> first.fold().view(id).orElseThrow()).toList();
            } finally {
                first.close();
            }
            assertThat(before).allSatisfy(s -> assertThat(s.migration().status()).isEqualTo(MigrationStatus.State.DONE));

            try (Coordinator second = Coordinator.start(Infra.kafka(), "127.0.0.1", -1)) {
                second.follower().awaitCaughtUp(Duration.ofSeconds(60));
                // Then it shows the same 150 migrations, read from their snapshots, not from their 1,650 events
                assertThat(ids.stream().map(id -> second.fold().view(id).orElseThrow()).toList()).isEqualTo(before);
                assertThat(second.follower().snapshotsRestored()).isGreaterThanOrEqualTo(MIGRATIONS);
                assertThat(second.follower().eventsRead()).isLessThan(MIGRATIONS);

                // and an event written after the snapshots still reaches it
                bus.publish(new EventSource(ids.get(7), "a", "w-1", 1, Clock.systemUTC()).verifyRequested());
                second.follower().awaitCurrent(Duration.ofSeconds(30));
                assertThat(second.fold().view(ids.get(7)).orElseThrow().verify()).isNotNull();
                assertThat(second.fold().view(ids.get(7)).orElseThrow().migrationDetail())
                        .isEqualTo(before.get(7).migrationDetail());
            }
        }
    }

    /**
     * A coordinator's replays are of topics it created first: one that finds no partitions (a broker just started may
     * answer so) asks again instead of taking the topic as empty, which would serve an empty view (a single-machine
     * verify once answered "no migration" for one that existed). A reader not told so stays caught up on a topic
     * nothing was written to.
     */
    @Test
    void aReplayOfATopicKnownToExistIsNotCaughtUpUntilItHasReadIt() throws Exception {
        String topic = "it-ensured-" + UUID.randomUUID();
        List<String> read = java.util.Collections.synchronizedList(new ArrayList<>());
        try (Bus bus = new Bus(Infra.kafka(), "it-ensured");
             dev.pgferry.bus.TopicReplayer ensured = new dev.pgferry.bus.TopicReplayer(bus, topic, "it-ensured",
                     r -> read.add(r.key())).topicEnsured().start();
             dev.pgferry.bus.TopicReplayer plain = new dev.pgferry.bus.TopicReplayer(bus, topic, "it-plain",
                     r -> { }).start()) {
            // Given a topic that does not exist yet
            plain.awaitCaughtUp(Duration.ofSeconds(30));
            assertThat(ensured.caughtUp()).isFalse();

            // When it is created and written to
            try (var admin = org.apache.kafka.clients.admin.Admin.create(bus.adminProps())) {
                admin.createTopics(List.of(new org.apache.kafka.clients.admin.NewTopic(bus.topic(topic), 1, (short) 1)))
                        .all().get();
            }
            bus.send(topic, "k1", new byte[] {1});

            // Then the replay told the topic exists is caught up only with what was written
            ensured.awaitCaughtUp(Duration.ofSeconds(30));
            assertThat(read).containsExactly("k1");
            assertThat(ensured.caughtUp()).isTrue();
        }
    }
}
