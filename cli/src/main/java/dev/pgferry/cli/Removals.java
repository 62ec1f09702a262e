package dev.pgferry.cli;

import dev.pgferry.bus.Bus;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.RemovalRequest;
import dev.pgferry.messages.Topics;

import java.io.PrintStream;

/** Asking for a migration's removal and waiting for it: shared by {@code remove} and {@code migrate}. */
final class Removals {
    private Removals() {
    }

    /** {@code finalCopy}: see {@link RemovalRequest}. */
    static void request(Bus bus, String migrationId, boolean finalCopy) {
        bus.send(Topics.REQUESTS, migrationId, Json.write(finalCopy ? RemovalRequest.withFinalCopy(migrationId)
                : RemovalRequest.of(migrationId)));
    }

    /** Requests the removal and waits for its end, or until {@code timeout} (null: none) with {@code TimedOut}. */
    static MigrationStatus removeAndAwait(Bus bus, String migrationId, boolean finalCopy, PrintStream progress,
                                          java.time.Duration timeout) throws InterruptedException {
        request(bus, migrationId, finalCopy);
        return MigrationWatcher.await(bus, migrationId, progress, Removals::removalEnded, timeout);
    }

    /** The removal was asked for and no database is still being removed. */
    static boolean removalEnded(MigrationStatus s) {
        return s.removalRequested() && s.migrationDetail().stream().noneMatch(d -> d.status() == MigrationStatus.State.REMOVING);
    }
}
