package dev.pgferry.worker.task;

import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.PgConnector;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Optional;

/**
 * Whether a failed attempt is worth a new one. Yes when the error says it may pass (its SQLSTATE: a lost
 * connection, an administrator's shutdown, a serialization failure or deadlock; see {@code SqlStates}), or when
 * either server restarted while the attempt ran (its {@code pg_postmaster_start_time()}, read when the attempt
 * began and again after it failed, changed: no clock of this host is compared with a server's), or does not
 * answer now. A restart loses the copy's exported snapshot, and the errors that follow (SQLSTATE 22023 {@code invalid snapshot
 * identifier}, a tool's lost connection) say nothing of it by themselves. Never from an error's message text.
 */
final class Retry {
    private Retry() {
    }

    /** When each server last started ({@code pg_postmaster_start_time()}, the server's own clock); null: unknown. */
    record Epochs(String source, String target) {
    }

    /** The servers' start times now; a server that cannot be read counts as unknown. */
    static Epochs epochs(PgConnector source, PgConnector target) {
        return new Epochs(startedAt(source), startedAt(target));
    }

    private static String startedAt(PgConnector server) {
        try (Connection c = server.open()) {
            return startedAt(c);
        } catch (MigrationException | SQLException e) {
            return null;
        }
    }

    /** When the server of session {@code c} last started; null: unknown. */
    static String startedAt(Connection c) {
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT pg_catalog.pg_postmaster_start_time()::text")) {
            return rs.next() ? rs.getString(1) : null;
        } catch (SQLException e) {
            return null;
        }
    }

    /**
     * Why a new attempt may succeed where the one that began when the servers were at {@code before} failed with
     * {@code e}; empty: it cannot.
     */
    static Optional<String> worthIt(RuntimeException e, PgConnector source, PgConnector target, Epochs before) {
        if (e instanceof MigrationException m && m.retriable()) {
            return Optional.of("the error may pass");
        }
        Epochs now = epochs(source, target);
        for (String side : new String[] {"source", "target"}) {
            String then = side.equals("source") ? before.source() : before.target();
            String later = side.equals("source") ? now.source() : now.target();
            if (later == null) {
                return Optional.of("the " + side + " server does not answer");
            }
            if (then != null && !then.equals(later)) {
                return Optional.of("the " + side + " server restarted during the attempt");
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
