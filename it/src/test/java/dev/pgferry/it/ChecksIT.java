package dev.pgferry.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.Json;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code POST /checks}: {@code pgferry check} through the running service, run by a worker, changing nothing. */
class ChecksIT {

    @Test
    void aCheckPostedToTheCoordinatorIsRunByAWorkerAndItsReportServed() throws Exception {
        try (LocalPostgres source = Infra.postgres(); Pgferry pgferry = new Pgferry(1)) {
            SampleData.create(source, 200);
            // with a table large enough for the check to measure the rate it reads at (about 13 MB)
            ReplicationIT.exec(source, "shop", "CREATE TABLE public.wide AS SELECT g AS id, repeat(md5(g::text), 30) AS body"
                    + " FROM generate_series(1, 12000) g");
            LocalPostgres target = Infra.sharedTarget();
            String before = Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_database");
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + pgferry.coordinator.httpPort();
            String body = """
                    {"source": {"host": "%s", "port": %d, "user": "postgres", "password": "%s", "sslmode": "disable"},
                     "target": {"host": "%s", "port": %d, "user": "postgres", "password": "%s", "sslmode": "disable"},
                     "method": "replication", "ignore_dbs": ["postgres"]}""".formatted(source.host(), source.port(),
                    Infra.PASSWORD, target.host(), target.port(), Infra.PASSWORD);

            // When a check of a replication migration is posted
            HttpResponse<String> posted = http.send(HttpRequest.newBuilder(URI.create(base + "/checks"))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());

            // Then it is accepted with an id of its own, and its report comes from a worker
            assertThat(posted.statusCode()).as(posted.body()).isEqualTo(202);
            String id = Json.mapper().readTree(posted.body()).get("check_id").asText();
            assertThat(id).startsWith("c-");
            assertThat(posted.headers().firstValue("Location")).hasValue("/checks/" + id);
            JsonNode check = null;
            long deadline = System.currentTimeMillis() + 120_000;
            while (System.currentTimeMillis() < deadline) {
                HttpResponse<String> got = http.send(HttpRequest.newBuilder(URI.create(base + "/checks/" + id)).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(got.statusCode()).isEqualTo(200);
                check = Json.mapper().readTree(got.body());
                if (!check.get("status").asText().equals("pending")) {
                    break;
                }
                Thread.sleep(200);
            }
            assertThat(check.get("status").asText()).as(check.toString()).isEqualTo("done");
            assertThat(check.get("worker_id").asText()).isEqualTo("it-worker-0");
            assertThat(check.toString()).doesNotContain(Infra.PASSWORD);
            // the same verdicts as pgferry check gives: the table without a primary key is a warning by name
            JsonNode report = check.get("report");
            assertThat(report.get("verdict").asText()).isEqualTo("warning");
            Map<String, JsonNode> databases = new HashMap<>();
            report.get("databases").forEach(d -> databases.put(d.get("dbname").asText(), d));
            assertThat(databases.keySet()).containsExactlyInAnyOrderElementsOf(SampleData.DATABASES);
            List<String> warnings = new ArrayList<>();
            databases.get("shop").get("findings").forEach(f -> {
                if (f.get("verdict").asText().equals("warning")) {
                    warnings.add(f.get("check").asText() + ": " + f.get("message").asText());
                }
            });
            assertThat(warnings).anySatisfy(w -> assertThat(w).startsWith("primary keys:").contains("public.events_log"));
            // and a duration estimated at the rate the check read the large table at
            JsonNode shop = databases.get("shop");
            assertThat(shop.get("estimated_seconds").asLong()).isGreaterThanOrEqualTo(1);
            List<String> durations = new ArrayList<>();
            shop.get("findings").forEach(f -> {
                if (f.get("check").asText().equals("duration")) {
                    durations.add(f.get("message").asText());
                }
            });
            assertThat(durations).singleElement().satisfies(d -> assertThat(d)
                    .startsWith("about " + shop.get("estimated_seconds").asLong() + " s for one worker")
                    .contains("the rate this check read the largest table at"));
            // and nothing changed on the target, and the check is no migration
            assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_database")).isEqualTo(before);
            assertThat(pgferry.coordinator.fold().view(id)).isEmpty();

            // A check of a migration onto the source itself: done, with a blocker
            String self = body.replace("\"host\": \"" + target.host() + "\", \"port\": " + target.port(),
                    "\"host\": \"" + source.host() + "\", \"port\": " + source.port());
            String selfId = Json.mapper().readTree(http.send(HttpRequest.newBuilder(URI.create(base + "/checks"))
                    .POST(HttpRequest.BodyPublishers.ofString(self)).build(), HttpResponse.BodyHandlers.ofString()).body())
                    .get("check_id").asText();
            JsonNode blocked = await(http, base, selfId);
            assertThat(blocked.get("report").get("verdict").asText()).as(blocked.toString()).isEqualTo("blocker");

            // Bad input: a body that is no request is 400, an unknown check 404
            assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/checks"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"source\": 1}")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(400);
            assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/checks/c-unknown")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(404);
        }
    }

    private static JsonNode await(HttpClient http, String base, String id) throws Exception {
        long deadline = System.currentTimeMillis() + 120_000;
        JsonNode check = null;
        while (System.currentTimeMillis() < deadline) {
            check = Json.mapper().readTree(http.send(HttpRequest.newBuilder(URI.create(base + "/checks/" + id)).build(),
                    HttpResponse.BodyHandlers.ofString()).body());
            if (!check.get("status").asText().equals("pending")) {
                return check;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("check " + id + " did not finish: " + check);
    }
}
