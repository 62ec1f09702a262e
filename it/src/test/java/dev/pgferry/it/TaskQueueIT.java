package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.Topics;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** Task distribution: no task waits behind a running one, and a task queued again never undoes a removal. */
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
            pgferry.bus.send(Topics.TASKS, r.migrationId() + "/gone", Json.write(MigrationTask.removal(r, "gone")));
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
