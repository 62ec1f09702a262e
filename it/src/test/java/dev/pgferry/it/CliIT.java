package dev.pgferry.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pgferry.broker.ChildBroker;
import dev.pgferry.bus.Bus;
import dev.pgferry.cli.Main;
import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The pgferry command as a user runs it: single-machine migrate (with its own child broker), submit, status. */
class CliIT {
    static LocalPostgres source;

    /** How a command ended: its exit code, what it printed on stdout and on stderr. */
    record Run(int exitCode, String out, String err) {
    }

    @BeforeAll
    static void start() throws Exception {
        source = Infra.postgres();
        SampleData.create(source, 1000);
    }

    @AfterAll
    static void stop() {
        source.close();
    }

    static synchronized Run pgferry(String... args) {
        PrintStream saved = System.out;
        PrintStream savedErr = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int rc = Main.run(args);
            return new Run(rc, buf.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(saved);
            System.setErr(savedErr);
            savedErr.print(err.toString(StandardCharsets.UTF_8));  // still in the test's report
        }
    }

    /** The command in a JVM of its own, as the {@code pgferry} script runs it ({@code Main.main}, its exit included). */
    static Run pgferryProcess(String... args) throws Exception {
        return pgferryProcessWith(List.of(), args);
    }

    /** As {@link #pgferryProcess}, in a JVM started with {@code jvmOptions} (fault hooks). */
    static Run pgferryProcessWith(List<String> jvmOptions, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(java());
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(Infra.work(), "cli-out-", ".txt");
        Path err = Files.createTempFile(Infra.work(), "cli-err-", ".txt");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("pgferry " + String.join(" ", args) + " did not end; stderr: " + Files.readString(err));
        }
        Run run = new Run(p.exitValue(), Files.readString(out), Files.readString(err));
        System.err.print(run.err());  // still in the test's report
        return run;
    }

    /**
     * The JVM a command runs in, with the options {@code ./pgferry} gives it by default (C1 alone, the serial
     * collector): without them each of the suite's forty commands compiled with C2 beside the tests.
     */
    private static List<String> java() {
        return List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC");
    }

    /** Starts the command in a JVM of its own, as {@link #pgferryProcess} does, without waiting for it. */
    static Process startPgferry(Path out, Path err, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(java());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    }

    /** Gives the source database {@code db} a table of 5,000 rows whose copy into the target a {@link Gate} can hold. */
    private static void gatedDatabase(String db) throws Exception {
        ReplicationIT.exec(source, db, "CREATE TABLE t (id int PRIMARY KEY, v text);"
                + " INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
        Gate.install(source, db, "t", "id");
    }

    /** Every source database but {@code dbs} and the templates, as --ignore-dbs takes them. */
    private static String allBut(List<String> dbs) throws Exception {
        return Compare.scalar(source, "postgres", "SELECT string_agg(datname, ',') FROM pg_database"
                + " WHERE datname NOT IN ('template0', 'template1') AND datname <> ALL (string_to_array('"
                + String.join(",", dbs) + "', ','))");
    }

    /**
     * Runs the same migrate of {@code db} again on {@code dataDir} after a command that did not end cleanly: it must
     * name the unfinished migration {@code migrationId} and copy the database; returns the source's and the target's
     * table fingerprints.
     */
    private static List<Map<String, String>> migrateAgainAfter(String migrationId, String db, LocalPostgres target,
                                                               String others, Path dataDir) throws Exception {
        Run again = pgferryProcess("migrate", "--source", source.uri("postgres"), "--target", target.uri("postgres"),
                "--ignore-dbs", others, "--method", "dump", "--json", "--data-dir", dataDir.toString());
        assertThat(again.exitCode()).as(again.err()).isEqualTo(0);
        assertThat(again.err()).contains("pgferry: migration " + migrationId + " in this data directory had not finished");
        return List.of(Compare.tableFingerprints(source, db), Compare.tableFingerprints(target, db));
    }

    /** The broker JVMs still running on {@code dataDir}'s Kafka data. */
    static List<ProcessHandle> brokersOf(Path dataDir) {
        String dir = dataDir.resolve("kafka").toAbsolutePath().normalize().toString();
        // (from /proc, whole: the JDK's commandLine() reads the first 4 kB of it, and a broker's class path comes first,
        // so a data directory named after it was never seen there)
        return ProcessHandle.allProcesses().filter(h -> {
            try {
                String c = Files.readString(Path.of("/proc", Long.toString(h.pid()), "cmdline"));
                return c.contains("dev.pgferry.broker.BrokerMain") && c.contains(dir);
            } catch (java.io.IOException | RuntimeException e) {
                return false;   // gone, or not ours to read
            }
        }).toList();
    }

    @Test
    void theNextCommandAfterOneThatWasKilledRemovesItsGroupMembersInsteadOfWaitingForTheirSessionsToEnd() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            Path dataDir = Infra.work().resolve("cli-left-members");
            // Given a data directory whose last command was killed (it left no nothing-unfinished sign), and one of its
            // idle workers still in the workers' group: silent, its session ten minutes long
            leaveAWorkerInTheGroup(dataDir);

            // When the next migrate runs, in a JVM of its own
            Run run = pgferryProcess("migrate", "--source", source.uri("postgres"), "--target", target.uri("postgres"),
                    "--ignore-dbs", allBut(List.of("inventory")), "--method", "dump", "--data-dir", dataDir.toString());

            // Then it copies the database: its worker's group formed without that member (whose session would have
            // held it for ten minutes, past the five this test waits for the command)
            assertThat(run.exitCode()).as(run.err()).isEqualTo(0);
            Map<String, String> expected = Compare.tableFingerprints(source, "inventory");
            Map<String, String> actual = Compare.tableFingerprints(target, "inventory");
            Reliability.record("a killed command's idle worker left in its Kafka group (its session ten minutes);"
                            + " the next migrate", "the next command removed that member before its own joined, and"
                            + " copied every row once", Reliability.rows(expected), Reliability.rows(actual));
            assertThat(actual).isEqualTo(expected);
        }
    }

    @Test
    void theNextCommandAfterOneThatEndedCleanlyButLeftItsWorkersGroupStoredWithAMemberRemovesIt() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            Path dataDir = Infra.work().resolve("cli-stored-member");
            // Given a data directory whose last command ended cleanly (its nothing-unfinished sign is there), but whose
            // workers' group the broker kept with a member, as it does when a worker is stopped halfway through
            // joining the group again after its last task (a member with a ten-minute session stands in for it here)
            leaveAWorkerInTheGroup(dataDir);
            Files.writeString(dataDir.resolve("nothing-unfinished"), "the last pgferry command with workers in this"
                    + " data directory left no database pending or running\n");

            // When the next migrate runs
            Run run = pgferryProcess("migrate", "--source", source.uri("postgres"), "--target", target.uri("postgres"),
                    "--ignore-dbs", allBut(List.of("inventory")), "--method", "dump", "--data-dir", dataDir.toString());

            // Then it copies the database without waiting out that member's session (ten minutes, past the five this
            // test waits), and it did not look for unfinished migrations (the sign says there are none)
            assertThat(run.exitCode()).as(run.err()).isEqualTo(0);
            assertThat(run.err()).doesNotContain("had not finished");
            assertThat(Compare.tableFingerprints(target, "inventory"))
                    .isEqualTo(Compare.tableFingerprints(source, "inventory"));
        }
    }

    /**
     * Starts the broker of {@code dataDir} and leaves one idle member in the workers' group, silent, with a session
     * of ten minutes (a command's worker that did not leave), then stops the broker.
     */
    private static void leaveAWorkerInTheGroup(Path dataDir) throws Exception {
        try (ChildBroker broker = ChildBroker.start(dataDir.resolve("kafka"), 0);
             Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", broker.bootstrapServers()))) {
            Bus bus = new Bus(broker.bootstrapServers(), "cli-it");
            bus.ensureTopics();
            String tasks = bus.topic(Topics.TASKS);
            bus.close();
            KafkaConsumer<String, String> left = new KafkaConsumer<>(Map.<String, Object>of(
                    "bootstrap.servers", broker.bootstrapServers(), "group.id", Topics.WORKER_GROUP,
                    "session.timeout.ms", 600_000, "key.deserializer", StringDeserializer.class.getName(),
                    "value.deserializer", StringDeserializer.class.getName()));
            left.subscribe(List.of(tasks));
            long deadline = System.currentTimeMillis() + 30_000;
            while (left.assignment().isEmpty() && System.currentTimeMillis() < deadline) {
                left.poll(java.time.Duration.ofMillis(100));
            }
            left.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.REMAIN_IN_GROUP));
            assertThat(admin.describeConsumerGroups(List.of(Topics.WORKER_GROUP)).all().get(30, TimeUnit.SECONDS)
                    .get(Topics.WORKER_GROUP).members()).as("the member left in the group").hasSize(1);
        }
    }

    @Test
    void migrateInItsOwnProcessUsesTheBrokerItStartedFirstAndTheNextCommandFindsItStopped() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            Path dataDir = Infra.work().resolve("cli-process");

            Run run = pgferryProcess("migrate", "--source", source.uri("postgres"), "--target", target.uri("postgres"),
                    "--ignore-dbs", "postgres,shop,Analytics; Ünï \"q\"", "--method", "dump", "--json",
                    "--migration-id", "cli-process-1", "--data-dir", dataDir.toString());

            assertThat(run.exitCode()).as(run.err()).isEqualTo(0);
            assertThat(Json.mapper().readTree(run.out()).get("migration").get("status").asText()).isEqualTo("done");
            assertThat(Compare.tableFingerprints(target, "inventory")).isEqualTo(Compare.tableFingerprints(source, "inventory"));
            // One broker served the whole command: the one started as its JVM started (a second one would not
            // have got the data directory's lock)
            assertThat(Files.readString(dataDir.resolve("kafka/broker.log")).split("Kafka Server started", -1))
                    .as("broker starts in broker.log").hasSize(2);

            // The command exited without waiting for its broker to stop; the next command on the same data
            // directory waits for that, then reads the status
            // (in this JVM: only migrate's own exit is under test here)
            Run status = pgferry("status", "cli-process-1", "--json", "--data-dir", dataDir.toString());

            assertThat(status.exitCode()).as(status.err()).isEqualTo(0);
            assertThat(Json.mapper().readTree(status.out()).get("migration_detail").findValuesAsText("status"))
                    .containsExactly("done");
            assertThat(Files.readString(dataDir.resolve("kafka/broker.log")).split("Kafka Server started", -1))
                    .as("broker starts in broker.log").hasSize(3);
            // (status, as every command, exits while its own broker stops, which leaves its marker for the next
            // command: that broker ends too)
            ReplicationIT.eventually(() -> brokersOf(dataDir).isEmpty(), true);
        }
    }

    @Test
    void aMigrateWhoseWorkerStopsWhileItsTaskEndsLeavesNeitherAClaimNorATaskForTheNextCommand() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            Path dataDir = Infra.work().resolve("cli-task-end");

            // Given a task that, its final event written, takes 200 ms more to end (a fault hook between that event
            // and the ledger's note that it is written): the command sees the event and stops its workers meanwhile
            Run run = pgferryProcessWith(List.of("-Dpgferry.fault.worker.pauseAfterFinalEventMs=200"), "migrate",
                    "--source", source.uri("postgres"), "--target", target.uri("postgres"),
                    "--ignore-dbs", allBut(List.of("inventory")), "--method", "dump", "--json",
                    "--migration-id", "cli-task-end-1", "--data-dir", dataDir.toString());

            assertThat(run.exitCode()).as(run.err()).isEqualTo(0);
            Map<String, String> expected = Compare.tableFingerprints(source, "inventory");
            Map<String, String> actual = Compare.tableFingerprints(target, "inventory");
            Reliability.record("migrate's workers stopped while its task ends (its final event written, the"
                            + " ledger's note not yet; injected)",
                    "the task ended on its own: its claim deleted, not queued again",
                    Reliability.rows(expected), Reliability.rows(actual));
            assertThat(actual).isEqualTo(expected);
            // Then the task ended on its own: its claim is deleted, it was queued once (not handed back to the queue,
            // where the next command's worker would take it up), and the ledger notes its final event written.
            // (Before, the workers interrupted it there and the command's producer closed beside them: the next
            // command queued the task again for nothing, from a claim left behind or a task handed back.)
            try (ChildBroker broker = ChildBroker.start(dataDir.resolve("kafka"), 0)) {
                String kafka = broker.bootstrapServers();
                List<ConsumerRecord<String, byte[]>> claims = FaultsIT.readAll(kafka, Topics.CLAIMS).stream()
                        .filter(c -> c.key().startsWith("cli-task-end-1/")).toList();
                assertThat(claims).isNotEmpty();
                byte[] lastClaim = claims.get(claims.size() - 1).value();
                assertThat(lastClaim == null ? null : new String(lastClaim, StandardCharsets.UTF_8))
                        .as("the task's last claim record").isNull();
                assertThat(FaultsIT.readAll(kafka, Topics.TASKS).stream().map(t -> Json.readTask(t.value()))
                        .filter(t -> t.migrationId().equals("cli-task-end-1")).map(MigrationTask::dbname).toList())
                        .containsExactly("inventory");
                List<ConsumerRecord<String, byte[]>> ledger = FaultsIT.readAll(kafka, Topics.LEDGER).stream()
                        .filter(e -> e.key().equals(LedgerEntry.databaseKey("cli-task-end-1", "inventory"))).toList();
                LedgerEntry last = Json.read(ledger.get(ledger.size() - 1).value(), LedgerEntry.class);
                assertThat(last.published()).isTrue();
            }
        }
    }

    @Test
    void anInterruptedMigrateRemovesWhatItsUnfinishedDatabasesMadeAndTheNextOneCopiesEveryRowOnce() throws Exception {
        List<String> dbs = List.of("stop_me", "stop_me_2");
        for (String db : dbs) {
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE " + db);
        }
        try (LocalPostgres target = Infra.postgres()) {
            for (String db : dbs) {
                // Both gated: the one the single worker takes first is held, the other waits in the queue
                gatedDatabase(db);
            }
            String others = allBut(dbs);
            Path dataDir = Infra.work().resolve("cli-interrupted");
            Path out = Files.createTempFile(Infra.work(), "cli-out-", ".txt");
            Path err = Files.createTempFile(Infra.work(), "cli-err-", ".txt");
            Gate gate = Gate.close(target);

            // When migrate is stopped (SIGTERM, as a service manager or `timeout` sends; Ctrl-C's SIGINT takes the
            // same path) while one database's rows are being copied, its replication slot made, and the other waits
            Process migrate = startPgferry(out, err, "migrate", "--source", source.uri("postgres"), "--target",
                    target.uri("postgres"), "--ignore-dbs", others, "--method", "replication", "--workers", "1",
                    "--json", "--migration-id", "cli-stopped-1", "--data-dir", dataDir.toString());
            gate.awaitHeld();
            assertThat(Compare.scalar(source, "postgres", "SELECT count(*) FROM pg_replication_slots"))
                    .as("the running attempt's slot, before the stop").isEqualTo("1");
            migrate.destroy();
            boolean ended = migrate.waitFor(2, TimeUnit.MINUTES);
            gate.open();
            System.err.print(Files.readString(err));

            // Then it ends with both stopped, having removed the slot, the publication and the half-copied database
            assertThat(ended).as("migrate ended after SIGTERM").isTrue();
            assertThat(migrate.exitValue()).isEqualTo(143);
            assertThat(Files.readString(err)).contains("pgferry: interrupted: stopping migration cli-stopped-1");
            JsonNode status = Json.mapper().readTree(Files.readString(out));
            assertThat(status.get("migration").get("status").asText()).isEqualTo("failed");
            assertThat(status.get("migration_detail").findValuesAsText("error_code")).containsExactly("STOPPED", "STOPPED");
            assertThat(status.get("migration_detail").findValuesAsText("error")).map(e -> e.substring(0, 25))
                    .containsExactlyInAnyOrder("stopped: the pgferry comm", "stopped before it started");
            assertThat(Compare.scalar(source, "postgres", "SELECT count(*) FROM pg_replication_slots")).isEqualTo("0");
            for (String db : dbs) {
                assertThat(Compare.scalar(source, db, "SELECT count(*) FROM pg_publication")).as(db).isEqualTo("0");
            }
            assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'stop_me%'"))
                    .isEqualTo("0");
            // and the roles its roles step created on the target (a login role among them, with the source's password
            // hash), which none of its databases uses now
            assertThat(Compare.scalar(source, "postgres", "SELECT count(*) FROM pg_roles"
                    + " WHERE rolname IN ('shop_owner', 'app_reader')")).isEqualTo("2");
            assertThat(Compare.scalar(target, "postgres", "SELECT string_agg(rolname, ',') FROM pg_roles"
                    + " WHERE rolname IN ('shop_owner', 'app_reader')")).isNull();
            assertThat(Files.readString(err)).contains("created on the target, which none of its databases uses now,"
                    + " were dropped: ");

            // And the same command again starts both over and copies every row once (the stopped migration's task
            // still queued is skipped by its workers)
            Run again = pgferryProcess("migrate", "--source", source.uri("postgres"), "--target", target.uri("postgres"),
                    "--ignore-dbs", others, "--method", "dump", "--workers", "1", "--json", "--data-dir",
                    dataDir.toString());
            assertThat(again.exitCode()).as(again.err()).isEqualTo(0);
            for (String db : dbs) {
                var expected = Compare.tableFingerprints(source, db);
                var actual = Compare.tableFingerprints(target, db);
                Reliability.record("./pgferry migrate stopped (SIGTERM, as Ctrl-C) mid-copy, replication slot made ("
                                + db + ")", "stopped: exit 143, database failed as STOPPED, its slot, publication and"
                                + " half-copied target database removed (or never made, when queued); the same command"
                                + " again copied every row once",
                        Reliability.rows(expected), Reliability.rows(actual));
                assertThat(actual).as(db).isEqualTo(expected);
            }
            assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_roles"
                    + " WHERE rolname IN ('shop_owner', 'app_reader')")).as("the roles, created again").isEqualTo("2");
            Run old = pgferryProcess("status", "cli-stopped-1", "--json", "--data-dir", dataDir.toString());
            assertThat(Json.mapper().readTree(old.out()).get("migration_detail").findValuesAsText("status"))
                    .as("the stopped migration, after its queued task met the next command's worker")
                    .containsExactly("failed", "failed");
        } finally {
            for (String db : dbs) {
                ReplicationIT.exec(source, "postgres", "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
            }
        }
    }

    @Test
    void aMigrateKilledMidCopyIsStoppedByTheNextCommandOnItsDataDirectoryWhichRemovesWhatItMade() throws Exception {
        ReplicationIT.exec(source, "postgres", "CREATE DATABASE kill_me");
        try (LocalPostgres target = Infra.postgres()) {
            gatedDatabase("kill_me");
            String others = allBut(List.of("kill_me"));
            Path dataDir = Infra.work().resolve("cli-killed");
            Path out = Files.createTempFile(Infra.work(), "cli-out-", ".txt");
            Path err = Files.createTempFile(Infra.work(), "cli-err-", ".txt");
            // A data directory whose last command ended cleanly says so, and the next command trusts it instead of
            // reading the whole status first: the killed command must take that sign away as it starts
            Run clean = pgferry("migrate", "--source", source.uri("postgres"), "--target", target.uri("postgres"),
                    "--ignore-dbs", others, "--method", "dump", "--json", "--data-dir", dataDir.toString());
            assertThat(clean.exitCode()).as(clean.err()).isEqualTo(0);
            assertThat(dataDir.resolve("nothing-unfinished")).as("the sign of a clean end").exists();
            ReplicationIT.exec(target, "postgres", "DROP DATABASE kill_me WITH (FORCE)");
            Gate gate = Gate.close(target);

            // When migrate is killed (SIGKILL: no hook runs) while the database's rows are being copied
            Process migrate = startPgferry(out, err, "migrate", "--source", source.uri("postgres"), "--target",
                    target.uri("postgres"), "--ignore-dbs", others, "--method", "replication", "--migration-id",
                    "cli-killed-1", "--data-dir", dataDir.toString());
            gate.awaitHeld();
            migrate.destroyForcibly();
            assertThat(migrate.waitFor(1, TimeUnit.MINUTES)).isTrue();
            gate.open();
            assertThat(dataDir.resolve("nothing-unfinished")).as("the sign, after a kill").doesNotExist();
            assertThat(Compare.scalar(source, "postgres", "SELECT count(*) FROM pg_replication_slots"))
                    .as("the killed attempt's slot").isEqualTo("1");

            // Then the next command on the data directory says so, stops that migration and removes what it made,
            // and migrates the database itself, every row once
            List<Map<String, String>> fingerprints = migrateAgainAfter("cli-killed-1", "kill_me", target, others, dataDir);
            var expected = fingerprints.get(0);
            var actual = fingerprints.get(1);
            assertThat(actual).isEqualTo(expected);
            assertThat(Compare.scalar(source, "postgres", "SELECT count(*) FROM pg_replication_slots")).isEqualTo("0");
            assertThat(Compare.scalar(source, "kill_me", "SELECT count(*) FROM pg_publication")).isEqualTo("0");
            Run old = pgferryProcess("status", "cli-killed-1", "--json", "--data-dir", dataDir.toString());
            JsonNode row = Json.mapper().readTree(old.out()).get("migration_detail").get(0);
            assertThat(row.get("status").asText()).isEqualTo("failed");
            assertThat(row.get("error_code").asText()).isEqualTo("STOPPED");
            assertThat(row.get("error").asText()).contains("ended without stopping it");
            Reliability.record("./pgferry migrate killed (SIGKILL) mid-copy, replication slot made; the same command"
                            + " again", "the next command stopped the killed migration (STOPPED), removed its slot,"
                            + " publication and half-copied database, then copied every row once",
                    Reliability.rows(expected), Reliability.rows(actual));
        } finally {
            ReplicationIT.exec(source, "postgres", "DROP DATABASE IF EXISTS kill_me WITH (FORCE)");
        }
    }

    @Test
    void aMigrateWhoseBrokerDiesEndsAtOnceSayingSoAndTheNextCommandCleansUpAfterIt() throws Exception {
        ReplicationIT.exec(source, "postgres", "CREATE DATABASE lose_broker");
        try (LocalPostgres target = Infra.postgres()) {
            gatedDatabase("lose_broker");
            String others = allBut(List.of("lose_broker"));
            Path dataDir = Infra.work().resolve("cli-broker-lost");
            Path out = Files.createTempFile(Infra.work(), "cli-out-", ".txt");
            Path err = Files.createTempFile(Infra.work(), "cli-err-", ".txt");
            Gate gate = Gate.close(target);

            // When the broker's JVM dies (SIGKILL) while the database's rows are being copied
            Process migrate = startPgferry(out, err, "migrate", "--source", source.uri("postgres"), "--target",
                    target.uri("postgres"), "--ignore-dbs", others, "--method", "dump", "--migration-id",
                    "cli-broker-lost-1", "--data-dir", dataDir.toString());
            gate.awaitHeld();
            List<ProcessHandle> brokers = brokersOf(dataDir);
            assertThat(brokers).hasSize(1);
            brokers.get(0).destroyForcibly();

            // Then the command ends on its own, saying why and what to do, instead of waiting for ever
            assertThat(migrate.waitFor(1, TimeUnit.MINUTES)).as("migrate ended after its broker died").isTrue();
            gate.open();
            assertThat(migrate.exitValue()).isEqualTo(1);
            assertThat(Files.readString(err)).contains("pgferry: the Kafka broker this command started has ended"
                    + " unexpectedly (see " + dataDir.resolve("kafka").resolve("broker.log"));

            // And the same command again stops the unfinished migration, removes what it made, and copies every row once
            List<Map<String, String>> fingerprints = migrateAgainAfter("cli-broker-lost-1", "lose_broker", target, others,
                    dataDir);
            var expected = fingerprints.get(0);
            var actual = fingerprints.get(1);
            Reliability.record("./pgferry migrate's Kafka broker killed (SIGKILL) mid-copy; the same command again",
                    "the command ended within a minute (exit 1) naming the lost broker; the next command stopped the"
                            + " unfinished migration, removed its half-copied database, then copied every row once",
                    Reliability.rows(expected), Reliability.rows(actual));
            assertThat(actual).isEqualTo(expected);
        } finally {
            ReplicationIT.exec(source, "postgres", "DROP DATABASE IF EXISTS lose_broker WITH (FORCE)");
        }
    }

    @Test
    void anInterruptedCutoverGivesTheSourceItsWritesBackAndTheReplicationGoesOn() throws Exception {
        ReplicationIT.exec(source, "postgres", "CREATE DATABASE cut_me");
        Path dataDir = Infra.work().resolve("cli-cutover-interrupted");
        try (LocalPostgres target = Infra.postgres()) {
            ReplicationIT.exec(source, "cut_me", "CREATE TABLE t (id int PRIMARY KEY, v text);"
                    + " INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 100) g");
            String others = allBut(List.of("cut_me"));
            Run migrate = pgferryProcess("migrate", "--source", source.uri("postgres"), "--target", target.uri("postgres"),
                    "--ignore-dbs", others, "--method", "replication", "--migration-id", "cli-cut-1", "--data-dir",
                    dataDir.toString());
            assertThat(migrate.exitCode()).as(migrate.err()).isEqualTo(0);
            Path out = Files.createTempFile(Infra.work(), "cli-out-", ".txt");
            Path err = Files.createTempFile(Infra.work(), "cli-err-", ".txt");

            // When the target's apply worker is held by a lock, and the cut-over, its source's writes blocked while
            // it waits for the target, is stopped (SIGTERM, as Ctrl-C)
            try (java.sql.Connection hold = SampleData.connect(target, "cut_me");
                 java.sql.Statement st = hold.createStatement()) {
                hold.setAutoCommit(false);
                st.execute("LOCK TABLE public.t IN ACCESS EXCLUSIVE MODE");
                ReplicationIT.exec(source, "cut_me", "INSERT INTO public.t VALUES (101, 'before the cut-over')");
                Process cutover = startPgferry(out, err, "cutover", "cli-cut-1", "--deadline", "5m", "--unblock-source",
                        "--json", "--data-dir", dataDir.toString());
                ReplicationIT.eventually(() -> CutoverIT.readOnlySetting(source, "cut_me"), "on");
                cutover.destroy();
                boolean ended = cutover.waitFor(2, TimeUnit.MINUTES);
                System.err.print(Files.readString(err));

                // Then the source takes writes again, with its own setting back, and the cut-over says why it stopped
                assertThat(ended).as("cutover ended after SIGTERM").isTrue();
                assertThat(cutover.exitValue()).isEqualTo(143);
                assertThat(Files.readString(err)).contains("pgferry: interrupted: stopping the cut-over of migration cli-cut-1");
                assertThat(CutoverIT.readOnlySetting(source, "cut_me")).isNull();
                JsonNode row = Json.mapper().readTree(Files.readString(out)).get("migration_detail").get(0);
                assertThat(row.get("status").asText()).isEqualTo("syncing");
                assertThat(row.get("cutover").get("error_code").asText()).isEqualTo("CUTOVER_ABORTED");
                assertThat(row.get("cutover").get("error").asText()).contains("interrupted").contains("takes writes again");
                assertThat(row.get("cutover").get("source_writable").asBoolean()).isTrue();
                ReplicationIT.exec(source, "cut_me", "INSERT INTO public.t VALUES (102, 'after the stop')");
                hold.rollback();
            }
            // and the replication goes on: both rows arrive once the lock is gone
            ReplicationIT.eventually(() -> Compare.scalar(target, "cut_me", "SELECT count(*) FROM public.t"), "102");
            Reliability.record("pgferry cutover stopped (SIGTERM, as Ctrl-C) while the source's writes were blocked",
                    "aborted: exit 143, CUTOVER_ABORTED (interrupted), the source took writes again with its own setting;"
                            + " replication went on",
                    Reliability.rows(Compare.tableFingerprints(source, "cut_me")),
                    Reliability.rows(Compare.tableFingerprints(target, "cut_me")));
            assertThat(Compare.tableFingerprints(target, "cut_me")).isEqualTo(Compare.tableFingerprints(source, "cut_me"));
        } finally {
            pgferry("remove", "cli-cut-1", "--data-dir", dataDir.toString());
            ReplicationIT.exec(source, "postgres", "DROP DATABASE cut_me WITH (FORCE)");
        }
    }

    @Test
    void aMigrateWithBadUsageLeavesNoBrokerAndNoDataDirectoryBehind() throws Exception {
        Path dataDir = Infra.work().resolve("cli-bad-usage");

        Run run = pgferryProcess("migrate", "--source", source.uri("postgres"), "--data-dir", dataDir.toString());

        assertThat(run.exitCode()).as(run.err()).isEqualTo(2);
        assertThat(run.err()).contains("--target");
        assertThat(dataDir).doesNotExist();
        assertThat(brokersOf(dataDir)).as("brokers left running").isEmpty();
    }

    @Test
    void checkReportsWhatReplicationCannotCarryAndBlocksAMigrationOntoItselfChangingNothing() throws Exception {
        LocalPostgres target = Infra.sharedTarget();
        String before = Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_database");

        // When a replication migration of the sample is checked
        Run run = pgferry("check", "--source", source.uri("postgres"), "--target", target.uri("postgres"),
                "--ignore-dbs", "postgres", "--method", "replication", "--json");

        // Then nothing blocks it, the table without a primary key is a warning by name, and each database is sized
        assertThat(run.exitCode()).as(run.out()).isEqualTo(0);
        var report = Json.mapper().readTree(run.out());
        assertThat(report.get("verdict").asText()).isEqualTo("warning");
        var databases = new java.util.HashMap<String, JsonNode>();
        report.get("databases").forEach(d -> databases.put(d.get("dbname").asText(), d));
        assertThat(databases.keySet()).containsExactlyInAnyOrderElementsOf(SampleData.DATABASES);
        var shop = databases.get("shop");
        assertThat(shop.get("method").asText()).isEqualTo("replication");
        assertThat(shop.get("size_bytes").asLong()).isPositive();
        // (the sample's tables are too small to measure a read rate: the estimate says so)
        assertThat(shop.get("estimated_seconds").asLong()).isGreaterThanOrEqualTo(1);
        assertThat(shop.get("findings").toString()).contains("assumed (no table large enough to measure)");
        java.util.List<String> warnings = new java.util.ArrayList<>();
        shop.get("findings").forEach(f -> {
            if (f.get("verdict").asText().equals("warning")) {
                warnings.add(f.get("check").asText() + ": " + f.get("message").asText());
            }
        });
        assertThat(warnings).anySatisfy(w -> assertThat(w).startsWith("primary keys:").contains("public.events_log"));
        // and --strict turns the warning into exit 1; the target was not touched
        Run strict = pgferry("check", "--source", source.uri("postgres"), "--target", target.uri("postgres"),
                "--ignore-dbs", "postgres", "--method", "replication", "--strict");
        assertThat(strict.exitCode()).isEqualTo(1);
        // and the line for all databases sums their unrounded estimates (small ones show 1 s each, and cost less)
        long millis = 0;
        long shown = 0;
        for (JsonNode d : databases.values()) {
            assertThat(d.get("estimated_ms").asLong()).isBetween(300L, d.get("estimated_seconds").asLong() * 1000 + 500);
            millis += d.get("estimated_ms").asLong();
            shown += d.get("estimated_seconds").asLong();
        }
        assertThat(millis).isLessThan(shown * 1000);
        assertThat(strict.out()).contains("all " + databases.size() + " databases: about "
                + Math.max(1, Math.round(millis / 1000.0)) + " s of worker time");
        assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_database")).isEqualTo(before);

        // When a migration onto the source itself is checked, then it is a blocker and exit 1
        Run self = pgferry("check", "--source", source.uri("postgres"), "--target", source.uri("postgres"));
        assertThat(self.exitCode()).isEqualTo(1);
        assertThat(self.out()).contains(": blocker").contains("same server");
    }

    /** One migration on the single-machine default, then {@code status} and {@code verify} over what it left. */
    @Test
    void migrateOnOneMachineCopiesEverythingProvesItAndVerifyNamesATamperedRow() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            Path dataDir = Infra.work().resolve("cli-data");
            Path first = Infra.work().resolve("cli-verify-1.json");
            Path second = Infra.work().resolve("cli-verify-2.json");

            Run run = pgferry("migrate", "--source", source.uri("postgres"), "--target", target.uri("postgres"),
                    "--ignore-dbs", "postgres,inventory", "--skip-table", "shop.public.events_log", "--json", "--method", "dump",
                    "--migration-id", "cli-local-1", "--verify", "--verify-report", first.toString(),
                    "--data-dir", dataDir.toString());

            assertThat(run.exitCode()).as(run.out()).isEqualTo(0);
            JsonNode report = Json.mapper().readTree(Files.readString(first));
            assertThat(report.get("result").asText()).as(report.toString()).isEqualTo("match");
            assertThat(report.get("databases").findValuesAsText("dbname")).containsExactlyInAnyOrder("shop", "Analytics; Ünï \"q\"");
            JsonNode json = Json.mapper().readTree(run.out());
            assertThat(json.get("migration").get("status").asText()).isEqualTo("done");
            assertThat(json.get("migration_detail").findValuesAsText("dbname")).containsExactlyInAnyOrder("shop", "Analytics; Ünï \"q\"");
            var expected = Compare.tableFingerprints(source, "shop");
            var actual = Compare.tableFingerprints(target, "shop");
            assertThat(actual.get("public.events_log")).isEqualTo("0:" + "d41d8cd98f00b204e9800998ecf8427e");
            expected.remove("public.events_log");
            actual.remove("public.events_log");
            assertThat(actual).isEqualTo(expected);
            Path brokerLog = dataDir.resolve("kafka/broker.log");
            assertThat(Files.readString(brokerLog)).contains("Kafka Server started").doesNotContain(Infra.PASSWORD);
            // The password was sealed before the request entered Kafka: no topic file holds it in clear.
            byte[] secret = Infra.PASSWORD.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            boolean sawSealed = false;
            try (var files = Files.walk(dataDir.resolve("kafka/data"))) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    String bytes;
                    try {
                        bytes = new String(Files.readAllBytes(f), java.nio.charset.StandardCharsets.ISO_8859_1);
                    } catch (java.nio.file.NoSuchFileException gone) {
                        continue;  // (migrate's broker may still be stopping: it removes its lock file as it ends)
                    }
                    assertThat(bytes).as("%s", f).doesNotContain(new String(secret, java.nio.charset.StandardCharsets.ISO_8859_1));
                    sawSealed |= bytes.contains("sealed:v1:");
                }
            }
            assertThat(sawSealed).as("the request (with its sealed password) is in the topic files").isTrue();

            // (its status after it exited: see migrateInItsOwnProcess...) A removal of a migration this data
            // directory does not know ends at once, as in distributed mode (it used to wait for ever)
            Run unknown = pgferry("remove", "no-such-migration", "--data-dir", dataDir.toString());
            assertThat(unknown.exitCode()).as(unknown.err()).isEqualTo(4);
            assertThat(unknown.err()).contains("pgferry: no migration no-such-migration");

            // A row changed on the target afterwards is named by a new verification
            try (var c = SampleData.connect(target, "shop"); var s = c.createStatement()) {
                s.execute("UPDATE public.customers SET email = 'changed@example.com' WHERE id = 7");
            }
            Run again = pgferry("verify", "cli-local-1", "--data-dir", dataDir.toString(), "--report", second.toString(),
                    "--json");

            assertThat(again.exitCode()).as(again.out()).isEqualTo(1);
            JsonNode verified = Json.mapper().readTree(again.out());
            assertThat(verified).isEqualTo(Json.mapper().readTree(Files.readString(second)));
            assertThat(verified.get("result").asText()).isEqualTo("differs");
            JsonNode shop = verified.get("databases").findValues("verification").get(verified.get("databases").findValuesAsText("dbname").indexOf("shop"));
            JsonNode customers = null;
            for (JsonNode t : shop.get("tables")) {
                if (t.get("table").asText().equals("public.customers")) {
                    customers = t;
                }
            }
            assertThat(customers).isNotNull();
            assertThat(customers.get("result").asText()).isEqualTo("differs");
            assertThat(customers.get("sample_keys").get(0).asText()).isEqualTo("(7) differs");
        }
    }

    @Test
    void submitWaitAndStatusTalkToARunningPgferry() throws Exception {
        try (LocalPostgres target = Infra.postgres(); Pgferry pgferry = new Pgferry(1)) {
            Run submit = pgferry("submit", "--bootstrap-servers", Infra.kafka(), "--source", source.uri("postgres"),
                    "--target", target.uri("postgres"), "--ignore-dbs", "postgres,shop,Analytics; Ünï \"q\"",
                    "--migration-id", "cli-submit-1", "--method", "dump", "--wait");
            assertThat(submit.exitCode()).as(submit.out()).isEqualTo(0);
            assertThat(submit.out()).startsWith("cli-submit-1\n").contains("inventory").contains("done");

            Run status = pgferry("status", "cli-submit-1", "--bootstrap-servers", Infra.kafka(), "--json");
            assertThat(status.exitCode()).isEqualTo(0);
            assertThat(Json.mapper().readTree(status.out()).get("migration_detail").get(0).get("status").asText()).isEqualTo("done");
            assertThat(Compare.tableFingerprints(target, "inventory")).isEqualTo(Compare.tableFingerprints(source, "inventory"));

            assertThat(pgferry("status", "no-such-migration", "--bootstrap-servers", Infra.kafka()).exitCode()).isEqualTo(4);
            // and on a single-machine data directory nothing was ever migrated with: a plain answer at once, no broker
            // started and nothing created there
            Path empty = Infra.work().resolve("cli-empty");
            for (String command : List.of("status", "verify", "remove", "cutover", "refresh")) {
                Run none = pgferry(command, "no-such-migration", "--data-dir", empty.toString());
                assertThat(none.exitCode()).as(command + ": " + none.err()).isEqualTo(4);
                assertThat(none.err()).contains("pgferry: no migration no-such-migration: nothing was ever migrated with"
                        + " --data-dir " + empty).doesNotContain("Exception");
            }
            assertThat(empty).doesNotExist();
        }
    }

    @Test
    void submitAndStatusGiveUpWaitingAfterTheirTimeoutWithExitThree() {
        // Given an installation (a topic prefix) where no coordinator ever plans the request
        String prefix = "cli-timeout-";
        Run submit = pgferry("submit", "--bootstrap-servers", Infra.kafka(), "--topic-prefix", prefix, "--source",
                source.uri("postgres"), "--target", source.uri("postgres"), "--migration-id", "cli-timeout-1", "--wait",
                "--timeout", "2s");

        // Then submit prints the id, gives up after 2 s with exit 3, and says where to look
        assertThat(submit.exitCode()).as(submit.err()).isEqualTo(3);
        assertThat(submit.out()).startsWith("cli-timeout-1\n");
        assertThat(submit.err()).contains("pgferry: gave up waiting after 2 s").contains("see 'pgferry status cli-timeout-1'");
        Run status = pgferry("status", "cli-timeout-1", "--bootstrap-servers", Infra.kafka(), "--topic-prefix", prefix,
                "--wait", "--timeout", "2s");
        assertThat(status.exitCode()).as(status.err()).isEqualTo(3);
        assertThat(status.err()).contains("pgferry: gave up waiting after 2 s");
    }

    @Test
    void badUsageExitsTwoAndBadUriNamesTheProblemWithoutThePassword() {
        assertThat(pgferry("migrate", "--source", "x").exitCode()).isEqualTo(2);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream saved = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            Run run = pgferry("migrate", "--source", "postgres://u:Secret-Pw1@h:5432/db?bogus=1", "--target", "postgres://u@t/db");
            assertThat(run.exitCode()).isEqualTo(1);
        } finally {
            System.setErr(saved);
        }
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("unknown parameter 'bogus'").doesNotContain("Secret-Pw1");
    }

    @Test
    void statusOnOneMachineMeasuresTheLagAndDriftOfSyncingDatabasesItself() throws Exception {
        try (LocalPostgres own = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            // Given a database replicating through the single-machine default, whose command has exited
            ReplicationIT.exec(own, "postgres", "CREATE DATABASE lagged");
            ReplicationIT.exec(own, "lagged", "CREATE TABLE public.t (id int PRIMARY KEY, v text);"
                    + " INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 10) g");
            String dataDir = Infra.work().resolve("cli-status-lag").toString();
            Run run = pgferry("migrate", "--source", own.uri("postgres"), "--target", target.uri("postgres"),
                    "--ignore-dbs", "postgres", "--method", "replication", "--migration-id", "cli-lag-1", "--json",
                    "--data-dir", dataDir);
            assertThat(run.exitCode()).as(run.out()).isEqualTo(0);
            // and whose final status, printed as it began to sync, already shows its lag
            JsonNode printed = Json.mapper().readTree(run.out()).get("migration_detail").get(0);
            assertThat(printed.get("status").asText()).isEqualTo("syncing");
            assertThat(printed.get("lag_bytes").isIntegralNumber()).as(printed.toString()).isTrue();

            // When the source's schema changes afterwards, and the status is asked for
            ReplicationIT.exec(own, "lagged", "ALTER TABLE public.t ADD COLUMN w int");
            java.time.Instant asked = java.time.Instant.now();
            Run status = pgferry("status", "cli-lag-1", "--json", "--data-dir", dataDir);

            // Then the row shows a lag measured by that command, and the drift it found (no coordinator ran between)
            JsonNode row = Json.mapper().readTree(status.out()).get("migration_detail").get(0);
            assertThat(row.get("status").asText()).as(status.out()).isEqualTo("syncing");
            assertThat(java.time.Instant.parse(row.get("lag_measured_at").asText())).isAfter(asked);
            assertThat(row.get("lag_bytes").isIntegralNumber()).as(row.toString()).isTrue();
            assertThat(row.get("drift").get(0).asText()).isEqualTo("column public.t.w (integer) is on the source but"
                    + " not on the target: the apply worker fails at the next change to public.t");
            assertThat(pgferry("remove", "cli-lag-1", "--data-dir", dataDir).exitCode()).isEqualTo(0);
        }
    }

    @Test
    void migrateWithReplicationCutsOverAtTheGivenLagAndLeavesNothingBehind() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            Run run = pgferry("migrate", "--source", source.uri("postgres"), "--target", target.uri("postgres"),
                    "--ignore-dbs", "postgres,shop,Analytics; Ünï \"q\"", "--method", "replication",
                    "--stop-replication-at-lag", "1000000", "--json", "--data-dir", Infra.work().resolve("cli-repl").toString());

            assertThat(run.exitCode()).as(run.out()).isEqualTo(0);
            JsonNode json = Json.mapper().readTree(run.out().substring(run.out().lastIndexOf("{\n  \"migration_id\"")));
            assertThat(json.get("migration").get("status").asText()).isEqualTo("removed");
            assertThat(json.get("migration").get("method").asText()).isEqualTo("replication");
            assertThat(Compare.tableFingerprints(target, "inventory")).isEqualTo(Compare.tableFingerprints(source, "inventory"));
            assertThat(Compare.scalar(source, "inventory", "SELECT count(*) FROM pg_publication")).isEqualTo("0");
            assertThat(Compare.scalar(source, "postgres", "SELECT count(*) FROM pg_replication_slots")).isEqualTo("0");
            assertThat(Compare.scalar(target, "inventory", "SELECT count(*) FROM pg_subscription")).isEqualTo("0");
        }
    }

    @Test
    void removeEndsTheReplicationOfASubmittedMigrationAndItsFinalCopyBringsWhatReplicationDoesNotCarry() throws Exception {
        // (a database of this test's own beside inventory, with what logical replication does not carry)
        ReplicationIT.exec(source, "postgres", "CREATE DATABASE finalcopy");
        try (LocalPostgres target = Infra.postgres(); Pgferry pgferry = new Pgferry(1)) {
            ReplicationIT.exec(source, "finalcopy", "CREATE TABLE public.t (id int PRIMARY KEY, v text);"
                    + " CREATE UNLOGGED TABLE public.cache (k int PRIMARY KEY, v text);"
                    + " CREATE MATERIALIZED VIEW public.counts AS SELECT count(*) AS n FROM public.t;"
                    + " CREATE SEQUENCE public.tickets; SELECT nextval('public.tickets');"
                    + " INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 20) g;"
                    + " INSERT INTO public.cache SELECT g, 'c' || g FROM generate_series(1, 10) g;"
                    + " SELECT lo_from_bytea(4001, 'first'), lo_from_bytea(4002, 'second')");
            Run submit = pgferry("submit", "--bootstrap-servers", Infra.kafka(), "--source", source.uri("postgres"),
                    "--target", target.uri("postgres"), "--ignore-dbs", "postgres,shop,Analytics; Ünï \"q\"",
                    "--migration-id", "cli-remove-1", "--method", "replication", "--wait");
            assertThat(submit.exitCode()).as(submit.out()).isEqualTo(0);
            assertThat(submit.out()).contains("syncing");
            // (one per database: the catalog is the server's)
            assertThat(Compare.scalar(target, "inventory", "SELECT count(*) FROM pg_subscription")).isEqualTo("2");

            // When, while it replicates, the source changes what replication does not carry
            ReplicationIT.exec(source, "finalcopy", "UPDATE public.cache SET v = 'changed' WHERE k <= 3;"
                    + " INSERT INTO public.cache VALUES (11, 'new'); DELETE FROM public.cache WHERE k = 10;"
                    + " SELECT lo_put(4001, 0, 'FIRST'), lo_from_bytea(4003, 'third'), lo_unlink(4002);"
                    + " INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(21, 30) g;"
                    + " REFRESH MATERIALIZED VIEW public.counts; SELECT nextval('public.tickets') FROM generate_series(1, 9);"
                    + " CREATE ROLE cli_final_user; ALTER DATABASE finalcopy SET work_mem = '7MB'");
            // and the replication is removed with a final copy
            Run remove = pgferry("remove", "cli-remove-1", "--final-copy", "--bootstrap-servers", Infra.kafka());

            // Then it arrived before the replication was dropped, and nothing of pgferry's is left
            assertThat(remove.exitCode()).as(remove.out()).isEqualTo(0);
            assertThat(remove.out()).contains("removed");
            for (String sql : List.of("SELECT string_agg(k || v, ',' ORDER BY k) FROM public.cache",
                    "SELECT string_agg(oid || ':' || encode(lo_get(oid), 'escape'), ',' ORDER BY oid) FROM pg_largeobject_metadata",
                    "SELECT n FROM public.counts", "SELECT last_value FROM public.tickets",
                    "SELECT count(*) FROM pg_roles WHERE rolname = 'cli_final_user'",
                    "SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase"
                            + " WHERE d.datname = 'finalcopy' AND s.setrole = 0")) {
                assertThat(Compare.scalar(target, "finalcopy", sql)).as(sql).isEqualTo(Compare.scalar(source, "finalcopy", sql));
            }
            assertThat(Compare.scalar(target, "finalcopy", "SELECT string_agg(k || v, ',' ORDER BY k) FROM public.cache"))
                    .startsWith("1changed,2changed,3changed,4c4").endsWith("11new");
            assertThat(Compare.scalar(target, "finalcopy", "SELECT string_agg(oid::text, ',' ORDER BY oid) FROM"
                    + " pg_largeobject_metadata")).isEqualTo("4001,4003");
            assertThat(Compare.tableFingerprints(target, "finalcopy")).isEqualTo(Compare.tableFingerprints(source, "finalcopy"));
            for (String db : List.of("inventory", "finalcopy")) {
                assertThat(Compare.scalar(target, db, "SELECT count(*) FROM pg_subscription")).isEqualTo("0");
            }
            assertThat(Compare.scalar(source, "postgres", "SELECT count(*) FROM pg_replication_slots")).isEqualTo("0");
            assertThat(pgferry("remove", "no-such-migration", "--bootstrap-servers", Infra.kafka()).exitCode()).isEqualTo(4);
        } finally {
            ReplicationIT.exec(source, "postgres", "DROP DATABASE finalcopy WITH (FORCE)");
            ReplicationIT.exec(source, "postgres", "DROP ROLE IF EXISTS cli_final_user");
        }
    }
}
