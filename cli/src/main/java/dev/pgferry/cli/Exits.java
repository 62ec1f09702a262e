package dev.pgferry.cli;

import dev.pgferry.cli.render.StatusTable;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationStatus;

import java.io.PrintStream;

/** How the CLI ends a migration: the status as a table or JSON, and the exit code. */
final class Exits {
    static final int DONE = 0;
    static final int FAILED = 1;
    /** Bad usage, as picocli reports it too. */
    static final int USAGE = 2;
    /** Still running: a wait gave up first. */
    static final int RUNNING = 3;
    /** No such migration. */
    static final int UNKNOWN = 4;

    private Exits() {
    }

    /** A wait that gave up first: says so and where to look on (the work goes on); {@link #RUNNING}. */
    static int timedOut(MigrationWatcher.TimedOut e, String migrationId) {
        System.err.println("pgferry: " + e.getMessage() + "; see 'pgferry status " + migrationId + "'");
        return RUNNING;
    }

    static int report(MigrationStatus status, boolean json, PrintStream out) {
        out.println(json ? Json.writePretty(status) : StatusTable.render(status));
        MigrationStatus.State state = status.migration().status();
        return state == MigrationStatus.State.DONE || state == MigrationStatus.State.REMOVED ? DONE : FAILED;
    }
}
