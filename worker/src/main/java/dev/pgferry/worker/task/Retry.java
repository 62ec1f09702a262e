package dev.pgferry.worker.task;

import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.PgConnector;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;

/**
 * Whether a failed attempt is worth a new one. Yes when the error says it may pass (its SQLSTATE: a lost
 * connection, an administrator's shutdown, a serialization failure or deadlock; see {@code SqlStates}), or when
 * either server restarted while the attempt ran ({@code pg_postmaster_start_time()} within the attempt, measured
 * on the server's own clock, so no clock of this host is compared with it), or does not answer now. A restart
 * loses the copy's exported snapshot, and the errors that follow (SQLSTATE 22023 {@code invalid snapshot
 * identifier}, a tool's lost connection) say nothing of it by themselves. Never from an error's message text.
 */
final class Retry {
    private Retry() {
    }

    /** Why a new attempt may succeed where the one that began at {@code beganNanos} failed with {@code e}; empty: it cannot. */
    static Optional<String> worthIt(RuntimeException e, PgConnector source, PgConnector target, long beganNanos) {
        if (e instanceof MigrationException m && m.retriable()) {
            return Optional.of("the error may pass");
        }
        long seconds = Duration.ofNanos(System.nanoTime() - beganNanos).toSeconds() + 2;
        for (PgConnector server : new PgConnector[] {source, target}) {
            String side = server == source ? "source" : "target";
            try (Connection c = server.open();
                 PreparedStatement ps = c.prepareStatement(
                         "SELECT now() - pg_catalog.pg_postmaster_start_time() < pg_catalog.make_interval(secs => ?)")) {
                ps.setLong(1, seconds);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next() && rs.getBoolean(1)) {
                        return Optional.of("the " + side + " server restarted during the attempt");
                    }
                }
            } catch (MigrationException | SQLException unreachable) {
                return Optional.of("the " + side + " server does not answer");
            }
        }
        return Optional.empty();
    }

    /** Waits (up to {@code max}) until both servers accept a connection again; false if they did not. */
    static boolean awaitServers(PgConnector source, PgConnector target, Duration max) {
        long deadline = System.nanoTime() + max.toNanos();
        while (true) {
            try (Connection s = source.open(); Connection t = target.open()) {
                return true;
            } catch (MigrationException | SQLException e) {
                if (System.nanoTime() > deadline) {
                    return false;
                }
            }
            try {
                Thread.sleep(1_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
    }
}
