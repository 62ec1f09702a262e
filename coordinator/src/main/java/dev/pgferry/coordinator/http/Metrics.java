package dev.pgferry.coordinator.http;

import dev.pgferry.coordinator.fold.StatusFold;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.ToDoubleFunction;

/**
 * The coordinator's Prometheus metrics ({@code GET /metrics}), read from the status fold at each scrape, so they
 * always match {@code GET /migrations}: per migration and database ({@code migration}, {@code database} labels)
 * rows and bytes copied, tables done and total, replication lag, attempt, state and phase (1 for the current one);
 * databases by state ({@code pgferry_databases}) and failed databases by error code ({@code pgferry_database_errors});
 * plus JVM and process metrics. A migration's databases are shown while any of them runs and for
 * {@link #FINISHED_SHOWN} after its last event, so that a server with thousands of finished migrations does not
 * grow the scrape for ever. Thread-safe.
 */
public final class Metrics implements AutoCloseable {
    /** How long a finished migration's databases stay in the scrape. */
    static final Duration FINISHED_SHOWN = Duration.ofHours(24);

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final StatusFold fold;
    private final Clock clock;
    private final JvmGcMetrics gc = new JvmGcMetrics();
    private final List<Gauge> perDatabase = new ArrayList<>();
    private final MultiGauge state;
    private final MultiGauge phase;
    private final MultiGauge databases;
    private final MultiGauge errors;

    private record Gauge(MultiGauge gauge, ToDoubleFunction<DatabaseStatus> value) {
    }

    public Metrics(StatusFold fold, Clock clock) {
        this.fold = fold;
        this.clock = clock;
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        perDatabase("pgferry.database.rows.copied", "rows copied so far (exact once the table is in)", d -> d.rowsCopied());
        perDatabase("pgferry.database.bytes.copied", "bytes of COPY data copied so far", d -> d.bytesCopied());
        perDatabase("pgferry.database.rows.estimate", "rows the source's statistics expect", d -> d.rowsEstimate());
        perDatabase("pgferry.database.tables.done", "tables whose rows are in", d -> d.tablesDone());
        perDatabase("pgferry.database.tables.to.copy", "tables to copy in all", d -> d.tablesTotal());
        perDatabase("pgferry.database.attempt", "the attempt running or last run (1 for the first)", d -> d.attempt());
        perDatabase("pgferry.database.lag.bytes", "replication lag of a syncing database, in bytes of WAL",
                d -> d.lagBytes() == null ? Double.NaN : d.lagBytes());
        perDatabase("pgferry.database.slot.safe.wal.bytes", "WAL the source may still write before it invalidates the"
                + " database's replication slot (max_slot_wal_keep_size)", d -> d.safeWalBytes() == null ? Double.NaN : d.safeWalBytes());
        perDatabase("pgferry.database.eta.seconds", "estimated seconds until the copy is done",
                d -> d.etaSeconds() == null ? Double.NaN : d.etaSeconds());
        this.state = MultiGauge.builder("pgferry.database.state").description("1 for the database's current state")
                .register(registry);
        this.phase = MultiGauge.builder("pgferry.database.phase").description("1 for the phase a running database is in")
                .register(registry);
        this.databases = MultiGauge.builder("pgferry.databases").description("databases of the shown migrations by state")
                .register(registry);
        this.errors = MultiGauge.builder("pgferry.database.errors").description("failed databases by error code")
                .register(registry);
    }

    private void perDatabase(String name, String description, ToDoubleFunction<DatabaseStatus> value) {
        perDatabase.add(new Gauge(MultiGauge.builder(name).description(description).register(registry), value));
    }

    /** The metrics in Prometheus' text format, as of now. */
    public synchronized String scrape() {
        refresh();
        return registry.scrape();
    }

    private void refresh() {
        Instant shownSince = clock.instant().minus(FINISHED_SHOWN);
        List<Map.Entry<Tags, DatabaseStatus>> rows = new ArrayList<>();
        for (MigrationStatus m : fold.all()) {
            if (m.isFinal() && m.updatedAt() != null && m.updatedAt().isBefore(shownSince)) {
                continue;
            }
            for (DatabaseStatus d : m.migrationDetail()) {
                rows.add(Map.entry(Tags.of("migration", m.migrationId(), "database", d.dbname()), d));
            }
        }
        for (Gauge g : perDatabase) {
            List<MultiGauge.Row<?>> values = new ArrayList<>();
            for (Map.Entry<Tags, DatabaseStatus> r : rows) {
                double v = g.value().applyAsDouble(r.getValue());
                if (!Double.isNaN(v)) {
                    values.add(MultiGauge.Row.of(r.getKey(), v));
                }
            }
            g.gauge().register(values, true);
        }
        List<MultiGauge.Row<?>> states = new ArrayList<>();
        List<MultiGauge.Row<?>> phases = new ArrayList<>();
        Map<String, Integer> byState = new TreeMap<>();
        Map<String, Integer> byCode = new TreeMap<>();
        for (Map.Entry<Tags, DatabaseStatus> r : rows) {
            DatabaseStatus d = r.getValue();
            String s = d.status() == null ? "pending" : d.status().name().toLowerCase(java.util.Locale.ROOT);
            states.add(MultiGauge.Row.of(r.getKey().and("state", s), 1));
            byState.merge(s, 1, Integer::sum);
            if (d.phase() != null && d.status() == MigrationStatus.State.RUNNING) {
                phases.add(MultiGauge.Row.of(r.getKey().and("phase", d.phase().wireName()), 1));
            }
            if (d.errorCode() != null && d.status() == MigrationStatus.State.FAILED) {
                byCode.merge(d.errorCode().name(), 1, Integer::sum);
            }
        }
        state.register(states, true);
        phase.register(phases, true);
        databases.register(byState.entrySet().stream()
                .map(e -> (MultiGauge.Row<?>) MultiGauge.Row.of(Tags.of("state", e.getKey()), e.getValue())).toList(), true);
        errors.register(byCode.entrySet().stream()
                .map(e -> (MultiGauge.Row<?>) MultiGauge.Row.of(Tags.of("code", e.getKey()), e.getValue())).toList(), true);
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }
}
