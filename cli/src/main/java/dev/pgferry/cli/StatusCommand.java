package dev.pgferry.cli;

import dev.pgferry.bus.Bus;
import dev.pgferry.bus.KafkaSettings;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.worker.runtime.Worker;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.Optional;
import java.util.concurrent.Callable;

@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Print a migration's status, folded from the status topic (on the single-machine broker data, the"
                + " replication lag and schema drift of syncing databases are measured first). Exit 0 done, 1 failed,"
                + " 3 running, 4 unknown id."
                + " Without --bootstrap-servers it reads the single-machine data under --data-dir.")
final class StatusCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "ID", description = "The migration's id (as migrate and submit print it).")
    String migrationId;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
            description = "A running pgferry's Kafka; without it, the single-machine broker data under --data-dir.")
    String bootstrapServers;

    @Mixin
    KafkaOptions kafka;

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = SingleMachine.DATA_DIR,
            description = "Single-machine data (default: ${DEFAULT-VALUE}).")
    java.nio.file.Path dataDir;

    @Option(names = "--wait", description = "Block until the migration is done or failed.")
    boolean await;

    @Option(names = "--timeout", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "With --wait: stop waiting after this long (e.g. 90s, 10m); exit 3.")
    java.time.Duration timeout;

    @Option(names = "--json", description = "Print the status as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (!kafka.named(bootstrapServers)) {
            if (SingleMachine.neverUsed(dataDir)) {
                return SingleMachine.unknownIn(dataDir, migrationId);
            }
            // No coordinator runs between single-machine commands: this one measures the lag of syncing databases and
            // looks for their drift first, as a running coordinator shows them.
            try (SingleMachine local = new SingleMachine(dataDir, 0, Worker.Settings.defaults(), -1)) {
                local.measureNow(migrationId);
                return show(KafkaSettings.of(local.bootstrapServers()));
            }
        }
        return show(kafka.settings(bootstrapServers));
    }

    private int show(KafkaSettings servers) throws Exception {
        try (Bus bus = new Bus(servers, "pgferry-status")) {
            if (await) {
                try {
                    return Exits.report(MigrationWatcher.await(bus, migrationId, System.err, MigrationStatus::isFinal,
                            timeout), json, System.out);
                } catch (MigrationWatcher.TimedOut e) {
                    System.err.println("pgferry: " + e.getMessage());
                    if (e.last != null) {
                        Exits.report(e.last, json, System.out);
                    }
                    return Exits.RUNNING;
                }
            }
            String[] read = new String[1];
            Optional<MigrationStatus> status = MigrationWatcher.current(bus, migrationId, what -> read[0] = what);
            if (status.isEmpty()) {
                System.err.println("pgferry: no migration " + migrationId + " (" + read[0] + ")");
                return Exits.UNKNOWN;
            }
            int rc = Exits.report(status.get(), json, System.out);
            return status.get().isFinal() ? rc : 3;
        }
    }
}
