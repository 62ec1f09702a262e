package dev.pgferry.cli;

import dev.pgferry.bus.Bus;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.worker.runtime.Worker;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.Optional;
import java.util.concurrent.Callable;

@Command(name = "remove", mixinStandardHelpOptions = true,
        description = "Stop a migration's replication and drop every replication object pgferry made on both servers"
                + " (the target's sequences are first advanced to the source's, never moved back). Idempotent. Without --bootstrap-servers it"
                + " uses the single-machine broker data under --data-dir. Exits 0 when every database is removed.")
final class RemoveCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "ID", description = "The migration's id (as migrate and submit print it).")
    String migrationId;

    @Option(names = "--final-copy", description = "Before dropping the replication, also give the target the source's"
            + " copy of what replication does not carry: roles, the database's properties, unlogged tables, large"
            + " objects, materialized views and the user's rows of extension tables (as a cut-over does, but without"
            + " blocking writes). Only while your applications still write to the source: it replaces those on the"
            + " target. Without it only sequences are advanced (never moved back).")
    boolean finalCopy;

    @Mixin
    ControlOptions control;

    @Override
    public Integer call() throws Exception {
        try {
            if (!control.distributed()) {
                if (SingleMachine.neverUsed(control.dataDir)) {
                    return SingleMachine.unknownIn(control.dataDir, migrationId);
                }
                try (SingleMachine local = new SingleMachine(control.dataDir, 1, Worker.Settings.defaults().withJobs(1), -1)) {
                    // (an unknown migration would never end its removal: the command would wait for ever)
                    if (local.current(migrationId).isEmpty()) {
                        System.err.println("pgferry: no migration " + migrationId);
                        return Exits.UNKNOWN;
                    }
                    return report(local.remove(migrationId, finalCopy, System.err, control.timeout));
                }
            }
            try (Bus bus = new Bus(control.settings(), "pgferry-remove")) {
                Optional<MigrationStatus> current = MigrationWatcher.current(bus, migrationId);
                if (current.isEmpty()) {
                    System.err.println("pgferry: no migration " + migrationId);
                    return Exits.UNKNOWN;
                }
                return report(Removals.removeAndAwait(bus, migrationId, finalCopy, System.err, control.timeout));
            }
        } catch (MigrationWatcher.TimedOut e) {
            return Exits.timedOut(e, migrationId);
        }
    }

    private int report(MigrationStatus status) {
        Exits.report(status, control.json, System.out);
        return status.migration().status() == MigrationStatus.State.REMOVED ? Exits.DONE : Exits.FAILED;
    }
}
