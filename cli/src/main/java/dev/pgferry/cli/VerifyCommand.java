package dev.pgferry.cli;

import dev.pgferry.bus.Bus;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.worker.runtime.Worker;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;

@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "Compare source and target of every database of a migration, taking nothing on trust from the"
                + " copy: database properties, roles and memberships, schema, sequences, large objects, materialized"
                + " views, and every table's row count and content hash (online, for databases that are replicating)."
                + " Writes a JSON report. Without --bootstrap-servers it uses the single-machine broker data under"
                + " --data-dir. Exits 0 when everything matches, 1 otherwise, 4 for an unknown migration.")
final class VerifyCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "ID", description = "The migration's id (as migrate and submit print it).")
    String migrationId;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT", description = "A running pgferry's Kafka.")
    String bootstrapServers;

    @Mixin
    KafkaOptions kafka;

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = SingleMachine.DATA_DIR,
            description = "Single-machine data (default: ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--jobs", paramLabel = "N", defaultValue = "2",
            description = "Connections per side and database (default: ${DEFAULT-VALUE}).")
    int jobs;

    @Option(names = "--report", paramLabel = "FILE",
            description = "Where to write the JSON report (default: pgferry-verify-ID.json in the current directory).")
    Path report;

    @Option(names = "--json", description = "Print the report as JSON instead of a summary.")
    boolean json;

    @Option(names = "--timeout", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Stop waiting for the verification after this long (e.g. 90s, 10m): exit 3; it goes on (its"
                    + " result appears in 'pgferry status').")
    Duration timeout;

    @Override
    public Integer call() throws Exception {
        Path file = report != null ? report : Path.of("pgferry-verify-" + migrationId + ".json");
        try {
            if (!kafka.named(bootstrapServers)) {
                if (SingleMachine.neverUsed(dataDir)) {
                    return SingleMachine.unknownIn(dataDir, migrationId);
                }
                try (SingleMachine local = new SingleMachine(dataDir, 1, Worker.Settings.defaults().withJobs(jobs), -1)) {
                    MigrationStatus s = local.verify(migrationId, jobs, timeout, System.err);
                    return s == null ? unknown() : Verifications.report(s, file, json, System.out);
                }
            }
            try (Bus bus = new Bus(kafka.settings(bootstrapServers), "pgferry-verify")) {
                Optional<MigrationStatus> current = MigrationWatcher.current(bus, migrationId);
                if (current.isEmpty()) {
                    return unknown();
                }
                Verifications.request(bus, migrationId, jobs);
                MigrationStatus s = MigrationWatcher.await(bus, migrationId, System.err, Verifications.ended(current), timeout);
                return Verifications.report(s, file, json, System.out);
            }
        } catch (MigrationWatcher.TimedOut e) {
            return Exits.timedOut(e, migrationId);
        }
    }

    private int unknown() {
        System.err.println("pgferry: no migration " + migrationId);
        return Exits.UNKNOWN;
    }
}
