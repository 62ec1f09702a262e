package dev.pgferry.cli;

import dev.pgferry.bus.Bus;
import dev.pgferry.cli.render.StatusTable;
import dev.pgferry.messages.CutoverRequest;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.messages.Topics;

import java.io.PrintStream;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.function.Predicate;

/** Asking for a cut-over, checking it first and waiting for its end: shared by {@code cutover} in both modes. */
final class Cutovers {
    private Cutovers() {
    }

    static void request(Bus bus, CutoverRequest request) {
        bus.send(Topics.REQUESTS, request.migrationId(), Json.write(request));
    }

    /** A cut-over request newer than the one {@code before} shows was planned and no database is cutting over. */
    static Predicate<MigrationStatus> ended(MigrationStatus before) {
        Instant previous = before.cutoverRequestedAt();
        return s -> s.cutoverRequestedAt() != null && !Objects.equals(s.cutoverRequestedAt(), previous)
                && s.migrationDetail().stream().noneMatch(d -> d.status() == State.CUTTING_OVER);
    }

    /** Prints the status and each database's cut-over; exit 0 when every database asked for was cut over. */
    static int report(MigrationStatus status, CutoverRequest request, boolean json, PrintStream out) {
        out.println(json ? Json.writePretty(status) : StatusTable.render(status));
        List<DatabaseStatus> asked = status.migrationDetail().stream()
                .filter(d -> request.names(d.dbname()) && d.cutover() != null
                        && Objects.equals(d.cutover().requestedAt(), status.cutoverRequestedAt())).toList();
        return !asked.isEmpty() && asked.stream().allMatch(d -> "done".equals(d.cutover().state())) ? Exits.DONE : Exits.FAILED;
    }
}
