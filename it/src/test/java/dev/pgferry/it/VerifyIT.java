package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.messages.Topics;
import dev.pgferry.messages.Verification;
import dev.pgferry.messages.Verification.Result;
import dev.pgferry.messages.VerifyRequest;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code pgferry verify} compares source and target without trusting the copy: it passes on a faithful copy, names
 * each planted difference (a changed, a missing and an extra row by key, a missing role, a lost membership, a
 * changed database setting, a lost database privilege), and passes on a live replication while the source is
 * being written to.
 */
class VerifyIT {

    @Test
    void passesOnAFaithfulCopyAndNamesEveryPlantedDifference() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres(); Pgferry pgferry = new Pgferry(2)) {
            // Given a migrated server with roles, database privileges and settings
            SampleData.create(source, 3000);
            try (var c = SampleData.connect(source, "postgres"); var s = c.createStatement()) {
                s.execute("""
                        CREATE ROLE app_rw NOLOGIN; CREATE ROLE app_user LOGIN; GRANT app_rw TO app_user;
                        CREATE ROLE auditor NOLOGIN;
                        GRANT CONNECT ON DATABASE shop TO app_rw;
                        ALTER DATABASE shop SET work_mem TO '8MB';
                        """);
            }
            // and a materialized view the source has not refreshed since its table changed (stale there)
            ReplicationIT.exec(source, "shop", "CREATE MATERIALIZED VIEW public.some_names AS SELECT id, name"
                    + " FROM public.customers WHERE id IN (1, 42); UPDATE public.customers SET name = 'renamed' WHERE id = 1;"
                    // (and one whose rows no copy can hold: its query gives others each time)
                    + " CREATE MATERIALIZED VIEW public.stamped AS SELECT count(*) AS n, clock_timestamp() AS at"
                    + " FROM public.customers");
            MigrationRequest r = Pgferry.request(source, target, List.of("postgres"));
            pgferry.submit(r);
            assertThat(pgferry.awaitFinal(r.migrationId()).migration().status()).isEqualTo(State.DONE);

            // When it is verified
            MigrationStatus faithful = verify(pgferry, r.migrationId());

            // Then every database matches, with row counts read from both servers
            assertThat(faithful.verify().result()).as(Json.writePretty(faithful)).isEqualTo("match");
            assertThat(faithful.verify().databasesMatching()).isEqualTo(SampleData.DATABASES.size());
            Verification shop = verification(faithful, "shop");
            assertThat(shop.checks()).extracting(Verification.Check::name)
                    .contains("database properties", "schema", "sequences", "large objects", "materialized views");
            assertThat(shop.checks()).allSatisfy(c -> assertThat(c.result()).isEqualTo(Result.MATCH));
            // (the stale view cannot be copied as it is: the target holds what its query gives, which is named)
            assertThat(check(shop, "materialized views").details()).containsExactlyInAnyOrder("public.some_names: stale"
                    + " on the source (its rows are not what its query gives now: it was not refreshed since its tables"
                    + " changed); the target holds what the query gives now, as REFRESH MATERIALIZED VIEW on the source"
                    + " would make it", "public.stamped: its query gives other rows each time it runs (a volatile"
                    + " function such as now() or random()), so only its rows are counted: 1 on both sides");
            Map<String, Long> rows = shop.tables().stream().collect(Collectors.toMap(Verification.TableCheck::table,
                    Verification.TableCheck::rowsTarget));
            assertThat(rows).containsEntry("public.orders", Long.valueOf(Compare.scalar(source, "shop",
                    "SELECT count(*) FROM public.orders"))).containsEntry("public.customers", 300L);
            assertThat(faithful.migrationDetail()).allSatisfy(d -> assertThat(d.verification().checks())
                    .anySatisfy(c -> assertThat(c.name()).isEqualTo("schema")));
            assertThat(faithful.migrationDetail().stream().filter(d -> d.verification().checks().stream()
                    .anyMatch(c -> c.name().equals("roles")))).hasSize(1);

            // Given differences planted on the target
            try (var c = SampleData.connect(target, "shop"); var s = c.createStatement()) {
                s.execute("""
                        UPDATE public.customers SET name = 'changed' WHERE id = 42;
                        DELETE FROM public.orders WHERE id = 17;
                        INSERT INTO public.customers (id, name, email) VALUES (100001, 'extra', 'extra@example.com');
                        REFRESH MATERIALIZED VIEW public.some_names;
                        """);
            }
            try (var c = SampleData.connect(target, "postgres"); var s = c.createStatement()) {
                s.execute("""
                        DROP ROLE auditor; REVOKE app_rw FROM app_user;
                        ALTER DATABASE shop SET work_mem TO '64MB';
                        REVOKE CONNECT ON DATABASE shop FROM app_rw;
                        """);
            }

            // When it is verified again
            MigrationStatus planted = verify(pgferry, r.migrationId());

            // Then each difference is named
            assertThat(planted.verify().result()).isEqualTo("differs");
            Verification after = verification(planted, "shop");
            assertThat(after.result()).isEqualTo(Result.DIFFERS);
            Verification.TableCheck customers = table(after, "public.customers");
            assertThat(customers.result()).isEqualTo(Result.DIFFERS);
            assertThat(customers.rowsSource()).isEqualTo(300);
            assertThat(customers.rowsTarget()).isEqualTo(301);
            assertThat(customers.sampleKeys()).containsExactlyInAnyOrder("(42) differs", "(100001) only on the target");
            assertThat(table(after, "public.orders").sampleKeys()).containsExactly("(17) missing on the target");
            assertThat(table(after, "public.measurements_2025").result()).isEqualTo(Result.MATCH);
            // (as many rows in the view as on the source, but another one: compared by content, not only counted)
            assertThat(check(after, "materialized views").result()).isEqualTo(Result.DIFFERS);
            assertThat(check(after, "materialized views").details())
                    .anySatisfy(d -> assertThat(d).startsWith("public.some_names populated, 2 rows (hash ").endsWith("on the source"))
                    .anySatisfy(d -> assertThat(d).startsWith("public.some_names populated, 2 rows (hash ").endsWith("on the target"));
            assertThat(check(after, "database properties").details())
                    .anySatisfy(d -> assertThat(d).startsWith("ACL:").contains("app_rw:CONNECT"))
                    .anySatisfy(d -> assertThat(d).startsWith("settings:").contains("work_mem=8MB").contains("work_mem=64MB"));
            List<String> roles = planted.migrationDetail().stream().flatMap(d -> d.verification().checks().stream())
                    .filter(c -> c.name().equals("roles")).findFirst().orElseThrow().details();
            assertThat(roles).contains("role auditor is missing on the target",
                    "membership of app_user in app_rw is missing on the target");
            assertThat(verification(planted, "inventory").result()).isEqualTo(Result.MATCH);

            // A verification that cannot run says why, and never marks the database failed
            try (var c = SampleData.connect(target, "postgres"); var s = c.createStatement()) {
                s.execute("DROP DATABASE inventory");
            }
            MigrationStatus gone = verify(pgferry, r.migrationId());
            assertThat(gone.verify().result()).isEqualTo("error");
            Verification inventory = verification(gone, "inventory");
            assertThat(inventory.result()).isEqualTo(Result.ERROR);
            assertThat(inventory.error()).contains("3D000");
            assertThat(gone.migrationDetail().stream().filter(d -> d.dbname().equals("inventory")).findFirst().orElseThrow()
                    .status()).isEqualTo(State.DONE);
            assertThat(gone.migration().status()).isEqualTo(State.DONE);
        }
    }

    @Test
    void passesOnALiveReplicationWhileTheSourceIsWritten() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres(); Pgferry pgferry = new Pgferry(1)) {
            // Given a database replicating to the target
            try (var c = SampleData.connect(source, "postgres"); var s = c.createStatement()) {
                s.execute("CREATE DATABASE bank");
            }
            pgbench(source, "-i", "-q", "-s", "2", "--foreign-keys", "bank");
            // (with the user's own publications, for change data capture say, and a subscription of the database's)
            ReplicationIT.exec(source, "bank", "CREATE PUBLICATION cdc FOR TABLE pgbench_accounts, pgbench_branches"
                    + " WITH (publish = 'insert, update'); COMMENT ON PUBLICATION cdc IS 'for the warehouse';"
                    + " CREATE PUBLICATION teller_rows FOR TABLE pgbench_tellers (tid, bid) WHERE (tid > 0);"
                    + " CREATE PUBLICATION whole_schema FOR TABLES IN SCHEMA public; CREATE PUBLICATION everything FOR ALL TABLES");
            ReplicationIT.exec(source, "bank", "CREATE SUBSCRIPTION upstream CONNECTION 'host=127.0.0.1 port=1 dbname=feed'"
                    + " PUBLICATION feed WITH (connect = false)");
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.REPLICATION,
                    List.of("postgres"), List.of(), List.of());
            pgferry.submit(r);
            MigrationStatus.DatabaseStatus syncing = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(),
                    d -> d.status() == State.SYNCING);

            // Then the user's publications are the source's, pgferry's own stays on the source, and the subscription
            // is named, not copied
            String publications = "SELECT p.pubname || ' ' || p.puballtables || p.pubinsert || p.pubupdate || p.pubdelete"
                    + " || p.pubtruncate || ' ' || coalesce(obj_description(p.oid, 'pg_publication'), '-') || ' '"
                    + " || coalesce((SELECT string_agg(t.schemaname || '.' || t.tablename || coalesce(' ' || t.attnames::text, '')"
                    + "   || coalesce(' ' || t.rowfilter, ''), ',' ORDER BY t.tablename) FROM pg_publication_tables t"
                    + "   WHERE t.pubname = p.pubname), '') FROM pg_publication p WHERE p.pubname !~ '^pgferry_' ORDER BY p.pubname";
            assertThat(Compare.column(target, "bank", publications)).containsExactlyElementsOf(Compare.column(source, "bank", publications))
                    .hasSize(4).anySatisfy(p -> assertThat(p).startsWith("cdc falsetruetruefalsefalse for the warehouse public.pgbench_accounts "))
                    .anySatisfy(p -> assertThat(p).startsWith("teller_rows ").endsWith("public.pgbench_tellers {tid,bid} (tid > 0)"));
            String ours = "SELECT count(*) FROM pg_publication WHERE pubname ~ '^pgferry_'";
            assertThat(Compare.scalar(source, "bank", ours)).isEqualTo("1");
            assertThat(Compare.scalar(target, "bank", ours)).isEqualTo("0");
            assertThat(Compare.scalar(target, "bank", "SELECT count(*) FROM pg_subscription WHERE subname = 'upstream'"))
                    .isEqualTo("0");
            assertThat(syncing.warnings()).anySatisfy(w -> assertThat(w).startsWith("subscription(s) upstream of the source"));

            // When it is verified while pgbench writes to the source
            Process writes = pgbenchInBackground(source, "-c", "2", "-T", "90", "-R", "50", "--no-vacuum", "bank");
            try {
                long before = awaitWrites(source, 0);
                MigrationStatus s = verify(pgferry, r.migrationId());
                assertThat(awaitWrites(source, before)).as("pgbench wrote while verify ran").isGreaterThan(before);

                // Then it matches, compared online
                assertThat(s.verify().result()).as(Json.writePretty(s)).isEqualTo("match");
                Verification bank = verification(s, "bank");
                assertThat(check(bank, "schema").result()).isEqualTo(Result.MATCH);
                assertThat(check(bank, "sequences").result()).isEqualTo(Result.NOT_COMPARABLE);
                assertThat(table(bank, "public.pgbench_accounts").rowsSource()).isEqualTo(200_000L);
            } finally {
                writes.destroy();
                writes.waitFor();
            }
        }
    }

    /** Asks for a verification over Kafka, as the CLI and the HTTP API do, and waits for its result. */
    static MigrationStatus verify(Pgferry pgferry, String id) throws InterruptedException {
        Instant previous = pgferry.coordinator.fold().view(id).map(MigrationStatus::verify)
                .map(MigrationStatus.VerifySummary::requestedAt).orElse(null);
        pgferry.bus.send(Topics.REQUESTS, id, Json.write(VerifyRequest.of(id, 2)));
        long deadline = System.nanoTime() + Duration.ofMinutes(4).toNanos();
        while (System.nanoTime() < deadline) {
            Optional<MigrationStatus> s = pgferry.coordinator.fold().view(id);
            if (s.isPresent() && s.get().verify() != null && !s.get().verify().requestedAt().equals(previous)
                    && s.get().verify().finished()) {
                return s.get();
            }
            Thread.sleep(100);
        }
        throw new AssertionError("verification did not finish: " + pgferry.coordinator.fold().view(id));
    }

    static Verification verification(MigrationStatus s, String db) {
        return s.migrationDetail().stream().filter(d -> d.dbname().equals(db)).findFirst().orElseThrow().verification();
    }

    static Verification.TableCheck table(Verification v, String name) {
        return v.tables().stream().filter(t -> t.table().equals(name)).findFirst().orElseThrow();
    }

    static Verification.Check check(Verification v, String name) {
        return v.checks().stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow();
    }

    /** Waits (bounded) until pgbench has written more than {@code than} history rows; their count. */
    static long awaitWrites(LocalPostgres pg, long than) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        long n;
        do {
            n = Long.parseLong(Compare.scalar(pg, "bank", "SELECT count(*) FROM pgbench_history"));
            Thread.sleep(100);
        } while (n <= than && System.nanoTime() < deadline);
        return n;
    }

    static void pgbench(LocalPostgres pg, String... args) throws Exception {
        Process p = pgbenchInBackground(pg, args);
        assertThat(p.waitFor()).as("pgbench exit code").isZero();
    }

    static Process pgbenchInBackground(LocalPostgres pg, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(LocalPostgres.defaultBinDir().resolve("pgbench").toString(),
                "-h", pg.host(), "-p", Integer.toString(pg.port()), "-U", "postgres"));
        cmd.addAll(List.of(args));
        ProcessBuilder b = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(Infra.work().resolve("pgbench-" + System.nanoTime() + ".log").toFile());
        b.environment().put("PGPASSWORD", Infra.PASSWORD);
        return b.start();
    }
}
