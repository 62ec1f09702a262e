package dev.pgferry.coordinator.replication;

import dev.pgferry.bus.Bus;
import dev.pgferry.coordinator.fold.StatusFold;
import dev.pgferry.coordinator.intake.RequestStore;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.ReplicationNames;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Secrets;
import dev.pgferry.pg.Side;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Keeps the lag of every syncing database fresh without tying up a worker: every {@code periodSeconds} it
 * measures, on the source, how many bytes of WAL the database's replication slot has not yet confirmed, and
 * publishes a {@code replication_lag} event. One scheduler thread for all migrations.
 */
public final class LagMonitor implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LagMonitor.class);

    private final Bus bus;
    private final StatusFold fold;
    private final RequestStore store;
    private final Secrets secrets;
    private final Clock clock;
    /** Databases whose last measurement failed: warn once, not every period. */
    private final java.util.Set<String> failing = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "lag-monitor");
        t.setDaemon(true);
        return t;
    });

    public LagMonitor(Bus bus, StatusFold fold, RequestStore store, Secrets secrets, Clock clock) {
        this.bus = bus;
        this.fold = fold;
        this.store = store;
        this.secrets = secrets;
        this.clock = clock;
    }

    public LagMonitor start(long periodMillis) {
        scheduler.scheduleWithFixedDelay(this::measureAll, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
        return this;
    }

    void measureAll() {
        for (MigrationStatus status : fold.all()) {
            for (MigrationStatus.DatabaseStatus row : status.migrationDetail()) {
                if (row.status() != MigrationStatus.State.SYNCING) {
                    continue;
                }
                Optional<MigrationRequest> request = store.get(status.migrationId());
                if (request.isEmpty()) {
                    continue;
                }
                String key = status.migrationId() + "/" + row.dbname();
                try {
                    Long lag = measure(request.get(), row.dbname());
                    if (lag != null) {
                        bus.publish(new EventSource(status.migrationId(), row.dbname(), "coordinator", row.attempt(), clock)
                                .lag(lag));
                    }
                    failing.remove(key);
                } catch (RuntimeException e) {
                    if (failing.add(key)) {
                        LOG.warn("cannot measure lag of {} in {} (warning once until it works again): {}", row.dbname(),
                                status.migrationId(), e.getMessage());
                    }
                }
            }
        }
    }

    /** Bytes of source WAL the database's slot has not confirmed, or null when the slot is gone. */
    private Long measure(MigrationRequest request, String dbname) {
        PgConnector source = new PgConnector(request.source(), Side.SOURCE, "lag-monitor", secrets);
        try (Connection c = source.open();
             PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(),"
                     + " confirmed_flush_lsn)::bigint FROM pg_catalog.pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, ReplicationNames.of(request.migrationId(), dbname));
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : null;
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        scheduler.shutdownNow();
    }
}
