package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.messages.CheckReport;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.pg.Secrets;
import dev.pgferry.worker.check.Checker;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Extension tables (postgis' spatial_ref_sys) are left to CREATE EXTENSION on the target, not replicated; the user's
 * rows of them, materialized views refreshed on the source, and roles and database properties changed there arrive
 * at the cut-over. An extension the target user may not create stops its database before anything is touched, and one
 * the user's own target database has is used as it is.
 */
class ExtensionsIT {

    @Test
    void postgisSpatialRefSysIsNotPublishedAndGeometryReplicates() throws Exception {
        assumeTrue(Files.exists(Path.of("/usr/share/postgresql/15/extension/postgis.control")),
                "postgresql-15-postgis-3 is installed (.ci/run installs it)");
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres(); Pgferry pgferry = new Pgferry(1)) {
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE gis");
            ReplicationIT.exec(source, "gis", "CREATE EXTENSION postgis;"
                    + " CREATE TABLE public.places (id int PRIMARY KEY, name text, geom geometry(Point, 4326));"
                    + " INSERT INTO public.places SELECT g, 'place ' || g, ST_SetSRID(ST_MakePoint(g * 0.01, g * 0.02), 4326)"
                    + " FROM generate_series(1, 500) g;"
                    // a spatial reference system of the user's (a row of an extension's configuration table), and a
                    // materialized view
                    + " INSERT INTO public.spatial_ref_sys (srid, auth_name, auth_srid, proj4text)"
                    + " VALUES (990001, 'test', 1, '+proj=longlat +ellps=GRS80 +no_defs');"
                    + " CREATE MATERIALIZED VIEW public.far_places AS SELECT id, name FROM public.places WHERE ST_X(geom) > 0;"
                    // and an application's roles
                    + " CREATE ROLE app_user LOGIN PASSWORD 'one'; CREATE ROLE app_group; CREATE ROLE app_old;"
                    + " GRANT app_old TO app_user");
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.AUTO,
                    List.of("postgres"), List.of(), List.of());

            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            assertThat(s.migration().status()).as(s.toString()).isEqualTo(State.DONE);
            assertThat(s.migrationDetail().get(0).status()).isEqualTo(State.SYNCING);
            assertThat(Compare.column(source, "gis", "SELECT tablename FROM pg_publication_tables"))
                    .containsExactly("places");
            String srs = "SELECT count(*) || ':' || max(srid) FROM public.spatial_ref_sys";
            assertThat(Compare.scalar(target, "gis", srs)).isEqualTo(Compare.scalar(source, "gis", srs));
            assertThat(Compare.tableFingerprints(target, "gis").get("public.places"))
                    .isEqualTo(Compare.tableFingerprints(source, "gis").get("public.places"));
            ReplicationIT.exec(source, "gis", "UPDATE public.places SET geom = ST_SetSRID(ST_MakePoint(1, 1), 4326) WHERE id = 1");
            ReplicationIT.eventually(() -> Compare.scalar(target, "gis", "SELECT ST_AsText(geom) FROM public.places WHERE id = 1"),
                    "POINT(1 1)");

            // When, while it replicates, a spatial reference system of the user's is added and another removed, and a
            // materialized view is refreshed on the source (none of which replicates), then it is cut over, verified
            ReplicationIT.exec(source, "gis", "INSERT INTO public.spatial_ref_sys (srid, auth_name, auth_srid, proj4text)"
                    + " VALUES (990002, 'test', 2, '+proj=longlat +datum=WGS84 +no_defs');"
                    + " DELETE FROM public.spatial_ref_sys WHERE srid = 990001;"
                    + " INSERT INTO public.places SELECT g, 'place ' || g, ST_SetSRID(ST_MakePoint(g * 0.01, 1), 4326)"
                    + " FROM generate_series(501, 600) g; REFRESH MATERIALIZED VIEW public.far_places;"
                    // and the roles change: a password rotated, a setting and a limit set, a membership moved, a role
                    // added (roles are the server's: replication does not carry them either)
                    + " ALTER ROLE app_user PASSWORD 'two' CONNECTION LIMIT 5; ALTER ROLE app_user SET work_mem = '8MB';"
                    + " REVOKE app_old FROM app_user; GRANT app_group TO app_user;"
                    + " CREATE ROLE late_user LOGIN PASSWORD 'three' IN ROLE app_group;"
                    // and so do the database's own properties
                    + " ALTER DATABASE gis SET search_path = public, extra; COMMENT ON DATABASE gis IS 'maps';"
                    + " ALTER ROLE app_user IN DATABASE gis SET work_mem = '16MB'; GRANT CONNECT ON DATABASE gis TO late_user");
            String users = "SELECT string_agg(srid || ' ' || proj4text, ', ' ORDER BY srid) FROM public.spatial_ref_sys"
                    + " WHERE srid > 990000";
            assertThat(Compare.scalar(source, "gis", users)).startsWith("990002 ");
            assertThat(Compare.scalar(target, "gis", users)).startsWith("990001 ");
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "gis").get("public.places"),
                    Compare.tableFingerprints(source, "gis").get("public.places"));
            pgferry.bus.send(dev.pgferry.messages.Topics.REQUESTS, r.migrationId(), dev.pgferry.messages.Json.write(
                    dev.pgferry.messages.CutoverRequest.of(r.migrationId(), List.of("gis"), 60, true, false)));
            MigrationStatus.DatabaseStatus cut = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "gis",
                    d -> d.cutover() != null && !d.cutover().state().equals("cutting_over"));

            // Then both arrived before the switch, and the verification agrees
            assertThat(cut.cutover().state()).as(cut.toString()).isEqualTo("done");
            assertThat(cut.verification().result()).isEqualTo(dev.pgferry.messages.Verification.Result.MATCH);
            assertThat(Compare.scalar(target, "gis", users)).isEqualTo(Compare.scalar(source, "gis", users));
            String roles = "SELECT string_agg(r.rolname || ' ' || r.rolconnlimit || ' ' || coalesce(r.rolpassword, '')"
                    + " || ' ' || coalesce((SELECT array_to_string(setconfig, ',') FROM pg_db_role_setting"
                    + "   WHERE setrole = r.oid AND setdatabase = 0), '')"
                    + " || ' in ' || coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m"
                    + "   JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), ''), '; ' ORDER BY r.rolname)"
                    + " FROM pg_authid r WHERE r.rolname IN ('app_user', 'late_user', 'app_old', 'app_group')";
            assertThat(Compare.scalar(source, "gis", roles)).contains("app_user 5 SCRAM-SHA-256$").contains("work_mem=8MB in app_group;")
                    .contains("late_user -1 SCRAM-SHA-256$");
            assertThat(Compare.scalar(target, "gis", roles)).isEqualTo(Compare.scalar(source, "gis", roles));
            String properties = "SELECT coalesce(shobj_description(d.oid, 'pg_database'), '')"
                    + " || ' ' || ARRAY(SELECT a::text FROM unnest(d.datacl) a ORDER BY 1)::text || ' '"
                    + " || (SELECT string_agg(coalesce(r.rolname, '*') || ':' || array_to_string(ARRAY(SELECT x FROM"
                    + "   unnest(s.setconfig) x WHERE x NOT LIKE 'default_transaction_read_only=%' ORDER BY 1), ','), '; '"
                    + "   ORDER BY 1) FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole WHERE s.setdatabase = d.oid)"
                    + " FROM pg_database d WHERE d.datname = 'gis'";
            assertThat(Compare.scalar(source, "postgres", properties)).startsWith("maps {").contains("late_user=c/")
                    .contains("search_path=public, extra").contains("app_user:work_mem=16MB");
            assertThat(Compare.scalar(target, "postgres", properties)).isEqualTo(Compare.scalar(source, "postgres", properties));
            String far = "SELECT count(*) || ':' || sum(id) FROM public.far_places";
            assertThat(Compare.scalar(source, "gis", far)).startsWith("600:");
            assertThat(Compare.scalar(target, "gis", far)).isEqualTo(Compare.scalar(source, "gis", far));
        }
    }
    @Test
    void anExtensionOnlyASuperuserMayCreateStopsItsDatabaseFirstAndOneTheTargetHasIsUsedAsItIs() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres(); Pgferry pgferry = new Pgferry(1)) {
            // Given a database with an extension only a superuser may create (pg_buffercache) and a trusted one
            // (hstore), another without either, and a target user that is no superuser, as a managed service's
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE tools; CREATE DATABASE plain");
            ReplicationIT.exec(source, "tools", "CREATE EXTENSION pg_buffercache; CREATE EXTENSION hstore;"
                    + " CREATE TABLE public.settings (id int PRIMARY KEY, h hstore);"
                    + " INSERT INTO public.settings SELECT g, hstore('k', g::text) FROM generate_series(1, 300) g");
            ReplicationIT.exec(source, "plain", "CREATE TABLE public.t (id int PRIMARY KEY);"
                    + " INSERT INTO public.t SELECT generate_series(1, 100)");
            ReplicationIT.exec(target, "postgres", "CREATE ROLE migrator LOGIN CREATEDB CREATEROLE PASSWORD '"
                    + Infra.PASSWORD + "'");
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), AivenExtrasIT.conn(target, "migrator"),
                    Method.DUMP, List.of("postgres"), List.of(), List.of());

            // When it is checked, then the check blocks on pg_buffercache alone and says the ways around it
            CheckReport check = new Checker(r, Secrets.system()).run();
            CheckReport.DatabaseCheck tools = check.databases().stream().filter(d -> d.dbname().equals("tools"))
                    .findFirst().orElseThrow();
            List<CheckReport.Finding> extensions = tools.findings().stream().filter(f -> f.check().equals("extensions")).toList();
            assertThat(extensions).extracting(CheckReport.Finding::verdict).containsExactly(CheckReport.Verdict.BLOCKER);
            String why = "source database tools uses extension(s) pg_buffercache, which only a superuser may create on"
                    + " the target";
            assertThat(extensions.get(0).message()).startsWith(why).doesNotContain("hstore")
                    .contains("CREATE DATABASE \"tools\" OWNER \"migrator\", then CREATE EXTENSION \"pg_buffercache\"");
            assertThat(check.databases().stream().filter(d -> d.dbname().equals("plain")).findFirst().orElseThrow()
                    .findings()).filteredOn(f -> f.check().equals("extensions"))
                    .extracting(CheckReport.Finding::verdict).containsExactly(CheckReport.Verdict.PASS);

            // When it is migrated, then that database fails before anything is touched, with the same words, and the
            // other arrives
            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());
            DatabaseStatus failed = ReplicationIT.row(s, "tools");
            assertThat(failed.status()).as(failed.toString()).isEqualTo(State.FAILED);
            assertThat(failed.errorCode()).isEqualTo(ErrorCode.PERMISSION_DENIED);
            assertThat(failed.error()).startsWith(why).endsWith("; nothing was changed on the target");
            assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'tools'"))
                    .isEqualTo("0");
            assertThat(ReplicationIT.row(s, "plain").status()).isEqualTo(State.DONE);
            assertThat(Compare.tableFingerprints(target, "plain")).isEqualTo(Compare.tableFingerprints(source, "plain"));

            // When a superuser of the target does as it says (the extension with a comment of the target's own)
            ReplicationIT.exec(target, "postgres", "CREATE DATABASE tools OWNER migrator");
            ReplicationIT.exec(target, "tools", "CREATE EXTENSION pg_buffercache;"
                    + " COMMENT ON EXTENSION pg_buffercache IS 'installed by the provider'");
            MigrationRequest again = MigrationRequest.of(Pgferry.conn(source), AivenExtrasIT.conn(target, "migrator"),
                    Method.DUMP, List.of("postgres", "plain"), List.of(), List.of());
            pgferry.submit(again);
            DatabaseStatus done = ReplicationIT.row(pgferry.awaitFinal(again.migrationId()), "tools");

            // Then the database arrives into it: the extension is used as it is there (its comment, which only its
            // owner may set, stays the target's, and the row says so), hstore is created by the target user
            assertThat(done.status()).as(done.toString()).isEqualTo(State.DONE);
            assertThat(Compare.tableFingerprints(target, "tools")).isEqualTo(Compare.tableFingerprints(source, "tools"));
            assertThat(Compare.scalar(target, "tools", "SELECT string_agg(extname || ':' || pg_get_userbyid(extowner), ','"
                    + " ORDER BY extname) FROM pg_extension WHERE extname <> 'plpgsql'"))
                    .isEqualTo("hstore:migrator,pg_buffercache:postgres");
            assertThat(Compare.scalar(target, "tools", "SELECT obj_description(oid, 'pg_extension') FROM pg_extension"
                    + " WHERE extname = 'pg_buffercache'")).isEqualTo("installed by the provider");
            assertThat(done.warnings()).anySatisfy(w -> assertThat(w).startsWith("extension pg_buffercache was already in"
                    + " the target database: it keeps its comment there ('installed by the provider'; on the source"));
        }
    }
}
