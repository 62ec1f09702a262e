package dev.pgferry.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.bus.Bus;
import dev.pgferry.bus.KafkaSettings;
import dev.pgferry.coordinator.fold.StatusFold;
import dev.pgferry.coordinator.http.HttpApi;
import dev.pgferry.messages.Connection;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code POST /checks}: {@code pgferry check} through the running service, run by a worker, changing nothing. */
class ChecksIT {

    @Test
    void whatWasJustPostedIsAnsweredAsAcceptedOrPendingNeverAsUnknown() throws Exception {
        // A fold that no consumer feeds: what the API answers is what it knows from the POST alone
        // (topics of their own, so that no other test's coordinator plans or runs what is posted here)
        KafkaSettings own = KafkaSettings.of(Infra.kafka()).withTopicPrefix("it-" + UUID.randomUUID().toString().substring(0, 6) + ".");
        StatusFold fold = new StatusFold();
        try (Bus bus = new Bus(own, "it-posted");
             HttpApi api = new HttpApi(bus, fold, req -> req, "127.0.0.1", 0, null).start()) {
            bus.ensureTopics();
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + api.port();
            String body = """
                    {"source": {"host": "127.0.0.1", "port": 1, "user": "postgres", "sslmode": "disable"},
                     "target": {"host": "127.0.0.1", "port": 2, "user": "postgres", "sslmode": "disable"}}""";

            // When a migration and a check are posted and asked for at once
            HttpResponse<String> migration = http.send(HttpRequest.newBuilder(URI.create(base + "/migrations"))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(migration.statusCode()).as(migration.body()).isEqualTo(202);
            String id = Json.mapper().readTree(migration.body()).get("migration_id").asText();
            HttpResponse<String> check = http.send(HttpRequest.newBuilder(URI.create(base + "/checks"))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            String checkId = Json.mapper().readTree(check.body()).get("check_id").asText();

            // Then the migration is accepted and not yet planned, and the check is pending
            HttpResponse<String> asked = http.send(HttpRequest.newBuilder(URI.create(base + "/migrations/" + id)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(asked.statusCode()).as(asked.body()).isEqualTo(202);
            JsonNode accepted = Json.mapper().readTree(asked.body());
            assertThat(accepted.get("migration_id").asText()).isEqualTo(id);
            assertThat(accepted.get("status").asText()).isEqualTo("accepted");
            HttpResponse<String> pending = http.send(HttpRequest.newBuilder(URI.create(base + "/checks/" + checkId)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(pending.statusCode()).as(pending.body()).isEqualTo(200);
            assertThat(Json.mapper().readTree(pending.body()).get("status").asText()).isEqualTo("pending");
            // and once the coordinator has it, its status is served; an id never posted is still unknown
            fold.apply(new EventSource(id, null, "coordinator", 1, java.time.Clock.systemUTC())
                    .accepted(MigrationRequest.of(Connection.fromUri("postgres://postgres@127.0.0.1:1/"),
                            Connection.fromUri("postgres://postgres@127.0.0.1:2/"), Method.DUMP, List.of(), List.of(),
                            List.of()).withMigrationId(id)));
            HttpResponse<String> known = http.send(HttpRequest.newBuilder(URI.create(base + "/migrations/" + id)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(known.statusCode()).as(known.body()).isEqualTo(200);
            assertThat(Json.mapper().readTree(known.body()).get("migration_id").asText()).isEqualTo(id);
            HttpResponse<String> never = http.send(HttpRequest.newBuilder(URI.create(base + "/migrations/nope")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(never.statusCode()).isEqualTo(404);
        }
    }

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
