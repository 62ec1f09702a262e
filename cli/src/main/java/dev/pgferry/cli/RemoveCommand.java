package dev.pgferry.cli;

import dev.pgferry.bus.Bus;
import dev.pgferry.messages.MigrationStatus;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;

@Command(name = "remove", mixinStandardHelpOptions = true,
        description = "Stop a migration's replication and drop every replication object pgferry made on both servers"
                + " (the target's sequences are set from the source first). Idempotent. Without --bootstrap-servers it"
                + " uses the single-machine broker data under --data-dir. Exits 0 when every database is removed.")
final class RemoveCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "ID")
    String migrationId;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT", description = "A running pgferry's Kafka.")
    String bootstrapServers;

    @Mixin
    KafkaOptions kafka;

    @Option(names = "--data-dir", defaultValue = "./.pgferry", description = "Single-machine data (default: ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--json", description = "Print the final status as JSON.")
    boolean json;

    @Option(names = "--timeout", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Stop waiting after this long (the removal goes on; see 'pgferry status'); exit 3.")
    java.time.Duration timeout;

    @Override
    public Integer call() throws Exception {
        try {
            if (!kafka.named(bootstrapServers)) {
                try (SingleMachine local = new SingleMachine(dataDir, 1, 1, 0, -1)) {
                    return report(local.remove(migrationId, System.err, timeout));
                }
            }
            try (Bus bus = new Bus(kafka.settings(bootstrapServers), "pgferry-remove")) {
                Optional<MigrationStatus> current = MigrationWatcher.current(bus, migrationId);
                if (current.isEmpty()) {
                    System.err.println("pgferry: no migration " + migrationId);
                    return Exits.UNKNOWN;
                }
                return report(Removals.removeAndAwait(bus, migrationId, System.err, timeout));
            }
        } catch (MigrationWatcher.TimedOut e) {
            System.err.println("pgferry: " + e.getMessage() + "; see 'pgferry status " + migrationId + "'");
            return Exits.RUNNING;
        }
    }

    private int report(MigrationStatus status) {
        Exits.report(status, json, System.out);
        return status.migration().status() == MigrationStatus.State.REMOVED ? Exits.DONE : Exits.FAILED;
    }
}
