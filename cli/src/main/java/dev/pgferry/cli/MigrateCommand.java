package dev.pgferry.cli;

import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

@Command(name = "migrate", mixinStandardHelpOptions = true,
        description = "Migrate every database of the source server to the target on this machine: starts an embedded"
                + " Kafka broker, a coordinator and workers, shows live progress, prints the final status."
                + " Exits 0 when every database is done (or syncing, with replication), 1 when any failed.")
final class MigrateCommand implements Callable<Integer> {
    @Mixin
    RequestOptions request;

    @Option(names = "--json", description = "Print the final status as JSON.")
    boolean json;

    @Option(names = "--data-dir", paramLabel = "DIR", defaultValue = SingleMachine.DATA_DIR,
            description = "Single-machine data (default: ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--workers", paramLabel = "N", defaultValue = "2",
            description = "Workers in this process (default: ${DEFAULT-VALUE}).")
    int workers;

    @Mixin
    CopyOptions copy;

    @Option(names = "--http-port", paramLabel = "PORT", defaultValue = "-1",
            description = "Also serve the HTTP API on this port (default: off).")
    int httpPort;

    @Option(names = "--stop-replication-at-lag", paramLabel = "BYTES",
            description = "Once every replicated database is syncing, wait until each lags by at most BYTES, then"
                    + " remove the replication and exit, while the source may still take writes: whatever is written"
                    + " after the last applied change is not on the target. Before that, what replication does not"
                    + " carry (sequences, roles, the database's properties, unlogged tables, large objects, materialized"
                    + " views, extension rows) is copied again, as remove --final-copy does. Prefer pgferry cutover.")
    Long stopAtLag;

    @Option(names = "--verify",
            description = "Once every database is done or syncing, run pgferry verify (report in"
                    + " pgferry-verify-ID.json) and exit 1 unless everything matches.")
    boolean verify;

    @Option(names = "--verify-report", paramLabel = "FILE",
            description = "With --verify: where to write the JSON report (default: pgferry-verify-ID.json).")
    Path verifyReport;

    /**
     * What an interrupt (Ctrl-C, SIGTERM) does while the copy runs: it stops the migration's unfinished databases for
     * good rather than leaving them as they were (each removes what its attempt made: the half-copied target
     * database, the source's replication slot and publication, which would keep WAL; each fails with
     * {@code STOPPED}; the databases already done or syncing stay), then prints the final status. Before, the JVM
     * simply ended: the slot kept the source's WAL, the status said {@code running} for ever, and migrating again
     * failed on the half-copied database.
     */
    private Runnable onStop(SingleMachine local, String migrationId) {
        return () -> {
            System.err.println("pgferry: interrupted: stopping migration " + migrationId + " and removing what its"
                    + " unfinished databases made on both servers (databases already done or syncing stay; kill -9"
                    + " would leave everything as it is)");
            local.cancel(migrationId, MigrationStatus::isFinal, Duration.ofSeconds(30)).ifPresentOrElse(
                    s -> Exits.report(s, json, System.out),
                    () -> System.err.println("pgferry: the migration's final status did not arrive; see pgferry status "
                            + migrationId + " --data-dir " + dataDir));
            local.dropCreatedRoles(migrationId).ifPresent(m -> System.err.println("pgferry: " + m));
        };
    }

    @Override
    public Integer call() throws Exception {
        MigrationRequest r = request.toRequest();
        System.err.println("pgferry: migrating " + r.source().describe() + " -> " + r.target().describe()
                + " (migration " + r.migrationId() + ")");
        try (SingleMachine local = new SingleMachine(dataDir, workers, copy.workerSettings(), httpPort)) {
            MigrationStatus status = StopHook.guarded(() -> local.migrate(r, System.err), onStop(local, r.migrationId()));
            if (status == null) {
                return Exits.FAILED;   // interrupted: the hook has reported, and the JVM ends as this returns
            }
            boolean syncing = status.migrationDetail().stream().anyMatch(d -> d.status() == MigrationStatus.State.SYNCING);
            if (verify && status.migration().status() == MigrationStatus.State.DONE) {
                Exits.report(status, json, System.out);
                System.err.println("pgferry: verifying migration " + r.migrationId());
                int verdict = Verifications.report(local.verify(r.migrationId(), copy.jobs > 0 ? copy.jobs : 2, null, System.err),
                        verifyReport != null ? verifyReport : Path.of("pgferry-verify-" + r.migrationId() + ".json"),
                        false, System.err);
                if (verdict != Exits.DONE || stopAtLag == null || !syncing) {
                    return verdict;
                }
            }
            if (stopAtLag == null || status.migration().status() != MigrationStatus.State.DONE || !syncing) {
                if (syncing) {
                    System.err.println("pgferry: replication keeps running; switch over with: pgferry cutover "
                            + r.migrationId() + " --data-dir " + dataDir + " (or end it with: pgferry remove "
                            + r.migrationId() + ")");
                }
                return Exits.report(status, json, System.out);
            }
            System.err.println("pgferry: every database is syncing; waiting until the lag is at most " + stopAtLag + " bytes");
            local.awaitLag(r.migrationId(), stopAtLag, System.err);
            MigrationStatus removed = local.remove(r.migrationId(), true, System.err, null);
            Exits.report(removed, json, System.out);
            return removed.migration().status() == MigrationStatus.State.REMOVED ? Exits.DONE : Exits.FAILED;
        }
    }
}
