package dev.pgferry.cli;

import dev.pgferry.bus.Bus;
import dev.pgferry.cli.render.StatusTable;
import dev.pgferry.coordinator.fold.StatusFold;
import dev.pgferry.coordinator.fold.StatusFollower;
import dev.pgferry.messages.MigrationStatus;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Optional;

/**
 * Follows the status topic for one migration, printing live per-database progress, until the migration is final.
 * The CLI folds the topic itself (the same fold as the coordinator), so it needs only the broker.
 */
final class MigrationWatcher {
    private MigrationWatcher() {
    }

    static Optional<MigrationStatus> current(Bus bus, String migrationId) throws InterruptedException {
        StatusFold fold = new StatusFold();
        try (StatusFollower follower = new StatusFollower(bus, fold, "pgferry-cli-status").start()) {
            follower.awaitCaughtUp(Duration.ofMinutes(1));
            return fold.view(migrationId);
        }
    }

    /** Blocks until the migration is done or failed; progress goes to {@code progress} (null: silent). */
    static MigrationStatus await(Bus bus, String migrationId, PrintStream progress) throws InterruptedException {
        StatusFold fold = new StatusFold();
        try (StatusFollower follower = new StatusFollower(bus, fold, "pgferry-cli-status").start()) {
            String last = "";
            while (true) {
                Optional<MigrationStatus> view = fold.view(migrationId);
                if (view.isPresent()) {
                    MigrationStatus s = view.get();
                    if (progress != null) {
                        StringBuilder lines = new StringBuilder();
                        s.migrationDetail().forEach(d -> lines.append(StatusTable.progressLine(d)).append('\n'));
                        String now = lines.toString();
                        if (!now.equals(last)) {
                            progress.print(now.isEmpty() ? "  planning...\n" : now);
                            progress.println();
                            last = now;
                        }
                    }
                    if (s.isFinal() && follower.caughtUp()) {
                        return s;
                    }
                }
                Thread.sleep(250);
            }
        }
    }
}
