package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.messages.RefreshRequest;
import dev.pgferry.messages.RemovalRequest;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.StatusEvent;
import dev.pgferry.messages.Topics;
import dev.pgferry.pg.Secrets;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Faults injected into real processes during real migrations: a source backend terminated mid-COPY, a target
 * that cancels statements, a coordinator that dies between planning and publishing tasks, and secrets hunted in
 * every log and topic. Each ends by comparing source and target and checking the status view.
 */
class FaultInjectionIT {
    static LocalPostgres source;
    static Pgferry pgferry;

    @BeforeAll
    static void start() throws Exception {
        source = Infra.postgres();
        SampleData.create(source, 2000);
        ReplicationIT.exec(source, "postgres", "CREATE DATABASE big");
        ReplicationIT.exec(source, "big", "CREATE TABLE public.rows (id bigint PRIMARY KEY, payload text);"
                + " INSERT INTO public.rows SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 300000) g");
        // (larger than what the sockets and the worker's pipe hold: a COPY held on the target stalls it on the source)
        Gate.install(source, "big", "public.rows", "id");
        // Tables copy whole here (the copy of ranges of a split table has its own test: TableSplitIT).
        pgferry = new Pgferry(2, Long.MAX_VALUE);
    }

    @AfterAll
    static void stop() {
        pgferry.close();
        source.close();
    }

    static DatabaseStatus row(MigrationStatus s, String db) {
        return s.migrationDetail().stream().filter(d -> d.dbname().equals(db)).findFirst().orElseThrow();
    }

    @Test
    void aRefreshAndARemovalWhileTheSourceIsDownAreTriedAgainUntilTheSourceIsBack() throws Exception {
        try (LocalPostgres away = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            // Given a database replicating from a source
            ReplicationIT.exec(away, "postgres", "CREATE DATABASE app");
            ReplicationIT.exec(away, "app", "CREATE TABLE public.t (id serial PRIMARY KEY, v text);"
                    + " INSERT INTO public.t (v) SELECT 'v' || g FROM generate_series(1, 300) g");
            MigrationRequest r = ReplicationIT.request(away, target, Method.REPLICATION, List.of("postgres"));
            pgferry.submit(r);
            assertThat(row(pgferry.awaitFinal(r.migrationId()), "app").status()).isEqualTo(State.SYNCING);

            // When a table is created on the source and the source is down as the drift is refreshed
            ReplicationIT.exec(away, "app", "CREATE TABLE public.extra (id int PRIMARY KEY); INSERT INTO public.extra VALUES (1), (2)");
            away.stop();
            pgferry.bus.send(Topics.REQUESTS, r.migrationId(), Json.write(RefreshRequest.of(r.migrationId(), List.of())));

            // Then the refresh fails for now and says it tries again; once the source is back it is done
            Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "app",
                    d -> d.warnings().stream().anyMatch(w -> w.startsWith("refresh failed: ") && w.contains("trying again")));
            away.startAgain();
            DatabaseStatus refreshed = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "app",
                    d -> d.refresh() != null && d.refresh().finishedAt() != null);
            assertThat(refreshed.refresh().error()).as(refreshed.toString()).isNull();
            assertThat(refreshed.refresh().applied()).anySatisfy(a -> assertThat(a).contains("created public.extra"));
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "app").get("public.extra"),
                    Compare.tableFingerprints(away, "app").get("public.extra"));

            // When the source is down as the replication is removed
            away.stop();
            pgferry.bus.send(Topics.REQUESTS, r.migrationId(), Json.write(RemovalRequest.of(r.migrationId())));

            // Then the removal fails for now and says it tries again, and the row is not failed
            DatabaseStatus waiting = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "app",
                    d -> d.warnings().stream().anyMatch(w -> w.startsWith("removal failed: ")));
            assertThat(waiting.status()).isNotEqualTo(State.FAILED);
            assertThat(waiting.warnings()).anySatisfy(w -> assertThat(w).contains("trying again"));

            // When the source is back, then the removal finishes and nothing of the replication is left
            away.startAgain();
            DatabaseStatus removed = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "app",
                    d -> d.status() == State.REMOVED || d.status() == State.FAILED);
            assertThat(removed.status()).as(removed.toString()).isEqualTo(State.REMOVED);
            assertThat(Compare.scalar(target, "app", "SELECT count(*) FROM pg_subscription")).isEqualTo("0");
            assertThat(Compare.scalar(away, "app", "SELECT count(*) FROM pg_replication_slots")).isEqualTo("0");
            assertThat(Compare.scalar(away, "app", "SELECT count(*) FROM pg_publication")).isEqualTo("0");
            assertThat(Compare.tableFingerprints(target, "app")).isEqualTo(Compare.tableFingerprints(away, "app"));
            Reliability.record("source server down while a replication is refreshed, then while it is removed", "each"
                    + " was tried again (said in the row) and finished once the source was back: the new table's rows"
                    + " arrived; nothing of the replication left on either server",
                    Reliability.rows(Compare.tableFingerprints(away, "app")),
                    Reliability.rows(Compare.tableFingerprints(target, "app")));
        }
    }

    @Test
    void aSourceBackendTerminatedMidCopyIsRetriedWithoutDuplicates() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of("postgres", "shop", "Analytics; Ünï \"q\"", "inventory"), List.of(), List.of());
            Gate gate = Gate.close(target);
            pgferry.submit(r);

            // When the backend streaming the big table is terminated while it copies (its copy into the target held)
            gate.awaitHeld();
            String terminated = Compare.scalar(source, "postgres", "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity"
                    + " WHERE application_name LIKE 'pgferry/worker%' AND query LIKE 'COPY \"public\".\"rows\"%TO STDOUT%' LIMIT 1");
            gate.open();
            assertThat(terminated).as("a COPY backend was found and terminated").isEqualTo("true");
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            // Then the table was copied again and the database completed, no row lost or doubled
            DatabaseStatus big = row(s, "big");
            assertThat(big.status()).as(big.toString()).isEqualTo(State.DONE);
            // pgjdbc reports the terminated backend as a broken connection (08006) or as admin shutdown (57P01)
            assertThat(big.warnings()).anySatisfy(w -> assertThat(w).contains("table public.rows: copy attempt 1 failed")
                    .containsPattern("SQLSTATE (08006|57P01)"));
            var expected = Compare.tableFingerprints(source, "big");
            var actual = Compare.tableFingerprints(target, "big");
            Reliability.record("source backend terminated mid-COPY (pg_terminate_backend)",
                    big.status() == State.DONE ? "survived: table copied again from the start (connection lost, SQLSTATE class 08), database done" : "FAILED",
                    Reliability.rows(expected), Reliability.rows(actual));
            assertThat(actual).isEqualTo(expected);
        }
    }

    @Test
    void aSourceRestartMidTaskStartsTheDatabaseOverAsANewAttempt() throws Exception {
        try (LocalPostgres restarting = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            ReplicationIT.exec(restarting, "postgres", "CREATE DATABASE app");
            ReplicationIT.exec(restarting, "app", "CREATE TABLE public.items (id bigint PRIMARY KEY, payload text);"
                    + " CREATE TABLE public.notes (id int PRIMARY KEY, body text);"
                    + " INSERT INTO public.items SELECT g, md5(g::text) FROM generate_series(1, 200000) g;"
                    + " INSERT INTO public.notes SELECT g, 'note ' || g FROM generate_series(1, 500) g");
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(restarting), Pgferry.conn(target), Method.DUMP,
                    List.of("postgres"), List.of(), List.of());
            // Given a task held mid-way on the source (an application session holds a table pgferry must read)
            try (var holder = SampleData.connect(restarting, "app"); var hs = holder.createStatement()) {
                holder.setAutoCommit(false);
                hs.execute("LOCK TABLE public.notes IN ACCESS EXCLUSIVE MODE");
                pgferry.submit(r);
                long deadline = System.currentTimeMillis() + 60_000;
                while (!"true".equals(Compare.scalar(restarting, "postgres", "SELECT (count(*) > 0)::text FROM pg_stat_activity"
                        + " WHERE datname = 'app' AND wait_event_type = 'Lock'")) && System.currentTimeMillis() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(System.currentTimeMillis()).as("pgferry waits for the held table").isLessThan(deadline);
                DatabaseStatus held = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "app",
                        d -> d.status() == State.RUNNING);
                assertThat(held.attempt()).isEqualTo(1);

                // When the source server restarts (as a managed service's maintenance does), ending every session
                restarting.restart();
            } catch (java.sql.SQLException endedByTheRestart) {
                // the holder's session ended with the server
            }
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            // Then the database started over as attempt 2 by itself and completed, no row lost or doubled
            assertDoneAsAttempt2(row(s, "app"), "attempt 1 failed", restarting, target,
                    "source server restarted (pg_ctl restart -m fast) mid-task",
                    "survived: the database started over by itself as attempt 2 and completed");
        }
    }

    /**
     * Asserts that {@code row} is done as attempt 2, that it says why attempt 1 failed ({@code failed}) and that the
     * target's tables equal the source's; records the fault and the outcome in RELIABILITY.md.
     */
    static void assertDoneAsAttempt2(DatabaseStatus row, String failed, LocalPostgres from, LocalPostgres to,
                                     String fault, String outcome) throws java.sql.SQLException {
        assertThat(row.status()).as(row.toString()).isEqualTo(State.DONE);
        assertThat(row.attempt()).isEqualTo(2);
        assertThat(row.warnings()).anySatisfy(w -> assertThat(w).contains(failed).contains("starting over as attempt 2"));
        var expected = Compare.tableFingerprints(from, row.dbname());
        var actual = Compare.tableFingerprints(to, row.dbname());
        Reliability.record(fault, outcome, Reliability.rows(expected), Reliability.rows(actual));
        assertThat(actual).isEqualTo(expected);
    }

    @Test
    void anAttemptThatFailsBeforeItsTargetDatabaseIsTouchedIsStillFollowedByTheAttemptItAnnounced() throws Exception {
        try (LocalPostgres restarting = Infra.postgres()) {
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(restarting), Method.DUMP,
                    List.of("postgres", "big", "Analytics; Ünï \"q\"", "inventory"), List.of(), List.of());
            // Given shop's first attempt held in its roles step, before it touches the target database (another
            // session holds the migration's roles lock on the target)
            var targetPg = new dev.pgferry.pg.PgConnector(r.target(), dev.pgferry.pg.Side.TARGET, "it", Secrets.system());
            try (var held = dev.pgferry.worker.task.TaskLock.acquireRoles(targetPg, r.migrationId())) {
                pgferry.submit(r);
                ReplicationIT.eventually(() -> Compare.scalar(restarting, "postgres", "SELECT count(*) FROM pg_locks"
                        + " WHERE locktype = 'advisory' AND NOT granted"), "1");

                // When the target server restarts, ending the attempt in that step
                restarting.restart();
            }
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            // Then the attempt the row announced (2) runs and finishes: its events are not dropped as an older
            // attempt's (attempt 1 wrote no marker, so the next run once counted itself attempt 1 again)
            DatabaseStatus shop = row(s, "shop");
            assertDoneAsAttempt2(shop, "attempt 1 failed: locking the roles", source, restarting,
                    "target server restarted while the task waited in its roles step (before its marker)",
                    "survived: the database started over as attempt 2, the attempt its row announced, and completed");
            assertThat(shop.startedAt()).isNotNull();
        }
    }

    @Test
    void aTargetDatabaseThatRefusesWritesFailsThatDatabaseOnlyAndDefaultsForApplicationsDoNotApply() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            // Given a target database whose event trigger refuses every new table, and one whose statements time
            // out at once and whose transactions are read-only by default, for applications
            ReplicationIT.exec(target, "postgres", "CREATE DATABASE inventory");
            ReplicationIT.exec(target, "inventory", "CREATE FUNCTION public.refuse() RETURNS event_trigger LANGUAGE plpgsql"
                    + " AS $$BEGIN RAISE EXCEPTION 'this database takes no new tables'; END$$;"
                    + " CREATE EVENT TRIGGER refuse ON ddl_command_start WHEN TAG IN ('CREATE TABLE')"
                    + " EXECUTE FUNCTION public.refuse()");
            ReplicationIT.exec(target, "postgres", "CREATE DATABASE shop");
            ReplicationIT.exec(target, "postgres", "ALTER DATABASE shop SET statement_timeout = '1ms'");
            ReplicationIT.exec(target, "postgres", "ALTER DATABASE shop SET idle_in_transaction_session_timeout = '1ms'");
            ReplicationIT.exec(target, "postgres", "ALTER DATABASE shop SET default_transaction_read_only = on");
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of("postgres", "big", "Analytics; Ünï \"q\""), List.of(), List.of());

            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            // Then the refusing database fails with its reason and the other is done: pgferry's sessions run
            // without statement and idle timeouts, as pg_dump and pg_restore do, and in read-write transactions
            DatabaseStatus inventory = row(s, "inventory");
            assertThat(inventory.status()).as(s.toString()).isEqualTo(State.FAILED);
            assertThat(inventory.error()).contains("this database takes no new tables");
            DatabaseStatus shop = row(s, "shop");
            assertThat(shop.status()).as(shop.toString()).isEqualTo(State.DONE);
            // (the test's own sessions are an application: they would time out)
            ReplicationIT.exec(target, "postgres", "ALTER DATABASE shop RESET ALL");
            var expected = Compare.tableFingerprints(source, "shop");
            var actual = Compare.tableFingerprints(target, "shop");
            assertThat(actual).isEqualTo(expected);
            Reliability.record("one target database refuses new tables (an event trigger raises)",
                    "that database failed with " + inventory.errorCode() + " (\"this database takes no new tables\");"
                            + " the others done",
                    Reliability.rows(expected), Reliability.rows(actual));
            Reliability.record("target database with statement_timeout and idle_in_transaction_session_timeout of 1 ms"
                            + " and default_transaction_read_only on",
                    shop.status() == State.DONE ? "done: pgferry's sessions run without those application defaults" : "FAILED",
                    Reliability.rows(expected), Reliability.rows(actual));
        }
    }

    @Test
    void aCoordinatorDyingBetweenPlanningAndPublishingTasksTurnsTheRequestIntoTasksExactlyOnce() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            // Given a coordinator process that dies right after writing the planned event, before the tasks
            pgferry.coordinator.close();
            Process doomed = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-XX:TieredStopAtLevel=1", "-Dpgferry.fault.intake.haltAfterPlanned=true",
                    "-cp", System.getProperty("java.class.path"), "dev.pgferry.cli.Main", "coordinator",
                    "--bootstrap-servers", Infra.kafka(), "--http-port", "0")
                    .redirectErrorStream(true).redirectOutput(Infra.work().resolve("doomed-coordinator.log").toFile()).start();
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of("postgres", "big", "shop"), List.of(), List.of());
            pgferry.submit(r);
            assertThat(doomed.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(doomed.exitValue()).isEqualTo(137);

            // When a coordinator starts again
            pgferry.coordinator = Coordinator.start(Infra.kafka(), "127.0.0.1", 0, 1_000);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            // Then the request became one plan and one task per database, and the migration completed
            assertThat(s.migration().status()).isEqualTo(State.DONE);
            List<StatusEvent> events = FaultsIT.readAll(Topics.STATUS).stream().map(e -> Json.readEvent(e.value()))
                    .filter(e -> e.migrationId().equals(r.migrationId())).toList();
            assertThat(events.stream().filter(e -> e instanceof StatusEvent.MigrationPlanned).count()).isEqualTo(1);
            List<String> tasks = FaultsIT.readAll(Topics.TASKS).stream().map(e -> Json.readTask(e.value()))
                    .filter(t -> t.migrationId().equals(r.migrationId())).map(MigrationTask::dbname).sorted().toList();
            assertThat(tasks).containsExactly("Analytics; Ünï \"q\"", "inventory");
            var expected = Compare.tableFingerprints(source, "inventory");
            var actual = Compare.tableFingerprints(target, "inventory");
            assertThat(actual).isEqualTo(expected);
            Reliability.record("coordinator killed between planning and publishing tasks",
                    "survived: the aborted transaction left nothing; the restarted coordinator planned once, 2 tasks for 2 databases",
                    Reliability.rows(expected), Reliability.rows(actual));
        }
    }

    @Test
    void rawBadRequestsAreDeadLetteredWithTheirPasswordsRedacted() throws Exception {
        // Given a malformed request, submitted as raw bytes, that carries a recognisable password
        String secret = SecretHuntIT.RAW_SECRET;
        Path raw = Infra.work().resolve("bad-request.json");
        Files.writeString(raw, "{\"migration_id\": \"raw-bad-1\", \"source\": {\"host\": \"h\", \"user\": \"u\","
                + " \"password\": \"" + secret + "\"}, \"target\": {\"host\": \"h\", \"user\": \"u\"}, \"bogus\": 1}");
        int rc = CliIT.pgferry("submit", "--raw", raw.toString(), "--bootstrap-servers", Infra.kafka()).exitCode();
        assertThat(rc).isEqualTo(0);

        MigrationStatus s = pgferry.awaitFinal("raw-bad-1");
        assertThat(s.migration().status()).isEqualTo(State.FAILED);
        assertThat(s.migration().error()).contains("bogus");
        Optional<ConsumerRecord<String, byte[]>> dead = FaultsIT.readAll(Topics.DEAD_LETTERS).stream()
                .filter(d -> "raw-bad-1".equals(d.key())).findFirst();
        assertThat(dead).isPresent();
        String deadText = new String(dead.get().value(), StandardCharsets.UTF_8);
        assertThat(deadText).contains("\"bogus\": 1").contains("\"password\": \"***\"").doesNotContain(secret);

        Reliability.record("malformed request with a password, submitted raw (submit --raw)",
                "dead-lettered with the reason, password redacted; migration failed with INVALID_REQUEST; coordinator kept serving",
                null, null);

    }
}
