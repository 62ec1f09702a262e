package dev.pgferry.it;

import dev.pgferry.broker.ChildBroker;
import dev.pgferry.bus.Bus;
import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.messages.Phase;
import dev.pgferry.messages.Topics;
import dev.pgferry.worker.runtime.Worker;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The Kafka broker killed (SIGKILL) and restarted in the middle of a migration. */
class BrokerRestartIT {

    @Test
    void aBrokerRestartMidMigrationLosesNoStatusEventAndTheMigrationCompletes() throws Exception {
        Path dir = Infra.work().resolve("restarting-broker");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        ChildBroker broker = ChildBroker.start(dir, port);
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE big");
            ReplicationIT.exec(source, "big", "CREATE TABLE public.rows (id bigint PRIMARY KEY, payload text);"
                    + " INSERT INTO public.rows SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 20000) g");
            ReplicationIT.exec(source, "postgres", "COMMENT ON DATABASE big IS 'set in the finish phase'");
            Gate.install(source, "big", "public.rows", "id");
            Gate gate = Gate.close(target);
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of("postgres"), List.of(), List.of());
            try (Bus bus = new Bus(broker.bootstrapServers(), "it-restart");
                 Coordinator coordinator = Coordinator.start(broker.bootstrapServers(), "127.0.0.1", -1);
                 Worker worker = new Worker(bus, Worker.Settings.defaults().withWorkerId("it-restart-worker").withJobs(2)).start()) {
                bus.ensureTopics();
                bus.send(Topics.REQUESTS, r.migrationId(), Json.write(Pgferry.sealed(r)));
                Pgferry.awaitRow(coordinator, r.migrationId(), d -> d.phase() == Phase.DATA);
                gate.awaitHeld();

                // When the broker dies mid-copy
                broker.kill();
                gate.open();

                // Then the task goes on without it up to its finish phase (its progress, phase and warning events
                // wait in the producer, not in the task), and the broker comes back on the same port
                long until = System.nanoTime() + 60_000_000_000L;
                String comment;
                while (!"set in the finish phase".equals(comment = Compare.scalar(target, "postgres",
                        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = 'big'"))
                        && System.nanoTime() < until) {
                    Thread.sleep(100);
                }
                assertThat(comment).as("the target database's comment, set in the finish phase, with the broker down")
                        .isEqualTo("set in the finish phase");
                broker = ChildBroker.start(dir, port);

                // Then the migration completes and its status is whole
                DatabaseStatus d = Pgferry.awaitRow(coordinator, r.migrationId(),
                        x -> x.status() == State.DONE || x.status() == State.FAILED);
                assertThat(d.status()).as(d.toString()).isEqualTo(State.DONE);
                MigrationStatus s = coordinator.fold().view(r.migrationId()).orElseThrow();
                assertThat(s.migration().status()).isEqualTo(State.DONE);
                assertThat(d.phaseSeconds()).containsKeys("roles", "schema", "data", "post-data", "analyze", "finish");
                assertThat(d.tablesDone()).isEqualTo(1);
                assertThat(d.rowsCopied()).isEqualTo(20_000);
            }
            var expected = Compare.tableFingerprints(source, "big");
            var actual = Compare.tableFingerprints(target, "big");
            Reliability.record("Kafka broker killed (SIGKILL) and restarted mid-copy",
                    "survived: the task went on to its finish phase without Kafka, clients reconnected, every status"
                            + " event arrived, database done",
                    Reliability.rows(expected), Reliability.rows(actual));
            assertThat(actual).isEqualTo(expected);
        } finally {
            broker.close();
        }
    }
}
