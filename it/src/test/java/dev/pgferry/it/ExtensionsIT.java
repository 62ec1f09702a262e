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

/** Extension tables (postgis' spatial_ref_sys) are left to CREATE EXTENSION on the target, not replicated. */
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
                    + " FROM generate_series(1, 500) g");
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
        }
    }
}
