package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.MigrationStatus.State;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What application deploys do to a replicating database, and {@code pgferry refresh} after them.
 *
 * <p>A table swapped, as GitLab's guide to swapping tables does it: the new table made
 * with {@code LIKE ... INCLUDING ALL} (so its key's default takes the old table's sequence, which the old table owns),
 * filled, added by a refresh, then exchanged with the old one by three renames in one transaction. The subscription
 * follows tables by name, so each copy on the target takes the other table's rows; refresh makes both anew, though
 * neither can be dropped alone (the copy of the sequence's owner is needed by the other's default).
 *
 * <p>Partitions made and dropped as pg_partman's maintenance does (the next month's made, the oldest detached and
 * dropped), one of them made apart and attached with an index of its own.
 *
 * <p>A column renamed (Rails' {@code rename_column}) and an enum's values renamed, and used at once; an extension
 * enabled (Rails' {@code enable_extension}) for a new index of its operator class; a domain's check replaced by
 * another that a new row needs, and an attribute added to a composite type.
 *
 * <p>Row-level security turned on with a policy for a role made in the same deploy, and a new table owned by another
 * new role; privileges granted and revoked on existing tables, while someone grants one of their own on the target.
 */
class DeploysIT {
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
            MigrationRequest r = replicating(source, target,
                    "CREATE TABLE public.refs (id bigserial PRIMARY KEY, name text NOT NULL);"
                    + " INSERT INTO public.refs (name) SELECT 'ref ' || g FROM generate_series(1, 5) g");
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

    @Test
    void partitionsMadeAndDroppedWhileReplicatingAreMadeAndDroppedOnTheTarget() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            // Given a partitioned table (a key and an index on the parent) replicating
            MigrationRequest r = replicating(source, target,
                    "CREATE TABLE public.events (id bigserial, at date NOT NULL, payload text,"
                    + "   PRIMARY KEY (id, at)) PARTITION BY RANGE (at);"
                    + " CREATE TABLE public.events_2026_11 PARTITION OF public.events FOR VALUES FROM ('2026-11-01') TO ('2026-12-01');"
                    + " CREATE TABLE public.events_2026_12 PARTITION OF public.events FOR VALUES FROM ('2026-12-01') TO ('2027-01-01');"
                    + " CREATE INDEX events_at ON public.events (at);"
                    + " INSERT INTO public.events (at, payload) SELECT date '2026-11-01' + (g % 60), 'p' || g"
                    + "   FROM generate_series(1, 600) g");

            // When next month's partition is made, one more is made apart (with an index of its own) and attached,
            // rows go to both, and the oldest is detached and dropped
            ReplicationIT.exec(source, "app", "CREATE TABLE public.events_2027_01 PARTITION OF public.events"
                    + "   FOR VALUES FROM ('2027-01-01') TO ('2027-02-01');"
                    + " CREATE TABLE public.events_2027_02 (LIKE public.events INCLUDING DEFAULTS);"
                    + " CREATE INDEX events_2027_02_payload ON public.events_2027_02 (payload);"
                    + " ALTER TABLE public.events ATTACH PARTITION public.events_2027_02 FOR VALUES FROM ('2027-02-01') TO ('2027-03-01');"
                    + " INSERT INTO public.events (at, payload) VALUES ('2027-01-05', 'january'), ('2027-02-03', 'february'),"
                    + "   ('2026-12-24', 'december');"
                    + " ALTER TABLE public.events DETACH PARTITION public.events_2026_11; DROP TABLE public.events_2026_11");
            CliIT.Run refreshed = refresh(r);

            // Then the target has the source's partitions, with the source's indexes and rows, and later rows arrive
            assertThat(refreshed.exitCode()).as(refreshed.out()).isZero();
            assertThat(refreshed.out()).contains("created public.events_2027_01, public.events_2027_02 on the target")
                    .contains("dropped table public.events_2026_11 on the target (the source dropped it)");
            ReplicationIT.exec(source, "app", "INSERT INTO public.events (at, payload) VALUES ('2027-01-06', 'later')");
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "app"), Compare.tableFingerprints(source, "app"));
            String partitions = "SELECT string_agg(c.relname || ':' || pg_get_expr(c.relpartbound, c.oid) || ':' || (SELECT"
                    + " string_agg(pg_get_indexdef(i.indexrelid), '; ' ORDER BY pg_get_indexdef(i.indexrelid)) FROM pg_index i"
                    + " WHERE i.indrelid = c.oid)"
                    + " || ':' || (SELECT count(*) FROM pg_inherits h JOIN pg_index i ON i.indexrelid = h.inhrelid"
                    + "   WHERE i.indrelid = c.oid), ' | ' ORDER BY c.relname)"
                    + " FROM pg_class c WHERE c.relispartition AND c.relkind = 'r'";
            assertThat(Compare.scalar(target, "app", partitions)).contains("events_2027_02_payload")
                    .doesNotContain("events_2026_11").isEqualTo(Compare.scalar(source, "app", partitions));
        }
    }

    @Test
    void aColumnAndEnumValuesRenamedAndAnExtensionEnabledOnTheSourceAreSoOnTheTarget() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            // Given a database replicating
            MigrationRequest r = replicating(source, target,
                    "CREATE TYPE public.status AS ENUM ('draft', 'live', 'gone');"
                    + " CREATE DOMAIN public.email AS text CHECK (VALUE LIKE '%@%');"
                    + " CREATE TYPE public.money_pair AS (amount numeric, currency text);"
                    + " CREATE TABLE public.posts (id bigserial PRIMARY KEY, title text NOT NULL, body text,"
                    + "   st public.status NOT NULL DEFAULT 'draft', author public.email);"
                    + " INSERT INTO public.posts (title, body, st) SELECT 't' || g, 'b' || g, (ARRAY['draft', 'live',"
                    + "   'gone'])[1 + g % 3]::public.status FROM generate_series(1, 30) g");

            // When a deploy renames a column and two of the enum's values (one to the other's old name), and a row
            // uses both at once (the apply worker stops on it: the target has neither)
            ReplicationIT.exec(source, "app", "ALTER TABLE public.posts RENAME COLUMN body TO content;"
                    + " ALTER TYPE public.status RENAME VALUE 'gone' TO 'archived';"
                    + " ALTER TYPE public.status RENAME VALUE 'live' TO 'gone';"
                    + " INSERT INTO public.posts (title, content, st) VALUES ('after', 'the deploy', 'archived');"
                    + " CREATE EXTENSION pg_trgm; CREATE INDEX posts_title_trgm ON public.posts USING gin (title gin_trgm_ops);"
                    + " ALTER DOMAIN public.email DROP CONSTRAINT email_check;"
                    + " ALTER DOMAIN public.email ADD CONSTRAINT email_lower CHECK (VALUE = lower(VALUE));"
                    + " INSERT INTO public.posts (title, author) VALUES ('by a handle', 'nobody');"
                    + " ALTER TYPE public.money_pair ADD ATTRIBUTE note text");
            CliIT.Run refreshed = refresh(r);

            // Then both are renamed on the target, its rows keep their values, and the row arrives
            assertThat(refreshed.exitCode()).as(refreshed.out()).isZero();
            assertThat(refreshed.out()).contains("renamed column public.posts.body to content on the target, as the"
                    + " source renamed it (its values stay)").contains("renamed value(s) live to gone, gone to archived"
                    + " of type public.status on the target, as on the source").doesNotContain("added column")
                    .contains("created extension pg_trgm (version ").contains("created index public.posts_title_trgm")
                    .contains("altered domain public.email on the target as on the source (dropped constraint"
                            + " email_check, added constraint email_lower)")
                    .contains("altered type public.money_pair on the target as on the source (ADD ATTRIBUTE \"note\" text)");
            String types = "SELECT (SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ',') FROM pg_constraint"
                    + " WHERE contypid = 'public.email'::regtype) || ' | ' || (SELECT string_agg(attname || ' '"
                    + " || format_type(atttypid, atttypmod), ',' ORDER BY attnum) FROM pg_attribute"
                    + " WHERE attrelid = 'public.money_pair'::regclass AND attnum > 0 AND NOT attisdropped)";
            assertThat(Compare.scalar(target, "app", types)).contains("email_lower").contains("note text")
                    .isEqualTo(Compare.scalar(source, "app", types));
            String index = "SELECT pg_get_indexdef('public.posts_title_trgm'::regclass)";
            assertThat(Compare.scalar(target, "app", index)).isEqualTo(Compare.scalar(source, "app", index));
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "app"), Compare.tableFingerprints(source, "app"));
            String labels = "SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum"
                    + " WHERE enumtypid = 'public.status'::regtype";
            assertThat(Compare.scalar(target, "app", labels)).isEqualTo("draft,gone,archived")
                    .isEqualTo(Compare.scalar(source, "app", labels));
            assertThat(Compare.scalar(target, "app", "SELECT count(*) FILTER (WHERE st = 'gone') || '/'"
                    + " || count(*) FILTER (WHERE content LIKE 'b%') FROM public.posts")).isEqualTo("10/30");
        }
    }

    @Test
    void rowLevelSecurityAPolicyAndNewRolesMadeWhileReplicatingAreOnTheTarget() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            // Given a database replicating
            MigrationRequest r = replicating(source, target,
                    "CREATE TABLE public.notes (id bigserial PRIMARY KEY, author text NOT NULL,"
                    + " body text); INSERT INTO public.notes (author, body) VALUES ('ann', 'a'), ('bob', 'b');"
                    + " CREATE ROLE pgferry_it_app NOLOGIN; CREATE ROLE pgferry_it_monitor NOLOGIN;"
                    + " GRANT SELECT, INSERT ON public.notes TO pgferry_it_app; GRANT SELECT ON public.notes_id_seq TO PUBLIC;"
                    + " COMMENT ON TABLE public.notes IS 'notes'; COMMENT ON COLUMN public.notes.body IS 'the text';"
                    + " CREATE VIEW public.note_ids AS SELECT id FROM public.notes; COMMENT ON VIEW public.note_ids IS 'ids';"
                    + " GRANT SELECT ON public.note_ids TO pgferry_it_app;"
                    // (and a grant to a role of Amazon RDS, which pgferry never makes: none to compare, on either side)
                    + " CREATE ROLE rds_superuser NOLOGIN; GRANT SELECT ON public.notes TO rds_superuser;"
                    + " CREATE TABLE public.plain (id int PRIMARY KEY); GRANT SELECT ON public.plain TO rds_superuser");

            // When a deploy turns row-level security on with a policy for a new role, and adds a table a new role owns
            ReplicationIT.exec(source, "app", "CREATE ROLE pgferry_it_reader NOLOGIN; CREATE ROLE pgferry_it_owner NOLOGIN;"
                    + " ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;"
                    + " CREATE POLICY own_notes ON public.notes FOR SELECT TO pgferry_it_reader USING (author = current_user);"
                    + " CREATE TABLE public.audit (id int PRIMARY KEY); ALTER TABLE public.audit OWNER TO pgferry_it_owner;"
                    + " INSERT INTO public.audit VALUES (1);"
                    // (and privileges: one revoked, one granted with grant option, one on a sequence revoked)
                    + " REVOKE INSERT ON public.notes FROM pgferry_it_app; GRANT UPDATE ON public.notes TO pgferry_it_app"
                    + "   WITH GRANT OPTION; REVOKE SELECT ON public.notes_id_seq FROM PUBLIC;"
                    // (and comments: one changed, one removed)
                    + " COMMENT ON TABLE public.notes IS 'notes, each by its author''s name'; COMMENT ON COLUMN public.notes.body IS NULL;"
                    // (and a view with a comment and a grant dropped)
                    + " DROP VIEW public.note_ids");
            // (while someone grants a privilege of their own on the target)
            ReplicationIT.exec(target, "app", "GRANT SELECT ON public.notes TO pgferry_it_monitor");
            DatabaseStatus drifted = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "app", d -> d.drift() != null
                    && d.drift().stream().anyMatch(i -> i.startsWith("policy own_notes on public.notes is on the source")));
            CliIT.Run refreshed = refresh(r);

            // Then the drift named them, and the refresh made the roles, the policy and the flags as on the source
            assertThat(drifted.drift()).contains("row-level security of table public.notes is on the source but not on"
                    + " the target (DDL is not replicated): pgferry refresh creates it");
            // (the one difference left, the target's own grant, is named: exit 1)
            assertThat(refreshed.exitCode()).as(refreshed.out()).isEqualTo(1);
            assertThat(refreshed.out()).contains("drift: app: privileges on public.notes are granted otherwise on the"
                            + " source than on the target")
                    .contains("created role(s) pgferry_it_owner, pgferry_it_reader on the target")
                    .contains("revoked the privileges on public.notes_id_seq on the target that the source revoked")
                    .contains("created policy own_notes on public.notes on the target")
                    .contains("set row-level security of table public.notes on the target as on the source (enabled,"
                            + " forced)").contains("created public.audit on the target")
                    .contains("made the privileges on public.notes as on the source (revoked pgferry_it_app:INSERT,"
                            + " granted pgferry_it_app:UPDATE*)")
                    .doesNotContain("pgferry_it_monitor:SELECT")
                    .contains("made the comment on table public.notes on the target as on the source")
                    .contains("dropped comment on column public.notes.body on the target (the source dropped it)")
                    .contains("dropped view public.note_ids on the target (the source dropped it)")
                    .doesNotContain("could not");
            String comments = "SELECT coalesce(obj_description('public.notes'::regclass, 'pg_class'), '-') || ' | '"
                    + " || coalesce(col_description('public.notes'::regclass, 3), '-')";
            assertThat(Compare.scalar(target, "app", comments)).isEqualTo("notes, each by its author's name | -")
                    .isEqualTo(Compare.scalar(source, "app", comments));
            // (the grant to rds_superuser, which the target lacks, skipped: not named as drift)
            assertThat(refreshed.out().lines().filter(l -> l.startsWith("drift:") || l.startsWith("refresh:")))
                    .noneMatch(l -> l.contains("rds_superuser") || l.contains("privileges on public.plain"));
            String privileges = "SELECT string_agg(relname || ' ' || coalesce((SELECT string_agg(x::text, ',' ORDER BY"
                    + " x::text) FROM unnest(relacl) x WHERE x::text NOT LIKE 'rds\\_superuser=%'), '-'), ' | '"
                    + " ORDER BY relname) FROM pg_class WHERE relname IN ('notes', 'notes_id_seq')";
            // (the target's own grant stays, and is the only difference)
            assertThat(Compare.scalar(target, "app", privileges)).contains("pgferry_it_monitor=r/")
                    .isNotEqualTo(Compare.scalar(source, "app", privileges));
            ReplicationIT.exec(target, "app", "REVOKE SELECT ON public.notes FROM pgferry_it_monitor");
            assertThat(Compare.scalar(target, "app", privileges)).isEqualTo(Compare.scalar(source, "app", privileges));
            String security = "SELECT (SELECT relrowsecurity || ' ' || relforcerowsecurity FROM pg_class"
                    + " WHERE oid = 'public.notes'::regclass) || ' | ' || (SELECT string_agg(policyname || ' ' || cmd || ' '"
                    + " || roles::text || ' ' || qual, ',') FROM pg_policies) || ' | '"
                    + " || (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'public.audit'::regclass)";
            assertThat(Compare.scalar(target, "app", security)).contains("true true").contains("pgferry_it_owner")
                    .isEqualTo(Compare.scalar(source, "app", security));
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "app"), Compare.tableFingerprints(source, "app"));
        }
    }

    /** Database app on {@code source}, made by {@code schema}, replicating to {@code target} (syncing). */
    private static MigrationRequest replicating(LocalPostgres source, LocalPostgres target, String schema) throws Exception {
        ReplicationIT.exec(source, "postgres", "CREATE DATABASE app");
        ReplicationIT.exec(source, "app", schema);
        MigrationRequest r = ReplicationIT.request(source, target, Method.REPLICATION, List.of("postgres"));
        pgferry.submit(r);
        MigrationStatus syncing = pgferry.awaitFinal(r.migrationId());
        assertThat(ReplicationIT.row(syncing, "app").status()).as(syncing.toString()).isEqualTo(State.SYNCING);
        return r;
    }

    private static CliIT.Run refresh(MigrationRequest r) {
        return CliIT.pgferry("refresh", r.migrationId(), "--databases", "app", "--timeout", "2m", "--bootstrap-servers",
                Infra.kafka());
    }
}
