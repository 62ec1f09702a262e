package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.State;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** A PostgreSQL 12 source (zonky binaries) replicating into PostgreSQL 15 (Debian). */
class CrossVersionIT {

    @Test
    void aPostgres12SourceReplicatesIntoPostgres15() throws Exception {
        try (LocalPostgres source = LocalPostgres.start(ZonkyBinaries.bin(), Infra.work().resolve("pg"), Infra.PASSWORD);
             LocalPostgres target = Infra.postgres();
             Pgferry pgferry = new Pgferry(2)) {
            assertThat(Compare.scalar(source, "postgres", "SHOW server_version_num")).startsWith("12");
            SampleData.create(source, 1000);
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.REPLICATION,
                    List.of("postgres"), List.of(), List.of());

            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            assertThat(s.migration().status()).as(s.toString()).isEqualTo(State.DONE);
            assertThat(s.migrationDetail()).allSatisfy(d -> assertThat(d.status()).isEqualTo(State.SYNCING));
            for (String db : SampleData.DATABASES) {
                assertThat(Compare.tableFingerprints(target, db)).as(db).isEqualTo(Compare.tableFingerprints(source, db));
            }
            ReplicationIT.exec(source, "shop", "INSERT INTO public.measurements VALUES (1, '2026-03-01', 7);"
                    + " UPDATE public.orders SET note = 'changed on 12' WHERE id % 10 = 0");
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "shop"), Compare.tableFingerprints(source, "shop"));

            // verify agrees across the two versions: row hashes, schema dumps, properties and roles
            MigrationStatus verified = VerifyIT.verify(pgferry, r.migrationId());
            assertThat(verified.verify().result()).as(dev.pgferry.messages.Json.writePretty(verified)).isEqualTo("match");

            // and every database cuts over, verified: the two versions' catalogs read as one schema (no drift)
            pgferry.bus.send(dev.pgferry.messages.Topics.REQUESTS, r.migrationId(), dev.pgferry.messages.Json.write(
                    dev.pgferry.messages.CutoverRequest.of(r.migrationId(), List.of(), 60, true, true)));
            MigrationStatus cut = Pgferry.awaitView(pgferry.coordinator, r.migrationId(), v -> v.migrationDetail().stream()
                    .allMatch(d -> d.cutover() != null && List.of("done", "failed").contains(d.cutover().state())));
            assertThat(cut.migrationDetail()).as(cut.toString())
                    .allSatisfy(d -> assertThat(d.cutover().state()).isEqualTo("done"));
        }
    }
}
