package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.State;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A table swapped while its database replicates, as GitLab's guide to swapping tables does it: the new table made
 * with {@code LIKE ... INCLUDING ALL} (so its key's default takes the old table's sequence, which the old table owns),
 * filled, added by a refresh, then exchanged with the old one by three renames in one transaction. The subscription
 * follows tables by name, so each copy on the target takes the other table's rows; refresh makes both anew, though
 * neither can be dropped alone (the copy of the sequence's owner is needed by the other's default).
 */
class SwapIT {
    static Pgferry pgferry;

    @BeforeAll
    static void start() throws Exception {
        pgferry = new Pgferry(1);
    }

    @AfterAll
    static void stop() {
        pgferry.close();
    }

    @Test
    void twoTablesThatExchangeTheirNamesAreCopiedAnewThoughOneOwnsTheOthersSequence() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            // Given a database replicating, and the new table of a swap made, filled and added by a refresh
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE app");
            ReplicationIT.exec(source, "app", "CREATE TABLE public.refs (id bigserial PRIMARY KEY, name text NOT NULL);"
                    + " INSERT INTO public.refs (name) SELECT 'ref ' || g FROM generate_series(1, 5) g");
            MigrationRequest r = ReplicationIT.request(source, target, Method.REPLICATION, List.of("postgres"));
            pgferry.submit(r);
            MigrationStatus syncing = pgferry.awaitFinal(r.migrationId());
            assertThat(ReplicationIT.row(syncing, "app").status()).as(syncing.toString()).isEqualTo(State.SYNCING);
            ReplicationIT.exec(source, "app", "CREATE TABLE public.refs_for_migration (LIKE public.refs INCLUDING ALL);"
                    + " ALTER TABLE public.refs_for_migration ADD COLUMN deploy boolean NOT NULL DEFAULT false;"
                    + " INSERT INTO public.refs_for_migration SELECT *, false FROM public.refs");
            CliIT.Run added = refresh(r);
            assertThat(added.exitCode()).as(added.out()).isZero();
            assertThat(added.out()).contains("created public.refs_for_migration on the target");

            // When rows are written to both, the two exchange their names, and a row is written after
            ReplicationIT.exec(source, "app", "INSERT INTO public.refs (name) VALUES ('before the swap');"
                    + " INSERT INTO public.refs_for_migration SELECT *, true FROM public.refs WHERE name = 'before the swap';"
                    + " BEGIN; ALTER TABLE public.refs RENAME TO refs_temporary;"
                    + " ALTER TABLE public.refs_for_migration RENAME TO refs;"
                    + " ALTER TABLE public.refs_temporary RENAME TO refs_for_migration; COMMIT;"
                    + " INSERT INTO public.refs (name, deploy) VALUES ('after the swap', true)");
            // (the target's copy of the old table takes it: the new one's columns are not there, so it stops there)
            CliIT.Run swapped = refresh(r);

            // Then both are made anew on the target and hold the source's rows, and rows written later arrive
            assertThat(swapped.exitCode()).as(swapped.out()).isZero();
            assertThat(swapped.out()).contains("dropped public.refs on the target to make it anew")
                    .contains("dropped public.refs_for_migration on the target to make it anew")
                    .contains("created public.refs, public.refs_for_migration on the target");
            ReplicationIT.exec(source, "app", "INSERT INTO public.refs (name, deploy) VALUES ('after the refresh', true);"
                    + " INSERT INTO public.refs_for_migration (name) VALUES ('old, after the refresh')");
            for (String table : List.of("public.refs", "public.refs_for_migration")) {
                ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "app").get(table),
                        Compare.tableFingerprints(source, "app").get(table));
            }
            assertThat(Compare.scalar(target, "app", "SELECT string_agg(name || '/' || deploy, ',' ORDER BY id)"
                    + " FROM public.refs WHERE id > 5")).isEqualTo("before the swap/true,after the swap/true,after the"
                    + " refresh/true");
            // (and the sequence both tables' keys take is the source's, owned by the same table)
            String sequence = "SELECT pg_get_serial_sequence('public.refs_for_migration', 'id') || ' '"
                    + " || pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'public.refs'::regclass";
            assertThat(Compare.scalar(target, "app", sequence)).isEqualTo(Compare.scalar(source, "app", sequence));
        }
    }

    private static CliIT.Run refresh(MigrationRequest r) {
        return CliIT.pgferry("refresh", r.migrationId(), "--databases", "app", "--timeout", "2m", "--bootstrap-servers",
                Infra.kafka());
    }
}
