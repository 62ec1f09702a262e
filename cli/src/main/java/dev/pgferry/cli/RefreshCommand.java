package dev.pgferry.cli;

import dev.pgferry.bus.Bus;
import dev.pgferry.cli.render.StatusTable;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.RefreshRequest;
import dev.pgferry.messages.Topics;
import dev.pgferry.worker.runtime.Worker;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Predicate;

@Command(name = "refresh", mixinStandardHelpOptions = true,
        description = "Repair the schema drift of a replicating migration (shown as 'drift' in its status): tables"
                + " created on the source since replication began are created on the target and added to the"
                + " replication, which copies their rows; columns added or changed on the source are added or altered"
                + " on the target; other schema objects (indexes, constraints, triggers, functions, views, sequences,"
                + " types) are made as on the source; what the source dropped is dropped on the target (what both"
                + " sides had when pgferry compared them, never what was made on the target alone); what cannot be"
                + " done is left in the drift with what to do. The"
                + " replication runs throughout. Without --bootstrap-servers it uses the single-machine broker data"
                + " under --data-dir. Exits 0 when no drift is left, 1 otherwise, 2 when no named database is syncing,"
                + " 3 when --timeout passed first, 4 for an unknown migration.")
final class RefreshCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "ID", description = "The migration's id (as migrate and submit print it).")
    String migrationId;

    @Option(names = "--databases", split = ",", paramLabel = "DB",
            description = "Only these databases (default: every syncing database of the migration).")
    List<String> databases;

    @Mixin
    ControlOptions control;

    @Override
    public Integer call() throws Exception {
        RefreshRequest request = RefreshRequest.of(migrationId, databases);
        try {
            if (!control.distributed()) {
                if (SingleMachine.neverUsed(control.dataDir)) {
                    return SingleMachine.unknownIn(control.dataDir, migrationId);
                }
                try (SingleMachine local = new SingleMachine(control.dataDir, 1, Worker.Settings.defaults().withJobs(1), -1)) {
                    Optional<MigrationStatus> before = local.current(migrationId);
                    Integer refused = check(before, request);
                    return refused != null ? refused
                            : report(local.refresh(request, ended(before.get()), control.timeout, System.err), request);
                }
            }
            try (Bus bus = new Bus(control.settings(), "pgferry-refresh")) {
                Optional<MigrationStatus> before = MigrationWatcher.current(bus, migrationId);
                Integer refused = check(before, request);
                if (refused != null) {
                    return refused;
                }
                send(bus, request);
                return report(MigrationWatcher.await(bus, migrationId, System.err, ended(before.get()), control.timeout), request);
            }
        } catch (MigrationWatcher.TimedOut e) {
            return Exits.timedOut(e, migrationId);
        }
    }

    static void send(Bus bus, RefreshRequest request) {
        bus.send(Topics.REQUESTS, request.migrationId(), Json.write(request));
    }

    /** A refresh newer than the one {@code before} shows was planned, and every database of it has ended. */
    static Predicate<MigrationStatus> ended(MigrationStatus before) {
        Instant previous = before.refreshRequestedAt();
        return s -> s.refreshRequestedAt() != null && !Objects.equals(s.refreshRequestedAt(), previous)
                && s.migrationDetail().stream().filter(d -> d.refresh() != null
                        && d.refresh().requestedAt().equals(s.refreshRequestedAt()))
                .allMatch(d -> d.refresh().finishedAt() != null);
    }

    private static Integer check(Optional<MigrationStatus> before, RefreshRequest request) {
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

    private int report(MigrationStatus status, RefreshRequest request) {
        System.out.println(control.json ? Json.writePretty(status) : StatusTable.render(status));
        List<DatabaseStatus> refreshed = status.migrationDetail().stream().filter(d -> request.names(d.dbname())
                && d.refresh() != null && d.refresh().requestedAt().equals(status.refreshRequestedAt())).toList();
        return !refreshed.isEmpty() && refreshed.stream().allMatch(d -> d.refresh().error() == null && d.drift() == null)
                ? Exits.DONE : Exits.FAILED;
    }
}
