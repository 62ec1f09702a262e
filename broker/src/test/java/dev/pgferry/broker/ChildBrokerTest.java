package dev.pgferry.broker;

import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A broker told to stop in the background, and the next start of its data directory; a second broker on a directory in use. */
class ChildBrokerTest {

    @Test
    void theNextStartOfADataDirectoryWaitsForTheBrokerStoppedInTheBackground(@TempDir Path dir) throws Exception {
        Path kafka = dir.resolve("kafka");
        ChildBroker first = ChildBroker.start(kafka, 0, false);
        long pid = first.process().pid();
        String marker = ChildBroker.marker(first.process());
        assertThat(ProcessHandle.current().children().map(ProcessHandle::pid)).as("the broker is not this JVM's child"
                + " (whose exit would wait 0.3 s for it)").doesNotContain(pid);

        first.stopInBackground();

        assertThat(kafka.resolve("broker.stopping")).hasContent(marker);
        try (ChildBroker next = ChildBroker.start(kafka, 0, false)) {
            // (not isAlive(): the broker is not this JVM's child, and until whoever adopted it reaps it, the JDK counts
            // its zombie alive)
            // it let go of the data directory once Kafka had stopped, and its JVM ends right after
            assertThat(ChildBroker.awaitExit(first.process(), 10_000)).as("the stopped broker ended").isTrue();
            assertThat(Files.readString(kafka.resolve("broker.log"))).as("a clean shutdown")
                    .containsOnlyOnce("pgferry: the broker stopped cleanly");
            assertThat(kafka.resolve("broker.stopping")).doesNotExist();
            try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", next.bootstrapServers()))) {
                assertThat(admin.describeCluster().nodes().get(30, TimeUnit.SECONDS)).hasSize(1);
            }
        }
        assertThat(Files.readString(kafka.resolve("broker.log")).split("Kafka Server started", -1)).as("broker starts")
                .hasSize(3);
    }

    @Test
    void theNextStartWaitsForTheDataDirectoryNotForTheStoppingJvmToEnd(@TempDir Path dir) throws Exception {
        // A broker stopped in the background lets go of its data directory once Kafka has stopped, and its JVM may
        // then write its class archive for seconds more: here a process that outlives the start stands for that JVM,
        // named by the marker, with the directory's lock free.
        Path kafka = dir.resolve("kafka");
        Files.createDirectories(kafka);
        Process writing = new ProcessBuilder("sleep", "20").start();
        try {
            Files.writeString(kafka.resolve("broker.stopping"), ChildBroker.marker(writing.toHandle()));
            try (ChildBroker next = ChildBroker.start(kafka, 0, false)) {
                assertThat(writing.isAlive()).as("the start did not wait for the stopping JVM to end").isTrue();
                assertThat(kafka.resolve("broker.stopping")).doesNotExist();
                try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", next.bootstrapServers()))) {
                    assertThat(admin.describeCluster().nodes().get(30, TimeUnit.SECONDS)).hasSize(1);
                }
            }
        } finally {
            writing.destroyForcibly();
        }
    }

    @Test
    void aBrokerThatWritesItsArchiveInTheBackgroundDoesSoAtTheLowestPriority() throws Exception {
        // a JVM: many threads, each with its own priority on Linux
        Process jvm = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xshare:off", "-cp", System.getProperty("java.class.path"), SleepMain.class.getName()).start();
        try {
            assertThat(jvm.getInputStream().read()).as("the JVM runs").isEqualTo('.');
            ChildBroker.lowerPriority(jvm.toHandle());
            List<Integer> nice = new ArrayList<>();
            try (var tasks = Files.list(Path.of("/proc", Long.toString(jvm.pid()), "task"))) {
                for (Path t : tasks.toList()) {
                    String stat = Files.readString(t.resolve("stat"));
                    nice.add(Integer.parseInt(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[16]));
                }
            }
            assertThat(nice).hasSizeGreaterThan(5).containsOnly(19);
        } finally {
            jvm.destroyForcibly();
        }
    }

    /** A JVM that says it runs, then waits. */
    public static final class SleepMain {
        public static void main(String[] args) throws Exception {
            System.out.print('.');
            System.out.flush();
            Thread.sleep(60_000);
        }
    }

    @Test
    void aMarkerNamesItsProcessHoweverLongItsCommandLineAndNoOtherProcessOnTheSamePid() throws Exception {
        // A command line longer than the 4 kB the JDK reads of it, as a broker's is (its class path comes first)
        Process p = new ProcessBuilder("sh", "-c", "sleep 60; :", "x".repeat(20_000)).start();
        String marker = ChildBroker.marker(p.toHandle());
        try {
            assertThat(ChildBroker.stillRunning(marker).map(ProcessHandle::pid)).contains(p.pid());
            assertThat(ChildBroker.stillRunning(p.pid() + " 12345")).as("another process given the same pid").isEmpty();
            assertThat(ChildBroker.stillRunning(Long.toString(p.pid()))).as("a marker without a start time").isEmpty();
        } finally {
            p.destroyForcibly().waitFor();
        }
        assertThat(ChildBroker.stillRunning(marker)).as("once it has exited").isEmpty();
    }

    @Test
    void aSecondBrokerOnADataDirectoryInUseIsRefusedBeforeItTouchesKafkasFiles(@TempDir Path dir) throws Exception {
        Path kafka = dir.resolve("kafka");
        try (ChildBroker first = ChildBroker.start(kafka, 0, false)) {
            Path quorumState = kafka.resolve("data").resolve("__cluster_metadata-0").resolve("quorum-state");
            String before = Files.readString(quorumState);

            // When another command starts a broker on the same data directory
            assertThatThrownBy(() -> ChildBroker.start(kafka, 0, false)).isInstanceOf(IOException.class)
                    .hasMessageContaining("another pgferry (or Kafka) is using " + kafka);

            // Then it changed nothing of the first's: Kafka's own lock came after its controller had become the Raft
            // leader of a new epoch (written to quorum-state) and had appended to the metadata log
            assertThat(Files.readString(quorumState)).as("quorum-state").isEqualTo(before);
            assertThat(Files.readString(kafka.resolve("broker.log"))).contains("Failed to acquire lock on "
                    + kafka.resolve(DataDirLock.FILE)).doesNotContain("Failed to acquire lock on file .lock");
            try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", first.bootstrapServers()))) {
                assertThat(admin.describeCluster().nodes().get(30, TimeUnit.SECONDS)).hasSize(1);
            }
        }
        // And once the first has stopped, the directory is free again
        try (ChildBroker next = ChildBroker.start(kafka, 0, false)) {
            assertThat(next.bootstrapServers()).isNotBlank();
        }
    }

    @Test
    void aBrokerLogPastItsLimitIsSetAsideAsTheNextBrokerStartsAndASmallOneIsLeft(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("broker.log");
        Files.writeString(log, "small\n");
        ChildBroker.rotate(log);
        assertThat(log).hasContent("small");
        assertThat(dir.resolve("broker.log.1")).doesNotExist();

        Files.writeString(dir.resolve("broker.log.1"), "the one before\n");
        try (var out = Files.newOutputStream(log)) {
            out.write(new byte[(int) ChildBroker.LOG_ROTATE_BYTES + 1]);
        }
        ChildBroker.rotate(log);

        assertThat(log).doesNotExist();
        assertThat(Files.size(dir.resolve("broker.log.1"))).isEqualTo(ChildBroker.LOG_ROTATE_BYTES + 1);
    }

    @Test
    void theBrokerOfAKilledCommandIsWaitedForByTheNextOneNotRefused(@TempDir Path dir) throws Exception {
        Path kafka = dir.resolve("kafka");
        Files.createDirectories(kafka);
        Path ready = kafka.resolve("orphan.ready");
        Process owner = new ProcessBuilder("sleep", "120").start();
        Process orphan = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), BrokerMain.class.getName(), kafka.toString(),
                Integer.toString(BrokerConfig.freePort()), Integer.toString(BrokerConfig.freePort()), ready.toString(),
                Long.toString(owner.pid())).redirectErrorStream(true).redirectOutput(kafka.resolve("orphan.log").toFile())
                .start();
        try {
            for (int i = 0; i < 1200 && !Files.exists(ready); i++) {
                Thread.sleep(100);
            }
            assertThat(ready).as("the orphan-to-be is up").exists();

            // When the command it serves is killed (its broker notices within half a second and stops by itself)
            owner.destroyForcibly().waitFor();

            // Then the next command's broker waits for it to let go of the data directory instead of failing
            try (ChildBroker next = ChildBroker.start(kafka, 0, false)) {
                assertThat(orphan.waitFor(1, TimeUnit.SECONDS)).as("the orphan has ended").isTrue();
                assertThat(Files.readString(kafka.resolve("orphan.log"))).contains("pgferry: the broker stopped cleanly");
                try (Admin admin = Admin.create(Map.<String, Object>of("bootstrap.servers", next.bootstrapServers()))) {
                    assertThat(admin.describeCluster().nodes().get(30, TimeUnit.SECONDS)).hasSize(1);
                }
            }
        } finally {
            owner.destroyForcibly();
            orphan.destroyForcibly().waitFor();
        }
    }
}
