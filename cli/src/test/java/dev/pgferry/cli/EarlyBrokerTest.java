package dev.pgferry.cli;

import dev.pgferry.broker.ChildBroker;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A broker started as the JVM starts is the one {@link SingleMachine} gets for the command's data directory, and
 * only for that one; the data directory an early broker is started for is the one picocli gives the command.
 */
class EarlyBrokerTest {

    @Test
    void aBrokerStartedEarlyIsTakenForItsOwnDataDirectoryOnly(@TempDir Path dir) throws Exception {
        Path dataDir = dir.resolve("data");
        EarlyBroker.startFor(new String[]{"migrate", "--source", "s", "--data-dir", dataDir.toString()});

        assertThat(EarlyBroker.take(dir.resolve("elsewhere").resolve("kafka"))).isNull();
        ChildBroker broker = EarlyBroker.take(dataDir.resolve("kafka"));

        assertThat(broker).isNotNull();
        try (broker; Admin admin = Admin.create(Map.of("bootstrap.servers", broker.bootstrapServers()))) {
            assertThat(admin.describeCluster().nodes().get(30, TimeUnit.SECONDS)).hasSize(1);
            assertThat(EarlyBroker.take(dataDir.resolve("kafka"))).as("taken once").isNull();
            EarlyBroker.abandon();
            assertThat(broker.process().isAlive()).as("a broker that was taken is its taker's to stop").isTrue();
        }
    }

    @Test
    void anEarlyBrokerNobodyTookIsStoppedAndItsDataDirectoryRemoved(@TempDir Path dir) throws Exception {
        Path dataDir = dir.resolve("data");
        EarlyBroker.startFor(new String[]{"migrate", "--data-dir", dataDir.toString()});

        EarlyBroker.abandon();

        assertThat(dataDir).doesNotExist();
        assertThat(ProcessHandle.allProcesses().filter(h -> h.info().commandLine()
                .map(c -> c.contains("dev.pgferry.broker.BrokerMain") && c.contains(dataDir.toString())).orElse(false))
                .toList()).as("brokers left running").isEmpty();
    }

    @Test
    void readsTheDataDirectoryAsPicocliDoes() {
        assertThat(EarlyBroker.dataDir(List.of("migrate", "--source", "s", "--target", "t")))
                .isEqualTo(SingleMachine.DATA_DIR);
        assertThat(EarlyBroker.dataDir(List.of("migrate", "--data-dir", "/tmp/a", "--json"))).isEqualTo("/tmp/a");
        assertThat(EarlyBroker.dataDir(List.of("demo", "--data-dir=/tmp/b"))).isEqualTo("/tmp/b");
        // picocli keeps the last value of a single-valued option
        assertThat(EarlyBroker.dataDir(List.of("migrate", "--data-dir", "/tmp/a", "--data-dir=/tmp/c"))).isEqualTo("/tmp/c");
        // nothing after "--" is an option
        assertThat(EarlyBroker.dataDir(List.of("migrate", "--", "--data-dir", "/tmp/e"))).isEqualTo(SingleMachine.DATA_DIR);
        // a trailing option without its value is picocli's error to report; the default is used meanwhile
        assertThat(EarlyBroker.dataDir(List.of("migrate", "--data-dir"))).isEqualTo(SingleMachine.DATA_DIR);
    }
}
