package dev.pgferry.coordinator;

import dev.pgferry.bus.Bus;
import dev.pgferry.bus.Stopping;
import dev.pgferry.coordinator.fold.StatusFold;
import dev.pgferry.coordinator.fold.StatusFollower;
import dev.pgferry.coordinator.http.HttpApi;
import dev.pgferry.coordinator.intake.RequestIntake;
import dev.pgferry.coordinator.intake.RequestStore;
import dev.pgferry.coordinator.replication.LagMonitor;
import dev.pgferry.coordinator.intake.SourceCatalog;
import dev.pgferry.pg.Secrets;

import java.io.IOException;
import java.time.Clock;
import java.util.List;

/**
 * One coordinator process: request intake, the status fold (rebuilt by replaying the status topic), the lag
 * monitor of replicated databases and the HTTP API. Start with {@link #start}, stop with {@link #close()}. Thread-safe.
 */
public final class Coordinator implements AutoCloseable {
    private final Bus bus;
    private final StatusFold fold = new StatusFold();
    private final StatusFollower follower;
    private final RequestStore store;
    private final RequestIntake intake;
    private final LagMonitor lagMonitor;
    private final HttpApi http;

    /** How often the lag of syncing databases is measured. */
    public static final long LAG_PERIOD_MS = 10_000;

    private Coordinator(String bootstrapServers, String httpHost, int httpPort, long lagPeriodMs, Clock clock,
                        Secrets secrets) throws IOException {
        this.bus = new Bus(bootstrapServers, "pgferry-coordinator");
        bus.ensureTopics();
        this.follower = new StatusFollower(bus, fold, "pgferry-coordinator-status").start();
        this.store = new RequestStore(bus).start();
        this.intake = new RequestIntake(bus, new SourceCatalog(secrets), store, this::databasesOf, clock).start();
        this.lagMonitor = new LagMonitor(bus, fold, store, secrets, clock).start(lagPeriodMs);
        this.http = httpPort < 0 ? null : new HttpApi(bus, fold, secrets, httpHost, httpPort).start();
    }

    /** Starts a coordinator; {@code httpPort} 0 picks a free port, a negative one serves no HTTP. */
    public static Coordinator start(String bootstrapServers, String httpHost, int httpPort) throws IOException {
        return start(bootstrapServers, httpHost, httpPort, LAG_PERIOD_MS);
    }

    /** As {@link #start(String, String, int)}, measuring replication lag every {@code lagPeriodMs}. */
    public static Coordinator start(String bootstrapServers, String httpHost, int httpPort, long lagPeriodMs)
            throws IOException {
        return start(bootstrapServers, httpHost, httpPort, lagPeriodMs, Secrets.system());
    }

    /** As {@link #start(String, String, int, long)}, resolving and sealing passwords with {@code secrets}. */
    public static Coordinator start(String bootstrapServers, String httpHost, int httpPort, long lagPeriodMs,
                                    Secrets secrets) throws IOException {
        return new Coordinator(bootstrapServers, httpHost, httpPort, lagPeriodMs, Clock.systemUTC(), secrets);
    }

    private java.util.List<String> databasesOf(String migrationId) {
        return fold.view(migrationId).map(v -> v.migrationDetail().stream().map(d -> d.dbname()).toList())
                .orElse(java.util.List.of());
    }

    public StatusFold fold() {
        return fold;
    }

    public StatusFollower follower() {
        return follower;
    }

    /** The bound HTTP port, or -1 when HTTP is off. */
    public int httpPort() {
        return http == null ? -1 : http.port();
    }

    @Override
    public void close() {
        if (http != null) {
            http.close();
        }
        lagMonitor.close();
        Stopping.all(List.of(intake::close, store::close, follower::close));
        bus.close();
    }
}
