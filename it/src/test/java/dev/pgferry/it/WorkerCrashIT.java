package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.bus.Bus;
import dev.pgferry.bus.Ledger;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.Phase;
import dev.pgferry.messages.Topics;
import dev.pgferry.worker.runtime.Worker;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A worker process killed with SIGKILL in the middle of a table copy, while another worker helps it (copies ranges of
 * its table under its snapshot): the database starts over as a new attempt on the other worker, every row once.
 */
class WorkerCrashIT {

    @Test
    void aKilledWorkersTaskIsRedoneByAnotherWithoutDuplicatedRowsEvenAfterAHelperCopiedPartOfIt() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            // Given a database whose table's copy into the target is held by a gate until the test opens it
            try (var c = SampleData.connect(source, "postgres"); var s = c.createStatement()) {
                s.execute("CREATE DATABASE big");
            }
            try (var c = SampleData.connect(source, "big"); var s = c.createStatement()) {
                s.execute("CREATE TABLE public.rows (id bigint PRIMARY KEY, payload text, n numeric)");
                s.execute("INSERT INTO public.rows SELECT g, repeat(md5(g::text), 4), g * 1.5 FROM generate_series(1, 20000) g");
            }
            Gate.install(source, "big", "public.rows", "id");
            Gate gate = Gate.close(target);
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of("postgres"), List.of(), List.of());

            // (a claim silent for 6 s brings the killed worker's task back; 20 s by default)
            try (Coordinator coordinator = Coordinator.start(Infra.kafka(), Coordinator.Settings.of("127.0.0.1", -1).withClaimTimeout(6_000));
                 Bus bus = new Bus(Infra.kafka(), "it-crash"); Ledger ledger = new Ledger(bus, "it-crash")) {
                // and a worker running as its own OS process, with one job, copying the table in ranges of 1 MB that
                // it offers to other workers
                Process victim = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                        "dev.pgferry.cli.Main", "worker", "--bootstrap-servers", Infra.kafka(), "--session-timeout-ms", "6000",
                        "--jobs", "1", "--split-table-mb", "1")
                        .redirectErrorStream(true).redirectOutput(Infra.work().resolve("victim-worker.log").toFile()).start();
                try {
                    bus.send(Topics.REQUESTS, r.migrationId(), Json.write(Pgferry.sealed(r)));
                    // (its first range, the one with key 1, is held at the gate)
                    gate.awaitHeld();
                    DatabaseStatus copying = Pgferry.awaitRow(coordinator, r.migrationId(), d -> d.phase() == Phase.DATA);
                    assertThat(copying.status()).isEqualTo(MigrationStatus.State.RUNNING);
                    assertThat(copying.attempt()).isEqualTo(1);

                    // and a second worker that copies some of its other ranges under its snapshot meanwhile
                    try (Worker helper = new Worker(bus, Worker.Settings.defaults().withWorkerId("helper").withJobs(2)).start()) {
                        long deadline = System.nanoTime() + java.time.Duration.ofMinutes(2).toNanos();
                        java.util.Optional<LedgerEntry> helped = java.util.Optional.empty();
                        while (helped.isEmpty() && System.nanoTime() < deadline) {
                            helped = ledger.read(LedgerEntry.unitKey(r.migrationId(), "big", 1, 1))
                                    .filter(u -> u.state() == LedgerEntry.State.DONE);
                            Thread.sleep(100);
                        }
                        assertThat(helped).as("a range copied by the helper").isPresent();
                        assertThat(helped.get().workerId()).isEqualTo("helper");

                        // When the first worker, the database's owner, is killed while it copies data
                        victim.destroyForcibly().waitFor();
                        gate.open();

                        // Then the other worker takes the task over and does the database again as a new attempt
                        DatabaseStatus done = Pgferry.awaitRow(coordinator, r.migrationId(),
                                d -> d.status() == MigrationStatus.State.DONE || d.status() == MigrationStatus.State.FAILED);
                        assertThat(done.status()).as(done.toString()).isEqualTo(MigrationStatus.State.DONE);
                        assertThat(done.workerId()).isEqualTo("helper");
                        assertThat(done.attempt()).isEqualTo(2);
                    }
                } finally {
                    victim.destroyForcibly();
                }
            }
            assertThat(Compare.scalar(target, "big", "SELECT count(*) FROM public.rows")).isEqualTo("20000");
            var expected = Compare.tableFingerprints(source, "big");
            var actual = Compare.tableFingerprints(target, "big");
            Reliability.record("worker process killed with SIGKILL mid-copy, while another worker copied ranges of its table",
                    "survived: the other worker redid the database as attempt 2, every row once",
                    Reliability.rows(expected), Reliability.rows(actual));
            assertThat(actual).isEqualTo(expected);
        }
    }
}
