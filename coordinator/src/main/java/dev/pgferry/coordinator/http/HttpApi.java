package dev.pgferry.coordinator.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.pgferry.bus.Bus;
import dev.pgferry.coordinator.fold.StatusFold;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.RemovalRequest;
import dev.pgferry.messages.VerifyRequest;
import dev.pgferry.messages.Topics;
import dev.pgferry.pg.Secrets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.Executors;

/**
 * The coordinator's HTTP API: {@code POST /migrations} (a request body, published to the requests topic),
 * {@code GET /migrations} and {@code GET /migrations/{id}} (the folded status), {@code DELETE /migrations/{id}}
 * (remove the migration's replication). Responses are JSON and never
 * contain a password: statuses are built from events that hold none, and error bodies from validation messages.
 */
public final class HttpApi implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HttpApi.class);

    private final HttpServer server;
    private final Bus bus;
    private final StatusFold fold;

    private final Secrets secrets;

    public HttpApi(Bus bus, StatusFold fold, Secrets secrets, String bindHost, int port) throws IOException {
        this.bus = bus;
        this.secrets = secrets;
        this.fold = fold;
        this.server = HttpServer.create(new InetSocketAddress(bindHost, port), 0);
        this.server.createContext("/migrations", this::handle);
        this.server.setExecutor(Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "http");
            t.setDaemon(true);
            return t;
        }));
    }

    public HttpApi start() {
        server.start();
        return this;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath().replaceAll("/+$", "");
            String method = ex.getRequestMethod();
            if (path.equals("/migrations") && method.equals("POST")) {
                post(ex);
            } else if (path.equals("/migrations") && method.equals("GET")) {
                reply(ex, 200, Json.write(fold.all()));
            } else if (path.matches("/migrations/[^/]+/verify") && method.equals("POST")) {
                String id = path.substring("/migrations/".length(), path.length() - "/verify".length());
                if (fold.view(id).isEmpty()) {
                    reply(ex, 404, Json.write(Map.of("error", "no migration " + id)));
                } else {
                    bus.send(Topics.REQUESTS, id, Json.write(VerifyRequest.of(id, 2)));
                    reply(ex, 202, Json.write(Map.of("migration_id", id, "verify", "requested")));
                }
            } else if (path.startsWith("/migrations/") && method.equals("GET")) {
                String id = path.substring("/migrations/".length());
                var view = fold.view(id);
                if (view.isPresent()) {
                    reply(ex, 200, Json.write(view.get()));
                } else {
                    reply(ex, 404, Json.write(Map.of("error", "no migration " + id)));
                }
            } else if (path.startsWith("/migrations/") && method.equals("DELETE")) {
                String id = path.substring("/migrations/".length());
                if (fold.view(id).isEmpty()) {
                    reply(ex, 404, Json.write(Map.of("error", "no migration " + id)));
                } else {
                    bus.send(Topics.REQUESTS, id, Json.write(RemovalRequest.of(id)));
                    reply(ex, 202, Json.write(Map.of("migration_id", id, "removal", "requested")));
                }
            } else {
                reply(ex, 405, Json.write(Map.of("error", method + " " + path + " is not supported")));
            }
        } catch (RuntimeException e) {
            LOG.error("HTTP request failed", e);
            reply(ex, 500, Json.write(Map.of("error", "internal error: " + e.getClass().getSimpleName())));
        }
    }

    private void post(HttpExchange ex) throws IOException {
        byte[] body;
        try (InputStream in = ex.getRequestBody()) {
            body = in.readNBytes(Json.MAX_MESSAGE_BYTES + 1);
        }
        MigrationRequest request;
        try {
            request = Json.readRequest(body);
        } catch (MigrationException e) {
            reply(ex, 400, Json.write(Map.of("error", e.getMessage(), "code", e.code())));
            return;
        }
        // With a secret key, inline passwords are sealed before the request enters Kafka.
        request = request.withConnections(secrets.seal(request.source()), secrets.seal(request.target()));
        bus.send(Topics.REQUESTS, request.migrationId(), Json.write(request));
        reply(ex, 202, Json.write(Map.of("migration_id", request.migrationId())));
    }

    private static void reply(HttpExchange ex, int status, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
