package dev.pgferry.coordinator;

import dev.pgferry.bus.Bus;
import dev.pgferry.bus.KafkaSettings;
import dev.pgferry.bus.Stopping;
import dev.pgferry.coordinator.fold.StatusCheckpointer;
import dev.pgferry.coordinator.fold.StatusFold;
import dev.pgferry.coordinator.fold.StatusFollower;
import dev.pgferry.coordinator.http.HttpApi;
import dev.pgferry.coordinator.http.Metrics;
import dev.pgferry.coordinator.intake.RequestIntake;
import dev.pgferry.coordinator.intake.RequestStore;
import dev.pgferry.coordinator.replication.LagMonitor;
import dev.pgferry.coordinator.tasks.ClaimReaper;
import dev.pgferry.coordinator.intake.SourceCatalog;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.Topics;
import dev.pgferry.pg.Secrets;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * One coordinator process: request intake, the status fold (rebuilt from the status snapshots and the events after
 * them, and snapshotted every {@value Topics#STATUS_SNAPSHOT_MS} ms), the lag
 * monitor of replicated databases and the HTTP API. Start with {@link #start}, stop with {@link #close()}. Thread-safe.
 */
public final class Coordinator implements AutoCloseable {
    private final Bus bus;
    private final StatusFold fold = new StatusFold();
    private final StatusFollower follower;
    private final StatusCheckpointer checkpointer;
    private final RequestStore store;
    private final RequestIntake intake;
    private final LagMonitor lagMonitor;
    private final ClaimReaper reaper;
    private final HttpApi http;
    private final Metrics metrics;

    /** How often the lag of syncing databases is measured. */
    public static final long LAG_PERIOD_MS = 10_000;

    /**
     * How one coordinator runs. {@code httpPort} 0 picks a free port, a negative one serves no HTTP; with
     * {@code apiToken} every HTTP request needs {@code Authorization: Bearer <token>}, and without one the API only
     * listens on a loopback address. Without {@code allowPlaintextPasswords}, a request whose inline password
     * {@code secrets} cannot seal is refused rather than written to the tasks topic in clear. A running task whose
     * claim is silent for {@code claimTimeoutMs} is queued again; with {@code soleUser} (the single-machine default, whose
     * data directory one command uses at a time) a claim written before this coordinator started is silent already:
     * nothing can be renewing it.
     */
    public record Settings(String httpHost, int httpPort, long lagPeriodMs, Secrets secrets,
                           boolean allowPlaintextPasswords, String apiToken, long claimTimeoutMs, boolean soleUser) {
        public static Settings of(String httpHost, int httpPort) {
            return new Settings(httpHost, httpPort, LAG_PERIOD_MS, Secrets.system(), false, null, Topics.CLAIM_TIMEOUT_MS,
                    false);
        }

        public Settings withLagPeriod(long ms) {
            return new Settings(httpHost, httpPort, ms, secrets, allowPlaintextPasswords, apiToken, claimTimeoutMs, soleUser);
        }

        public Settings withSecrets(Secrets s, boolean allowPlaintext) {
            return new Settings(httpHost, httpPort, lagPeriodMs, s, allowPlaintext, apiToken, claimTimeoutMs, soleUser);
        }

        public Settings withApiToken(String token) {
            return new Settings(httpHost, httpPort, lagPeriodMs, secrets, allowPlaintextPasswords, token, claimTimeoutMs, soleUser);
        }

        public Settings withSoleUser() {
            return new Settings(httpHost, httpPort, lagPeriodMs, secrets, allowPlaintextPasswords, apiToken, claimTimeoutMs,
                    true);
        }

        public Settings withClaimTimeout(long ms) {
            if (ms <= 2 * Topics.CLAIM_HEARTBEAT_MS) {
                throw new IllegalArgumentException("the claim timeout must be more than twice the claims' renewal period ("
                        + Topics.CLAIM_HEARTBEAT_MS + " ms), not " + ms + " ms");
            }
            return new Settings(httpHost, httpPort, lagPeriodMs, secrets, allowPlaintextPasswords, apiToken, ms, soleUser);
        }
    }

    private Coordinator(KafkaSettings kafka, Settings settings, Clock clock) throws IOException {
        if (settings.httpPort() >= 0 && settings.apiToken() == null && !HttpApi.isLoopback(settings.httpHost())) {
            throw new IllegalArgumentException("the HTTP API would accept migrations from anyone who can reach "
                    + settings.httpHost() + ":" + settings.httpPort() + ": set PGFERRY_API_TOKEN (or"
                    + " PGFERRY_API_TOKEN_FILE) so that every request needs 'Authorization: Bearer <token>', or listen"
                    + " on a loopback address (--http-host 127.0.0.1)");
        }
        this.bus = new Bus(kafka, "pgferry-coordinator");
        bus.ensureTopics();
        Secrets secrets = settings.secrets();
        this.follower = new StatusFollower(bus, fold, "pgferry-coordinator-status").topicEnsured().start();
        this.checkpointer = new StatusCheckpointer(bus, fold, follower).start(Topics.STATUS_SNAPSHOT_MS);
        this.store = new RequestStore(bus).start();
        this.intake = new RequestIntake(bus, new SourceCatalog(secrets), store, this::currentView, clock,
                r -> secrets.protect(r, settings.allowPlaintextPasswords())).start();
        this.lagMonitor = new LagMonitor(bus, fold, store, secrets, clock).start(settings.lagPeriodMs());
        this.reaper = new ClaimReaper(bus, settings.claimTimeoutMs(), settings.soleUser()).start();
        // Served on the HTTP API only; made only for it (a Prometheus registry with the JVM's meters costs 0.05-0.07 s
        // of a coordinator's start on a fresh JVM, on the path of every `./pgferry migrate`).
        this.metrics = settings.httpPort() < 0 ? null : new Metrics(fold, clock);
        this.http = settings.httpPort() < 0 ? null : new HttpApi(bus, fold,
                r -> secrets.protect(r, settings.allowPlaintextPasswords()), settings.httpHost(), settings.httpPort(),
                settings.apiToken(), metrics).start();
        // The intake's transactional producer started beside all of the above; a coordinator is up once it can write.
        try {
            intake.awaitReady();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Starts a coordinator; {@code httpPort} 0 picks a free port, a negative one serves no HTTP. */
    public static Coordinator start(String bootstrapServers, String httpHost, int httpPort) throws IOException {
        return start(bootstrapServers, Settings.of(httpHost, httpPort));
    }

    /** As {@link #start(String, String, int)}, measuring replication lag every {@code lagPeriodMs}. */
    public static Coordinator start(String bootstrapServers, String httpHost, int httpPort, long lagPeriodMs)
            throws IOException {
        return start(bootstrapServers, Settings.of(httpHost, httpPort).withLagPeriod(lagPeriodMs));
    }

    public static Coordinator start(String bootstrapServers, Settings settings) throws IOException {
        return start(KafkaSettings.of(bootstrapServers), settings);
    }

    public static Coordinator start(KafkaSettings kafka, Settings settings) throws IOException {
        return new Coordinator(kafka, settings, Clock.systemUTC());
    }

    /** The view of a migration once every status event written before this call is applied. */
    private Optional<MigrationStatus> currentView(String migrationId) {
        try {
            follower.awaitCurrent(Duration.ofSeconds(60));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading the status topic", e);
        }
        return fold.view(migrationId);
    }

    /**
     * Measures the lag of the migration's syncing databases and looks for their schema drift now, as the lag monitor
     * does every period, once the migration's status and request are read; returns when the events are published.
     */
    public void measureNow(String migrationId) throws InterruptedException {
        if (currentView(migrationId).isPresent()) {
            store.await(migrationId, Duration.ofSeconds(30));
            lagMonitor.measureNow();
        }
    }

    public StatusFold fold() {
        return fold;
    }

    /** The request of {@code migrationId} as submitted (its passwords sealed), once this coordinator has read it. */
    public Optional<MigrationRequest> request(String migrationId) {
        return store.get(migrationId);
    }

    public StatusFollower follower() {
        return follower;
    }

    public StatusCheckpointer checkpointer() {
        return checkpointer;
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
        if (metrics != null) {
            metrics.close();
        }
        lagMonitor.close();
        Stopping.all(List.of(intake::close, store::close, checkpointer::close, follower::close, reaper::close));
        bus.close();
    }
}
