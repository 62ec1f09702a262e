package dev.pgferry.coordinator.replication;

import dev.pgferry.bus.Bus;
import dev.pgferry.coordinator.fold.StatusFold;
import dev.pgferry.coordinator.intake.RequestStore;
import dev.pgferry.messages.Connection;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.Failure;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.ReplicationNames;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.SchemaDrift;
import dev.pgferry.pg.Secrets;
import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.Side;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Keeps the lag of every syncing database fresh without tying up a worker, and guards the source's WAL: every
 * period it reads, once per source server, every pgferry slot of the syncing databases there (bytes of WAL not yet
 * confirmed, {@code wal_status}, {@code safe_wal_size}) and publishes one {@code replication_lag} event per
 * database, with a warning when the slot is about to be invalidated ({@code wal_status} {@code unreserved}, or less
 * than a fifth of {@code max_slot_wal_keep_size} left). A slot the source invalidated ({@code wal_status = lost})
 * fails its database with {@code SLOT_LOST} and what to do. Every {@value #DRIFT_EVERY} periods it also compares
 * each syncing database's source with its publication and target ({@link SchemaDrift}) and publishes a
 * {@code schema_drift} event when what it finds changed. One scheduler thread for all migrations.
 */
public final class LagMonitor implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LagMonitor.class);
    /** Below this share of max_slot_wal_keep_size left, a slot's row warns. */
    static final double WARN_SHARE = 0.2;
    /** Schema drift is looked for every this many periods (two connections per database, so less often than lag). */
    static final int DRIFT_EVERY = 3;
    /** How long a look for drift waits for a lock on a table before it gives up until the next (see SchemaDrift.of). */
    private static final long DRIFT_LOCK_TIMEOUT_MS = 2_000;
    private long tick;

    private final Bus bus;
    private final StatusFold fold;
    private final RequestStore store;
    private final Secrets secrets;
    private final Clock clock;
    /** Sources whose last measurement failed: warn once, not every period. */
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

    /** A syncing database and the request that made it. */
    private record Watched(MigrationRequest request, MigrationStatus.DatabaseStatus row) {
        String slot() {
            return ReplicationNames.of(request.migrationId(), row.dbname());
        }
    }

    /** What the source says of one slot. */
    record Slot(long lagBytes, String walStatus, Long safeWalBytes) {
    }

    /**
     * Measures every syncing database's lag and looks for its drift now, on the monitor's thread (so never beside a
     * periodic run), and returns once the events are published: a coordinator that only runs as long as one command
     * does (single-machine {@code status}) shows them at once.
     */
    public void measureNow() throws InterruptedException {
        try {
            scheduler.submit(() -> measureAll(true)).get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException("measuring replication lag: " + e.getCause().getMessage(), e.getCause());
        }
    }

    void measureAll() {
        measureAll(tick++ % DRIFT_EVERY == 0);
    }

    private void measureAll(boolean drift) {
        Map<Connection, List<Watched>> bySource = new LinkedHashMap<>();
        for (MigrationStatus status : fold.all()) {
            Optional<MigrationRequest> request = store.get(status.migrationId());
            if (request.isEmpty()) {
                continue;
            }
            for (MigrationStatus.DatabaseStatus row : status.migrationDetail()) {
                if (row.status() == MigrationStatus.State.SYNCING) {
                    bySource.computeIfAbsent(request.get().source(), k -> new ArrayList<>()).add(new Watched(request.get(), row));
                }
            }
        }
        bySource.forEach((source, watched) -> {
            String key = source.describe();
            try {
                Map<String, Slot> slots = new HashMap<>();
                Long keepBytes = read(watched.get(0).request(), watched.stream().map(Watched::slot).toList(), slots);
                for (Watched w : watched) {
                    Slot slot = slots.get(w.slot());
                    if (slot != null) {
                        publish(w, slot, keepBytes);
                        if (drift && !"lost".equals(slot.walStatus())) {
                            checkDriftQuietly(w);
                        }
                    }
                }
                failing.remove(key);
            } catch (RuntimeException e) {
                if (failing.add(key)) {
                    LOG.warn("cannot measure replication lag on {} (warning once until it works again): {}", key,
                            e.getMessage());
                }
            }
        });
    }

    private void publish(Watched w, Slot slot, Long keepBytes) {
        EventSource events = new EventSource(w.request().migrationId(), w.row().dbname(), "coordinator", w.row().attempt(), clock);
        if ("lost".equals(slot.walStatus())) {
            bus.publish(events.lag(slot.lagBytes(), slot.walStatus(), slot.safeWalBytes(), null));
            bus.publish(events.failed(new Failure(ErrorCode.SLOT_LOST, null, "the source invalidated replication slot "
                    + w.slot() + " (wal_status lost): it held more WAL than max_slot_wal_keep_size allows, so the target"
                    + " no longer follows the source and cannot catch up. Run pgferry remove " + w.request().migrationId()
                    + ", then migrate database " + w.row().dbname() + " again; keep the target's apply worker running"
                    + " (pg_stat_subscription on the target) or raise max_slot_wal_keep_size on the source", false)));
            LOG.warn("database {} of {}: replication slot {} lost", w.row().dbname(), w.request().migrationId(), w.slot());
            return;
        }
        bus.publish(events.lag(slot.lagBytes(), slot.walStatus(), slot.safeWalBytes(), warning(w.slot(), slot, keepBytes)));
    }

    /** {@link #checkDrift}, warning once per database while it cannot (the lag readings go on). */
    private void checkDriftQuietly(Watched w) {
        String key = "drift " + w.request().migrationId() + "/" + w.row().dbname();
        try {
            checkDrift(w);
            failing.remove(key);
        } catch (RuntimeException e) {
            if (failing.add(key)) {
                LOG.warn("cannot look for schema drift of {} in {} (warning once until it works again): {}",
                        w.row().dbname(), w.request().migrationId(), e.getMessage());
            }
        }
    }

    /** Publishes the database's schema drift when it differs from what the status shows. */
    private void checkDrift(Watched w) {
        MigrationRequest request = w.request();
        String db = w.row().dbname();
        PgConnector source = new PgConnector(request.source(), Side.SOURCE, "lag-monitor", secrets);
        PgConnector target = new PgConnector(request.target(), Side.TARGET, "lag-monitor", secrets);
        List<String> found;
        try (java.sql.Connection s = source.open(db); java.sql.Connection t = target.open(db)) {
            found = SchemaDrift.of(s, t, w.slot(), w.slot(), (schema, table) -> request.copiesTable(db, schema, table),
                    request.options().includeExtensionTables(), DRIFT_LOCK_TIMEOUT_MS).describe();
        } catch (SQLException e) {
            throw new IllegalStateException("looking for schema drift in " + db + ": " + e.getMessage(), e);
        }
        List<String> shown = w.row().drift() == null ? List.of() : w.row().drift();
        // (what a refresh's record says was made on the target alone stays said so)
        found = SchemaDrift.keepingKept(found, shown);
        if (!found.equals(shown)) {
            bus.publish(new EventSource(request.migrationId(), db, "coordinator", w.row().attempt(), clock).drift(found));
            if (!found.isEmpty()) {
                LOG.warn("database {} of {}: schema drift: {}", db, request.migrationId(), found);
            }
        }
    }

    /** A warning when the slot is close to being invalidated, else null. */
    static String warning(String slotName, Slot slot, Long keepBytes) {
        boolean unreserved = "unreserved".equals(slot.walStatus());
        boolean low = slot.safeWalBytes() != null && keepBytes != null && keepBytes > 0
                && slot.safeWalBytes() < keepBytes * WARN_SHARE;
        if (!unreserved && !low) {
            return null;
        }
        return "replication slot " + slotName + " holds " + slot.lagBytes() + " bytes of WAL; the source invalidates it"
                + " after " + (slot.safeWalBytes() == null ? "a checkpoint" : Math.max(0, slot.safeWalBytes()) + " more bytes")
                + " (max_slot_wal_keep_size), and the database would have to be migrated again: check the target's apply"
                + " worker (pg_stat_subscription) or raise max_slot_wal_keep_size";
    }

    /**
     * Reads the named slots of one source server into {@code out}; returns max_slot_wal_keep_size in bytes (null
     * when unlimited or before PostgreSQL 13).
     */
    private Long read(MigrationRequest request, List<String> slotNames, Map<String, Slot> out) {
        PgConnector source = new PgConnector(request.source(), Side.SOURCE, "lag-monitor", secrets);
        try (java.sql.Connection c = source.open()) {
            boolean v13 = ServerCatalog.majorVersion(c) >= 13;
            try (PreparedStatement ps = c.prepareStatement("SELECT slot_name, pg_catalog.pg_wal_lsn_diff("
                    + "pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, "
                    + (v13 ? "wal_status, safe_wal_size" : "NULL, NULL")
                    + " FROM pg_catalog.pg_replication_slots WHERE slot_name = ANY (?)")) {
                ps.setArray(1, c.createArrayOf("text", slotNames.toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        long safe = rs.getLong(4);
                        out.put(rs.getString(1), new Slot(rs.getLong(2), rs.getString(3), rs.wasNull() ? null : safe));
                    }
                }
            }
            if (!v13) {
                return null;
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT CASE WHEN setting::bigint < 0 THEN NULL"
                    + " ELSE setting::bigint * 1024 * 1024 END FROM pg_catalog.pg_settings WHERE name = 'max_slot_wal_keep_size'");
                 ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    long keep = rs.getLong(1);
                    return rs.wasNull() ? null : keep;
                }
                return null;
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
