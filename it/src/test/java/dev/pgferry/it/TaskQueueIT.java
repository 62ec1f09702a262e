package dev.pgferry.it;

import dev.pgferry.bus.Bus;
import dev.pgferry.bus.KafkaSettings;
import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.Phase;
import dev.pgferry.messages.Topics;
import dev.pgferry.worker.runtime.Worker;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Task distribution: no task waits behind a running one, a worker that is stopped hands its task back, and a task
 * queued again never undoes a removal.
 */
class TaskQueueIT {

    private static final List<String> SMALL = IntStream.rangeClosed(1, 6).mapToObj(i -> "small_" + i).toList();

    @Test
    void smallDatabasesFinishOnTheFreeWorkerWhileABlockedOneRuns() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            createDatabases(source, "blocked");
            for (String db : SMALL) {
                createDatabases(source, db);
            }
            // Given a database whose copy cannot go on: an application session holds its table exclusively
            try (Connection holder = SampleData.connect(source, "blocked"); Statement hs = holder.createStatement();
                 Pgferry pgferry = new Pgferry(2)) {
                holder.setAutoCommit(false);
                hs.execute("LOCK TABLE public.items IN ACCESS EXCLUSIVE MODE");
                MigrationRequest r = Pgferry.request(source, target, List.of("postgres"));
                pgferry.submit(r);

                // When one worker is stuck on it, every other database still finishes, on the other worker
                Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "blocked",
                        d -> d.status() == MigrationStatus.State.RUNNING);
                MigrationStatus view = Pgferry.awaitView(pgferry.coordinator, r.migrationId(), v -> v.migrationDetail().stream()
                        .filter(d -> SMALL.contains(d.dbname())).allMatch(d -> d.status() == MigrationStatus.State.DONE));
                DatabaseStatus stillBlocked = ReplicationIT.row(view, "blocked");
                assertThat(stillBlocked.status()).as(stillBlocked.toString()).isEqualTo(MigrationStatus.State.RUNNING);
                for (String db : SMALL) {
                    assertThat(Compare.tableFingerprints(target, db)).isEqualTo(Compare.tableFingerprints(source, db));
                }

                // Then, once the application lets go, the blocked database finishes too
                holder.rollback();
                MigrationStatus done = pgferry.awaitFinal(r.migrationId());
                assertThat(ReplicationIT.row(done, "blocked").status()).isEqualTo(MigrationStatus.State.DONE);
            }
            assertThat(Compare.tableFingerprints(target, "blocked")).isEqualTo(Compare.tableFingerprints(source, "blocked"));
        }
    }

    @Test
    void aTaskQueuedAgainAfterItsDatabaseWasRemovedLeavesItAlone() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres();
             Pgferry pgferry = new Pgferry(1)) {
            createDatabases(source, "gone");
            MigrationRequest r = Pgferry.sealed(Pgferry.request(source, target, List.of("postgres")));
            // Given a database whose removal ran before its migration task (as when a worker died mid-task and the
            // coordinator queued that task again after the user removed the migration)
            pgferry.bus.send(Topics.TASKS, r.migrationId() + "/gone", Json.write(MigrationTask.removal(r, "gone", false)));
            awaitClaimDeleted(r.migrationId() + "/gone", 1);

            // When the migration task runs
            MigrationTask migrate = MigrationTask.of(r, "gone");
            pgferry.bus.send(Topics.TASKS, migrate.key(), Json.write(migrate));
            awaitClaimDeleted(migrate.key(), 2);

            // Then the database is not migrated: nothing on the target, and the removal is all its status says
            assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'gone'"))
                    .isEqualTo("0");
            List<String> events = FaultsIT.readAll(Topics.STATUS).stream().filter(e -> r.migrationId().equals(e.key()))
                    .map(e -> Json.read(e.value(), com.fasterxml.jackson.databind.JsonNode.class).get("type").asText()).toList();
            assertThat(events).containsExactly("task_removed");
        }
    }

    @Test
    void aWorkerStoppedWithSigtermHandsItsTaskBackAtOnceAndAnotherFinishesIt() throws Exception {
        String prefix = "it-handback-" + UUID.randomUUID().toString().substring(0, 6) + ".";
        KafkaSettings kafka = KafkaSettings.of(Infra.kafka()).withTopicPrefix(prefix);
        // A claim that falls silent is queued again only after 10 minutes here: only the hand-back can move the task
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres();
             Bus bus = new Bus(kafka, "it-handback");
             Coordinator coordinator = Coordinator.start(kafka, Coordinator.Settings.of("127.0.0.1", -1)
                     .withClaimTimeout(600_000))) {
            bus.ensureTopics();
            createDatabases(source, "held");
            Gate.install(source, "held", "public.items", "id");
            Gate gate = Gate.close(target);
            // Given a worker process whose task is held in its copy
            Process first = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                    "dev.pgferry.cli.Main", "worker", "--bootstrap-servers", Infra.kafka(), "--topic-prefix", prefix,
                    "--jobs", "1").redirectErrorStream(true)
                    .redirectOutput(Infra.work().resolve("handback-worker.log").toFile()).start();
            Worker second = null;
            try {
                MigrationRequest r = Pgferry.request(source, target, List.of("postgres"));
                bus.send(Topics.REQUESTS, r.migrationId(), Json.write(Pgferry.sealed(r)));
                gate.awaitHeld();
                DatabaseStatus held = Pgferry.awaitRow(coordinator, r.migrationId(), "held",
                        d -> d.phase() == Phase.DATA);
                // and a second worker, free
                second = new Worker(bus, Worker.Settings.defaults().withWorkerId("it-handback-second").withJobs(1)).start();

                // When the first one is told to stop (SIGTERM), as a rolling restart does
                first.destroy();
                assertThat(first.waitFor(60, TimeUnit.SECONDS)).as("the stopped worker exited").isTrue();
                gate.open();

                // Then the second worker runs the task as a new attempt, long before the claim would have timed out
                DatabaseStatus done = Pgferry.awaitRow(coordinator, r.migrationId(), "held",
                        d -> d.status() == MigrationStatus.State.DONE || d.status() == MigrationStatus.State.FAILED);
                assertThat(done.status()).as(done.toString()).isEqualTo(MigrationStatus.State.DONE);
                assertThat(done.attempt()).isEqualTo(held.attempt() + 1);
                assertThat(done.workerId()).isEqualTo("it-handback-second").isNotEqualTo(held.workerId());
                assertThat(first.exitValue()).as("a clean stop").isEqualTo(143);
                // and the stopped attempt announced no retry of the copy it abandoned
                List<String> warnings = FaultsIT.readAll(bus.topic(Topics.STATUS)).stream()
                        .filter(e -> r.migrationId().equals(e.key()))
                        .map(e -> Json.read(e.value(), com.fasterxml.jackson.databind.JsonNode.class))
                        .filter(e -> e.get("type").asText().equals("task_warning")).map(e -> e.get("message").asText())
                        .toList();
                assertThat(warnings).noneMatch(w -> w.contains("copying it again"));
            } finally {
                first.destroyForcibly();
                gate.open();
                if (second != null) {
                    second.close();
                }
            }
            assertThat(Compare.scalar(target, "held", "SELECT count(DISTINCT id) = count(*) FROM public.items")).isEqualTo("t");
            assertThat(Compare.tableFingerprints(target, "held")).isEqualTo(Compare.tableFingerprints(source, "held"));
        }
    }

    /** Waits until {@code n} claims of task {@code taskKey} were written and deleted: its runs are over. */
    private static void awaitClaimDeleted(String taskKey, int n) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 120_000;
        while (System.currentTimeMillis() < deadline) {
            List<ConsumerRecord<String, byte[]>> claims = FaultsIT.readAll(Topics.CLAIMS).stream()
                    .filter(c -> c.key().startsWith(taskKey + "@")).toList();
            if (claims.stream().filter(c -> c.value() == null).count() >= n) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("task " + taskKey + " did not finish " + n + " runs");
    }

    private static void createDatabases(LocalPostgres pg, String db) throws Exception {
        try (Connection c = SampleData.connect(pg, "postgres"); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + db);
        }
        try (Connection c = SampleData.connect(pg, db); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE public.items (id int PRIMARY KEY, name text)");
            s.execute("INSERT INTO public.items SELECT g, md5(g::text) FROM generate_series(1, 500) g");
        }
    }
}
