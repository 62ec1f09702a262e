package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.CheckReport;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationOptions;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.messages.Phase;
import dev.pgferry.messages.RemovalRequest;
import dev.pgferry.messages.Topics;
import dev.pgferry.pg.Secrets;
import dev.pgferry.worker.check.Checker;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What guards a replication. Waiting is explained: a transaction left open on the source keeps the replication slot
 * from being created; the status names that session while the database waits, ending it lets the migration go on,
 * and with {@code max_wait_seconds} the database fails cleanly instead, leaving nothing behind. The WAL guard: a slot
 * the source invalidates (a tiny {@code max_slot_wal_keep_size}) fails its database with {@code SLOT_LOST}. And the
 * target's logical replication workers: a database that finds the last one taken as it subscribes keeps its copy as
 * a dump would, rather than waiting for ever.
 */
class ReplicationGuardsIT {
    static Pgferry pgferry;

    @BeforeAll
    static void start() throws Exception {
        pgferry = new Pgferry(1);
    }

    @AfterAll
    static void stop() {
        pgferry.close();
    }

    @Test
    void aTransactionLeftOpenOnTheSourceIsNamedWhileTheSlotWaitsAndMaxWaitFailsCleanly() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE app; CREATE DATABASE app2");
            for (String db : List.of("app", "app2")) {
                ReplicationIT.exec(source, db, "CREATE TABLE public.t (id int PRIMARY KEY, v text);"
                        + " INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 500) g");
            }

            // Given a session of the user's that wrote and left its transaction open (in another database)
            int pid;
            try (Connection open = SampleData.connect(source, "postgres"); Statement st = open.createStatement()) {
                open.setAutoCommit(false);
                try (ResultSet rs = st.executeQuery("SELECT pg_backend_pid(), txid_current()")) {
                    rs.next();
                    pid = rs.getInt(1);
                }

                // When a replication migration starts
                MigrationRequest r = ReplicationIT.request(source, target, Method.REPLICATION, List.of("postgres", "app2"));
                pgferry.submit(r);

                // Then its row says what it waits for: that session, by pid, state and database, and how to end it
                DatabaseStatus waiting = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "app", d -> d.waitingFor() != null);
                assertThat(waiting.status()).isEqualTo(State.RUNNING);
                assertThat(waiting.waitingFor()).contains("creating replication slot").contains("pid " + pid)
                        .contains("idle in transaction").contains("database postgres").contains("pg_terminate_backend");

                // When the session ends its transaction, then the migration goes on to syncing and the wait is gone
                open.rollback();
                MigrationStatus done = pgferry.awaitFinal(r.migrationId());
                DatabaseStatus app = ReplicationIT.row(done, "app");
                assertThat(app.status()).as(app.toString()).isEqualTo(State.SYNCING);
                assertThat(app.waitingFor()).isNull();
                assertThat(Compare.tableFingerprints(target, "app")).isEqualTo(Compare.tableFingerprints(source, "app"));

                // When another session holds a transaction open and a migration may wait at most 3 s
                st.execute("SELECT txid_current()");
                MigrationRequest limited = ReplicationIT.request(source, target, Method.REPLICATION, List.of("postgres", "app"))
                        .withOptions(new MigrationOptions(false, false, false, MigrationOptions.RoleScope.ALL, List.of(), 3));
                pgferry.submit(limited);
                MigrationStatus failed = pgferry.awaitFinal(limited.migrationId());

                // Then that database fails with WAIT_TIMEOUT naming the session, which pgferry left alone
                DatabaseStatus app2 = ReplicationIT.row(failed, "app2");
                assertThat(app2.status()).as(app2.toString()).isEqualTo(State.FAILED);
                assertThat(app2.errorCode()).isEqualTo(ErrorCode.WAIT_TIMEOUT);
                assertThat(app2.error()).contains("gave up after 3 s").contains("pid " + pid);
                Reliability.record("transaction left open on the source while the slot is created, max_wait_seconds 3",
                        "the status named the session; the database failed with WAIT_TIMEOUT, nothing left behind", null, null);
                try (ResultSet rs = st.executeQuery("SELECT 1")) {
                    assertThat(rs.next()).as("the user's session is untouched").isTrue();
                }
                open.rollback();
            }
            // and nothing of it is left behind: no slot or publication for app2, no database on the target
            assertThat(Compare.scalar(source, "app2", "SELECT count(*) FROM pg_replication_slots WHERE database = 'app2'"))
                    .isEqualTo("0");
            assertThat(Compare.scalar(source, "app2", "SELECT count(*) FROM pg_publication")).isEqualTo("0");
            assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'app2'"))
                    .isEqualTo("0");

            // When an application holds a table of a database being dumped, and the dump may wait at most 3 s
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE app3");
            ReplicationIT.exec(source, "app3", "CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t VALUES (1)");
            try (Connection holder = SampleData.connect(source, "app3"); Statement st = holder.createStatement()) {
                int holderPid;
                try (ResultSet rs = st.executeQuery("SELECT pg_backend_pid()")) {
                    rs.next();
                    holderPid = rs.getInt(1);
                }
                holder.setAutoCommit(false);
                st.execute("LOCK TABLE public.t IN ACCESS EXCLUSIVE MODE");
                MigrationRequest dump = ReplicationIT.request(source, target, Method.DUMP, List.of("postgres", "app", "app2"))
                        .withOptions(new MigrationOptions(false, false, false, MigrationOptions.RoleScope.ALL, List.of(), 3));
                pgferry.submit(dump);
                MigrationStatus failed = pgferry.awaitFinal(dump.migrationId());

                // Then the database fails with WAIT_TIMEOUT, naming the application's session and its lock, not with
                // the cancellation of pgferry's own statement; the application's session is untouched
                DatabaseStatus app3 = ReplicationIT.row(failed, "app3");
                assertThat(app3.status()).as(app3.toString()).isEqualTo(State.FAILED);
                assertThat(app3.errorCode()).isEqualTo(ErrorCode.WAIT_TIMEOUT);
                assertThat(app3.error()).startsWith("gave up after 3 s (max_wait_seconds): on the source, ")
                        .contains("waits for a lock held by pid " + holderPid)
                        .contains("query: LOCK TABLE public.t IN ACCESS EXCLUSIVE MODE");
                assertThat(app3.waitingFor()).isNull();
                try (ResultSet rs = st.executeQuery("SELECT count(*) FROM public.t")) {
                    assertThat(rs.next()).as("the application's session is untouched").isTrue();
                }
                holder.rollback();
                Reliability.record("an application's lock on a table being dumped, max_wait_seconds 3",
                        "the database failed with WAIT_TIMEOUT naming the session; the session untouched, nothing left"
                                + " behind", null, null);
            }
            assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'app3'"))
                    .isEqualTo("0");
        }
    }

    @Test
    void aSlotTheSourceInvalidatesFailsItsDatabaseWithWhatToDo() throws Exception {
        try (LocalPostgres source = Infra.postgres(java.util.Map.of("max_slot_wal_keep_size", "1MB"));
             LocalPostgres target = Infra.postgres()) {
            // Given a database syncing from a source that keeps at most 1 MB of WAL for a slot
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE wal");
            ReplicationIT.exec(source, "wal", "CREATE TABLE public.t (id bigserial PRIMARY KEY, v text)");
            MigrationRequest r = ReplicationIT.request(source, target, Method.REPLICATION, List.of("postgres"));
            pgferry.submit(r);
            MigrationStatus syncing = pgferry.awaitFinal(r.migrationId());
            assertThat(ReplicationIT.row(syncing, "wal").status()).as(syncing.toString()).isEqualTo(State.SYNCING);
            DatabaseStatus measured = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "wal", d -> d.walStatus() != null);
            assertThat(measured.walStatus()).isEqualTo("reserved");
            assertThat(measured.safeWalBytes()).isNotNull();

            // When the target stops consuming and the source writes far more WAL than that, then checkpoints
            ReplicationIT.exec(target, "wal", "ALTER SUBSCRIPTION " + Compare.scalar(target, "wal",
                    "SELECT quote_ident(subname) FROM pg_subscription") + " DISABLE");
            for (int i = 0; i < 4; i++) {
                ReplicationIT.exec(source, "wal", "INSERT INTO public.t (v) SELECT repeat('x', 200) FROM generate_series(1, 40000);"
                        + " SELECT pg_switch_wal()");
            }
            ReplicationIT.exec(source, "postgres", "CHECKPOINT");

            // Then the source reports the slot lost, and the database fails with SLOT_LOST saying what to do
            assertThat(Compare.scalar(source, "postgres", "SELECT wal_status FROM pg_replication_slots")).isEqualTo("lost");
            DatabaseStatus lost = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "wal", d -> d.status() == State.FAILED);
            assertThat(lost.errorCode()).isEqualTo(ErrorCode.SLOT_LOST);
            assertThat(lost.error()).contains("max_slot_wal_keep_size").contains("pgferry remove " + r.migrationId());
            assertThat(lost.walStatus()).isEqualTo("lost");
            Reliability.record("replication slot invalidated by the source (max_slot_wal_keep_size exceeded)",
                    "database failed with SLOT_LOST and what to do", null, null);
        }
    }
    @Test
    void subscriptionsThatTookTheTargetsLastApplyWorkerMeanwhileLeaveAOneTimeCopyNotAHang() throws Exception {
        try (LocalPostgres source = Infra.postgres();
             LocalPostgres target = Infra.postgres(java.util.Map.of("max_logical_replication_workers", "1"))) {
            // Given a database whose copy a gate holds, on its way to replicate to a target that runs one subscription
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE app; CREATE DATABASE app2");
            for (String db : List.of("app", "app2")) {
                ReplicationIT.exec(source, db, "CREATE TABLE public.t (id int PRIMARY KEY, v text);"
                        + " INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 500) g");
            }
            // (checked first: both would replicate, and pgferry check says the target runs one subscription more)
            CheckReport check = new Checker(ReplicationIT.request(source, target, Method.AUTO, List.of("postgres")),
                    Secrets.system()).run();
            assertThat(check.server()).filteredOn(f -> f.check().equals("replication capacity")).singleElement()
                    .satisfies(f -> assertThat(f.verdict()).isEqualTo(CheckReport.Verdict.WARNING))
                    .satisfies(f -> assertThat(f.message()).startsWith("2 database(s) would replicate, but the target"
                            + " can run 1 more subscription(s) (max_logical_replication_workers = 1;"));
            Gate.install(source, "app", "public.t", "id");
            Gate gate = Gate.close(target);
            MigrationRequest r = ReplicationIT.request(source, target, Method.AUTO, List.of("postgres", "app2"));
            pgferry.submit(r);
            gate.awaitHeld();
            assertThat(Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "app", d -> d.method() != null).method())
                    .isEqualTo("replication");

            // When, meanwhile, a subscription of the user's takes the target's only logical replication worker
            ReplicationIT.exec(source, "postgres", "CREATE TABLE public.feed (id int PRIMARY KEY);"
                    + " CREATE PUBLICATION users_feed FOR TABLE public.feed");
            ReplicationIT.exec(target, "postgres", "CREATE TABLE public.feed (id int PRIMARY KEY)");
            ReplicationIT.exec(target, "postgres", "CREATE SUBSCRIPTION users_own CONNECTION 'host=" + source.host()
                    + " port=" + source.port() + " dbname=postgres user=postgres passfile=" + passfile(target)
                    + "' PUBLICATION users_feed");
            ReplicationIT.eventually(() -> Compare.scalar(target, "postgres", "SELECT count(pid) FROM pg_stat_subscription"), "1");
            java.time.Instant opened = java.time.Instant.now();
            gate.open();
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            // Then the database does not wait for ever for a worker: its copy is kept as a one-time copy, as a dump,
            // and the row says why; its publication and slot are gone, and no subscription of pgferry's was made
            DatabaseStatus app = ReplicationIT.row(s, "app");
            assertThat(app.status()).as(app.toString()).isEqualTo(State.DONE);
            assertThat(app.method()).isEqualTo("dump");
            assertThat(app.methodReason()).startsWith("dump instead of logical replication: target has no free logical"
                    + " replication worker (max_logical_replication_workers = 1").contains("kept as a one-time copy");
            assertThat(app.startedAt()).as("its start, not the change of method").isBefore(opened);
            assertThat(Compare.tableFingerprints(target, "app")).isEqualTo(Compare.tableFingerprints(source, "app"));
            assertThat(Compare.scalar(source, "app", "SELECT count(*) FROM pg_replication_slots WHERE database = 'app'"))
                    .isEqualTo("0");
            assertThat(Compare.scalar(source, "app", "SELECT count(*) FROM pg_publication")).isEqualTo("0");
            assertThat(Compare.scalar(target, "postgres", "SELECT string_agg(subname, ',') FROM pg_subscription"))
                    .isEqualTo("users_own");

            // When another database asks for replication while that subscription holds the worker
            MigrationRequest again = ReplicationIT.request(source, target, Method.REPLICATION, List.of("postgres", "app"));
            pgferry.submit(again);
            DatabaseStatus app2 = ReplicationIT.row(pgferry.awaitFinal(again.migrationId()), "app2");

            // Then it fails before anything is touched, saying what to raise
            assertThat(app2.status()).as(app2.toString()).isEqualTo(State.FAILED);
            assertThat(app2.errorCode()).isEqualTo(ErrorCode.PRECONDITION_FAILED);
            assertThat(app2.error()).contains("target has no free logical replication worker (max_logical_replication_workers"
                    + " = 1").contains("raise it (and max_worker_processes)");
            assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'app2'"))
                    .isEqualTo("0");
            assertThat(Compare.scalar(source, "app2", "SELECT count(*) FROM pg_replication_slots WHERE database = 'app2'"))
                    .isEqualTo("0");
            Reliability.record("the target's last logical replication worker taken by another subscription during a copy",
                    "method auto kept the copy as a one-time copy and said why (no endless wait); method replication"
                            + " failed saying what to raise; nothing left behind", null, null);
            ReplicationIT.exec(target, "postgres", "DROP SUBSCRIPTION users_own");
        }
    }

    @Test
    void aDatabaseWaitingForItsApplyWorkerLeavesItsWorkersSlotToTheNextDatabase() throws Exception {
        java.nio.file.Path hold = java.nio.file.Files.createTempFile("pgferry-it-parked", ".hold");
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE first; CREATE DATABASE second");
            for (String db : List.of("first", "second")) {
                ReplicationIT.exec(source, db, "CREATE TABLE public.t (id int PRIMARY KEY, v text);"
                        + " INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 300) g");
            }
            // Given the only worker's only slot running a database that waits for its subscription's apply worker
            // (on PostgreSQL 15 and older the target starts one batch of them every 5 s; a hook holds the wait here)
            System.setProperty("pgferry.fault.worker.holdParked", "first:" + hold);
            MigrationRequest r1 = ReplicationIT.request(source, target, Method.REPLICATION, List.of("postgres", "second"));
            pgferry.submit(r1);
            ReplicationIT.eventually(() -> Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_subscription s"
                    + " JOIN pg_database d ON d.oid = s.subdbid WHERE d.datname = 'first'"), "1");

            // When another database is asked for
            MigrationRequest r2 = ReplicationIT.request(source, target, Method.REPLICATION, List.of("postgres", "first"));
            pgferry.submit(r2);

            // Then the worker runs it meanwhile, to syncing, while the first still waits
            DatabaseStatus second = ReplicationIT.row(pgferry.awaitFinal(r2.migrationId()), "second");
            assertThat(second.status()).as(second.toString()).isEqualTo(State.SYNCING);
            assertThat(Compare.tableFingerprints(target, "second")).isEqualTo(Compare.tableFingerprints(source, "second"));
            DatabaseStatus waiting = Pgferry.awaitRow(pgferry.coordinator, r1.migrationId(), "first", d -> true);
            assertThat(waiting.status()).isEqualTo(State.RUNNING);
            assertThat(waiting.phase()).isEqualTo(Phase.FINISH);

            // and once its wait ends, the first is syncing too
            java.nio.file.Files.delete(hold);
            DatabaseStatus first = ReplicationIT.row(pgferry.awaitFinal(r1.migrationId()), "first");
            assertThat(first.status()).as(first.toString()).isEqualTo(State.SYNCING);
            assertThat(Compare.tableFingerprints(target, "first")).isEqualTo(Compare.tableFingerprints(source, "first"));
            for (MigrationRequest r : List.of(r1, r2)) {
                pgferry.bus.send(Topics.REQUESTS, r.migrationId(), Json.write(RemovalRequest.of(r.migrationId())));
            }
            ReplicationIT.eventually(() -> Compare.scalar(source, "postgres", "SELECT count(*) FROM pg_replication_slots"), "0");
        } finally {
            System.clearProperty("pgferry.fault.worker.holdParked");
            java.nio.file.Files.deleteIfExists(hold);
        }
    }

    /**
     * A password file for the user's subscription in {@code pg}'s data directory, readable by its server alone: the
     * password is then in no statement, which a server log could show.
     */
    private static String passfile(LocalPostgres pg) throws Exception {
        java.nio.file.Path file = java.nio.file.Path.of(Compare.scalar(pg, "postgres", "SHOW data_directory"), "users-pgpass");
        java.nio.file.Files.writeString(file, "*:*:*:postgres:" + Infra.PASSWORD + "\n");
        java.nio.file.Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        if ("root".equals(System.getProperty("user.name"))) {
            java.nio.file.Files.setOwner(file, file.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres"));
        }
        return file.toString();
    }
}
