package dev.pgferry.it;

import com.fasterxml.jackson.databind.JsonNode;
import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The whole flow, as a tutorial: a request goes to Kafka, the coordinator plans one task per database, two workers
 * copy roles, schema and data, and the folded status says done. Then every table, sequence, materialized view
 * and large object is compared between source and target.
 */
class ExampleIT {
    static LocalPostgres source;
    static LocalPostgres target;
    static Pgferry pgferry;
    static MigrationStatus status;
    static MigrationRequest request;

    @BeforeAll
    static void migrateSample() throws Exception {
        // Given a source with several awkward databases and one we do not want, and an empty target
        source = Infra.postgres();
        target = Infra.postgres();
        SampleData.create(source, 5000);
        try (var c = SampleData.connect(source, "postgres"); var s = c.createStatement()) {
            s.execute("CREATE DATABASE scratch");
        }
        pgferry = new Pgferry(2);

        // When a migration request is submitted
        request = Pgferry.request(source, target, List.of("scratch"));  // method dump
        pgferry.submit(request);
        status = pgferry.awaitFinal(request.migrationId());
    }

    @AfterAll
    static void stop() {
        pgferry.close();
        target.close();
        source.close();
    }

    @Test
    void everyDatabaseIsDoneWithTheDumpMethod() {
        assertThat(status.migration().status()).isEqualTo(MigrationStatus.State.DONE);
        assertThat(status.migration().method()).isEqualTo("dump");
        assertThat(status.migration().error()).isNull();
        assertThat(status.migrationDetail()).extracting(MigrationStatus.DatabaseStatus::dbname)
                .containsExactlyInAnyOrder("shop", "Analytics; Ünï \"q\"", "inventory", "postgres");
        assertThat(status.migrationDetail()).allSatisfy(d -> {
            assertThat(d.status()).isEqualTo(MigrationStatus.State.DONE);
            assertThat(d.error()).isNull();
            assertThat(d.tablesDone()).isEqualTo(d.tablesTotal());
        });
        MigrationStatus.DatabaseStatus shop = status.migrationDetail().stream()
                .filter(d -> d.dbname().equals("shop")).findFirst().orElseThrow();
        assertThat(shop.tablesTotal()).isEqualTo(6);
        assertThat(shop.rowsCopied()).isEqualTo(5000 + 500 + 205 + 500 + 1);
    }

    @Test
    void everyTableHasTheSameRowsOnBothSides() throws Exception {
        for (String db : SampleData.DATABASES) {
            var expected = Compare.tableFingerprints(source, db);
            assertThat(expected).isNotEmpty();
            assertThat(Compare.tableFingerprints(target, db)).as("tables of %s", db).isEqualTo(expected);
        }
        assertThat(Compare.scalar(target, "shop", "SELECT count(*) FROM public.orders")).isEqualTo("5000");
        assertThat(Compare.scalar(target, "shop", "SELECT count(*) FROM public.measurements")).isEqualTo("500");
        assertThat(Compare.scalar(target, "Analytics; Ünï \"q\"",
                "SELECT \"ÄÖÜ\" FROM \"Reporting Ü\".\"Monthly \"\"Umsatz\"\" €\" WHERE \"Month\" = '2020-02-01'"))
                .isEqualTo("zeile 1 ☃");
    }

    @Test
    void sequencesMatviewsAndLargeObjectsAreCopied() throws Exception {
        String seqs = "SELECT string_agg(schemaname || '.' || sequencename || '=' || coalesce(last_value, 0), ',' ORDER BY sequencename)"
                + " FROM pg_sequences";
        assertThat(Compare.scalar(target, "shop", seqs)).isEqualTo(Compare.scalar(source, "shop", seqs)).contains("invoice_seq=42");
        assertThat(Compare.scalar(target, "inventory", seqs)).isEqualTo(Compare.scalar(source, "inventory", seqs));
        String matview = "SELECT relispopulated || ':' || (SELECT count(*) || ':' || sum(total) FROM public.order_totals)"
                + " FROM pg_class WHERE relname = 'order_totals'";
        assertThat(Compare.scalar(target, "shop", matview)).isEqualTo(Compare.scalar(source, "shop", matview)).startsWith("true:");
        String lo = "SELECT md5(lo_get(body)) || ':' || pg_get_userbyid(m.lomowner) FROM public.documents d"
                + " JOIN pg_largeobject_metadata m ON m.oid = d.body";
        assertThat(Compare.scalar(target, "shop", lo)).isEqualTo(Compare.scalar(source, "shop", lo));
    }

    @Test
    void indexesConstraintsOwnersAndGrantsRestore() throws Exception {
        String indexes = "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'";
        assertThat(Compare.scalar(target, "shop", indexes)).isEqualTo(Compare.scalar(source, "shop", indexes))
                .contains("orders_customer_idx", "customers_email_key");
        String constraints = "SELECT string_agg(conname || ':' || contype::text, ',' ORDER BY conname) FROM pg_constraint"
                + " WHERE connamespace = 'public'::regnamespace";
        assertThat(Compare.scalar(target, "shop", constraints)).isEqualTo(Compare.scalar(source, "shop", constraints))
                .contains("orders_customer_id_fkey:f");
        String view = "SELECT count(*) || ':' || sum(amount) FROM public.big_orders";
        assertThat(Compare.scalar(target, "shop", view)).isEqualTo(Compare.scalar(source, "shop", view));
        String partitions = "SELECT string_agg(c.relname || ':' || pg_get_expr(c.relpartbound, c.oid), ',' ORDER BY c.relname)"
                + " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'public.measurements'::regclass";
        assertThat(Compare.scalar(target, "shop", partitions)).isEqualTo(Compare.scalar(source, "shop", partitions))
                .contains("measurements_2025");
        assertThat(Compare.scalar(target, "shop", "SELECT tableowner FROM pg_tables WHERE tablename = 'orders'"))
                .isEqualTo("shop_owner");
        assertThat(Compare.scalar(target, "postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop'"))
                .isEqualTo("shop_owner");
        assertThat(Compare.scalar(target, "shop", "SELECT has_table_privilege('app_reader', 'public.orders', 'SELECT')"))
                .isEqualTo("t");
    }

    @Test
    void rolesKeepAttributesMembershipsSettingsAndPasswords() throws Exception {
        String role = "SELECT rolcanlogin || ':' || rolconnlimit || ':' || coalesce(array_to_string(rolconfig, ','), '')"
                + " FROM pg_roles WHERE rolname = 'app_reader'";
        assertThat(Compare.scalar(target, "postgres", role)).isEqualTo("true:7:statement_timeout=5min");
        assertThat(Compare.scalar(target, "postgres", "SELECT pg_has_role('app_reader', 'shop_owner', 'MEMBER')"))
                .isEqualTo("t");
        String hash = "SELECT rolpassword FROM pg_authid WHERE rolname = 'app_reader'";
        assertThat(Compare.scalar(target, "postgres", hash)).isEqualTo(Compare.scalar(source, "postgres", hash)).startsWith("SCRAM");
    }

    @Test
    void ignoredDatabaseIsNotMigrated() throws Exception {
        assertThat(Compare.column(target, "postgres", "SELECT datname FROM pg_database")).doesNotContain("scratch");
        assertThat(status.migrationDetail()).extracting(MigrationStatus.DatabaseStatus::dbname).doesNotContain("scratch");
    }

    @Test
    void httpApiServesTheAvnShapeWithoutPasswords() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        String base = "http://127.0.0.1:" + pgferry.coordinator.httpPort() + "/migrations";
        HttpResponse<String> one = http.send(HttpRequest.newBuilder(URI.create(base + "/" + request.migrationId())).build(),
                HttpResponse.BodyHandlers.ofString());

        assertThat(one.statusCode()).isEqualTo(200);
        JsonNode json = Json.mapper().readTree(one.body());
        assertThat(json.get("migration_id").asText()).isEqualTo(request.migrationId());
        assertThat(json.get("migration").get("status").asText()).isEqualTo("done");
        assertThat(json.get("migration").get("method").asText()).isEqualTo("dump");
        assertThat(json.get("migration").has("error")).isTrue();
        assertThat(json.get("migration_detail").size()).isEqualTo(4);
        assertThat(json.get("migration_detail").get(0).fieldNames()).toIterable().contains("dbname", "method", "status", "error");
        assertThat(one.body()).doesNotContain(Infra.PASSWORD);

        HttpResponse<String> all = http.send(HttpRequest.newBuilder(URI.create(base)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(all.statusCode()).isEqualTo(200);
        assertThat(all.body()).contains(request.migrationId()).doesNotContain(Infra.PASSWORD);
        HttpResponse<String> missing = http.send(HttpRequest.newBuilder(URI.create(base + "/nope")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(missing.statusCode()).isEqualTo(404);
    }

    @Test
    void verifyOverHttpProvesTheCopy() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        String base = "http://127.0.0.1:" + pgferry.coordinator.httpPort() + "/migrations/";
        HttpResponse<String> unknown = http.send(HttpRequest.newBuilder(URI.create(base + "nope/verify"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(unknown.statusCode()).isEqualTo(404);

        HttpResponse<String> asked = http.send(HttpRequest.newBuilder(URI.create(base + request.migrationId() + "/verify"))
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(asked.statusCode()).isEqualTo(202);

        MigrationStatus verified = Pgferry.awaitView(pgferry.coordinator, request.migrationId(),
                s -> s.verify() != null && s.verify().finished());
        assertThat(verified.verify().result()).as(Json.writePretty(verified)).isEqualTo("match");
        assertThat(verified.verify().databasesMatching()).isEqualTo(4);
        HttpResponse<String> view = http.send(HttpRequest.newBuilder(URI.create(base + request.migrationId())).build(),
                HttpResponse.BodyHandlers.ofString());
        JsonNode json = Json.mapper().readTree(view.body());
        assertThat(json.get("verify").get("result").asText()).isEqualTo("match");
        assertThat(json.get("migration_detail").get(0).get("verification").get("result").asText()).isEqualTo("match");
    }
}
