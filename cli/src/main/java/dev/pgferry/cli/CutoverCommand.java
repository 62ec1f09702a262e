package dev.pgferry.cli;

import dev.pgferry.bus.Bus;
import dev.pgferry.messages.CutoverRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.worker.runtime.Worker;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

@Command(name = "cutover", mixinStandardHelpOptions = true,
        description = "Switch a replicating migration over to the target without losing a write. Per database: wait"
                + " until the target has nearly caught up, block new writes on the source (the database's"
                + " default_transaction_read_only is set, and the sessions that began before are ended, pgferry's own"
                + " spared), wait until the target has applied everything the source committed, copy sequences,"
                + " optionally verify, drop the replication. Past --deadline, or on any failure, the source takes writes"
                + " again and replication goes on. The source stays read-only afterwards unless --unblock-source."
                + " Without --bootstrap-servers it uses the single-machine broker data under --data-dir. Exits 0 when"
                + " every database was cut over, 1 otherwise, 2 for a request that cannot be made, 3 when --timeout"
                + " passed first, 4 for an unknown migration.")
final class CutoverCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "ID", description = "The migration's id (as migrate and submit print it).")
    String migrationId;

    @Option(names = "--databases", split = ",", paramLabel = "DB",
            description = "Only these databases (default: every syncing database of the migration).")
    List<String> databases;

    @Option(names = "--deadline", defaultValue = CutoverRequest.DEFAULT_DEADLINE_SECONDS + "s", paramLabel = "DURATION",
            converter = DurationConverter.class,
            description = "Longest time one database's cut-over may take, catching up included (default: ${DEFAULT-VALUE});"
                    + " past it the source takes writes again.")
    Duration deadline;

    @Option(names = "--verify", description = "Compare source and target while writes are blocked; cut over only when"
            + " they match.")
    boolean verify;

    @Option(names = "--unblock-source", description = "Let the source take writes again after the cut-over.")
    boolean unblockSource;

    @Option(names = "--ignore-drift", description = "Cut over although the source's schema changed since replication"
            + " began (tables, columns or other schema objects that differ; see 'pgferry refresh').")
    boolean ignoreDrift;

    @Mixin
    ControlOptions control;

    @Override
    public Integer call() throws Exception {
        if (deadline.toSeconds() < 1 || deadline.toSeconds() > 86_400) {
            System.err.println("pgferry: --deadline must be 1 s to 1 day");
            return Exits.USAGE;
        }
        CutoverRequest request = CutoverRequest.of(migrationId, databases, (int) deadline.toSeconds(), verify, unblockSource,
                ignoreDrift);
        try {
            if (!control.distributed()) {
                if (SingleMachine.neverUsed(control.dataDir)) {
                    return SingleMachine.unknownIn(control.dataDir, migrationId);
                }
                try (SingleMachine local = new SingleMachine(control.dataDir, 1, Worker.Settings.defaults().withJobs(1), -1)) {
                    Optional<MigrationStatus> before = local.current(migrationId);
                    Integer refused = check(before, request);
                    if (refused != null) {
                        return refused;
                    }
                    // Interrupted while the source's writes are blocked, the cut-over must give them back before the
                    // JVM ends: before, the source database stayed read-only, and the status said cutting_over.
                    MigrationStatus after = StopHook.guarded(() -> local.cutover(request, before.get(), control.timeout,
                            System.err), () -> {
                                System.err.println("pgferry: interrupted: stopping the cut-over of migration " + migrationId
                                        + "; the source takes writes again and the replication goes on (kill -9 would"
                                        + " leave a blocked source read-only)");
                                local.cancel(migrationId, Cutovers.ended(before.get()), Duration.ofSeconds(30))
                                        .ifPresent(s -> Cutovers.report(s, request, control.json, System.out));
                            });
                    return after == null ? Exits.FAILED : Cutovers.report(after, request, control.json, System.out);
                }
            }
            try (Bus bus = new Bus(control.settings(), "pgferry-cutover")) {
                Optional<MigrationStatus> before = MigrationWatcher.current(bus, migrationId);
                Integer refused = check(before, request);
                if (refused != null) {
                    return refused;
                }
                Cutovers.request(bus, request);
                return Cutovers.report(MigrationWatcher.await(bus, migrationId, System.err,
                        Cutovers.ended(before.get()), control.timeout), request, control.json, System.out);
            }
        } catch (MigrationWatcher.TimedOut e) {
            return Exits.timedOut(e, migrationId);
        }
    }

    private static Integer check(Optional<MigrationStatus> before, CutoverRequest request) {
        if (before.isEmpty()) {
            System.err.println("pgferry: no migration " + request.migrationId());
            return Exits.UNKNOWN;
        }
        String refusal = request.refusal(before.get());
        if (refusal != null) {
            System.err.println("pgferry: " + refusal);
            return Exits.USAGE;
        }
        return null;
    }
}
