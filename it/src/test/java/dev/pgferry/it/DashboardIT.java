package dev.pgferry.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pgferry.bus.Bus;
import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.coordinator.fold.StatusFold;
import dev.pgferry.coordinator.http.HttpApi;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.pg.Secrets;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The dashboard at {@code /}, in headless Chromium while a replication syncs and a dump waits on a lock: the rows
 * it shows are the status JSON's, a
 * database name full of quotes and semicolons shows as text, the screenshot is kept
 * ({@code it/target/dashboard.png}), the remove button asks first and does nothing when declined, and the cut-over
 * button asks, then cuts the database over. With a token, the page asks for it and then shows the migrations.
 */
class DashboardIT {
    private static final String ROWS = """
            JSON.stringify([...document.querySelectorAll('section[data-migration="%s"] tr[data-db]')].map(tr => ({
              db: tr.dataset.db,
              text: tr.innerText,
              fields: Object.fromEntries([...tr.querySelectorAll('td[data-field]')].map(td => [td.dataset.field, td.dataset.value]))
            })))""";

    @Test
    void theDashboardShowsALiveMigrationAsItsStatusSaysAndAsksBeforeActing() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres(); Pgferry pgferry = new Pgferry(2);
             Browser browser = Browser.start()) {
            // Given a replication of a database with quotes and a semicolon in its name, syncing, and a dump of another
            // held up by an application's lock
            SampleData.create(source, 2_000);
            try (Connection c = SampleData.connect(source, "postgres"); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE held");
            }
            try (Connection c = SampleData.connect(source, "held"); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 10)");
            }
            String weird = "Analytics; Ünï \"q\"";
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.REPLICATION,
                    List.of("postgres", "held", "shop", "inventory"), List.of(), List.of());
            MigrationRequest dump = Pgferry.request(source, target, List.of("postgres", "shop", "inventory", weird));
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + pgferry.coordinator.httpPort();
            pgferry.submit(r);
            Pgferry.awaitView(pgferry.coordinator, r.migrationId(), v -> v.migrationDetail().size() == 1
                    && v.migrationDetail().stream().allMatch(d -> d.status() == State.SYNCING && d.lagBytes() != null));
            try (Connection holder = SampleData.connect(source, "held"); Statement hs = holder.createStatement()) {
                int holderPid;
                try (var rs = hs.executeQuery("SELECT pg_backend_pid()")) {
                    rs.next();
                    holderPid = rs.getInt(1);
                }
                holder.setAutoCommit(false);
                hs.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
                pgferry.submit(dump);
                // the row says what the database waits for: pg_dump, on the application's lock
                MigrationStatus.DatabaseStatus held = Pgferry.awaitRow(pgferry.coordinator, dump.migrationId(), "held",
                        d -> d.status() == State.RUNNING && d.waitingFor() != null);
                assertThat(held.waitingFor()).startsWith("on the source, ").contains("waits for a lock held by pid " + holderPid
                        + " (user postgres, application 'PostgreSQL JDBC Driver', database held, idle in transaction since ")
                        .contains("query: LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
                        .endsWith("or end it (SELECT pg_terminate_backend(" + holderPid + "))");

                // When the dashboard is opened
                HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(base + "/")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(page.statusCode()).isEqualTo(200);
                assertThat(page.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
                assertThat(page.headers().firstValue("Content-Security-Policy")).hasValueSatisfying(csp -> assertThat(csp)
                        .contains("script-src 'sha256-", "connect-src 'self'", "default-src 'none'"));
                assertThat(page.body()).doesNotContain("<script src", "<link", "https://", "@import"); // bundled, no CDN
                browser.open(base + "/");
                Map<String, JsonNode> shown = new HashMap<>();
                List<JsonNode> details = new java.util.ArrayList<>();
                for (MigrationRequest m : List.of(r, dump)) {
                    JsonNode rows = browser.await(ROWS.formatted(m.migrationId()), v -> parse(v.asText()).size() > 0,
                            Duration.ofSeconds(20));
                    parse(rows.asText()).forEach(row -> shown.put(row.get("db").asText(), row));
                    Json.mapper().readTree(http.send(HttpRequest.newBuilder(URI.create(base + "/migrations/" + m.migrationId()))
                            .build(), HttpResponse.BodyHandlers.ofString()).body()).get("migration_detail").forEach(details::add);
                }

                // Then every database row shows what the status JSON says
                assertThat(shown.keySet()).containsExactlyInAnyOrder(weird, "held");
                assertThat(details).hasSize(2);
                for (JsonNode d : details) {
                    JsonNode row = shown.get(d.get("dbname").asText());
                    JsonNode f = row.get("fields");
                    assertThat(f.get("status").asText()).as(d.toString()).isEqualTo(d.get("status").asText());
                    assertThat(f.get("rows_copied").asLong()).isEqualTo(d.get("rows_copied").asLong());
                    assertThat(f.get("bytes_copied").asLong()).isEqualTo(d.get("bytes_copied").asLong());
                    assertThat(f.get("tables").asText()).isEqualTo(d.get("tables_done").asInt() + "/" + d.get("tables_total").asInt());
                    assertThat(f.get("messages").asInt()).isEqualTo(d.get("warnings").size());
                    assertThat(row.get("text").asText()).contains(d.get("dbname").asText())
                            .contains(d.get("status").asText().replace('_', ' '));
                    if (d.get("status").asText().equals("syncing")) {
                        assertThat(f.get("progress").asInt()).isEqualTo(100);
                        assertThat(f.get("lag_bytes").asText()).isNotEmpty();
                        assertThat(d.get("rows_copied").asLong()).isPositive();
                    }
                }
                assertThat(shown.get("held").get("fields").get("progress").asInt()).isLessThan(100);
                assertThat(shown.get("held").get("text").asText()).contains("waiting: on the source, ")
                        .contains("pg_terminate_backend(" + holderPid + ")");
                // a name with quotes and a semicolon is text, not markup
                assertThat(browser.eval("document.querySelectorAll('script').length").asInt()).isEqualTo(1);
                // lag over time: a line per syncing database once two measurements have come in
                browser.await("document.querySelectorAll('section[data-migration=\"%s\"] svg.spark path').length"
                        .formatted(r.migrationId()), v -> v.asInt() == 1, Duration.ofSeconds(15));
                Path shot = Path.of("target", "dashboard.png");
                assertThat(browser.screenshot(shot)).isGreaterThan(10_000);
                assertThat(Files.readAllBytes(shot)).startsWith((byte) 0x89, (byte) 'P', (byte) 'N', (byte) 'G');

                // And removing asks first: declined, nothing is requested
                JsonNode asked = browser.eval("""
                        (() => { let q = null; window.confirm = m => { q = m; return false; };
                          document.querySelector('section[data-migration="%s"] button[data-action="remove"]').click();
                          return q; })()""".formatted(r.migrationId()));
                assertThat(asked.asText()).startsWith("Remove the replication of " + r.migrationId() + "?");
                Thread.sleep(500);
                assertThat(pgferry.coordinator.fold().view(r.migrationId()).orElseThrow().removalRequested()).isFalse();

                // Cutting over asks too, naming the database; accepted, it is requested, the page says so, and the
                // database ends cut over
                JsonNode cutover = browser.eval("""
                        (() => { let q = null; window.confirm = m => { q = m; return true; };
                          document.querySelector('section[data-migration="%s"] button[data-action="cutover"]').click();
                          return q; })()""".formatted(r.migrationId()));
                assertThat(cutover.asText()).startsWith("Cut over 1 database(s) of " + r.migrationId() + " (" + weird + ")?");
                browser.await("(document.querySelector('section[data-migration=\"%s\"] [data-field=\"notice\"]') || {}).textContent || ''"
                        .formatted(r.migrationId()), v -> v.asText().equals("cut-over requested"), Duration.ofSeconds(10));
                MigrationStatus.DatabaseStatus cut = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), weird,
                        d -> d.status() == State.DONE);
                assertThat(cut.cutover().state()).isEqualTo("done");
                assertThat(pgferry.coordinator.fold().view(r.migrationId()).orElseThrow().removalRequested()).isFalse();
                holder.rollback();
            }
            assertThat(pgferry.awaitFinal(r.migrationId()).migration().status()).isEqualTo(State.DONE);
            assertThat(pgferry.awaitFinal(dump.migrationId()).migration().status()).isEqualTo(State.DONE);
        }
    }

    private static JsonNode parse(String json) {
        try {
            return Json.mapper().readTree(json);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void withATokenThePageAsksForItAndThenShowsTheMigrations() throws Exception {
        String token = Secrets.newKey();
        StatusFold fold = new StatusFold();
        try (Bus bus = new Bus(Infra.kafka(), "it-dashboard-token");
             HttpApi api = new HttpApi(bus, fold, req -> req, "127.0.0.1", 0, token).start();
             Browser browser = Browser.start()) {
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + api.port();
            // the page holds no data, so it loads without the token; the API behind it does not
            assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/")).build(), HttpResponse.BodyHandlers.ofString())
                    .statusCode()).isEqualTo(200);
            assertThat(http.send(HttpRequest.newBuilder(URI.create(base + "/migrations")).build(), HttpResponse.BodyHandlers.ofString())
                    .statusCode()).isEqualTo(401);
            // a page of another site may not make the coordinator act, even with the token
            HttpResponse<String> forged = http.send(HttpRequest.newBuilder(URI.create(base + "/migrations/m-x/cutover"))
                    .header("Authorization", "Bearer " + token).header("Origin", "https://evil.example")
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(forged.statusCode()).isEqualTo(403);

            browser.open(base + "/");
            browser.await("getComputedStyle(document.getElementById('login')).display", v -> v.asText().equals("block"),
                    Duration.ofSeconds(10));
            browser.eval("""
                    (() => { document.getElementById('token').value = %s;
                      document.querySelector('#login button').click(); })()""".formatted(Json.mapper().writeValueAsString(token)));
            JsonNode empty = browser.await("(document.querySelector('#migrations .empty') || {}).textContent || ''",
                    v -> !v.asText().isEmpty(), Duration.ofSeconds(10));
            assertThat(empty.asText()).startsWith("No migrations yet");
            assertThat(browser.eval("getComputedStyle(document.getElementById('login')).display").asText()).isEqualTo("none");

            // A database whose tables two workers shared shows what each copied
            EventSource m = new EventSource("m-shared", null, "coordinator", 1, java.time.Clock.systemUTC());
            fold.apply(m.planned(List.of("big")));
            EventSource big = new EventSource("m-shared", "big", "w-owner", 1, java.time.Clock.systemUTC());
            fold.apply(big.started(Method.DUMP, null));
            fold.apply(big.progress(new dev.pgferry.messages.CopyProgress(1, 2, 1500, 15_000, 3000, 30_000, 4L, Map.of(
                    "w-owner", new MigrationStatus.WorkerShare(3, 1000, 10_000),
                    "w-helper", new MigrationStatus.WorkerShare(1, 500, 5000)))));
            JsonNode shared = browser.await("(document.querySelector('section[data-migration=\"m-shared\"] [data-field=\"copied_by\"]')"
                    + " || {}).textContent || ''", v -> !v.asText().isEmpty(), Duration.ofSeconds(10));
            assertThat(shared.asText()).isEqualTo("copied by w-helper 1 unit, 500 rows; w-owner 3 units, 1,000 rows");
        }
    }
}
