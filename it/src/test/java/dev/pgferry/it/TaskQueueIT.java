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
import dev.pgferry.messages.TaskClaim;
import dev.pgferry.messages.Topics;
import dev.pgferry.worker.runtime.Worker;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
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
        // A claim that falls silent is queued again only after 10 minutes here: only the hand-back can move the task
        try (Held h = Held.open("it-handback", 600_000)) {
            // Given a worker process whose task is held in its copy
            Process first = h.workerProcess("handback-worker.log");
            MigrationRequest r = h.submitAndAwaitHeld();
            DatabaseStatus held = Pgferry.awaitRow(h.coordinator(), r.migrationId(), "held",
                    d -> d.phase() == Phase.DATA);
            // and a second worker, free
            h.worker("it-handback-second");

            // When the first one is told to stop (SIGTERM), as a rolling restart does
            first.destroy();
            assertThat(first.waitFor(60, TimeUnit.SECONDS)).as("the stopped worker exited").isTrue();
            h.gate().open();

            // Then the second worker runs the task as a new attempt, long before the claim would have timed out
            DatabaseStatus done = h.awaitEnded(r);
            assertThat(done.status()).as(done.toString()).isEqualTo(MigrationStatus.State.DONE);
            assertThat(done.attempt()).isEqualTo(held.attempt() + 1);
            assertThat(done.workerId()).isEqualTo("it-handback-second").isNotEqualTo(held.workerId());
            assertThat(first.exitValue()).as("a clean stop").isEqualTo(143);
            // and the stopped attempt announced no retry of the copy it abandoned
            List<String> warnings = FaultsIT.readAll(h.bus().topic(Topics.STATUS)).stream()
                    .filter(e -> r.migrationId().equals(e.key()))
                    .map(e -> Json.read(e.value(), com.fasterxml.jackson.databind.JsonNode.class))
                    .filter(e -> e.get("type").asText().equals("task_warning")).map(e -> e.get("message").asText())
                    .toList();
            assertThat(warnings).noneMatch(w -> w.contains("copying it again"));
            assertThat(Compare.scalar(h.target(), "held", "SELECT count(DISTINCT id) = count(*) FROM public.items")).isEqualTo("t");
            h.assertCopied();
        }
    }

    @Test
    void aSecondDeliveryOfARunningTaskLeavesTheClaimToTheFirstWorkerWhoseDeathThenBringsTheTaskBack() throws Exception {
        try (Held h = Held.open("it-dup", 6_000)) {
            // Given a worker process running a task, held in its copy (it left the workers' group as it took it)
            Process first = h.workerProcess("dup-worker.log");
            MigrationRequest r = h.submitAndAwaitHeld();
            ConsumerRecord<String, byte[]> task = h.taskOf(r);
            String claimKey = TaskClaim.of("any", task.key(), task.partition(), task.offset()).key();
            // and the same record delivered again, to a second worker (the group's offset set back to it, as a
            // rebalance before the first worker's commit does)
            h.admin().alterConsumerGroupOffsets(h.kafka().name(Topics.WORKER_GROUP), Map.of(
                    new TopicPartition(task.topic(), task.partition()), new OffsetAndMetadata(task.offset())))
                    .all().get(30, TimeUnit.SECONDS);
            h.worker("it-dup-second");

            // When that delivery gives up for the first (the task's lock is held by the same delivery) and its
            // worker is back in the group, free
            long deadline = System.currentTimeMillis() + 60_000;
            while (System.currentTimeMillis() < deadline && claimsOf(h.bus(), claimKey).stream()
                    .noneMatch(c -> c != null && c.contains("it-dup-second"))) {
                Thread.sleep(100);
            }
            assertThat(claimsOf(h.bus(), claimKey)).as("the second delivery's claim")
                    .anyMatch(c -> c != null && c.contains("it-dup-second"));
            while (System.currentTimeMillis() < deadline && h.workersGroup().members().isEmpty()) {
                Thread.sleep(100);
            }

            // Then the claim was never deleted: it is the first worker's to renew (deleted, the task was nobody's
            // until that worker's next renewal, and lost for good had it died meanwhile)
            assertThat(claimsOf(h.bus(), claimKey)).as("the task's claim records, the second delivery's included")
                    .hasSizeGreaterThan(1).doesNotContainNull();

            // and when the first worker dies, its claim falls silent and the task comes back: the second worker
            // finishes it as a new attempt, every row once
            first.destroyForcibly();
            assertThat(first.waitFor(60, TimeUnit.SECONDS)).isTrue();
            h.gate().open();
            DatabaseStatus done = h.awaitEnded(r);
            assertThat(done.status()).as(done.toString()).isEqualTo(MigrationStatus.State.DONE);
            assertThat(done.workerId()).isEqualTo("it-dup-second");
            h.assertCopied();
        }
    }

    @Test
    void aTaskTakenWhileTheGroupRebalancesIsCommittedBeforeItsWorkerLeavesAndGoesToNoOtherWorker() throws Exception {
        // A claim that falls silent is queued again only after 10 minutes here: only a second delivery could move it
        try (Held h = Held.open("it-rebalance", 600_000)) {
            // Given a worker process whose poll hands it the task while it rejoins its group (a fault hook starts the
            // rebalance), so that its first commit of the task's offset fails
            h.workerProcess("rebalance-worker.log", "-Dpgferry.fault.worker.rebalanceBeforeCommit=true");
            MigrationRequest r = h.submitAndAwaitHeld();
            ConsumerRecord<String, byte[]> task = h.taskOf(r);
            TopicPartition partition = new TopicPartition(task.topic(), task.partition());
            String claimKey = TaskClaim.of("any", task.key(), task.partition(), task.offset()).key();

            // When it runs the task (it left the workers' group, its only slot taken)
            long deadline = System.currentTimeMillis() + 30_000;
            while (System.currentTimeMillis() < deadline && h.committed(partition) == null) {
                Thread.sleep(100);
            }

            // Then the group's offset is past the task: its commit waited for the rebalance to complete (left
            // uncommitted, the partition went to the next worker from the offset before)
            assertThat(h.committed(partition)).as("the workers' group's offset of " + partition)
                    .isEqualTo(task.offset() + 1);

            // and a second worker that joins the group is never given the task
            h.worker("it-rebalance-second");
            while (System.currentTimeMillis() < deadline && h.workersGroup().members().stream()
                    .noneMatch(m -> m.assignment().topicPartitions().contains(partition))) {
                Thread.sleep(100);
            }
            h.gate().open();
            DatabaseStatus done = h.awaitEnded(r);
            assertThat(done.status()).as(done.toString()).isEqualTo(MigrationStatus.State.DONE);
            assertThat(done.attempt()).isEqualTo(1);
            assertThat(claimsOf(h.bus(), claimKey)).as("the task's claim records")
                    .isNotEmpty().noneMatch(c -> c != null && c.contains("it-rebalance-second"));
            h.assertCopied();
        }
    }

    /**
     * A database {@code held} whose copy a gate on the target holds, migrated on topics of their own (prefix
     * {@code name-xxxxxx.}) with a coordinator that queues a silent claim again after {@code claimTimeoutMs}.
     */
    private record Held(String prefix, KafkaSettings kafka, LocalPostgres source, LocalPostgres target, Bus bus,
                        Coordinator coordinator, Admin admin, Gate gate, List<AutoCloseable> workers)
            implements AutoCloseable {
        static Held open(String name, long claimTimeoutMs) throws Exception {
            String prefix = name + "-" + UUID.randomUUID().toString().substring(0, 6) + ".";
            KafkaSettings kafka = KafkaSettings.of(Infra.kafka()).withTopicPrefix(prefix);
            List<AutoCloseable> made = new java.util.ArrayList<>();
            try {
                LocalPostgres source = made(made, Infra.postgres());
                LocalPostgres target = made(made, Infra.postgres());
                Bus bus = made(made, new Bus(kafka, name));
                bus.ensureTopics();
                createDatabases(source, "held");
                Gate.install(source, "held", "public.items", "id");
                Coordinator coordinator = made(made, Coordinator.start(kafka, Coordinator.Settings.of("127.0.0.1", -1)
                        .withClaimTimeout(claimTimeoutMs)));
                Admin admin = made(made, Admin.create(Map.<String, Object>of("bootstrap.servers", Infra.kafka())));
                return new Held(prefix, kafka, source, target, bus, coordinator, admin, Gate.close(target),
                        new java.util.ArrayList<>());
            } catch (Exception | Error e) {
                for (int i = made.size() - 1; i >= 0; i--) {
                    try {
                        made.get(i).close();
                    } catch (Exception suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
                throw e;
            }
        }

        private static <T extends AutoCloseable> T made(List<AutoCloseable> made, T resource) {
            made.add(resource);
            return resource;
        }

        /** Submits a migration of the source's databases; returns once its copy of {@code held} waits at the gate. */
        MigrationRequest submitAndAwaitHeld() throws Exception {
            MigrationRequest r = Pgferry.request(source, target, List.of("postgres"));
            bus.send(Topics.REQUESTS, r.migrationId(), Json.write(Pgferry.sealed(r)));
            gate.awaitHeld();
            return r;
        }

        /** A worker in this JVM, one job, on these topics; stopped as this closes. */
        Worker worker(String id) {
            return made(workers, new Worker(bus, Worker.Settings.defaults().withWorkerId(id).withJobs(1)).start());
        }

        /**
         * A worker process ({@code pgferry worker}, one job) on these topics, its output in {@code log}; killed as
         * this closes.
         */
        Process workerProcess(String log, String... jvmOptions) throws java.io.IOException {
            List<String> command = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin",
                    "java").toString(), "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"));
            command.addAll(List.of(jvmOptions));
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.pgferry.cli.Main", "worker",
                    "--bootstrap-servers", Infra.kafka(), "--topic-prefix", prefix, "--jobs", "1"));
            Process p = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(Infra.work().resolve(log).toFile()).start();
            workers.add(p::destroyForcibly);
            return p;
        }

        /** The task record of {@code held} that request {@code r} made. */
        ConsumerRecord<String, byte[]> taskOf(MigrationRequest r) {
            return FaultsIT.readAll(bus.topic(Topics.TASKS)).stream()
                    .filter(t -> t.key().startsWith(r.migrationId() + "/")).findFirst().orElseThrow();
        }

        /** The row of {@code held} once it is done or failed. */
        DatabaseStatus awaitEnded(MigrationRequest r) throws Exception {
            return Pgferry.awaitRow(coordinator, r.migrationId(), "held",
                    d -> d.status() == MigrationStatus.State.DONE || d.status() == MigrationStatus.State.FAILED);
        }

        /** The workers' group's committed offset of {@code partition}; null if none. */
        Long committed(TopicPartition partition) throws Exception {
            OffsetAndMetadata o = admin.listConsumerGroupOffsets(kafka.name(Topics.WORKER_GROUP))
                    .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS).get(partition);
            return o == null ? null : o.offset();
        }

        /** Every table of {@code held} on the target as on the source. */
        void assertCopied() throws Exception {
            assertThat(Compare.tableFingerprints(target, "held")).isEqualTo(Compare.tableFingerprints(source, "held"));
        }

        org.apache.kafka.clients.admin.ConsumerGroupDescription workersGroup() throws Exception {
            String group = kafka.name(Topics.WORKER_GROUP);
            return admin.describeConsumerGroups(List.of(group)).all().get(30, TimeUnit.SECONDS).get(group);
        }

        /** Opens the gate, stops the workers started (the last first), then closes the rest. */
        @Override
        public void close() throws Exception {
            try (source; target; bus; coordinator; admin) {
                gate.open();
                for (int i = workers.size() - 1; i >= 0; i--) {
                    workers.get(i).close();
                }
            }
        }
    }

    /** Every record of claim {@code key}, oldest first, as text (null: a deletion). */
    private static List<String> claimsOf(Bus bus, String key) {
        return FaultsIT.readAll(bus.topic(Topics.CLAIMS)).stream().filter(c -> c.key().equals(key))
                .map(c -> c.value() == null ? null : new String(c.value(), java.nio.charset.StandardCharsets.UTF_8))
                .collect(java.util.stream.Collectors.toList());
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
