package dev.pgferry.cli;

import dev.pgferry.bus.KafkaSettings;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The options of a command that asks a running pgferry to act on a migration and waits for the end ({@code remove},
 * {@code cutover}, {@code refresh}): where pgferry's Kafka is (or the single-machine data), how to print the result,
 * and how long to wait.
 */
final class ControlOptions {
    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT", description = "A running pgferry's Kafka.")
    String bootstrapServers;

    @Mixin
    KafkaOptions kafka;

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = SingleMachine.DATA_DIR,
            description = "Single-machine data (default: ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--json", description = "Print the final status as JSON.")
    boolean json;

    @Option(names = "--timeout", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Stop waiting after this long (e.g. 90s, 10m): exit 3; the work goes on (see 'pgferry status').")
    Duration timeout;

    /** Whether a running pgferry's Kafka is named (else the single-machine data is used). */
    boolean distributed() {
        return kafka.named(bootstrapServers);
    }

    KafkaSettings settings() {
        return kafka.settings(bootstrapServers);
    }
}
