package dev.pgferry.broker;

import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A broker told to stop in the background, and the next start of its data directory. */
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
            assertThat(ChildBroker.running(first.process())).as("the stopped broker").isFalse();
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
}
