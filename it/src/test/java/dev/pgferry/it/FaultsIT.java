package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.bus.Ledger;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.messages.Connection;
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
import dev.pgferry.worker.task.DatabaseMigration;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Bad input and broken servers: each ends with a clear, coded error, and nothing else stops. */
class FaultsIT {
    static LocalPostgres source;
    static Pgferry pgferry;

    @BeforeAll
    static void start() throws Exception {
        source = Infra.postgres();
        SampleData.create(source, 500);
        pgferry = new Pgferry(2);
    }

    @AfterAll
    static void stop() {
        pgferry.close();
        source.close();
    }

    private static DatabaseStatus row(MigrationStatus s, String db) {
        return s.migrationDetail().stream().filter(d -> d.dbname().equals(db)).findFirst().orElseThrow();
    }

    @Test
    void unreachableTargetFailsTheMigrationWithoutLeakingThePassword() throws Exception {
        MigrationRequest r = MigrationRequest.of(Pgferry.conn(source),
                new Connection("127.0.0.1", 1, "postgres", "postgres", Infra.PASSWORD, null, "disable"),
                Method.DUMP, List.of(), List.of(), List.of());

        pgferry.submit(r);
        MigrationStatus s = pgferry.awaitFinal(r.migrationId());

        assertThat(s.migration().status()).isEqualTo(State.FAILED);
        assertThat(s.migration().error()).contains("cannot connect to target postgres@127.0.0.1:1/postgres")
                .doesNotContain(Infra.PASSWORD);
        assertThat(s.migrationDetail()).isEmpty();
        assertThat(Json.mapper().writeValueAsString(s)).doesNotContain(Infra.PASSWORD);
        Reliability.record("unreachable target (closed port)", "failed before anything was written: TARGET_UNREACHABLE, no password in the error", null, null);
    }

    @Test
    void wrongSourcePasswordFailsWithAuthFailed() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            MigrationRequest r = MigrationRequest.of(
                    new Connection(source.host(), source.port(), "postgres", "postgres", "not-the-password", null, "disable"),
                    Pgferry.conn(target), Method.DUMP, List.of(), List.of(), List.of());

            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            assertThat(s.migration().status()).isEqualTo(State.FAILED);
            assertThat(s.migration().error()).contains("password authentication failed").contains("28P01")
                    .doesNotContain("not-the-password");
            Reliability.record("wrong source password", "failed at once with AUTH_FAILED (SQLSTATE 28P01), not retried", null, null);
        }
    }

    @Test
    void malformedRequestsGoToTheDeadLetterTopicAndTheCoordinatorKeepsWorking() throws Exception {
        byte[] garbage = "{\"migration_id\": \"broken-1\", \"source\": ".getBytes(StandardCharsets.UTF_8);
        byte[] incomplete = "{\"migration_id\": \"broken-2\", \"source\": {\"host\": \"h\"}, \"target\": {\"host\": \"h\", \"user\": \"u\"}}"
                .getBytes(StandardCharsets.UTF_8);
        pgferry.bus.send(Topics.REQUESTS, "broken-1", garbage);
        pgferry.bus.send(Topics.REQUESTS, "broken-2", incomplete);

        // The readable id gets a failed migration with the validation message
        MigrationStatus s = pgferry.awaitFinal("broken-2");
        assertThat(s.migration().status()).isEqualTo(State.FAILED);
        assertThat(s.migration().error()).contains("user is required");

        // Both messages sit in the dead-letter topic, bytes unchanged, with a reason
        List<ConsumerRecord<String, byte[]>> dead = readAll(Topics.DEAD_LETTERS);
        ConsumerRecord<String, byte[]> first = dead.stream().filter(d -> "broken-1".equals(d.key())).findFirst().orElseThrow();
        assertThat(first.value()).isEqualTo(garbage);
        assertThat(new String(first.headers().lastHeader(Topics.REASON_HEADER).value(), StandardCharsets.UTF_8))
                .isEqualTo("invalid message: malformed JSON");
        assertThat(dead).anySatisfy(d -> assertThat(d.key()).isEqualTo("broken-2"));
        Reliability.record("malformed JSON and a request missing a field", "dead-lettered with the reason; failed migration"
                + " where the id was readable; the next request completed", null, null);

        // And a valid request after them still completes
        try (LocalPostgres target = Infra.postgres()) {
            MigrationRequest ok = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of("shop", "Analytics; Ünï \"q\"", "postgres"), List.of(), List.of());
            pgferry.submit(ok);
            assertThat(pgferry.awaitFinal(ok.migrationId()).migration().status()).isEqualTo(State.DONE);
            assertThat(Compare.tableFingerprints(target, "inventory")).isEqualTo(Compare.tableFingerprints(source, "inventory"));
        }
    }

    @Test
    void oneBrokenDatabaseFailsAloneWhileTheOthersComplete() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            // Given a target whose "inventory" database already holds a table
            try (var c = SampleData.connect(target, "postgres"); var st = c.createStatement()) {
                st.execute("CREATE DATABASE inventory");
            }
            try (var c = SampleData.connect(target, "inventory"); var st = c.createStatement()) {
                st.execute("CREATE TABLE precious (id int); INSERT INTO precious VALUES (1), (2)");
            }
            MigrationRequest r = Pgferry.request(source, target, List.of("postgres"));

            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            assertThat(s.migration().status()).isEqualTo(State.FAILED);
            assertThat(s.migration().error()).startsWith("1 of 3 databases failed: inventory:");
            DatabaseStatus inventory = row(s, "inventory");
            assertThat(inventory.status()).isEqualTo(State.FAILED);
            assertThat(inventory.errorCode()).isEqualTo(ErrorCode.TARGET_NOT_EMPTY);
            assertThat(inventory.error()).contains("public.precious");
            assertThat(row(s, "shop").status()).isEqualTo(State.DONE);
            assertThat(Compare.tableFingerprints(target, "shop")).isEqualTo(Compare.tableFingerprints(source, "shop"));
            // the user's table is untouched
            assertThat(Compare.scalar(target, "inventory", "SELECT count(*) FROM precious")).isEqualTo("2");
            Reliability.record("target database already holding tables", "that database failed with TARGET_NOT_EMPTY"
                    + " and was left untouched; the others done", Reliability.rows(Compare.tableFingerprints(source, "shop")),
                    Reliability.rows(Compare.tableFingerprints(target, "shop")));
        }
    }

    @Test
    void aRetriedTaskStartsOverWithoutDuplicatingRows() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of("shop", "Analytics; Ünï \"q\"", "postgres"), List.of(), List.of());
            // Given what a worker killed mid-copy leaves behind: its ledger marker, and a database holding part of the rows
            try (Ledger ledger = new Ledger(pgferry.bus, "it-leftover")) {
                ledger.write(LedgerEntry.databaseKey(r.migrationId(), "inventory"), LedgerEntry.running(1, true));
            }
            try (var c = SampleData.connect(target, "postgres"); var st = c.createStatement()) {
                st.execute("CREATE DATABASE inventory");
            }
            try (var c = SampleData.connect(target, "inventory"); var st = c.createStatement()) {
                st.execute("CREATE TABLE public.items (sku text, qty int, data bytea)");
                st.execute("INSERT INTO public.items SELECT 'sku-' || g, 1, NULL FROM generate_series(1, 120) g");
            }

            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            assertThat(s.migration().status()).isEqualTo(State.DONE);
            assertThat(row(s, "inventory").attempt()).isEqualTo(2);
            assertThat(Compare.tableFingerprints(target, "inventory")).isEqualTo(Compare.tableFingerprints(source, "inventory"));
            assertThat(Compare.scalar(target, "inventory", "SELECT count(*) FROM public.items")).isEqualTo("300");
            // the database's comment is the source's: pgferry keeps its marker in the ledger, not in the database
            assertThat(Compare.scalar(target, "postgres", "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                    + " WHERE datname = 'inventory'")).isEqualTo(Compare.scalar(source, "postgres",
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = 'inventory'"));
            Reliability.record("half-copied database left by a dead worker", "survived: dropped and redone as attempt 2",
                    Reliability.rows(Compare.tableFingerprints(source, "inventory")),
                    Reliability.rows(Compare.tableFingerprints(target, "inventory")));
        }
    }

    @Test
    void coordinatorRebuildsTheSameViewAfterARestart() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of("postgres"), List.of(), List.of());
            pgferry.submit(r);
            MigrationStatus before = pgferry.awaitFinal(r.migrationId());
            String allBefore = Json.mapper().writeValueAsString(pgferry.coordinator.fold().all());

            pgferry.coordinator.close();
            pgferry.coordinator = Coordinator.start(Infra.kafka(), "127.0.0.1", 0);
            pgferry.coordinator.follower().awaitCaughtUp(Duration.ofMinutes(1));

            assertThat(pgferry.coordinator.fold().view(r.migrationId())).contains(before);
            assertThat(Json.mapper().writeValueAsString(pgferry.coordinator.fold().all())).isEqualTo(allBefore);
            Reliability.record("coordinator restarted", "the status view rebuilt by replay equals the view before", null, null);
        }
    }

    @Test
    void badRequestsFailBeforeAnythingIsWritten() throws Exception {
        // A source equal to the target, spelled differently
        MigrationRequest same = MigrationRequest.of(Pgferry.conn(source),
                new Connection("localhost", source.port(), "postgres", "postgres", Infra.PASSWORD, null, "disable"),
                Method.DUMP, List.of(), List.of(), List.of());
        pgferry.submit(same);
        assertThat(pgferry.awaitFinal(same.migrationId()).migration().error())
                .contains("source and target are the same server");

        // An unknown host, a missing bootstrap database
        MigrationRequest unknownHost = MigrationRequest.of(
                new Connection("no-such-host.invalid", 5432, "postgres", "postgres", Infra.PASSWORD, null, "disable"),
                Pgferry.conn(source), Method.DUMP, List.of(), List.of(), List.of());
        pgferry.submit(unknownHost);
        MigrationRequest missingDb = MigrationRequest.of(
                new Connection(source.host(), source.port(), "nope", "postgres", Infra.PASSWORD, null, "disable"),
                new Connection("127.0.0.1", 1, "postgres", "postgres", Infra.PASSWORD, null, "disable"),
                Method.DUMP, List.of(), List.of(), List.of());
        pgferry.submit(missingDb);
        assertThat(pgferry.awaitFinal(unknownHost.migrationId()).migration().error())
                .contains("cannot connect to source postgres@no-such-host.invalid:5432/postgres").doesNotContain(Infra.PASSWORD);
        // (the target is checked first: make it reachable to see the missing source database)
        MigrationRequest missingDb2 = MigrationRequest.of(
                new Connection(source.host(), source.port(), "nope", "postgres", Infra.PASSWORD, null, "disable"),
                Pgferry.conn(Infra.sharedTarget()), Method.DUMP, List.of(), List.of(), List.of());
        pgferry.submit(missingDb2);
        assertThat(pgferry.awaitFinal(missingDb2.migrationId()).migration().error())
                .contains("database \"nope\" does not exist").contains("3D000");

        // An unknown schema_version and an oversized message go to the dead-letter topic
        pgferry.bus.send(Topics.REQUESTS, "future-1", "{\"schema_version\": 9, \"migration_id\": \"future-1\"}"
                .getBytes(StandardCharsets.UTF_8));
        assertThat(pgferry.awaitFinal("future-1").migration().error()).contains("unknown schema_version 9");
        byte[] huge = ("{\"migration_id\": \"huge-1\", \"pad\": \"" + "x".repeat(Json.MAX_MESSAGE_BYTES) + "\"}")
                .getBytes(StandardCharsets.UTF_8);
        pgferry.bus.send(Topics.REQUESTS, "huge-1", huge);
        long deadline = System.currentTimeMillis() + 60_000;
        List<ConsumerRecord<String, byte[]>> dead = List.of();
        while (System.currentTimeMillis() < deadline
                && dead.stream().noneMatch(d -> "huge-1".equals(d.key()))) {
            Thread.sleep(200);
            dead = readAll(Topics.DEAD_LETTERS);
        }
        assertThat(dead.stream().filter(d -> "huge-1".equals(d.key())).findFirst().orElseThrow().headers()
                .lastHeader(Topics.REASON_HEADER).value()).asString(StandardCharsets.UTF_8).contains("exceeds the limit");
        Reliability.record("source equal to target (localhost vs 127.0.0.1), unknown host, missing database,"
                + " unknown schema_version, oversized message", "each failed with a clear error before anything was"
                + " written (or was dead-lettered); no password in the errors", null, null);
    }

    @Test
    void aSchemaDumpThatFailsFailsItsDatabaseWithTheDumpsErrorAndLeavesNothingOnTheTarget() throws Exception {
        // Given a source database with a table the migration's (non-superuser) source user may not read: pg_dump,
        // which locks every table it dumps, fails on it, while the target database is being made beside it
        ReplicationIT.exec(source, "postgres", "CREATE ROLE dump_limited LOGIN PASSWORD '" + Infra.PASSWORD + "'");
        ReplicationIT.exec(source, "postgres", "CREATE DATABASE unreadable");
        ReplicationIT.exec(source, "unreadable", "CREATE TABLE public.secret (id int PRIMARY KEY);"
                + " REVOKE ALL ON public.secret FROM PUBLIC");
        try (LocalPostgres target = Infra.postgres()) {
            List<String> others = List.of(Compare.scalar(source, "postgres", "SELECT string_agg(datname, ',')"
                    + " FROM pg_catalog.pg_database WHERE NOT datistemplate AND datname <> 'unreadable'").split(","));
            MigrationRequest r = MigrationRequest.of(new Connection(source.host(), source.port(), "postgres",
                    "dump_limited", Infra.PASSWORD, null, "disable"), Pgferry.conn(target), Method.DUMP, others,
                    List.of(), List.of());

            pgferry.submit(r);
            DatabaseStatus unreadable = row(pgferry.awaitFinal(r.migrationId()), "unreadable");

            // Then the database failed with the dump's error, as a dump failure, not retried, and the target
            // database pgferry had created for it is gone
            assertFailedAtOnceAndGone(unreadable, ErrorCode.SCHEMA_DUMP_FAILED, target, "pg_dump", "secret");
            Reliability.record("schema dump failed (a table the source user may not read)", "failed that database"
                    + " with SCHEMA_DUMP_FAILED and pg_dump's error; the target database it had created was dropped",
                    null, null);
        }
    }

    @Test
    void tablesCopyWhileThePreDataRestoreGoesOnAndItsFailureLeavesNothingOnTheTarget() throws Exception {
        // Given a source database of 120 tables with a serial key each, default privileges for a role, and a
        // partition whose bound is of a domain that calls the gate: the pre-data restore, which attaches the
        // partition after every table (and sets default privileges last), is held there on the target while the
        // gate is closed
        ReplicationIT.exec(source, "postgres", "CREATE DATABASE crowded");
        ReplicationIT.exec(source, "postgres", "CREATE ROLE crowded_reader");
        Gate.installFunction(source, "crowded");
        ReplicationIT.exec(source, "crowded", "DO $$ BEGIN FOR i IN 1..120 LOOP"
                + " EXECUTE format('CREATE TABLE public.t%s (id serial PRIMARY KEY, note text)', i);"
                + " EXECUTE format('INSERT INTO public.t%s (note) SELECT ''row '' || g FROM generate_series(1, 5) g', i);"
                + " END LOOP; END $$;"
                + " CREATE DOMAIN public.gated AS int CHECK (public.pgferry_it_gate(VALUE));"
                + " CREATE TABLE public.parts (k public.gated) PARTITION BY RANGE (k);"
                + " CREATE TABLE public.parts_1 PARTITION OF public.parts FOR VALUES FROM (1) TO (10);"
                + " ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO crowded_reader");
        try (LocalPostgres target = Infra.postgres()) {
            List<String> others = List.of(Compare.scalar(source, "postgres", "SELECT string_agg(datname, ',')"
                    + " FROM pg_catalog.pg_database WHERE NOT datistemplate AND datname NOT IN ('crowded', 'shop')").split(","));
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP, others,
                    List.of(), List.of());
            Gate gate = Gate.close(target);
            pgferry.submit(r);
            awaitTrue(() -> !Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_stat_activity"
                    + " WHERE wait_event = 'PgSleep' AND query LIKE '%ATTACH PARTITION%'").equals("0"));

            // When, while the restore is held, the tables it has committed are copied
            awaitTrue(() -> "5".equals(Compare.scalar(target, "crowded", "SELECT count(*) FROM public.t1"))
                    && "5".equals(Compare.scalar(target, "crowded", "SELECT count(*) FROM public.t120")));
            // and the role of the default privileges is dropped on the target before the restore gets to them
            ReplicationIT.exec(target, "postgres", "DROP ROLE crowded_reader");
            gate.open();
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            // Then the restore's last statement failed the database, with that statement and its SQLSTATE
            // (undefined_object), at once; the target database pgferry had made for it is gone, its rows with it
            // (the restore's session was closed before the drop)
            DatabaseStatus crowded = row(s, "crowded");
            assertFailedAtOnceAndGone(crowded, ErrorCode.SCHEMA_RESTORE_FAILED, target, "ALTER DEFAULT PRIVILEGES",
                    "SQLSTATE 42704");
            // and the other database arrived whole
            assertThat(row(s, "shop").status()).isEqualTo(State.DONE);
            assertThat(Compare.tableFingerprints(target, "shop")).isEqualTo(Compare.tableFingerprints(source, "shop"));
            Reliability.record("pre-data restore failed while the tables it had made were copying (a role dropped on"
                    + " the target meanwhile)", "failed that database with SCHEMA_RESTORE_FAILED, the statement and"
                    + " SQLSTATE 42704; the target database it had created was dropped; the other database done",
                    Reliability.rows(Compare.tableFingerprints(source, "shop")),
                    Reliability.rows(Compare.tableFingerprints(target, "shop")));
        } finally {
            ReplicationIT.exec(source, "postgres", "DROP DATABASE crowded");
            ReplicationIT.exec(source, "postgres", "DROP ROLE crowded_reader");
        }
    }

    /**
     * {@code row} failed with {@code code} and an error naming each of {@code fragments}, at its first attempt (not
     * retried), and the target database pgferry had made for it is gone.
     */
    private static void assertFailedAtOnceAndGone(DatabaseStatus row, ErrorCode code, LocalPostgres target,
                                                  String... fragments) throws Exception {
        assertThat(row.status()).as(row.toString()).isEqualTo(State.FAILED);
        assertThat(row.errorCode()).isEqualTo(code);
        assertThat(row.error()).contains(fragments);
        assertThat(row.attempt()).isEqualTo(1);
        assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_catalog.pg_database WHERE datname = '"
                + row.dbname().replace("'", "''") + "'")).isEqualTo("0");
    }

    private interface Check {
        boolean holds() throws Exception;
    }

    /** Waits (at most 120 s) until {@code check} holds. */
    private static void awaitTrue(Check check) throws Exception {
        long deadline = System.currentTimeMillis() + 120_000;
        while (!check.holds()) {
            assertThat(System.currentTimeMillis()).as("waited 120 s").isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    @Test
    void aSettledLedgerEntryIsKnownWithoutKafkaOnlyToALedgerThatReadOrWroteIt() {
        String key = LedgerEntry.rolesKey("m-settled-" + System.nanoTime());
        try (Ledger a = new Ledger(pgferry.bus, "it-settle-a"); Ledger b = new Ledger(pgferry.bus, "it-settle-b")) {
            // Nothing to remember while the key has no entry
            assertThat(a.readAndSettle(key)).isEmpty();
            assertThat(a.readSettled(key)).isEmpty();

            a.writeSettled(key, LedgerEntry.rolesDone(List.of("ghost"), List.of()));

            // The writer knows it from memory; another ledger only after reading it from the topic
            assertThat(a.readSettled(key)).map(LedgerEntry::missing).contains(List.of("ghost"));
            assertThat(b.readSettled(key)).isEmpty();
            assertThat(b.readAndSettle(key)).map(LedgerEntry::missing).contains(List.of("ghost"));
            assertThat(b.readSettled(key)).map(LedgerEntry::missing).contains(List.of("ghost"));
        }
    }

    @Test
    void twoWorkersGivenTheSameTaskNeverWorkOnTheDatabaseAtOnce() throws Exception {
        try (LocalPostgres target = Infra.postgres(); Ledger ledgerA = new Ledger(pgferry.bus, "it-a");
             Ledger ledgerB = new Ledger(pgferry.bus, "it-b")) {
            // Given one task delivered to two workers at the same time (as a rebalance can do)
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of(), List.of(), List.of());
            MigrationTask task = MigrationTask.of(r, "shop");
            List<StatusEvent> events = java.util.Collections.synchronizedList(new ArrayList<>());
            Thread a = new Thread(() -> new DatabaseMigration(task, "worker-a", events::add, java.time.Clock.systemUTC(),
                    Secrets.system(), 2, 0, ledgerA).run());
            Thread b = new Thread(() -> new DatabaseMigration(task, "worker-b", events::add, java.time.Clock.systemUTC(),
                    Secrets.system(), 2, 0, ledgerB).run());

            // When both run it
            a.start();
            b.start();
            a.join(120_000);
            b.join(120_000);

            // Then exactly one did the work, once, and the other found it done
            assertThat(events.stream().filter(e -> e instanceof StatusEvent.TaskStarted).count()).isEqualTo(1);
            assertThat(events.stream().filter(e -> e instanceof StatusEvent.TaskDone).count()).isEqualTo(1);
            assertThat(events).noneMatch(e -> e instanceof StatusEvent.TaskFailed);
            assertThat(events.stream().map(StatusEvent::workerId).distinct().count()).isEqualTo(1);
            assertThat(Compare.tableFingerprints(target, "shop")).isEqualTo(Compare.tableFingerprints(source, "shop"));
            Reliability.record("one task delivered to two workers at once", "fenced by the target lock: one did the work,"
                    + " the other found it done", Reliability.rows(Compare.tableFingerprints(source, "shop")),
                    Reliability.rows(Compare.tableFingerprints(target, "shop")));
        }
    }

    @Test
    void aSecondDeliveryOfARunningTaskGivesUpAtOnceWhileAnotherTaskOfTheDatabaseWaits() throws Exception {
        try (LocalPostgres target = Infra.postgres(); Ledger ledger = new Ledger(pgferry.bus, "it-duplicate")) {
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of(), List.of(), List.of());
            dev.pgferry.pg.PgConnector targetPg = new dev.pgferry.pg.PgConnector(r.target(), dev.pgferry.pg.Side.TARGET,
                    "it", Secrets.system());
            List<StatusEvent> events = java.util.Collections.synchronizedList(new ArrayList<>());
            Thread removal;
            // Given the first delivery of shop's task (record 0:42) running on one worker: it holds the task's lock
            try (dev.pgferry.worker.task.TaskLock first = dev.pgferry.worker.task.TaskLock.acquire(targetPg,
                    r.migrationId(), "shop", "migrate@0:42")) {
                assertThat(first).isNotNull();

                // When the same record is delivered to a second worker (a rebalance before the first's commit)
                boolean finished = new DatabaseMigration(MigrationTask.of(r, "shop"), "worker-b", events::add,
                        java.time.Clock.systemUTC(), Secrets.system(), 2, 0, ledger).withDelivery("0:42").run();

                // Then it gives up at once, touching nothing, instead of holding a slot until the task ends
                assertThat(finished).isTrue();
                assertThat(events).isEmpty();
                assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'shop'"))
                        .isEqualTo("0");

                // and another task of that database (a removal, record 3:7) waits for the lock as before
                removal = new Thread(() -> new DatabaseMigration(MigrationTask.removal(r, "shop", false), "worker-c", events::add,
                        java.time.Clock.systemUTC(), Secrets.system(), 2, 0, ledger).withDelivery("3:7").run());
                removal.start();
                ReplicationIT.eventually(() -> Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_locks l"
                        + " JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND NOT l.granted"
                        + " AND a.application_name = 'pgferry/lock/remove@3:7'"), "1");
                assertThat(events).isEmpty();
            }
            // once the first run's lock is gone, the removal runs
            removal.join(60_000);
            assertThat(events).singleElement().isInstanceOf(StatusEvent.TaskRemoved.class);
            Reliability.record("the same task record delivered to a second worker while the first runs it",
                    "the second gave up at once (no event, nothing touched); a removal of that database waited for the"
                            + " lock, then ran", null, null);
        }
    }

    @Test
    void aRefusedTaskRunAgainNeverTakesTheUsersDatabaseForItsOwn() throws Exception {
        try (LocalPostgres target = Infra.postgres(); Ledger ledger = new Ledger(pgferry.bus, "it-refused-twice")) {
            // Given a target whose database shop is the user's own, with a table in it
            try (var c = SampleData.connect(target, "postgres"); var st = c.createStatement()) {
                st.execute("CREATE DATABASE shop");
            }
            try (var c = SampleData.connect(target, "shop"); var st = c.createStatement()) {
                st.execute("CREATE TABLE keep_me (id int PRIMARY KEY); INSERT INTO keep_me SELECT generate_series(1, 42)");
            }
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of(), List.of(), List.of());
            MigrationTask task = MigrationTask.of(r, "shop");
            List<StatusEvent> events = java.util.Collections.synchronizedList(new ArrayList<>());

            // When its task runs twice (a redelivery after a failed offset commit, as a rebalance causes)
            new DatabaseMigration(task, "worker-a", events::add, java.time.Clock.systemUTC(), Secrets.system(), 2, 0, ledger).run();
            new DatabaseMigration(task, "worker-b", events::add, java.time.Clock.systemUTC(), Secrets.system(), 2, 0, ledger).run();

            // Then both runs refuse the database and it is left exactly as it was (the second run used to take it for
            // a half-done copy of its own and drop it)
            List<StatusEvent.TaskFailed> failed = events.stream().filter(e -> e instanceof StatusEvent.TaskFailed)
                    .map(e -> (StatusEvent.TaskFailed) e).toList();
            assertThat(failed).hasSize(2).allSatisfy(f -> assertThat(f.error().code()).isEqualTo(ErrorCode.TARGET_NOT_EMPTY));
            assertThat(failed).allSatisfy(f -> assertThat(f.attempt()).isEqualTo(1));
            assertThat(Compare.scalar(target, "shop", "SELECT count(*) FROM keep_me")).isEqualTo("42");
            Reliability.record("a refused task delivered again (user's database holding tables)", "refused again with"
                    + " TARGET_NOT_EMPTY; the user's database untouched", null, null);
        }
    }

    /** What a worker's death looks like to the task it runs: nothing after this point of the run happens. */
    private static final class WorkerDied extends Error {
    }

    @Test
    void aTaskThatKillsItsWorkerEveryTimeIsGivenUpAfterItsLastAttemptLeavingNothingBehind() throws Exception {
        try (LocalPostgres target = Infra.postgres(); Ledger ledger = new Ledger(pgferry.bus, "it-crash-loop")) {
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of(), List.of(), List.of());
            MigrationTask task = MigrationTask.of(r, "shop");
            List<StatusEvent> events = java.util.Collections.synchronizedList(new ArrayList<>());
            // Given a task whose worker dies each time its copy starts (as one killed for memory would), run again
            // each time, as the coordinator queues it again once the dead worker's claim falls silent
            java.util.function.Consumer<StatusEvent> dying = e -> {
                events.add(e);
                if (e instanceof StatusEvent.PhaseChanged p && p.phase() == dev.pgferry.messages.Phase.DATA) {
                    throw new WorkerDied();
                }
            };
            for (int i = 1; i <= DatabaseMigration.MAX_ATTEMPTS; i++) {
                try {
                    new DatabaseMigration(task, "worker-" + i, dying, java.time.Clock.systemUTC(), Secrets.system(), 2,
                            0, ledger).run();
                    throw new AssertionError("attempt " + i + " ran to its end");
                } catch (WorkerDied expected) {
                    // the worker is gone: its half-made database stays until the next attempt
                }
            }
            assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'shop'"))
                    .isEqualTo("1");

            // When the task is delivered once more
            boolean finished = new DatabaseMigration(task, "worker-last", dying, java.time.Clock.systemUTC(),
                    Secrets.system(), 2, 0, ledger).run();

            // Then it is not started: it fails for good with the attempts counted, says what to do, and the
            // half-copied database pgferry created is gone
            assertThat(finished).isTrue();
            StatusEvent.TaskFailed failed = (StatusEvent.TaskFailed) events.get(events.size() - 1);
            assertThat(failed.attempt()).isEqualTo(DatabaseMigration.MAX_ATTEMPTS + 1);
            assertThat(failed.error().code()).isEqualTo(ErrorCode.TOO_MANY_ATTEMPTS);
            assertThat(failed.error().message()).contains("started " + DatabaseMigration.MAX_ATTEMPTS + " times")
                    .contains("worker logs").contains("half-copied target database was dropped");
            assertThat(events.stream().filter(e -> e instanceof StatusEvent.TaskStarted).count())
                    .isEqualTo(DatabaseMigration.MAX_ATTEMPTS);
            assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'shop'"))
                    .isEqualTo("0");
            Reliability.record("a task that kills its worker every time (" + DatabaseMigration.MAX_ATTEMPTS
                            + " attempts, each stopped mid-task)", "not started again: failed with TOO_MANY_ATTEMPTS"
                            + " and what to do; its half-copied database dropped", null, null);
        }
    }

    @Test
    void aFinishedDatabaseWhoseLastEventCannotBeWrittenStaysAndItsEventIsWrittenLater() throws Exception {
        try (LocalPostgres target = Infra.postgres(); Ledger ledger = new Ledger(pgferry.bus, "it-final-event")) {
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of(), List.of(), List.of());
            MigrationTask task = MigrationTask.of(r, "shop");
            List<StatusEvent> events = java.util.Collections.synchronizedList(new ArrayList<>());
            java.util.concurrent.atomic.AtomicBoolean brokerDown = new java.util.concurrent.atomic.AtomicBoolean(true);
            // Given a status topic that cannot take the database's final event (the broker went away at that moment)
            java.util.function.Consumer<StatusEvent> emit = e -> {
                if (e instanceof StatusEvent.TaskDone && brokerDown.get()) {
                    throw new IllegalStateException("cannot write to pgferry.status: injected outage");
                }
                events.add(e);
            };

            // When the task runs
            boolean handled = new DatabaseMigration(task, "worker-a", emit, java.time.Clock.systemUTC(), Secrets.system(),
                    2, 0, ledger).run();

            // Then the task is not handled yet, and the finished database stays (it used to be dropped as a failure)
            assertThat(handled).isFalse();
            assertThat(events).noneMatch(e -> e instanceof StatusEvent.TaskFailed || e instanceof StatusEvent.TaskDone);
            assertThat(Compare.tableFingerprints(target, "shop")).isEqualTo(Compare.tableFingerprints(source, "shop"));

            // When it runs again with the broker back
            brokerDown.set(false);
            boolean again = new DatabaseMigration(task, "worker-b", emit, java.time.Clock.systemUTC(), Secrets.system(),
                    2, 0, ledger).run();

            // Then only the final event is written, for the attempt that did the work; nothing is copied twice
            assertThat(again).isTrue();
            assertThat(events.stream().filter(e -> e instanceof StatusEvent.TaskStarted).count()).isEqualTo(1);
            assertThat(events.stream().filter(e -> e instanceof StatusEvent.TaskDone).toList())
                    .singleElement().satisfies(e -> assertThat(e.attempt()).isEqualTo(1));
            assertThat(Compare.tableFingerprints(target, "shop")).isEqualTo(Compare.tableFingerprints(source, "shop"));
            Reliability.record("the status topic refuses a finished database's final event (injected)",
                    "the database stays; the task runs again and writes only that event", Reliability.rows(
                            Compare.tableFingerprints(source, "shop")), Reliability.rows(Compare.tableFingerprints(target, "shop")));
        }
    }

    static List<ConsumerRecord<String, byte[]>> readAll(String topic) {
        return readAll(Infra.kafka(), topic);
    }

    /** Every record of {@code topic} on the Kafka at {@code bootstrapServers}. */
    static List<ConsumerRecord<String, byte[]>> readAll(String bootstrapServers, String topic) {
        List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
        try (dev.pgferry.bus.Bus bus = new dev.pgferry.bus.Bus(bootstrapServers, "it-reader");
             KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(bus.consumerProps(null, "it-reader"))) {
            List<TopicPartition> parts = c.partitionsFor(topic).stream().map(p -> new TopicPartition(topic, p.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            var end = c.endOffsets(parts);
            long deadline = System.currentTimeMillis() + 30_000;
            while (parts.stream().anyMatch(p -> c.position(p) < end.get(p)) && System.currentTimeMillis() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }
}
