package dev.pgferry.it;

import dev.pgferry.broker.ChildBroker;
import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.messages.CutoverRequest;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.messages.Topics;
import dev.pgferry.messages.Verification;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A soak: pgbench and a writer that records every id the source committed write to a replicating database while
 * the Kafka broker is killed (SIGKILL) and restarted and then the coordinator is restarted; then a cut-over.
 * Nothing the source committed may be missing on the target. The suite runs it for
 * {@value #DEFAULT_SECONDS} seconds of writes; {@code bench/soak.sh} runs it for five minutes
 * ({@code -Dpgferry.soak.seconds=300}).
 */
class SoakIT {
    static final int DEFAULT_SECONDS = 8;

    @Test
    void writesThroughABrokerAndACoordinatorRestartAllArriveAndTheCutoverLosesNothing() throws Exception {
        int seconds = Integer.getInteger("pgferry.soak.seconds", DEFAULT_SECONDS);
        Path dir = Infra.work().resolve("soak-broker");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        ChildBroker broker = ChildBroker.start(dir, port);
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres();
             Pgferry pgferry = new Pgferry(broker.bootstrapServers(), 2, 0)) {
            // Given a pgbench database with a table of our own, replicating
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE bank");
            assertThat(CutoverIT.pgbench(source, "-i", "-s", "2", "-q", "bank").waitFor()).as("pgbench -i").isZero();
            ReplicationIT.exec(source, "bank", "CREATE TABLE public.ticks (id bigserial PRIMARY KEY, note text NOT NULL)");
            MigrationRequest r = ReplicationIT.request(source, target, Method.REPLICATION, List.of("postgres"));
            pgferry.submit(r);
            MigrationStatus syncing = pgferry.awaitFinal(r.migrationId());
            assertThat(ReplicationIT.row(syncing, "bank").status()).as(syncing.toString()).isEqualTo(State.SYNCING);

            // When pgbench (2 clients, at most 100 transactions a second) and the recording writer write for the
            // whole run (pgbench's own limit is far beyond it: the cut-over ends its sessions)
            Process bench = CutoverIT.pgbench(source, "-n", "-c", "2", "-j", "1", "-R", "100",
                    "-T", String.valueOf(seconds + 600), "bank");
            CutoverIT.Writer writer = new CutoverIT.Writer(source, 5);
            Thread writing = new Thread(writer, "soak-writer");
            writing.start();
            long third = seconds * 1000L / 3;
            Thread.sleep(third);

            // and the broker is killed and comes back on the same port a third of the way in
            broker.kill();
            Thread.sleep(2_000);
            broker = ChildBroker.start(dir, port);
            Thread.sleep(third);

            // and the coordinator is restarted two thirds of the way in
            pgferry.coordinator.close();
            Instant restarted = Instant.now();
            pgferry.coordinator = Coordinator.start(broker.bootstrapServers(), "127.0.0.1", 0, 1_000);
            Thread.sleep(third);

            // Then the new coordinator measures the lag again
            DatabaseStatus measured = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "bank",
                    d -> d.lagMeasuredAt() != null && d.lagMeasuredAt().isAfter(restarted));
            assertThat(measured.status()).isEqualTo(State.SYNCING);
            assertThat(writer.stoppedBy.get()).as("the writer's error").isNull();

            // When the database is cut over while both still write (verified in the five-minute run; the suite
            // compares every table itself below)
            Instant asked = Instant.now();
            boolean verify = seconds > DEFAULT_SECONDS;
            pgferry.bus.send(Topics.REQUESTS, r.migrationId(),
                    Json.write(CutoverRequest.of(r.migrationId(), List.of("bank"), 60, verify, false)));
            DatabaseStatus cut = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "bank", d -> d.cutover() != null
                    && d.cutover().requestedAt().isAfter(asked.minusSeconds(1))
                    && (d.cutover().state().equals("done") || d.cutover().state().equals("failed")));
            writing.join(30_000);
            boolean benchEnded = bench.waitFor(30, TimeUnit.SECONDS);
            bench.destroyForcibly();

            // Then the cut-over is done, the writes stopped because the source refused them
            assertThat(cut.cutover().state()).as(cut.toString()).isEqualTo("done");
            assertThat(cut.status()).isEqualTo(State.DONE);
            assertThat(writer.stoppedBy.get()).as("the writer's last error").isEqualTo("25006");
            assertThat(benchEnded).as("pgbench ended once its sessions were ended").isTrue();
            if (verify) {
                assertThat(cut.verification().result()).isEqualTo(Verification.Result.MATCH);
            }
            // and every id the source confirmed is on the target, every table equal to the source's
            List<Long> committed = writer.committed();
            assertThat(committed.size()).as("ids the writer committed").isGreaterThan(seconds * 10);
            assertThat(Compare.scalar(target, "bank", "SELECT count(*) FROM public.ticks WHERE id = ANY ('{"
                    + String.join(",", committed.stream().map(String::valueOf).toList()) + "}'::bigint[])"))
                    .isEqualTo(String.valueOf(committed.size()));
            var expected = Compare.tableFingerprints(source, "bank");
            var actual = Compare.tableFingerprints(target, "bank");
            assertThat(Long.parseLong(Compare.scalar(source, "bank", "SELECT count(*) FROM public.pgbench_history")))
                    .as("pgbench transactions on the source").isGreaterThan(seconds * 10L);
            Reliability.record("soak: " + seconds + " s of pgbench and a recording writer while syncing, the broker"
                            + " killed and restarted, the coordinator restarted, then a cut-over",
                    committed.size() + " ids the source confirmed and "
                            + Compare.scalar(source, "bank", "SELECT count(*) FROM public.pgbench_history")
                            + " pgbench transactions, all on the target; writes blocked "
                            + cut.cutover().writesBlockedMs() + " ms",
                    Reliability.rows(expected), Reliability.rows(actual));
            assertThat(actual).isEqualTo(expected);
            assertThatThrownBy(() -> ReplicationIT.exec(source, "bank", "INSERT INTO public.ticks (note) VALUES ('late')"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("25006"));
            assertThat(Compare.scalar(source, "bank", "SELECT count(*) FROM pg_replication_slots")).isEqualTo("0");
        } finally {
            broker.close();
        }
    }
}
