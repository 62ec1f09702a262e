package dev.pgferry.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.pgferry.messages.Json;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Debian's headless Chromium driven over the DevTools protocol (a WebSocket, with the JDK's own client): open a
 * page, evaluate JavaScript in it, take a screenshot. One tab; started with the flags this machine's closed network
 * needs.
 */
final class Browser implements AutoCloseable {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");

    private final Process process;
    private final Path profile;
    private final WebSocket socket;
    private final AtomicInteger ids = new AtomicInteger();
    private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();

    private Browser(Process process, Path profile, WebSocket.Builder builder, URI page) throws Exception {
        this.process = process;
        this.profile = profile;
        this.socket = builder.buildAsync(page, new Listener()).get(30, TimeUnit.SECONDS);
    }

    static Browser start() throws Exception {
        if (!Files.isExecutable(CHROMIUM)) {
            throw new AssertionError(CHROMIUM + " is missing: apt-get install chromium (.ci/run installs it)");
        }
        Path profile = Files.createTempDirectory("pgferry-chromium-");
        Path log = Path.of("target", "chromium.log").toAbsolutePath();
        Process p = new ProcessBuilder(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1400,900", "--remote-debugging-port=0",
                "--user-data-dir=" + profile, "about:blank")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        Path portFile = profile.resolve("DevToolsActivePort");
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!Files.exists(portFile) || Files.readAllLines(portFile).size() < 2) {
            if (System.nanoTime() > deadline || !p.isAlive()) {
                p.destroyForcibly();
                throw new AssertionError("chromium did not open its DevTools port; see " + log);
            }
            Thread.sleep(50);
        }
        int port = Integer.parseInt(Files.readAllLines(portFile).get(0).trim());
        HttpClient http = HttpClient.newHttpClient();
        JsonNode targets = Json.mapper().readTree(http.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/json/list")).build(), HttpResponse.BodyHandlers.ofString()).body());
        String ws = null;
        for (JsonNode t : targets) {
            if (t.get("type").asText().equals("page")) {
                ws = t.get("webSocketDebuggerUrl").asText();
            }
        }
        if (ws == null) {
            p.destroyForcibly();
            throw new AssertionError("chromium has no page to drive: " + targets);
        }
        return new Browser(p, profile, http.newWebSocketBuilder(), URI.create(ws));
    }

    /** Loads {@code url} and waits until its document has loaded. */
    void open(String url) throws Exception {
        call("Page.enable", Map.of());
        call("Page.navigate", Map.of("url", url));
        await("document.readyState === 'complete' && location.href === " + Json.mapper().writeValueAsString(url),
                JsonNode::asBoolean, Duration.ofSeconds(20));
    }

    /** The value of a JavaScript expression in the page (promises awaited), as JSON. */
    JsonNode eval(String expression) throws Exception {
        JsonNode r = call("Runtime.evaluate", Map.of("expression", expression, "returnByValue", true, "awaitPromise", true));
        if (r.has("exceptionDetails")) {
            throw new AssertionError("JavaScript failed: " + r.get("exceptionDetails"));
        }
        JsonNode value = r.get("result").get("value");
        return value == null ? Json.mapper().nullNode() : value;
    }

    /** Evaluates {@code expression} until {@code until} accepts its value (bounded); the last value. */
    JsonNode await(String expression, Predicate<JsonNode> until, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode last = eval(expression);
        while (!until.test(last)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("page never satisfied the condition on " + expression + "; last value: " + last);
            }
            Thread.sleep(100);
            last = eval(expression);
        }
        return last;
    }

    /** A PNG of the window as the browser shows it now (the page's top), written to {@code file}; its size in bytes. */
    long screenshot(Path file) throws Exception {
        JsonNode r = call("Page.captureScreenshot", Map.of("format", "png", "captureBeyondViewport", false));
        byte[] png = Base64.getDecoder().decode(r.get("data").asText());
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.write(file, png);
        return png.length;
    }

    private JsonNode call(String method, Map<String, Object> params) throws Exception {
        int id = ids.incrementAndGet();
        CompletableFuture<JsonNode> reply = new CompletableFuture<>();
        pending.put(id, reply);
        ObjectNode msg = Json.mapper().createObjectNode();
        msg.put("id", id);
        msg.put("method", method);
        msg.set("params", Json.mapper().valueToTree(params));
        socket.sendText(Json.mapper().writeValueAsString(msg), true).get(10, TimeUnit.SECONDS);
        JsonNode answer = reply.get(30, TimeUnit.SECONDS);
        if (answer.has("error")) {
            throw new AssertionError(method + " failed: " + answer.get("error"));
        }
        return answer.get("result");
    }

    private final class Listener implements WebSocket.Listener {
        private final StringBuilder buffer = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            buffer.append(data);
            if (last) {
                try {
                    JsonNode msg = Json.mapper().readTree(buffer.toString());
                    if (msg.has("id")) {
                        CompletableFuture<JsonNode> f = pending.remove(msg.get("id").asInt());
                        if (f != null) {
                            f.complete(msg);
                        }
                    }
                } catch (IOException e) {
                    pending.values().forEach(f -> f.completeExceptionally(e));
                }
                buffer.setLength(0);
            }
            ws.request(1);
            return null;
        }
    }

    @Override
    public void close() throws Exception {
        try {
            socket.abort();
        } finally {
            // (Chromium's helper processes may outlive its main one, and write to the profile while it is deleted)
            List<ProcessHandle> helpers = process.descendants().toList();
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            helpers.forEach(ProcessHandle::destroyForcibly);
            for (int attempt = 0; attempt < 5 && Files.exists(profile); attempt++) {
                try (Stream<Path> files = Files.walk(profile)) {
                    for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(f);
                    }
                } catch (IOException | java.io.UncheckedIOException e) {
                    // a temporary browser profile, nothing of the test's: a file came or went meanwhile, again
                    Thread.sleep(200);
                }
            }
        }
    }
}
