package dev.pgferry.coordinator.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.pgferry.bus.Bus;
import dev.pgferry.coordinator.fold.StatusFold;
import dev.pgferry.messages.CutoverRequest;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.RefreshRequest;
import dev.pgferry.messages.StatusEvent;
import dev.pgferry.messages.Request;
import dev.pgferry.messages.RemovalRequest;
import dev.pgferry.messages.VerifyRequest;
import dev.pgferry.messages.Topics;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.function.BiFunction;
import java.util.function.UnaryOperator;

/**
 * The coordinator's HTTP API: {@code POST /migrations} (a request body, published to the requests topic),
 * {@code GET /migrations} and {@code GET /migrations/{id}} (the folded status), {@code DELETE /migrations/{id}}
 * (remove the migration's replication), {@code POST /migrations/{id}/verify}, {@code POST /migrations/{id}/cutover}
 * (an optional body with {@code databases}, {@code deadline_seconds}, {@code verify}, {@code unblock_source}: 202,
 * or 409 when nothing named can be cut over), {@code POST /migrations/{id}/refresh} (an optional body with
 * {@code databases}), {@code GET /metrics} ({@link Metrics}), and the dashboard at {@code GET /} ({@link Dashboard}).
 * With a token, every request but the dashboard's page must
 * carry it as a bearer token (401 otherwise). Responses are JSON and never contain a password: statuses are
 * built from events that hold none, and error bodies from validation messages. A request that changes something
 * is refused (403) when a browser says it comes from a page of another site.
 */
public final class HttpApi implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HttpApi.class);

    private final HttpServer server;
    private final Bus bus;
    private final StatusFold fold;

    private final UnaryOperator<MigrationRequest> protect;
    private final byte[] token;
    /**
     * Migrations posted here that the fold may not know yet (the intake plans them after reading them back from
     * the requests topic): {@code GET /migrations/{id}} answers {@code 202} for them instead of {@code 404}.
     */
    private final Map<String, java.time.Instant> accepted = java.util.Collections.synchronizedMap(
            new java.util.LinkedHashMap<>() {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, java.time.Instant> eldest) {
                    return size() > 1000;
                }
            });

    /**
     * {@code protect} turns a posted request into what may enter Kafka (inline passwords sealed) or refuses it;
     * with a {@code token}, every request must carry {@code Authorization: Bearer <token>} (401 otherwise).
     */
    public HttpApi(Bus bus, StatusFold fold, UnaryOperator<MigrationRequest> protect, String bindHost, int port,
                   String token) throws IOException {
        this(bus, fold, protect, bindHost, port, token, null);
    }

    /** As above, also serving {@code GET /metrics} from {@code metrics} (Prometheus' text format). */
    public HttpApi(Bus bus, StatusFold fold, UnaryOperator<MigrationRequest> protect, String bindHost, int port,
                   String token, Metrics metrics) throws IOException {
        this.bus = bus;
        this.protect = protect;
        this.token = token == null ? null : ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
        this.fold = fold;
        try {
            this.server = HttpServer.create(new InetSocketAddress(bindHost, port), 0);
        } catch (BindException e) {
            // The JDK says only "Address already in use": name the address, and the way out.
            BindException clear = new BindException("cannot serve the HTTP API on " + bindHost + ":"
                    + port + " (" + e.getMessage() + "): another process listens there; choose another port"
                    + " (--http-port) or stop that process");
            clear.initCause(e);
            throw clear;
        }
        this.server.createContext("/migrations", ex -> guarded(ex, this::handle));
        this.server.createContext("/checks", ex -> guarded(ex, this::checks));
        this.server.createContext("/", this::page);
        if (metrics != null) {
            this.server.createContext("/metrics", ex -> {
                try {
                    if (!authorized(ex)) {
                        unauthorized(ex);
                    } else {
                        byte[] body = metrics.scrape().getBytes(StandardCharsets.UTF_8);
                        ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                        ex.sendResponseHeaders(200, body.length);
                        try (OutputStream out = ex.getResponseBody()) {
                            out.write(body);
                        }
                    }
                } catch (RuntimeException e) {
                    LOG.error("metrics scrape failed", e);
                    reply(ex, 500, Json.write(Map.of("error", "internal error: " + e.getClass().getSimpleName())));
                } finally {
                    ex.close();  // after the catch: a 500 is still answered
                }
            });
        }
        this.server.setExecutor(Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "http");
            t.setDaemon(true);
            return t;
        }));
    }

    /** Whether {@code host} names only this machine (an API there is reachable by local users only). */
    public static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private boolean authorized(HttpExchange ex) {
        if (token == null) {
            return true;
        }
        String given = ex.getRequestHeaders().getFirst("Authorization");
        // Compared in constant time, so that response times tell nothing about the token.
        return given != null && MessageDigest.isEqual(token, given.getBytes(StandardCharsets.UTF_8));
    }

    private static void unauthorized(HttpExchange ex) throws IOException {
        ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"pgferry\"");
        reply(ex, 401, Json.write(Map.of("error", "this pgferry API needs 'Authorization: Bearer <token>'"
                + " with the coordinator's PGFERRY_API_TOKEN")));
    }

    public HttpApi start() {
        server.start();
        return this;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /** The dashboard, one bundled page; it holds no data (its script reads {@code GET /migrations}), so no token. */
    private void page(HttpExchange ex) throws IOException {
        try {
            String path = ex.getRequestURI().getPath();
            if (!path.equals("/") && !path.equals("/index.html")) {
                reply(ex, 404, Json.write(Map.of("error", "no such page: " + path)));
            } else if (!ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD")) {
                reply(ex, 405, Json.write(Map.of("error", ex.getRequestMethod() + " " + path + " is not supported")));
            } else {
                Dashboard page = Dashboard.get();
                ex.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
                ex.getResponseHeaders().set("Content-Security-Policy", page.contentSecurityPolicy());
                ex.getResponseHeaders().set("X-Frame-Options", "DENY");
                ex.getResponseHeaders().set("Referrer-Policy", "no-referrer");
                ex.getResponseHeaders().set("Cache-Control", "no-cache");
                if (ex.getRequestMethod().equals("HEAD")) {
                    ex.sendResponseHeaders(200, -1);
                } else {
                    ex.sendResponseHeaders(200, page.html().length);
                    try (OutputStream out = ex.getResponseBody()) {
                        out.write(page.html());
                    }
                }
            }
        } catch (RuntimeException e) {
            LOG.error("serving the dashboard failed", e);
            reply(ex, 500, Json.write(Map.of("error", "internal error: " + e.getClass().getSimpleName())));
        } finally {
            ex.close();
        }
    }

    /**
     * Whether a request that changes something comes from a page of another site: browsers name that page in
     * {@code Origin}, and a form there could otherwise post to a coordinator that trusts its network (no token).
     */
    private static boolean crossSite(HttpExchange ex) {
        String method = ex.getRequestMethod();
        String origin = ex.getRequestHeaders().getFirst("Origin");
        if (method.equals("GET") || method.equals("HEAD") || origin == null) {
            return false;
        }
        String host = ex.getRequestHeaders().getFirst("Host");
        try {
            URI o = URI.create(origin);
            return host == null || o.getHost() == null
                    || !(o.getHost() + (o.getPort() < 0 ? "" : ":" + o.getPort())).equalsIgnoreCase(host);
        } catch (IllegalArgumentException e) {
            return true;
        }
    }

    /** What answers one API request, once it is known to be authorized and not cross-site. */
    private interface Route {
        void answer(HttpExchange ex, String path, String method) throws IOException;
    }

    /**
     * Every API request: the token (when one is set) and the same-site rule first, then {@code route}; an exception
     * is answered 500 without its text, and the exchange is always closed.
     */
    private void guarded(HttpExchange ex, Route route) throws IOException {
        try {
            String path = ex.getRequestURI().getPath().replaceAll("/+$", "");
            String method = ex.getRequestMethod();
            if (!authorized(ex)) {
                unauthorized(ex);
                return;
            }
            if (crossSite(ex)) {
                reply(ex, 403, Json.write(Map.of("error", method + " " + path + " from a page of another site ("
                        + ex.getRequestHeaders().getFirst("Origin") + ") is refused")));
                return;
            }
            route.answer(ex, path, method);
        } catch (RuntimeException e) {
            LOG.error("HTTP request failed", e);
            reply(ex, 500, Json.write(Map.of("error", "internal error: " + e.getClass().getSimpleName())));
        } finally {
            ex.close();  // after the catch: a 500 is still answered
        }
    }

    private void handle(HttpExchange ex, String path, String method) throws IOException {
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
        } else if (path.matches("/migrations/[^/]+/refresh") && method.equals("POST")) {
            control(ex, path.substring("/migrations/".length(), path.length() - "/refresh".length()),
                    RefreshRequest.ACTION, RefreshRequest.class, RefreshRequest::refusal);
        } else if (path.matches("/migrations/[^/]+/cutover") && method.equals("POST")) {
            control(ex, path.substring("/migrations/".length(), path.length() - "/cutover".length()),
                    CutoverRequest.ACTION, CutoverRequest.class, CutoverRequest::refusal);
        } else if (path.startsWith("/migrations/") && method.equals("GET")) {
            String id = path.substring("/migrations/".length());
            var view = fold.view(id);
            java.time.Instant posted = accepted.get(id);
            if (view.isPresent()) {
                accepted.remove(id);
                reply(ex, 200, Json.write(view.get()));
            } else if (posted != null) {
                reply(ex, 202, Json.write(Map.of("migration_id", id, "status", "accepted", "requested_at",
                        posted.toString(), "message", "requested; the coordinator has not planned it yet")));
            } else {
                reply(ex, 404, Json.write(Map.of("error", "no migration " + id)));
            }
        } else if (path.startsWith("/migrations/") && method.equals("DELETE")) {
            String id = path.substring("/migrations/".length());
            if (fold.view(id).isEmpty()) {
                reply(ex, 404, Json.write(Map.of("error", "no migration " + id)));
            } else {
                // ?final_copy=true: see RemovalRequest (only while the applications still write to the source)
                String query = ex.getRequestURI().getQuery();
                boolean finalCopy = query != null && java.util.Arrays.asList(query.split("&")).contains("final_copy=true");
                bus.send(Topics.REQUESTS, id, Json.write(finalCopy ? RemovalRequest.withFinalCopy(id) : RemovalRequest.of(id)));
                reply(ex, 202, Json.write(Map.of("migration_id", id, "removal", "requested", "final_copy", finalCopy)));
            }
        } else {
            reply(ex, 405, Json.write(Map.of("error", method + " " + path + " is not supported")));
        }
    }

    /**
     * {@code POST /checks} (a migration request as body): a validate-only check of it, run by the next free worker
     * ({@code pgferry check}'s report); {@code 202} with its {@code check_id}. {@code GET /checks/{id}}: the check,
     * {@code pending} until a worker ran it, then {@code done} with the report (or {@code failed}).
     */
    private void checks(HttpExchange ex, String path, String method) throws IOException {
        if (path.equals("/checks") && method.equals("POST")) {
            MigrationRequest request = posted(ex);
            if (request == null) {
                return;
            }
            String id = "c-" + java.util.UUID.randomUUID().toString().replace("-", "").substring(0, 12);
            MigrationRequest check = request.withMigrationId(id);
            MigrationTask task = MigrationTask.check(check);
            StatusEvent.CheckRequested asked =
                    new EventSource(id, null, "coordinator", 1, java.time.Clock.systemUTC()).checkRequested(check);
            bus.publish(asked);
            // folded here as well, so that a GET right after the 202 finds the check pending rather than a 404
            // (the fold's consumer reads the event back later; folding it twice changes nothing)
            fold.apply(asked);
            bus.send(Topics.TASKS, task.key(), Json.write(task));
            ex.getResponseHeaders().set("Location", "/checks/" + id);
            reply(ex, 202, Json.write(Map.of("check_id", id)));
        } else if (path.startsWith("/checks/") && method.equals("GET")) {
            String id = path.substring("/checks/".length());
            var view = fold.check(id);
            if (view.isPresent()) {
                reply(ex, 200, Json.write(view.get()));
            } else {
                reply(ex, 404, Json.write(Map.of("error", "no check " + id + " (a coordinator keeps the newest"
                        + " checks it has seen since it started)")));
            }
        } else {
            reply(ex, 405, Json.write(Map.of("error", method + " " + path + " is not supported")));
        }
    }

    /**
     * The posted migration request with its inline passwords sealed, or null after a {@code 400} (unreadable, or
     * a password that may not enter Kafka).
     */
    private MigrationRequest posted(HttpExchange ex) throws IOException {
        byte[] body;
        try (InputStream in = ex.getRequestBody()) {
            body = in.readNBytes(Json.MAX_MESSAGE_BYTES + 1);
        }
        try {
            // Inline passwords are sealed before the request enters Kafka, or the request is refused.
            return protect.apply(Json.readRequest(body));
        } catch (MigrationException e) {
            reply(ex, 400, Json.write(Map.of("error", e.getMessage(), "code", e.code())));
            return null;
        }
    }

    private void post(HttpExchange ex) throws IOException {
        MigrationRequest request = posted(ex);
        if (request == null) {
            return;
        }
        bus.send(Topics.REQUESTS, request.migrationId(), Json.write(request));
        accepted.put(request.migrationId(), java.time.Instant.now());
        reply(ex, 202, Json.write(Map.of("migration_id", request.migrationId())));
    }

    /**
     * A request about a known migration from an optional JSON body ({@code action} and {@code migration_id} set
     * here): 404 for an unknown migration, 400 for a bad body, 409 when {@code refusal} says it cannot be made
     * as asked, else published and 202.
     */
    private <R extends Request> void control(HttpExchange ex, String id, String action, Class<R> type,
                                             BiFunction<R, MigrationStatus, String> refusal) throws IOException {
        var view = fold.view(id);
        if (view.isEmpty()) {
            reply(ex, 404, Json.write(Map.of("error", "no migration " + id)));
            return;
        }
        R request;
        try {
            request = Json.read(Json.write(fields(ex, action, id)), type);
        } catch (MigrationException e) {
            reply(ex, 400, Json.write(Map.of("error", e.getMessage(), "code", e.code())));
            return;
        }
        String refused = refusal.apply(request, view.get());
        if (refused != null) {
            reply(ex, 409, Json.write(Map.of("error", refused)));
            return;
        }
        bus.send(Topics.REQUESTS, id, Json.write(request));
        reply(ex, 202, Json.write(Map.of("migration_id", id, action, "requested")));
    }

    /** The request body's fields (none for an empty body) with {@code action} and {@code migration_id} set. */
    private static Map<String, Object> fields(HttpExchange ex, String action, String id) throws IOException {
        byte[] body;
        try (InputStream in = ex.getRequestBody()) {
            body = in.readNBytes(Json.MAX_MESSAGE_BYTES + 1);
        }
        Map<String, Object> fields = new java.util.LinkedHashMap<>();
        if (body.length > 0) {
            @SuppressWarnings("unchecked")
            Map<String, Object> given = Json.read(body, Map.class);
            fields.putAll(given);
        }
        fields.put("action", action);
        fields.put("migration_id", id);
        return fields;
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
