package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.Connection;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationOptions;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.ReplicationNames;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.messages.RemovalRequest;
import dev.pgferry.messages.Topics;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;

/** Logical replication: method selection, syncing only when every table is ready, changes flowing, clean removal. */
class ReplicationIT {
    static Pgferry pgferry;

    @BeforeAll
    static void start() throws Exception {
        pgferry = new Pgferry(2);
    }

    @AfterAll
    static void stop() {
        pgferry.close();
    }

    static MigrationRequest request(LocalPostgres source, LocalPostgres target, Method method, List<String> ignore) {
        return MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), method, ignore, List.of(), List.of());
    }

    static DatabaseStatus row(MigrationStatus s, String db) {
        return s.migrationDetail().stream().filter(d -> d.dbname().equals(db)).findFirst().orElseThrow();
    }

    static MigrationStatus awaitView(String id, Predicate<MigrationStatus> p) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 120_000;
        while (System.currentTimeMillis() < deadline) {
            Optional<MigrationStatus> s = pgferry.coordinator.fold().view(id);
            if (s.isPresent() && p.test(s.get())) {
                return s.get();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("condition not reached: " + pgferry.coordinator.fold().view(id));
    }

    static <T> void eventually(Callable<T> actual, T expected) throws Exception {
        long deadline = System.currentTimeMillis() + 60_000;
        T last = null;
        while (System.currentTimeMillis() < deadline) {
            last = actual.call();
            if (expected.equals(last)) {
                return;
            }
            Thread.sleep(100);
        }
        assertThat(last).isEqualTo(expected);
    }

    static void exec(LocalPostgres pg, String db, String sql) throws Exception {
        try (var c = SampleData.connect(pg, db); var s = c.createStatement()) {
            s.execute(sql);
        }
    }

    @Test
    void replicatesChangesLeavesARepeatedRequestAloneAndRemovesEverything() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            SampleData.create(source, 2000);
            exec(source, "inventory", "CREATE SEQUENCE public.down INCREMENT BY -1; SELECT nextval('public.down')");
            MigrationRequest r = request(source, target, Method.AUTO, List.of("postgres"));

            // When a migration with the default method runs against servers that allow replication
            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            // Then every database follows the source
            assertThat(s.migration().status()).as(s.toString()).isEqualTo(State.DONE);
            assertThat(s.migration().method()).isEqualTo("replication");
            assertThat(s.migrationDetail()).allSatisfy(d -> {
                assertThat(d.status()).isEqualTo(State.SYNCING);
                assertThat(d.methodReason()).isNull();
            });
            assertThat(row(s, "shop").warnings()).anySatisfy(w -> assertThat(w).contains("public.events_log")
                    .contains("no primary key"));
            for (String db : SampleData.DATABASES) {
                assertThat(Compare.tableFingerprints(target, db)).as(db).isEqualTo(Compare.tableFingerprints(source, db));
            }

            // and changes made on the source after setup arrive
            exec(source, "shop", "INSERT INTO public.orders (customer_id, amount) SELECT 1 + g % 10, g FROM generate_series(1, 300) g;"
                    + " UPDATE public.customers SET name = upper(name) WHERE id % 2 = 0; DELETE FROM public.orders WHERE id <= 50;"
                    + " SELECT nextval('public.invoice_seq') FROM generate_series(1, 5)");
            exec(source, "inventory", "DELETE FROM public.items WHERE qty = 0; UPDATE public.items SET qty = qty + 1;"
                    + " SELECT nextval('public.down') FROM generate_series(1, 3)");
            eventually(() -> Compare.tableFingerprints(target, "shop"), Compare.tableFingerprints(source, "shop"));
            eventually(() -> Compare.tableFingerprints(target, "inventory"), Compare.tableFingerprints(source, "inventory"));
            MigrationStatus lagged = awaitView(r.migrationId(), v -> v.migrationDetail().stream().allMatch(d -> d.lagBytes() != null));
            assertThat(lagged.migrationDetail()).allSatisfy(d -> assertThat(d.lagBytes()).isGreaterThanOrEqualTo(0));

            // When the same request is submitted again
            MigrationRequest again = request(source, target, Method.AUTO, List.of("postgres"));
            pgferry.submit(again);
            MigrationStatus repeated = pgferry.awaitFinal(again.migrationId());

            // Then it refuses, and the live replication goes on, rows not duplicated
            assertThat(repeated.migration().status()).isEqualTo(State.FAILED);
            assertThat(repeated.migrationDetail()).allSatisfy(d -> {
                assertThat(d.errorCode()).isEqualTo(ErrorCode.TARGET_NOT_EMPTY);
                assertThat(d.error()).contains("already receives logical replication");
            });
            exec(source, "inventory", "INSERT INTO public.items VALUES ('after-repeat', 1, NULL)");
            eventually(() -> Compare.tableFingerprints(target, "inventory"), Compare.tableFingerprints(source, "inventory"));
            assertThat(Compare.scalar(target, "shop", "SELECT count(*) FROM public.orders"))
                    .isEqualTo(Compare.scalar(source, "shop", "SELECT count(*) FROM public.orders"));
            Reliability.record("migration request repeated while replication is live", "refused with TARGET_NOT_EMPTY;"
                    + " the live replication went on", Reliability.rows(Compare.tableFingerprints(source, "shop")),
                    Reliability.rows(Compare.tableFingerprints(target, "shop")));

            // When an application already writes to the target (its sequence there is ahead of the source's), and the
            // migration is removed through the HTTP API, then once more through Kafka (removal is idempotent)
            exec(target, "shop", "SELECT setval('public.customers_id_seq', 5000)");
            // and a cut-over of inventory had stopped with the source's writes blocked (its worker died mid-way)
            try (dev.pgferry.bus.Ledger ledger = new dev.pgferry.bus.Ledger(pgferry.bus, "it-stale-cutover")) {
                ledger.write(dev.pgferry.messages.LedgerEntry.cutoverKey(r.migrationId(), "inventory"),
                        dev.pgferry.messages.LedgerEntry.cutover(dev.pgferry.messages.LedgerEntry.State.RUNNING, null));
            }
            exec(source, "postgres", "ALTER DATABASE inventory SET default_transaction_read_only = on");
            var http = java.net.http.HttpClient.newHttpClient();
            var delete = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:"
                            + pgferry.coordinator.httpPort() + "/migrations/" + r.migrationId())).DELETE().build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(delete.statusCode()).isEqualTo(202);
            MigrationStatus removed = awaitView(r.migrationId(), v -> v.migration().status() == State.REMOVED);
            pgferry.bus.send(Topics.REQUESTS, r.migrationId(), Json.write(RemovalRequest.of(r.migrationId())));
            awaitView(r.migrationId(), v -> v.migration().status() == State.REMOVED);

            // Then the stopped cut-over's block is lifted (the source database has no setting of its own), and said
            assertThat(Compare.scalar(source, "postgres", "SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d"
                    + " ON d.oid = s.setdatabase WHERE d.datname = 'inventory'")).isEqualTo("0");
            exec(source, "inventory", "INSERT INTO public.items VALUES ('after-removal', 1, NULL)");
            assertThat(row(removed, "inventory").warnings()).anySatisfy(w -> assertThat(w)
                    .startsWith("a cut-over of this database had stopped while the source's writes were blocked"));
            // and nothing pgferry made remains on either server, and the sequences the source took further match
            // it (a descending one too), while the one the target took further keeps its value
            assertThat(removed.migrationDetail()).allSatisfy(d -> assertThat(d.status()).isEqualTo(State.REMOVED));
            for (String db : SampleData.DATABASES) {
                assertThat(Compare.scalar(source, db, "SELECT count(*) FROM pg_publication")).isEqualTo("0");
                assertThat(Compare.scalar(target, db, "SELECT count(*) FROM pg_subscription")).isEqualTo("0");
            }
            assertThat(Compare.scalar(source, "postgres", "SELECT count(*) FROM pg_replication_slots")).isEqualTo("0");
            String seqs = "SELECT string_agg(sequencename || '=' || coalesce(last_value, 0), ',' ORDER BY sequencename) FROM pg_sequences";
            assertThat(Compare.scalar(target, "shop", seqs)).isEqualTo(Compare.scalar(source, "shop", seqs)
                    .replaceFirst("customers_id_seq=\\d+", "customers_id_seq=5000")).contains("invoice_seq=47");
            assertThat(Compare.scalar(target, "inventory", seqs)).isEqualTo(Compare.scalar(source, "inventory", seqs))
                    .contains("down=-4");
        }
    }

    @Test
    void syncingIsReportedOnlyOnceEveryRowHasArrived() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            exec(source, "postgres", "CREATE DATABASE big");
            exec(source, "big", "CREATE TABLE public.rows (id bigint PRIMARY KEY, payload text);"
                    + " INSERT INTO public.rows SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 600000) g");
            MigrationRequest r = request(source, target, Method.REPLICATION, List.of("postgres"));

            pgferry.submit(r);
            boolean sawCopying = false;
            String countAtSyncing = null;
            long deadline = System.currentTimeMillis() + 180_000;
            while (System.currentTimeMillis() < deadline) {
                Optional<DatabaseStatus> d = pgferry.coordinator.fold().view(r.migrationId())
                        .flatMap(v -> v.migrationDetail().stream().findFirst());
                if (d.isPresent() && d.get().status() == State.RUNNING && d.get().phase() != null
                        && d.get().phase().wireName().equals("data")) {
                    sawCopying = true;
                }
                if (d.isPresent() && (d.get().status() == State.SYNCING || d.get().status() == State.FAILED)) {
                    countAtSyncing = Compare.scalar(target, "big", "SELECT count(*) FROM public.rows");
                    break;
                }
                Thread.sleep(10);
            }

            assertThat(sawCopying).as("the initial copy was observed as running").isTrue();
            assertThat(countAtSyncing).isEqualTo("600000");
        }
    }

    @Test
    void failedPreconditionsFallBackToDumpWithTheReasonOrFailReplication() throws Exception {
        try (LocalPostgres replica = Infra.postgres(Map.of("wal_level", "replica"));
             LocalPostgres oneSlot = Infra.postgres(Map.of("max_replication_slots", "1"));
             LocalPostgres target = Infra.postgres()) {
            exec(replica, "postgres", "CREATE DATABASE walrep");
            exec(replica, "walrep", "CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t SELECT generate_series(1, 10)");
            exec(oneSlot, "postgres", "CREATE DATABASE noslot; CREATE ROLE plain LOGIN PASSWORD '" + Infra.PASSWORD + "'");
            exec(oneSlot, "postgres", "CREATE DATABASE noprivs OWNER plain");
            exec(oneSlot, "noslot", "CREATE TABLE public.t (id int PRIMARY KEY); INSERT INTO public.t SELECT generate_series(1, 20)");
            exec(oneSlot, "noslot", "SELECT pg_create_logical_replication_slot('somebody_elses', 'pgoutput')");

            // wal_level: auto falls back to dump and says why; replication fails with the same reason
            MigrationRequest auto = request(replica, target, Method.AUTO, List.of("postgres"));
            pgferry.submit(auto);
            DatabaseStatus walrep = row(pgferry.awaitFinal(auto.migrationId()), "walrep");
            assertThat(walrep.status()).isEqualTo(State.DONE);
            assertThat(walrep.method()).isEqualTo("dump");
            assertThat(walrep.methodReason()).contains("source wal_level is replica; set wal_level = logical");
            assertThat(Compare.tableFingerprints(target, "walrep")).isEqualTo(Compare.tableFingerprints(replica, "walrep"));

            exec(target, "postgres", "DROP DATABASE walrep");
            MigrationRequest strict = request(replica, target, Method.REPLICATION, List.of("postgres"));
            pgferry.submit(strict);
            DatabaseStatus failed = row(pgferry.awaitFinal(strict.migrationId()), "walrep");
            assertThat(failed.status()).isEqualTo(State.FAILED);
            assertThat(failed.errorCode()).isEqualTo(ErrorCode.PRECONDITION_FAILED);
            assertThat(failed.error()).contains("wal_level is replica");
            assertThat(Compare.column(target, "postgres", "SELECT datname FROM pg_database")).doesNotContain("walrep");

            // no free slot
            MigrationRequest slots = request(oneSlot, target, Method.AUTO, List.of("postgres", "noprivs"));
            pgferry.submit(slots);
            DatabaseStatus noslot = row(pgferry.awaitFinal(slots.migrationId()), "noslot");
            assertThat(noslot.method()).isEqualTo("dump");
            assertThat(noslot.methodReason()).contains("no free replication slot").doesNotContain("wal_level");

            // a user without SUPERUSER or REPLICATION
            exec(oneSlot, "noslot", "SELECT pg_drop_replication_slot('somebody_elses')");
            MigrationRequest plain = MigrationRequest.of(
                    new Connection(oneSlot.host(), oneSlot.port(), "postgres", "plain", Infra.PASSWORD, null, "disable"),
                    Pgferry.conn(target), Method.AUTO, List.of("postgres", "noslot"), List.of(), List.of());
            pgferry.submit(plain);
            DatabaseStatus noprivs = row(pgferry.awaitFinal(plain.migrationId()), "noprivs");
            assertThat(noprivs.status()).isEqualTo(State.DONE);
            assertThat(noprivs.method()).isEqualTo("dump");
            assertThat(noprivs.methodReason()).contains("source user plain may not replicate").contains("REPLICATION")
                    .doesNotContain("slot");
        }
    }

    @Test
    void aNonSuperuserWithTheReplicationAttributeReplicates() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            exec(source, "postgres", "CREATE ROLE repl LOGIN REPLICATION PASSWORD '" + Infra.PASSWORD + "'");
            exec(source, "postgres", "CREATE DATABASE repdb OWNER repl");
            try (var c = java.sql.DriverManager.getConnection(source.jdbcUrl("repdb"), "repl", Infra.PASSWORD);
                 var s = c.createStatement()) {
                s.execute("CREATE TABLE public.accounts (id int PRIMARY KEY, balance numeric);"
                        + " INSERT INTO public.accounts SELECT g, g * 10 FROM generate_series(1, 1000) g");
            }
            MigrationRequest r = MigrationRequest.of(
                    new Connection(source.host(), source.port(), "postgres", "repl", Infra.PASSWORD, null, "disable"),
                    Pgferry.conn(target), Method.AUTO, List.of("postgres"), List.of(), List.of());

            pgferry.submit(r);
            DatabaseStatus d = row(pgferry.awaitFinal(r.migrationId()), "repdb");

            assertThat(d.status()).as(d.toString()).isEqualTo(State.SYNCING);
            assertThat(d.method()).isEqualTo("replication");
            exec(source, "repdb", "UPDATE public.accounts SET balance = balance + 1 WHERE id < 100");
            eventually(() -> Compare.tableFingerprints(target, "repdb"), Compare.tableFingerprints(source, "repdb"));
            assertThat(Compare.scalar(target, "repdb", "SELECT tableowner FROM pg_tables WHERE tablename = 'accounts'"))
                    .isEqualTo("repl");
        }
    }

    @Test
    void filtersUnloggedTablesAndReplicaIdentityFull() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            for (String db : List.of("nothing", "ident")) {
                exec(source, "postgres", "CREATE DATABASE " + db);
                exec(source, db, "CREATE TABLE public.keyed (id int PRIMARY KEY, v text);"
                        + " CREATE TABLE public.loose (v text, n int);"
                        + " CREATE UNLOGGED TABLE public.scratch (id int PRIMARY KEY, v text);"
                        + " INSERT INTO public.keyed SELECT g, 'k' || g FROM generate_series(1, 100) g;"
                        + " INSERT INTO public.loose SELECT 'l' || g, g FROM generate_series(1, 50) g;"
                        + " INSERT INTO public.scratch SELECT g, 's' || g FROM generate_series(1, 30) g");
            }

            // A --with-table list that matches nothing in a database means no tables there, never all tables
            MigrationRequest none = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.REPLICATION,
                    List.of("postgres", "ident"), List.of(), List.of("nothing.public.does_not_exist"));
            pgferry.submit(none);
            DatabaseStatus nothing = row(pgferry.awaitFinal(none.migrationId()), "nothing");
            assertThat(nothing.status()).as(nothing.toString()).isEqualTo(State.SYNCING);
            assertThat(Compare.scalar(source, "nothing", "SELECT count(*) FROM pg_publication_tables")).isEqualTo("0");
            assertThat(Compare.scalar(target, "nothing", "SELECT (SELECT count(*) FROM public.keyed) + (SELECT count(*) FROM public.loose)"))
                    .isEqualTo("0");

            // Unlogged tables are copied with a warning; tables without a key get REPLICA IDENTITY FULL on request
            MigrationRequest full = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.REPLICATION,
                    List.of("postgres", "nothing"), List.of(), List.of()).withOptions(new MigrationOptions(true, false, false));
            pgferry.submit(full);
            DatabaseStatus ident = row(pgferry.awaitFinal(full.migrationId()), "ident");
            assertThat(ident.status()).as(ident.toString()).isEqualTo(State.SYNCING);
            assertThat(ident.warnings()).anySatisfy(w -> assertThat(w).contains("unlogged table(s) public.scratch"));
            assertThat(ident.warnings()).anySatisfy(w -> assertThat(w).contains("set REPLICA IDENTITY FULL on public.loose"));
            assertThat(Compare.scalar(source, "ident", "SELECT relreplident FROM pg_class WHERE relname = 'loose'")).isEqualTo("f");
            assertThat(Compare.tableFingerprints(target, "ident")).isEqualTo(Compare.tableFingerprints(source, "ident"));
            exec(source, "ident", "UPDATE public.loose SET n = n + 1000 WHERE n <= 10; DELETE FROM public.loose WHERE n = 50");
            eventually(() -> Compare.tableFingerprints(target, "ident").get("public.loose"),
                    Compare.tableFingerprints(source, "ident").get("public.loose"));

            // With PostgreSQL's table sync (--postgres-table-sync) the subscription copies the logged tables and
            // makes its own slot; pgferry copies only the unlogged ones, and the whole post-data section follows
            exec(source, "postgres", "CREATE DATABASE synced");
            exec(source, "synced", "CREATE TABLE public.orders (id int PRIMARY KEY, customer text NOT NULL);"
                    + " CREATE INDEX orders_customer ON public.orders (customer);"
                    + " CREATE UNLOGGED TABLE public.cache (k int PRIMARY KEY, v text);"
                    + " INSERT INTO public.orders SELECT g, 'c' || (g % 7) FROM generate_series(1, 2000) g;"
                    + " INSERT INTO public.cache SELECT g, 'v' || g FROM generate_series(1, 40) g");
            MigrationRequest tableSync = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.REPLICATION,
                    List.of("postgres", "nothing", "ident"), List.of(), List.of())
                    .withOptions(new MigrationOptions(false, false, true));
            pgferry.submit(tableSync);
            DatabaseStatus synced = row(pgferry.awaitFinal(tableSync.migrationId()), "synced");
            assertThat(synced.status()).as(synced.toString()).isEqualTo(State.SYNCING);
            assertThat(synced.warnings()).anySatisfy(w -> assertThat(w).contains("unlogged table(s) public.cache"));
            assertThat(Compare.tableFingerprints(target, "synced")).isEqualTo(Compare.tableFingerprints(source, "synced"));
            assertThat(Compare.scalar(target, "synced", "SELECT count(*) FROM pg_indexes WHERE indexname = 'orders_customer'"))
                    .isEqualTo("1");
            // the subscription made the slot of the migration's name, and rows written now arrive
            String slotName = ReplicationNames.of(tableSync.migrationId(), "synced");
            assertThat(Compare.scalar(source, "synced", "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '"
                    + slotName + "'")).isEqualTo("1");
            exec(source, "synced", "INSERT INTO public.orders VALUES (2001, 'late')");
            eventually(() -> Compare.tableFingerprints(target, "synced").get("public.orders"),
                    Compare.tableFingerprints(source, "synced").get("public.orders"));
        }
    }
}
