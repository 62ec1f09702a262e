package dev.pgferry.worker.runtime;

import com.sun.net.httpserver.HttpServer;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.StatusEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * A worker's own metrics at {@code GET /metrics} ({@code worker --metrics-port}), in Prometheus' text format:
 * {@code pgferry_worker_tasks_started_total} and {@code pgferry_worker_tasks_finished_total} by {@code action},
 * {@code pgferry_worker_tasks_running}, {@code pgferry_worker_status_events_total} by event {@code type} (so
 * {@code task_failed}, {@code task_done}, {@code cutover_failed} ... count outcomes, {@code task_started} with
 * {@code attempt} above 1 counts retries as {@code pgferry_worker_task_retries_total}), plus JVM and process metrics;
 * label {@code worker} on each. What a migration looks like as a whole is the coordinator's {@code /metrics}. Serves
 * one address; thread-safe.
 */
public final class WorkerMetrics implements AutoCloseable {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gc = new JvmGcMetrics();
    private final AtomicInteger running = new AtomicInteger();
    private final java.util.Map<Class<?>, Counter> eventCounters = new java.util.concurrent.ConcurrentHashMap<>();
    private final Counter retries;
    private final String workerId;
    private final HttpServer server;

    private WorkerMetrics(String workerId, String host, int port) throws IOException {
        this.workerId = workerId;
        registry.config().commonTags("worker", workerId);
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        this.retries = Counter.builder("pgferry.worker.task.retries").description("databases this worker started again"
                + " after a failed or interrupted attempt").register(registry);
        Gauge.builder("pgferry.worker.tasks.running", running, AtomicInteger::get)
                .description("tasks this worker runs now (0 or 1)").register(registry);
        this.server = HttpServer.create(new InetSocketAddress(host, port), 0);
        server.createContext("/metrics", ex -> {
            try (ex) {
                byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                ex.sendResponseHeaders("GET".equals(ex.getRequestMethod()) ? 200 : 405, body.length);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
            }
        });
        server.start();
    }

    /** Serves the metrics of worker {@code workerId} on {@code host:port} (0: a free port). */
    public static WorkerMetrics serve(String workerId, String host, int port) throws IOException {
        return new WorkerMetrics(workerId, host, port);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    void taskStarted(MigrationTask task) {
        running.incrementAndGet();
        Counter.builder("pgferry.worker.tasks.started").description("tasks this worker took")
                .tag("action", task.action().wireName()).register(registry).increment();
    }

    void taskFinished(MigrationTask task) {
        running.decrementAndGet();
        Counter.builder("pgferry.worker.tasks.finished").description("tasks this worker ended")
                .tag("action", task.action().wireName()).register(registry).increment();
    }

    /** {@code emit}, counting each event by type (and task retries) on the way. */
    Consumer<StatusEvent> counting(Consumer<StatusEvent> emit) {
        return event -> {
            emit.accept(event);
            // One counter per event type, looked up once: this runs for every event (progress every half second).
            eventCounters.computeIfAbsent(event.getClass(), type -> Counter.builder("pgferry.worker.status.events")
                    .description("status events this worker wrote, by type")
                    .tag("type", type.getSimpleName().replaceAll("([a-z])([A-Z])", "$1_$2").toLowerCase(java.util.Locale.ROOT))
                    .register(registry)).increment();
            if (event instanceof StatusEvent.TaskStarted && event.attempt() > 1) {
                retries.increment();
            }
        };
    }

    @Override
    public void close() {
        server.stop(0);
        gc.close();
        registry.close();
    }

    @Override
    public String toString() {
        return "metrics of " + workerId + " on port " + port();
    }
}
