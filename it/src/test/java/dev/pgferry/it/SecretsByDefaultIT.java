package dev.pgferry.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pgferry.bus.Bus;
import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.coordinator.fold.StatusFold;
import dev.pgferry.coordinator.http.HttpApi;
import dev.pgferry.messages.Connection;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.messages.Topics;
import dev.pgferry.pg.Secrets;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Secrets are safe without configuration: an inline password that no key can seal is refused by {@code submit},
 * {@code POST /migrations} and the coordinator's intake (it never reaches the tasks topic in clear); with a key,
 * even a raw request's inline password is sealed before any task carries it; the HTTP API needs its bearer token
 * when one is set and refuses to listen on an open address without one.
 */
class SecretsByDefaultIT {
    /** Given inline in the requests of this class only; the requests topic keeps it (it was given there). */
    static final String INLINE = "Inline-Given-7781";
    /** The migration user's password in the raw request that a coordinator with a key must seal. */
    static final String RAW_INLINE = "Raw-Inline-5150";

    @Test
    void withoutAKeyAnInlinePasswordIsRefusedEverywhereAndNeverReachesTheTasks() throws Exception {
        MigrationRequest r = MigrationRequest.of(
                new Connection("127.0.0.1", 1, "postgres", "postgres", INLINE, null, "disable"),
                new Connection("127.0.0.1", 1, "postgres", "postgres", null, "env:NOT_USED", "disable"),
                Method.DUMP, List.of(), List.of(), List.of());
        try (Coordinator coordinator = Coordinator.start(Infra.kafka(), Coordinator.Settings.of("127.0.0.1", 0)
                .withLagPeriod(1_000).withSecrets(Secrets.of(Map.of()), false));
             Bus bus = new Bus(Infra.kafka(), "it-plain")) {
            // POST /migrations: 400 with the code and the fixes, and nothing published
            HttpResponse<String> post = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + coordinator.httpPort() + "/migrations"))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(Json.write(r))).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(post.statusCode()).isEqualTo(400);
            JsonNode error = Json.mapper().readTree(post.body());
            assertThat(error.get("code").asText()).isEqualTo(ErrorCode.PLAINTEXT_PASSWORD.name());
            assertThat(error.get("error").asText()).contains("PGFERRY_SECRET_KEY", "password_ref", "--allow-plaintext-passwords",
                    "postgres@127.0.0.1:1/postgres").doesNotContain(INLINE);

            // A request published by any other producer: the migration fails with the same code, and no task is written
            bus.send(Topics.REQUESTS, r.migrationId(), Json.write(r));
            MigrationStatus failed = Pgferry.awaitView(coordinator, r.migrationId(), MigrationStatus::isFinal);
            assertThat(failed.migration().status()).isEqualTo(State.FAILED);
            assertThat(failed.migration().error()).contains("PGFERRY_SECRET_KEY", "password_ref").doesNotContain(INLINE);
        }
        assertThat(FaultsIT.readAll(Topics.STATUS).stream().filter(e -> r.migrationId().equals(e.key()))
                .map(e -> tree(e.value())).filter(e -> e.get("type").asText().equals("migration_failed")))
                .singleElement().satisfies(e -> assertThat(e.get("error").get("code").asText()).isEqualTo("PLAINTEXT_PASSWORD"));
        assertThat(FaultsIT.readAll(Topics.TASKS)).noneMatch(t -> t.key().startsWith(r.migrationId() + "/"));
        List<ConsumerRecord<String, byte[]>> requests = FaultsIT.readAll(Topics.REQUESTS).stream()
                .filter(q -> r.migrationId().equals(q.key())).toList();
        assertThat(requests).as("only the raw request itself, not the refused POST").hasSize(1);
    }

    @Test
    void submitWithoutAKeyRefusesAnInlinePasswordAndPublishesNothing() throws Exception {
        Path err = Infra.work().resolve("submit-plain.err");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                "dev.pgferry.cli.Main", "submit", "--bootstrap-servers", Infra.kafka(), "--migration-id", "plain-submit-1",
                "--source", "postgres://postgres:" + INLINE + "@127.0.0.1:1/postgres",
                "--target", "postgres://postgres@127.0.0.1:1/postgres?password_ref=env:NOT_USED")
                .redirectError(err.toFile()).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().remove("PGFERRY_SECRET_KEY");
        pb.environment().remove("PGFERRY_SECRET_KEY_FILE");
        int rc = pb.start().waitFor();
        String stderr = Files.readString(err);
        assertThat(rc).as(stderr).isEqualTo(2);
        assertThat(stderr).contains("PGFERRY_SECRET_KEY", "password_ref", "secret-key").doesNotContain(INLINE);
        assertThat(FaultsIT.readAll(Topics.REQUESTS)).noneMatch(q -> "plain-submit-1".equals(q.key()));
    }

    @Test
    void withAKeyARawRequestsInlinePasswordIsSealedBeforeAnyTaskCarriesIt() throws Exception {
        String password = RAW_INLINE;
        String migrationId;
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres(); Pgferry pgferry = new Pgferry(1)) {
            SampleData.create(source, 200);
            for (LocalPostgres pg : List.of(source, target)) {
                try (var c = SampleData.connect(pg, "postgres"); var s = c.createStatement()) {
                    s.execute("CREATE ROLE raw_inline LOGIN SUPERUSER PASSWORD '" + password + "'");
                }
            }
            MigrationRequest r = MigrationRequest.of(
                    new Connection(source.host(), source.port(), "postgres", "raw_inline", password, null, "disable"),
                    new Connection(target.host(), target.port(), "postgres", "raw_inline", password, null, "disable"),
                    Method.DUMP, List.of("postgres", "Analytics; Ünï \"q\"", "inventory"), List.of(), List.of());
            migrationId = r.migrationId();
            // Published as any producer might: the password inline and in clear
            pgferry.bus.send(Topics.REQUESTS, r.migrationId(), Json.write(r));
            assertThat(pgferry.awaitFinal(r.migrationId()).migration().status()).isEqualTo(State.DONE);
            assertThat(Compare.tableFingerprints(target, "shop")).isEqualTo(Compare.tableFingerprints(source, "shop"));
        }
        List<String> tasks = FaultsIT.readAll(Topics.TASKS).stream()
                .filter(t -> t.key().startsWith(migrationId + "/"))
                .map(t -> new String(t.value(), StandardCharsets.UTF_8)).toList();
        assertThat(tasks).isNotEmpty().allSatisfy(t -> assertThat(t).contains("sealed:v1:").doesNotContain(password));
    }

    @Test
    void theHttpApiNeedsItsTokenAndNeverListensOnAnOpenAddressWithoutOne() throws Exception {
        assertThatThrownBy(() -> Coordinator.start(Infra.kafka(), Coordinator.Settings.of("0.0.0.0", 0)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PGFERRY_API_TOKEN")
                .hasMessageContaining("--http-host 127.0.0.1");

        String token = Secrets.newKey();
        try (Bus bus = new Bus(Infra.kafka(), "it-token");
             HttpApi api = new HttpApi(bus, new StatusFold(), req -> req, "0.0.0.0", 0, token).start()) {
            HttpClient http = HttpClient.newHttpClient();
            URI uri = URI.create("http://127.0.0.1:" + api.port() + "/migrations");
            HttpResponse<String> none = http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(none.statusCode()).isEqualTo(401);
            assertThat(none.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
            assertThat(Json.mapper().readTree(none.body()).get("error").asText()).contains("PGFERRY_API_TOKEN");
            HttpResponse<String> wrong = http.send(HttpRequest.newBuilder(uri).header("Authorization", "Bearer " + token + "x")
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(wrong.statusCode()).isEqualTo(401);
            HttpResponse<String> post = http.send(HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString("{}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(post.statusCode()).as("a POST without the token is refused before its body is read").isEqualTo(401);
            HttpResponse<String> right = http.send(HttpRequest.newBuilder(uri).header("Authorization", "Bearer " + token)
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(right.statusCode()).isEqualTo(200);
            assertThat(Json.mapper().readTree(right.body()).isArray()).isTrue();
        }
    }

    private static JsonNode tree(byte[] json) {
        try {
            return Json.mapper().readTree(json);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
