package dev.pgferry.coordinator;

import dev.pgferry.bus.Bus;
import dev.pgferry.coordinator.fold.StatusFold;
import dev.pgferry.coordinator.fold.StatusFollower;
import dev.pgferry.coordinator.http.HttpApi;
import dev.pgferry.coordinator.intake.RequestIntake;
import dev.pgferry.coordinator.intake.SourceCatalog;
import dev.pgferry.pg.Secrets;

import java.io.IOException;
import java.time.Clock;

/**
 * One coordinator process: request intake, the status fold (rebuilt by replaying the status topic) and the HTTP
 * API. Start with {@link #start}, stop with {@link #close()}. Thread-safe.
 */
public final class Coordinator implements AutoCloseable {
    private final Bus bus;
    private final StatusFold fold = new StatusFold();
    private final StatusFollower follower;
    private final RequestIntake intake;
    private final HttpApi http;

    private Coordinator(String bootstrapServers, String httpHost, int httpPort, Clock clock, Secrets secrets) throws IOException {
        this.bus = new Bus(bootstrapServers, "pgferry-coordinator");
        bus.ensureTopics();
        this.follower = new StatusFollower(bus, fold, "pgferry-coordinator-status").start();
        this.intake = new RequestIntake(bus, new SourceCatalog(secrets), clock).start();
        this.http = httpPort < 0 ? null : new HttpApi(bus, fold, httpHost, httpPort).start();
    }

    /** Starts a coordinator; {@code httpPort} 0 picks a free port, a negative one serves no HTTP. */
    public static Coordinator start(String bootstrapServers, String httpHost, int httpPort) throws IOException {
        return new Coordinator(bootstrapServers, httpHost, httpPort, Clock.systemUTC(), Secrets.system());
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
        intake.close();
        follower.close();
        bus.close();
    }
}
