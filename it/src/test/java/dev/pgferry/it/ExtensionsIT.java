package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.State;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Extension tables (postgis' spatial_ref_sys) are left to CREATE EXTENSION on the target, not replicated; the user's
 * rows of them, materialized views refreshed on the source, and roles and database properties changed there arrive
 * at the cut-over.
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
}
