package dev.pgferry.cli;

import dev.pgferry.bus.Bus;
import dev.pgferry.cli.render.StatusTable;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.coordinator.fold.StatusFold;
import dev.pgferry.coordinator.fold.StatusFollower;
import dev.pgferry.messages.MigrationStatus;

import java.io.PrintStream;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Follows the status topic for one migration, printing live per-database progress, until the migration is final.
 * The CLI folds the topic itself (the same fold as the coordinator), so it needs only the broker; in single-machine
 * mode it reads the view of the coordinator running in the same process instead.
 */
final class MigrationWatcher {
    /**
     * The longest wait between two looks at the view (the view is built in memory, from the fold): a look comes as
     * soon as the fold changes, else after this (the replay's end changes no view).
     */
    private static final long POLL_MS = 100;
    /**
     * The shortest time between two looks: a fold that changes thousands of times a second (hundreds of databases
     * reporting) costs the watcher a view every {@value} ms, not one per event.
     */
    private static final long MIN_LOOK_MS = 10;

    private MigrationWatcher() {
    }

    static Optional<MigrationStatus> current(Bus bus, String migrationId) throws InterruptedException {
        return current(bus, migrationId, null);
    }

    /** As above; when the migration is unknown, {@code unknown} hears what was read instead (null: nobody). */
    static Optional<MigrationStatus> current(Bus bus, String migrationId, java.util.function.Consumer<String> unknown)
            throws InterruptedException {
        StatusFold fold = new StatusFold();
        try (StatusFollower follower = new StatusFollower(bus, fold, "pgferry-cli-status").start()) {
            follower.awaitCaughtUp(Duration.ofMinutes(1));
            Optional<MigrationStatus> view = fold.view(migrationId);
            if (view.isEmpty() && unknown != null) {
                unknown.accept(fold.all().size() + " other migration(s) known; " + follower.snapshotsRestored()
                        + " from status snapshots, then " + follower.eventsRead() + " status event(s) read");
            }
            return view;
        }
    }

    /** The migration as the in-process coordinator sees it once it has read the whole status topic. */
    static Optional<MigrationStatus> current(Coordinator coordinator, String migrationId) throws InterruptedException {
        coordinator.follower().awaitCaughtUp(Duration.ofMinutes(1));
        return coordinator.fold().view(migrationId);
    }

    /** Blocks until the migration's status satisfies {@code until}, folding the status topic itself. */
    static MigrationStatus await(Bus bus, String migrationId, PrintStream progress, Predicate<MigrationStatus> until)
            throws InterruptedException {
        return await(bus, migrationId, progress, until, null);
    }

    /**
     * As {@link #await(Bus, String, PrintStream, Predicate)}, giving up after {@code timeout} (null: never) with
     * {@link TimedOut}.
     */
    static MigrationStatus await(Bus bus, String migrationId, PrintStream progress, Predicate<MigrationStatus> until,
                                 Duration timeout) throws InterruptedException {
        StatusFold fold = new StatusFold();
        try (StatusFollower follower = new StatusFollower(bus, fold, "pgferry-cli-status").start()) {
            return await(fold, follower, migrationId, progress, until, timeout);
        }
    }

    /** A wait that ended before its condition held; the work goes on without the client. */
    static final class TimedOut extends RuntimeException {
        final transient MigrationStatus last;

        TimedOut(Duration timeout, MigrationStatus last) {
            super("gave up waiting after " + timeout.toSeconds() + " s; the work goes on without this command");
            this.last = last;
        }
    }

    /**
     * As {@link #await(Bus, String, PrintStream, Predicate, Duration)}, reading the view of a coordinator in this
     * process (single-machine mode): no consumer of its own to start and stop. {@code check} runs before every look
     * and ends the wait by throwing (the command's broker gone, say).
     */
    static MigrationStatus await(Coordinator coordinator, String migrationId, PrintStream progress,
                                 Predicate<MigrationStatus> until, Duration timeout, Runnable check)
            throws InterruptedException {
        return await(coordinator.fold(), coordinator.follower(), migrationId, progress, until, timeout, check);
    }

    private static MigrationStatus await(StatusFold fold, StatusFollower follower, String migrationId, PrintStream progress,
                                         Predicate<MigrationStatus> until, Duration timeout) throws InterruptedException {
        return await(fold, follower, migrationId, progress, until, timeout, () -> {
        });
    }

    private static MigrationStatus await(StatusFold fold, StatusFollower follower, String migrationId, PrintStream progress,
                                         Predicate<MigrationStatus> until, Duration timeout, Runnable check)
            throws InterruptedException {
        long deadline = timeout == null ? Long.MAX_VALUE : System.nanoTime() + timeout.toNanos();
        boolean terminal = System.console() != null && System.getenv("TERM") != null && !"dumb".equals(System.getenv("TERM"));
        Map<String, String> shown = new HashMap<>();
        List<String> lastDrawn = List.of();
        while (true) {
            check.run();
            long changes = fold.changes();
            Optional<MigrationStatus> view = fold.view(migrationId);
            if (view.isPresent()) {
                MigrationStatus s = view.get();
                if (progress != null && terminal) {
                    // Redraw the block of progress lines in place, when it changed.
                    List<String> lines = s.migrationDetail().stream().map(StatusTable::progressLine).toList();
                    if (!lines.equals(lastDrawn)) {
                        StringBuilder out = new StringBuilder(lastDrawn.isEmpty() ? "" : "\033[" + lastDrawn.size() + "F");
                        lines.forEach(l -> out.append("\033[2K").append(l).append('\n'));
                        progress.print(out);
                        progress.flush();
                        lastDrawn = lines;
                    }
                } else if (progress != null) {
                    // Not a terminal: one line per database whenever its line changes.
                    for (MigrationStatus.DatabaseStatus d : s.migrationDetail()) {
                        String line = StatusTable.progressLine(d);
                        if (!line.equals(shown.put(d.dbname(), line))) {
                            progress.println(line);
                        }
                    }
                }
                if (until.test(s) && follower.caughtUp()) {
                    return s;
                }
            }
            if (System.nanoTime() > deadline) {
                throw new TimedOut(timeout, view.orElse(null));
            }
            // Woken by the fold's next change: the command ends as soon as the final event is folded (looking every
            // 100 ms instead cost it 50 ms on average).
            Thread.sleep(MIN_LOOK_MS);
            fold.awaitChange(changes, POLL_MS - MIN_LOOK_MS);
        }
    }
}
