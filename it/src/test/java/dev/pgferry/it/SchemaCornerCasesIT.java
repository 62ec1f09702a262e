package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.messages.Verification;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every kind of schema object a real server holds arrives, by both methods: {@code pg_dump --schema-only} of the
 * target reads as the source's after the documented normalization (pgferry verify's schema check), and the catalog
 * rows of each corner case are equal on both sides.
 */
class SchemaCornerCasesIT {
    static LocalPostgres source;
    static Pgferry pgferry;
    /** .ci/run installs PostGIS; a developer's machine may lack it. */
    static final boolean POSTGIS = java.nio.file.Files.exists(
            java.nio.file.Path.of("/usr/share/postgresql/15/extension/postgis.control"));

    static final String ROLES = """
            CREATE ROLE corner_owner NOLOGIN; CREATE ROLE corner_reader NOLOGIN; CREATE ROLE corner_app LOGIN;
            """;

    static final String SCHEMA = """
            CREATE EXTENSION btree_gist;
            CREATE EXTENSION postgres_fdw;
            CREATE SCHEMA app AUTHORIZATION corner_owner;
            COMMENT ON SCHEMA app IS 'application schema';
            CREATE COLLATION app.german (provider = icu, locale = 'de-DE');
            COMMENT ON COLLATION app.german IS 'a collation';
            CREATE DOMAIN app.positive AS integer CONSTRAINT positive_check CHECK (VALUE > 0) NOT NULL;
            COMMENT ON DOMAIN app.positive IS 'a domain';
            CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
            CREATE TYPE app.pair AS (a integer, b text);
            COMMENT ON TYPE app.mood IS 'an enum';
            CREATE FUNCTION app.eq_ci(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT lower($1) = lower($2)';
            CREATE OPERATOR app.=== (LEFTARG = text, RIGHTARG = text, FUNCTION = app.eq_ci, COMMUTATOR = OPERATOR(app.===));
            COMMENT ON OPERATOR app.=== (text, text) IS 'case-insensitive equality';
            CREATE FUNCTION app.cmp_ci(text, text) RETURNS integer LANGUAGE sql IMMUTABLE
                AS 'SELECT CASE WHEN lower($1) < lower($2) THEN -1 WHEN lower($1) > lower($2) THEN 1 ELSE 0 END';
            CREATE OPERATOR FAMILY app.ci_ops USING btree;
            CREATE OPERATOR CLASS app.ci_ops FOR TYPE text USING btree FAMILY app.ci_ops AS FUNCTION 1 app.cmp_ci(text, text);
            CREATE TEXT SEARCH CONFIGURATION app.my_ts (COPY = pg_catalog.english);
            COMMENT ON TEXT SEARCH CONFIGURATION app.my_ts IS 'a text search configuration';
            CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db.example.com', dbname 'other');
            COMMENT ON SERVER remote IS 'a foreign server';
            CREATE USER MAPPING FOR corner_app SERVER remote OPTIONS (user 'remote_user', password 'remote-secret');
            CREATE FOREIGN TABLE app.remote_items (id integer, name text) SERVER remote OPTIONS (table_name 'items');
            CREATE TABLE app.accounts (
                id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                owner name NOT NULL DEFAULT current_user,
                email text COLLATE app.german,
                balance app.positive,
                mood app.mood DEFAULT 'ok',
                balance_x2 bigint GENERATED ALWAYS AS (balance * 2) STORED,
                secret text);
            COMMENT ON TABLE app.accounts IS 'accounts';
            COMMENT ON COLUMN app.accounts.email IS 'the e-mail';
            ALTER TABLE app.accounts OWNER TO corner_owner;
            ALTER TABLE app.accounts ENABLE ROW LEVEL SECURITY;
            CREATE POLICY own_rows ON app.accounts FOR SELECT TO corner_app USING (owner = current_user);
            COMMENT ON POLICY own_rows ON app.accounts IS 'a policy';
            GRANT SELECT (id, email) ON app.accounts TO corner_reader;
            ALTER DEFAULT PRIVILEGES FOR ROLE corner_owner IN SCHEMA app GRANT SELECT ON TABLES TO corner_reader;
            CREATE STATISTICS app.accounts_stats (dependencies, ndistinct) ON owner, mood FROM app.accounts;
            COMMENT ON STATISTICS app.accounts_stats IS 'extended statistics';
            CREATE TABLE app.bookings (id bigint PRIMARY KEY, room int, during tstzrange,
                EXCLUDE USING gist (room WITH =, during WITH &&));
            CREATE TABLE app.pairs (id int PRIMARY KEY, other int UNIQUE DEFERRABLE INITIALLY DEFERRED,
                CONSTRAINT other_fk FOREIGN KEY (other) REFERENCES app.pairs (id) DEFERRABLE);
            COMMENT ON CONSTRAINT other_fk ON app.pairs IS 'a deferrable foreign key';
            CREATE TABLE app.events (id bigint, region text, at date, payload jsonb) PARTITION BY LIST (region);
            CREATE TABLE app.events_eu PARTITION OF app.events FOR VALUES IN ('eu') PARTITION BY RANGE (at);
            CREATE TABLE app.events_eu_2026 PARTITION OF app.events_eu FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
            CREATE TABLE app.events_eu_default PARTITION OF app.events_eu DEFAULT;
            CREATE TABLE app.events_other PARTITION OF app.events DEFAULT;
            CREATE INDEX events_at_idx ON app.events (at);
            CREATE TABLE app.vehicles (id int PRIMARY KEY, wheels int);
            CREATE TABLE app.cars (doors int) INHERITS (app.vehicles);
            CREATE VIEW app.rich AS SELECT id, email FROM app.accounts WHERE balance > 1000;
            COMMENT ON VIEW app.rich IS 'a view';
            CREATE TABLE app.audit (at timestamptz DEFAULT now(), what text);
            CREATE RULE log_rich AS ON INSERT TO app.rich DO INSTEAD (INSERT INTO app.audit (what) VALUES (NEW.email); INSERT INTO app.audit (what) VALUES ('rule; second action'));
            COMMENT ON RULE log_rich ON app.rich IS 'a rule';
            CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.at := now(); RETURN NEW; END$$;
            CREATE TRIGGER audit_touch BEFORE INSERT ON app.audit FOR EACH ROW EXECUTE FUNCTION app.touch();
            COMMENT ON TRIGGER audit_touch ON app.audit IS 'a trigger';
            -- a trigger on a partitioned table (cloned to each partition) that fires on a replica too
            CREATE FUNCTION app.log_event() RETURNS trigger LANGUAGE plpgsql AS
                $$BEGIN INSERT INTO app.audit (what) VALUES ('event ' || NEW.id); RETURN NEW; END$$;
            CREATE TRIGGER events_logged AFTER INSERT ON app.events FOR EACH ROW EXECUTE FUNCTION app.log_event();
            ALTER TABLE app.events ENABLE ALWAYS TRIGGER events_logged;
            CREATE MATERIALIZED VIEW app.mood_counts AS SELECT mood, count(*) FROM app.accounts GROUP BY mood;
            CREATE SEQUENCE app.tickets START 1000 INCREMENT 7;
            INSERT INTO app.accounts (email, balance, mood, secret)
                SELECT 'u' || g || '@example.com', g * 10, 'happy', 's' || g FROM generate_series(1, 200) g;
            INSERT INTO app.bookings SELECT g, g % 5, tstzrange(now() + g * interval '1 day', now() + (g + 1) * interval '1 day')
                FROM generate_series(1, 50) g;
            INSERT INTO app.pairs VALUES (1, 2), (2, 1);
            INSERT INTO app.events VALUES (1, 'eu', '2026-02-01', '{}'), (2, 'eu', '2020-01-01', '{}'), (3, 'us', '2026-01-01', '{}');
            INSERT INTO app.vehicles VALUES (1, 2); INSERT INTO app.cars VALUES (2, 4, 5);
            SELECT setval('app.tickets', 1070);
            REFRESH MATERIALIZED VIEW app.mood_counts;
            -- an event trigger that refuses DDL pgferry runs on the target (refreshing the view, subscribing and
            -- unsubscribing, repairing a drift): it is created there last, as pg_restore does, and pgferry's later
            -- DDL passes it; on the source, pgferry's publication passes it too
            CREATE FUNCTION app.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$BEGIN
                IF tg_tag IN ('REFRESH MATERIALIZED VIEW', 'CREATE SUBSCRIPTION', 'ALTER SUBSCRIPTION', 'DROP SUBSCRIPTION',
                              'CREATE TABLE', 'ALTER TABLE', 'CREATE PUBLICATION', 'ALTER PUBLICATION',
                              'DROP PUBLICATION') THEN
                    RAISE EXCEPTION 'corner_ddl refuses %', tg_tag;
                END IF;
            END$$;
            CREATE EVENT TRIGGER corner_ddl ON ddl_command_start EXECUTE FUNCTION app.on_ddl();
            COMMENT ON EVENT TRIGGER corner_ddl IS 'an event trigger';
            """;

    @BeforeAll
    static void source() throws Exception {
        source = Infra.postgres();
        try (var c = SampleData.connect(source, "postgres"); var s = c.createStatement()) {
            s.execute(ROLES);
            s.execute("CREATE DATABASE corner");
        }
        try (var c = SampleData.connect(source, "corner"); var s = c.createStatement()) {
            s.execute(SCHEMA);
            // a function with a SQL-standard body (PostgreSQL 14+), whose semicolons end no statement; alone, as
            // pgjdbc does not split a string past BEGIN ATOMIC
            s.execute("CREATE FUNCTION app.stars(n integer) RETURNS text LANGUAGE sql IMMUTABLE BEGIN ATOMIC"
                    + " SELECT CASE WHEN n > 0 THEN repeat('*;', n) ELSE 'none;' END; END");
            if (POSTGIS) {
                // an extension with a configuration table: rows a user adds to it are the user's data
                s.execute("SET session_replication_role = replica; CREATE EXTENSION postgis;"
                        + " CREATE TABLE app.places (id int PRIMARY KEY, geom geometry(Point, 4326));"
                        + " INSERT INTO app.places VALUES (1, 'SRID=4326;POINT(24.94 60.17)');"
                        + " INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)"
                        + " VALUES (990001, 'pgferry', 990001, 'LOCAL_CS[\"test\"]', '+proj=longlat +datum=WGS84')");
            }
        }
        pgferry = new Pgferry(1);
    }

    @AfterAll
    static void stop() {
        if (pgferry != null) {
            pgferry.close();
        }
        source.close();
    }

    /**
     * A schema whose post-data left after the tables is light (triggers, a rule of two actions, a policy, extended
     * statistics, comments, default privileges): pgferry runs it on one session from the statements pg_restore
     * renders, not through a parallel pg_restore.
     */
    /** The password of a user mapping whose role is left out: in no status event (SecretHuntIT searches the topics). */
    static final String MAPPING_SECRET = "Mapping-Secret-2";

    @Test
    void aLightPostDataRunOnOneSessionArrivesWhole() throws Exception {
        try (var c = SampleData.connect(source, "postgres"); var s = c.createStatement()) {
            s.execute("CREATE DATABASE light_post");
            s.execute("CREATE ROLE corner_left_out NOLOGIN");
        }
        try (var c = SampleData.connect(source, "light_post"); var s = c.createStatement()) {
            s.execute("""
                    CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, total numeric);
                    CREATE TABLE audit (id serial PRIMARY KEY, what text);
                    CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS $$
                        BEGIN INSERT INTO audit (what) VALUES ('order; ' || NEW.id); RETURN NEW; END $$;
                    CREATE TRIGGER orders_note AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION note();
                    COMMENT ON TRIGGER orders_note ON orders IS 'a trigger; with a semicolon';
                    CREATE TABLE big_orders (id int PRIMARY KEY);
                    CREATE RULE big AS ON INSERT TO big_orders DO INSTEAD
                        (INSERT INTO audit (what) VALUES ('big ' || NEW.id); INSERT INTO audit (what) VALUES ('second; action'));
                    ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
                    CREATE POLICY own ON orders FOR SELECT TO corner_reader USING (customer = current_user);
                    CREATE STATISTICS orders_stats (dependencies) ON customer, total FROM orders;
                    ALTER DEFAULT PRIVILEGES FOR ROLE corner_owner GRANT SELECT ON TABLES TO corner_reader;
                    INSERT INTO orders SELECT g, 'c' || g % 3, g FROM generate_series(1, 30) g;
                    CREATE EXTENSION postgres_fdw;
                    CREATE SERVER crm FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '10.9.9.9', dbname 'crm');
                    CREATE USER MAPPING FOR corner_reader SERVER crm OPTIONS (user 'reader', password 'Mapping-Secret-1');
                    CREATE USER MAPPING FOR corner_left_out SERVER crm OPTIONS (user 'x', password 'MAPPING_SECRET');
                    """.replace("MAPPING_SECRET", MAPPING_SECRET));
        }
        try (LocalPostgres target = Infra.postgres()) {
            // (with a role left out that has a user mapping, with a password)
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of("postgres", "corner"), List.of(), List.of()).withOptions(new dev.pgferry.messages.MigrationOptions(
                    false, false, false, dev.pgferry.messages.MigrationOptions.RoleScope.ALL, List.of("corner_left_out")));
            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());
            assertThat(s.migration().status()).as(Json.writePretty(s)).isEqualTo(State.DONE);
            MigrationStatus verified = VerifyIT.verify(pgferry, r.migrationId());
            Verification v = VerifyIT.verification(verified, "light_post");
            assertThat(v.tables()).as(Json.writePretty(v)).isNotEmpty()
                    .allSatisfy(t -> assertThat(t.result()).isEqualTo(Verification.Result.MATCH));
            // The left-out role's user mapping is the one difference: skipped and said, the database done; its
            // password is in no warning, no verification, nowhere in the status
            List<String> warnings = s.migrationDetail().get(0).warnings();
            assertThat(warnings).anySatisfy(w -> assertThat(w).startsWith("role(s) corner_left_out, left out by"
                    + " --ignore-roles, are used by the migrated databases"));
            assertThat(warnings).anySatisfy(w -> assertThat(w).contains("not applied: it names role corner_left_out")
                    .contains("CREATE USER MAPPING FOR corner_left_out SERVER crm").contains("password '***'"));
            assertThat(VerifyIT.check(v, "schema").details()).containsExactlyInAnyOrder(
                    "- CREATE USER MAPPING FOR corner_left_out SERVER crm OPTIONS (", "-     password '***',",
                    "-     \"user\" 'x'", "- );");
            assertThat(new String(Json.write(verified), java.nio.charset.StandardCharsets.UTF_8))
                    .doesNotContain(MAPPING_SECRET).doesNotContain("Mapping-Secret");
            String mappings = "SELECT umuser::regrole || ' ' || array_to_string(ARRAY(SELECT unnest(umoptions) ORDER BY 1), ',')"
                    + " FROM pg_user_mapping ORDER BY 1";
            assertThat(Compare.column(target, "light_post", mappings)).containsExactly("corner_reader password=Mapping-Secret-1,user=reader")
                    .isEqualTo(Compare.column(source, "light_post", mappings).subList(1, 2));
            for (String sql : List.of(
                    "SELECT tgname || ' ' || pg_get_triggerdef(oid) || ' ' || obj_description(oid, 'pg_trigger')"
                            + " FROM pg_trigger WHERE NOT tgisinternal",
                    "SELECT rulename || ' ' || pg_get_ruledef(oid) FROM pg_rewrite WHERE rulename = 'big'",
                    "SELECT polname || ' ' || pg_get_expr(polqual, polrelid) FROM pg_policy",
                    "SELECT relname || ' ' || relrowsecurity FROM pg_class WHERE relname = 'orders'",
                    "SELECT stxname || ' ' || stxkind::text FROM pg_statistic_ext",
                    "SELECT defaclrole::regrole || ' ' || defaclacl::text FROM pg_default_acl")) {
                assertThat(Compare.column(target, "light_post", sql)).as(sql)
                        .isEqualTo(Compare.column(source, "light_post", sql)).isNotEmpty();
            }
            // and the rule's two actions and the trigger work on the target
            try (var c = SampleData.connect(target, "light_post"); var st = c.createStatement()) {
                st.execute("DELETE FROM audit; INSERT INTO big_orders VALUES (7); INSERT INTO orders VALUES (99, 'x', 1)");
            }
            assertThat(Compare.column(target, "light_post", "SELECT what FROM audit ORDER BY id"))
                    .containsExactly("big 7", "second; action", "order; 99");
        }
    }

    /**
     * Large values are compressed on the target as on the source: a source server on lz4 (a setting of its own
     * configuration, which pgferry does not copy) gives lz4 values on a target whose default is pglz, and a column
     * that names its method keeps it.
     */
    @Test
    void largeValuesKeepTheSourcesCompression() throws Exception {
        String compression = "SELECT m || ' ' || count(*) FROM (SELECT pg_column_compression(body) || ' '"
                + " || pg_column_compression(note) AS m FROM docs) s GROUP BY m ORDER BY m";
        try (var c = SampleData.connect(source, "postgres"); var s = c.createStatement()) {
            s.execute("CREATE DATABASE toast_lz4");
            s.execute("ALTER SYSTEM SET default_toast_compression = 'lz4'");
            s.execute("SELECT pg_reload_conf()");
        }
        try {
            try (var c = SampleData.connect(source, "toast_lz4"); var s = c.createStatement()) {
                s.execute("""
                        CREATE TABLE docs (id int PRIMARY KEY, body text, note text COMPRESSION pglz);
                        INSERT INTO docs SELECT g, repeat('body ' || g || ' ', 2000), repeat('note ' || g || ' ', 2000)
                            FROM generate_series(1, 40) g;
                        """);
            }
            assertThat(Compare.column(source, "toast_lz4", compression)).containsExactly("lz4 pglz 40");
            try (LocalPostgres target = Infra.postgres()) {
                assertThat(Compare.scalar(target, "postgres", "SHOW default_toast_compression")).isEqualTo("pglz");
                MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                        List.of("postgres", "corner", "light_post"), List.of(), List.of());
                pgferry.submit(r);
                MigrationStatus s = pgferry.awaitFinal(r.migrationId());
                assertThat(s.migration().status()).as(Json.writePretty(s)).isEqualTo(State.DONE);
                assertThat(Compare.column(target, "toast_lz4", compression)).containsExactly("lz4 pglz 40");
                assertThat(Compare.tableFingerprints(target, "toast_lz4"))
                        .isEqualTo(Compare.tableFingerprints(source, "toast_lz4")).isNotEmpty();
            }
        } finally {
            try (var c = SampleData.connect(source, "postgres"); var s = c.createStatement()) {
                s.execute("ALTER SYSTEM RESET default_toast_compression");
                s.execute("SELECT pg_reload_conf()");
                s.execute("DROP DATABASE toast_lz4");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = Method.class, names = {"DUMP", "REPLICATION"})
    void everyKindOfObjectArrives(Method method) throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), method,
                    List.of("postgres", "light_post"), List.of(), List.of());
            pgferry.submit(r);
            if (method == Method.REPLICATION) {
                Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), d -> d.status() == State.SYNCING
                        || d.status() == State.FAILED);
            }
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());
            assertThat(s.migration().status()).as(Json.writePretty(s)).isEqualTo(State.DONE);
            assertThat(s.migrationDetail().get(0).method()).isEqualTo(method.wireName());

            // pg_dump --schema-only reads the same on both sides, and so does everything else
            MigrationStatus verified = VerifyIT.verify(pgferry, r.migrationId());
            Verification v = VerifyIT.verification(verified, "corner");
            assertThat(VerifyIT.check(v, "schema").result()).as(Json.writePretty(v)).isEqualTo(Verification.Result.MATCH);
            assertThat(v.result()).as(Json.writePretty(v)).isEqualTo(Verification.Result.MATCH);

            // and the catalog rows of each corner case are equal (read by the test, not by pgferry)
            for (String sql : CATALOG) {
                assertThat(Compare.column(target, "corner", sql)).as(sql).isEqualTo(Compare.column(source, "corner", sql))
                        .isNotEmpty();
            }
            assertThat(Compare.tableFingerprints(target, "corner")).isEqualTo(Compare.tableFingerprints(source, "corner"));
            if (method == Method.REPLICATION) {
                // The trigger that fires on a replica is held disabled on the target (with its partitions' clones),
                // and its row names it once
                String events = "SELECT string_agg(tgrelid::regclass || '=' || tgenabled::text, ',' ORDER BY tgrelid::regclass::text)"
                        + " FROM pg_trigger WHERE tgname = 'events_logged'";
                assertThat(Compare.scalar(target, "corner", events)).isEqualTo("app.events=D,app.events_eu=D,"
                        + "app.events_eu_2026=D,app.events_eu_default=D,app.events_other=D");
                assertThat(s.migrationDetail().stream().filter(d -> d.dbname().equals("corner")).findFirst().orElseThrow().warnings()).anySatisfy(w -> assertThat(w)
                        .startsWith("trigger(s) events_logged on app.events (ALWAYS) fire in a subscription's apply worker"
                                + " too: they are held disabled"));
                // When a table is created and a column added on the source (past its own trigger) while it replicates,
                // and the drift is repaired, the target's trigger refuses none of the repair's DDL
                ReplicationIT.exec(source, "corner", "SET session_replication_role = replica;"
                        + " CREATE TABLE app.late (id int PRIMARY KEY, v text); INSERT INTO app.late VALUES (1, 'a'), (2, 'b');"
                        + " ALTER TABLE app.pairs ADD COLUMN note text DEFAULT 'n'");
                Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "corner", d -> d.drift() != null
                        && d.drift().stream().anyMatch(i -> i.startsWith("table app.late ")));
                pgferry.bus.send(dev.pgferry.messages.Topics.REQUESTS, r.migrationId(),
                        Json.write(dev.pgferry.messages.RefreshRequest.of(r.migrationId(), List.of())));
                MigrationStatus.DatabaseStatus refreshed = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "corner",
                        d -> d.refresh() != null && d.refresh().finishedAt() != null);
                assertThat(refreshed.refresh().error()).as(refreshed.toString()).isNull();
                ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "corner").get("app.late"),
                        Compare.tableFingerprints(source, "corner").get("app.late"));
                assertThat(Compare.scalar(target, "corner", "SELECT string_agg(note, ',') FROM app.pairs")).isEqualTo("n,n");

                // When the source's view is refreshed (past its own event trigger) and the replication is removed
                // with a final copy, the target's event trigger refuses neither the refresh nor the drop
                ReplicationIT.exec(source, "corner", "SET session_replication_role = replica;"
                        + " INSERT INTO app.accounts (email, balance, mood, secret) VALUES ('late@example.com', 1, 'happy', 's');"
                        + " INSERT INTO app.events VALUES (4, 'eu', '2026-03-01', '{}');"
                        + " REFRESH MATERIALIZED VIEW app.mood_counts");
                // (asked over HTTP)
                var delete = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + pgferry.coordinator.httpPort() + "/migrations/"
                                + r.migrationId() + "?final_copy=true")).DELETE().build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString());
                assertThat(delete.statusCode()).isEqualTo(202);
                assertThat(Json.mapper().readTree(delete.body()).get("final_copy").asBoolean()).isTrue();
                MigrationStatus removed = Pgferry.awaitView(pgferry.coordinator, r.migrationId(), m -> m.migrationDetail()
                        .stream().noneMatch(d -> d.status() == State.SYNCING || d.status() == State.REMOVING));
                assertThat(removed.migration().status()).as(Json.writePretty(removed)).isEqualTo(State.REMOVED);
                String counts = "SELECT mood || ':' || count FROM app.mood_counts";
                assertThat(Compare.column(target, "corner", counts)).isEqualTo(Compare.column(source, "corner", counts))
                        .containsExactly("happy:201");
                assertThat(Compare.scalar(target, "corner", "SELECT count(*) FROM pg_subscription")).isEqualTo("0");
                assertThat(Compare.scalar(target, "corner", "SELECT evtenabled FROM pg_event_trigger")).isEqualTo("O");
                // the row the trigger wrote on the source arrived once, and the trigger is enabled as on the source
                assertThat(Compare.tableFingerprints(target, "corner").get("app.audit"))
                        .isEqualTo(Compare.tableFingerprints(source, "corner").get("app.audit"));
                assertThat(Compare.scalar(target, "corner", events)).isEqualTo(Compare.scalar(source, "corner", events))
                        .isEqualTo("app.events=A,app.events_eu=A,app.events_eu_2026=A,app.events_eu_default=A,app.events_other=A");
            }
            if (POSTGIS) {
                assertThat(Compare.column(target, "corner", CONFIG_ROWS)).isEqualTo(Compare.column(source, "corner", CONFIG_ROWS))
                        .contains("990001 pgferry");
                assertThat(VerifyIT.table(v, "public.spatial_ref_sys (rows not provided by its extension)").rowsTarget())
                        .isEqualTo(1L);
                if (method == Method.DUMP) {
                    // the loss this once was is named by verify
                    try (var c = SampleData.connect(target, "corner"); var st = c.createStatement()) {
                        st.execute("DELETE FROM spatial_ref_sys WHERE srid = 990001");
                    }
                    Verification lost = VerifyIT.verification(VerifyIT.verify(pgferry, r.migrationId()), "corner");
                    assertThat(VerifyIT.table(lost, "public.spatial_ref_sys (rows not provided by its extension)")
                            .sampleKeys()).containsExactly("(990001) missing on the target");
                }
            }
        }
    }

    static final List<String> CATALOG = List.of(
            "SELECT proname || ' ' || pg_get_functiondef(oid) FROM pg_proc WHERE proname = 'stars'",
            "SELECT polname || ' ' || pg_get_expr(polqual, polrelid) FROM pg_policy ORDER BY 1",
            "SELECT relname || ' ' || relrowsecurity FROM pg_class WHERE relname = 'accounts'",
            "SELECT rulename || ' ' || pg_get_ruledef(oid) FROM pg_rewrite WHERE rulename = 'log_rich'",
            "SELECT evtname || ' ' || evtevent || ' ' || evtenabled::text FROM pg_event_trigger ORDER BY 1",
            "SELECT oprname || ' ' || oprcode::text FROM pg_operator WHERE oprnamespace = 'app'::regnamespace",
            "SELECT opcname FROM pg_opclass WHERE opcnamespace = 'app'::regnamespace",
            "SELECT collname || ' ' || colliculocale FROM pg_collation WHERE collnamespace = 'app'::regnamespace",
            "SELECT cfgname FROM pg_ts_config WHERE cfgnamespace = 'app'::regnamespace",
            // option order carries no meaning, and pg_dump writes options sorted by name
            "SELECT srvname || ' ' || array_to_string(ARRAY(SELECT unnest(srvoptions) ORDER BY 1), ',') FROM pg_foreign_server",
            "SELECT usename || '@' || srvname || ' ' || array_to_string(ARRAY(SELECT unnest(umoptions) ORDER BY 1), ',')"
                    + " FROM pg_user_mappings",
            "SELECT stxname || ' ' || array_to_string(stxkind, ',') FROM pg_statistic_ext ORDER BY 1",
            "SELECT attname || ' ' || array_to_string(attacl, ',') FROM pg_attribute WHERE attacl IS NOT NULL ORDER BY 1",
            "SELECT defaclrole::regrole || ' ' || array_to_string(defaclacl, ',') FROM pg_default_acl",
            "SELECT attname || ' ' || attidentity::text || attgenerated::text FROM pg_attribute"
                    + " WHERE attrelid = 'app.accounts'::regclass AND (attidentity <> '' OR attgenerated <> '') ORDER BY 1",
            "SELECT conname || ' ' || pg_get_constraintdef(oid) || ' ' || condeferrable || condeferred FROM pg_constraint"
                    + " WHERE connamespace = 'app'::regnamespace ORDER BY 1",
            "SELECT c.relname || ' ' || coalesce(pg_get_expr(c.relpartbound, c.oid), '') || ' ' || i.inhparent::regclass"
                    + " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid ORDER BY 1",
            "SELECT typname || ' ' || pg_get_constraintdef(c.oid) FROM pg_type t JOIN pg_constraint c ON c.contypid = t.oid",
            "SELECT classoid::regclass || ' ' || description FROM pg_description WHERE objoid >= 16384 ORDER BY 1",
            "SELECT extname FROM pg_extension ORDER BY 1",
            "SELECT last_value || ' ' || is_called FROM app.tickets",
            "SELECT relname || ' ' || relispopulated FROM pg_class WHERE relkind = 'm'");

    /** Rows a user added to an extension's configuration table (postgis' spatial_ref_sys), when PostGIS is there. */
    static final String CONFIG_ROWS = "SELECT srid || ' ' || auth_name FROM spatial_ref_sys WHERE srid > 900000";
}
