package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.worker.runtime.Worker;
import dev.pgferry.worker.runtime.WorkerMetrics;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code GET /metrics} during a migration: Prometheus' text format, values that move while the copy runs and end
 * equal to what {@code GET /migrations/{id}} says, the state gauge following the database from running to done,
 * and JVM metrics beside them; a worker's own {@code /metrics} ({@code worker --metrics-port}) counting its task and
 * the events it wrote.
 */
class MetricsIT {
    private static final Pattern SAMPLE = Pattern.compile("^(\\w+)\\{([^}]*)} (\\S+)$");

    @Test
    void metricsFollowAMigrationAndEndAsItsStatus() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres(); Pgferry pgferry = new Pgferry(0);
             WorkerMetrics workerMetrics = WorkerMetrics.serve("it-metrics-worker", "127.0.0.1", 0)) {
            Worker worker = new Worker(pgferry.bus, Worker.Settings.defaults().withWorkerId("it-metrics-worker").withJobs(2))
                    .withMetrics(workerMetrics).start();
            pgferry.workers.add(worker);
            SampleData.create(source, 20_000);
            MigrationRequest r = Pgferry.request(source, target, List.of("postgres", "inventory", "Analytics; Ünï \"q\""));
            HttpClient http = HttpClient.newHttpClient();
            URI metrics = URI.create("http://127.0.0.1:" + pgferry.coordinator.httpPort() + "/metrics");

            // The copy of orders is held at its first row until the metrics have been seen mid-copy: a database
            // whose copy ends between two scrapes would otherwise show no movement at all
            Gate.install(source, "shop", "public.orders", "id");
            Gate gate = Gate.close(target);
            pgferry.submit(r);
            List<String> states = new ArrayList<>();
            List<Double> rows = new ArrayList<>();
            gate.awaitHeld();
            for (int i = 0; i < 600 && !states.contains("running"); i++) {
                Map<String, Double> shop = samples(http.send(HttpRequest.newBuilder(metrics).build(),
                        HttpResponse.BodyHandlers.ofString()).body(), r.migrationId(), "shop");
                shop.keySet().stream().filter(k -> k.startsWith("pgferry_database_state/"))
                        .map(k -> k.substring(k.indexOf('/') + 1)).forEach(states::add);
                if (states.contains("running")) {
                    rows.add(shop.getOrDefault("pgferry_database_rows_copied", 0.0));
                } else {
                    Thread.sleep(100);
                }
            }
            assertThat(states).as("the state gauge while the copy of orders is held").contains("running");
            gate.open();
            String last;
            do {
                HttpResponse<String> scrape = http.send(HttpRequest.newBuilder(metrics).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(scrape.statusCode()).isEqualTo(200);
                assertThat(scrape.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/plain"));
                last = scrape.body();
                Map<String, Double> shop = samples(last, r.migrationId(), "shop");
                shop.keySet().stream().filter(k -> k.startsWith("pgferry_database_state/")).findFirst()
                        .map(k -> k.substring(k.indexOf('/') + 1))
                        .filter(s -> states.isEmpty() || !states.get(states.size() - 1).equals(s)).ifPresent(states::add);
                if (shop.containsKey("pgferry_database_rows_copied")) {
                    rows.add(shop.get("pgferry_database_rows_copied"));
                }
                Thread.sleep(25);
            } while (!states.contains("done") && !states.contains("failed") && states.size() < 10
                    && pgferry.coordinator.fold().view(r.migrationId()).map(s -> !s.isFinal()).orElse(true));
            MigrationStatus status = pgferry.awaitFinal(r.migrationId());
            last = http.send(HttpRequest.newBuilder(metrics).build(), HttpResponse.BodyHandlers.ofString()).body();
            samples(last, r.migrationId(), "shop").keySet().stream().filter(k -> k.startsWith("pgferry_database_state/"))
                    .map(k -> k.substring(k.indexOf('/') + 1))
                    .filter(st -> !states.get(states.size() - 1).equals(st)).forEach(states::add);

            DatabaseStatus row = status.migrationDetail().get(0);
            assertThat(row.status()).isEqualTo(MigrationStatus.State.DONE);
            Map<String, Double> shop = samples(last, r.migrationId(), "shop");
            assertThat(shop.get("pgferry_database_rows_copied")).isEqualTo((double) row.rowsCopied()).isGreaterThan(20_000);
            assertThat(shop.get("pgferry_database_bytes_copied")).isEqualTo((double) row.bytesCopied());
            assertThat(shop.get("pgferry_database_tables_done")).isEqualTo((double) row.tablesDone())
                    .isEqualTo(shop.get("pgferry_database_tables_to_copy")).isPositive();
            assertThat(shop.get("pgferry_database_attempt")).isEqualTo(1.0);
            assertThat(shop).containsEntry("pgferry_database_state/done", 1.0).doesNotContainKey("pgferry_database_state/running");
            // Seen moving: running before done, and the rows never going back
            assertThat(states).containsSubsequence("running", "done");
            assertThat(rows).isSortedAccordingTo(Double::compare);
            assertThat(rows.get(0)).isLessThan(rows.get(rows.size() - 1));
            assertThat(last).contains("pgferry_databases{state=\"done\"}", "jvm_memory_used_bytes", "process_uptime_seconds");

            // The worker's own metrics: it ran this migration's task (the status names it) and every task it took
            // (tasks left on the suite's shared broker by earlier tests may come its way too) ended, nothing runs now
            assertThat(row.workerId()).isEqualTo("it-metrics-worker");
            URI ownUri = URI.create("http://127.0.0.1:" + workerMetrics.port() + "/metrics");
            String own = http.send(HttpRequest.newBuilder(ownUri).build(), HttpResponse.BodyHandlers.ofString()).body();
            for (int i = 0; i < 300 && value(own, "pgferry_worker_tasks_running", "worker=") > 0; i++) {
                Thread.sleep(100);
                own = http.send(HttpRequest.newBuilder(ownUri).build(), HttpResponse.BodyHandlers.ofString()).body();
            }
            double started = value(own, "pgferry_worker_tasks_started_total", "action=\"migrate\"");
            assertThat(started).isGreaterThanOrEqualTo(1.0);
            assertThat(value(own, "pgferry_worker_tasks_finished_total", "action=\"migrate\"")).isEqualTo(started);
            assertThat(value(own, "pgferry_worker_status_events_total", "type=\"task_done\"")).isGreaterThanOrEqualTo(1.0);
            assertThat(value(own, "pgferry_worker_status_events_total", "type=\"task_progress\"")).isPositive();
            assertThat(value(own, "pgferry_worker_tasks_running", "worker=\"it-metrics-worker\"")).isEqualTo(0.0);
            assertThat(own).contains("jvm_memory_used_bytes").doesNotContain(Infra.PASSWORD);
        }
    }

    /** The value of the one sample of {@code metric} whose labels contain {@code label}. */
    private static double value(String text, String metric, String label) {
        List<Double> found = new ArrayList<>();
        for (String line : text.split("\n")) {
            Matcher m = SAMPLE.matcher(line);
            if (m.matches() && m.group(1).equals(metric) && m.group(2).contains(label)) {
                found.add(Double.parseDouble(m.group(3)));
            }
        }
        assertThat(found).as(metric + "{" + label + "} in\n" + text).hasSize(1);
        return found.get(0);
    }

    /** The samples labelled with this migration and database: metric name (plus "/state" or "/phase") to value. */
    private static Map<String, Double> samples(String text, String migration, String database) {
        Map<String, Double> out = new HashMap<>();
        for (String line : text.split("\n")) {
            Matcher m = SAMPLE.matcher(line);
            if (!m.matches()) {
                continue;
            }
            Map<String, String> labels = new HashMap<>();
            for (String l : m.group(2).split(",")) {
                String[] kv = l.split("=", 2);
                if (kv.length == 2) {
                    labels.put(kv[0], kv[1].replaceAll("^\"|\"$", ""));
                }
            }
            if (!migration.equals(labels.get("migration")) || !database.equals(labels.get("database"))) {
                continue;
            }
            String key = m.group(1) + (labels.containsKey("state") ? "/" + labels.get("state")
                    : labels.containsKey("phase") ? "/" + labels.get("phase") : "");
            out.put(key, Double.parseDouble(m.group(3)));
        }
        return out;
    }
}
