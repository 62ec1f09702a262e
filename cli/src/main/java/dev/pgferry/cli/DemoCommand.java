package dev.pgferry.cli;

import dev.pgferry.cli.local.Fingerprints;
import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.Connection;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.worker.runtime.Worker;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "For a first look with no servers at hand: starts two throw-away local PostgreSQL servers,"
                + " fills the source with a small sample, migrates it like `migrate` does, prints the result and"
                + " removes the servers.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = SingleMachine.DATA_DIR,
            description = "Working data (default: ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--rows", paramLabel = "N", defaultValue = "20000",
            description = "Rows in the largest sample table (default: ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--json", description = "Print the final status as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        Path work = dataDir.toAbsolutePath().resolve("demo");
        String password = "demo-" + UUID.randomUUID().toString().substring(0, 8);
        System.err.println("pgferry demo: starting two local PostgreSQL servers under " + work);
        try (LocalPostgres source = LocalPostgres.start(LocalPostgres.defaultBinDir(), work, password);
             LocalPostgres target = LocalPostgres.start(LocalPostgres.defaultBinDir(), work, password)) {
            SampleData.create(source, rows);
            System.err.println("pgferry demo: source 127.0.0.1:" + source.port() + " holds databases "
                    + SampleData.DATABASES + "; target is 127.0.0.1:" + target.port());
            MigrationRequest request = MigrationRequest.of(
                    new Connection(source.host(), source.port(), "postgres", "postgres", password, null, "disable"),
                    new Connection(target.host(), target.port(), "postgres", "postgres", password, null, "disable"),
                    Method.AUTO, List.of(), List.of(), List.of());
            try (SingleMachine local = new SingleMachine(dataDir, 2, Worker.Settings.defaults().withJobs(2), -1)) {
                MigrationStatus status = local.migrate(request, System.err);
                int rc = Exits.report(status, json, System.out);
                int identical = 0;
                for (String db : SampleData.DATABASES) {
                    Map<String, String> expected = Fingerprints.of(source, db);
                    Map<String, String> actual = Fingerprints.of(target, db);
                    for (var e : expected.entrySet()) {
                        if (e.getValue().equals(actual.get(e.getKey()))) {
                            identical++;
                        } else {
                            System.err.println("pgferry demo: " + db + "." + e.getKey() + " differs: source "
                                    + e.getValue() + ", target " + actual.get(e.getKey()));
                            rc = Exits.FAILED;
                        }
                    }
                }
                System.err.println("pgferry demo: checked " + identical + " tables: row counts and content hashes"
                        + (rc == Exits.DONE ? " are identical on source and target" : " differ (see above)"));
                if (status.migrationDetail().stream().anyMatch(d -> d.status() == MigrationStatus.State.SYNCING)) {
                    System.err.println("pgferry demo: the target follows the source by logical replication;"
                            + " removing it (pgferry remove " + request.migrationId() + ")");
                    MigrationStatus removed = local.remove(request.migrationId(), false, System.err, null);
                    Exits.report(removed, json, System.out);
                    if (removed.migration().status() != MigrationStatus.State.REMOVED) {
                        rc = Exits.FAILED;
                    }
                }
                return rc;
            }
        }
    }
}
