package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.CutoverRequest;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.messages.Topics;
import dev.pgferry.messages.Verification;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code pgferry cutover}: a deadline that cannot be met leaves the source writable and the replication running;
 * schema drift (a new table, a new column) is named in the status, refused by a cut-over and repaired by
 * {@code pgferry refresh};
 * under pgbench and a writer that records every id the source committed, the cut-over loses none of them, leaves
 * the source read-only and the target's sequences ahead; {@code --unblock-source} through the CLI, right after a
 * coordinator restart.
 */
class CutoverIT {
    static Pgferry pgferry;

    @BeforeAll
    static void start() throws Exception {
        pgferry = new Pgferry(2);
    }

    @AfterAll
    static void stop() {
        pgferry.close();
    }

    @Test
    void cutsOverUnderWritesLosingNothingAndUndoesAMissedDeadline() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            // Given two databases replicating: a pgbench database with a table of our own, and a small one
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE bank");
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE ledger");
            assertThat(pgbench(source, "-i", "-s", "2", "-q", "bank").waitFor()).as("pgbench -i").isZero();
            ReplicationIT.exec(source, "bank", "CREATE TABLE public.ticks (id bigserial PRIMARY KEY, note text NOT NULL)");
            // (and a function, a view and an enum the application will change)
            ReplicationIT.exec(source, "bank", "CREATE FUNCTION public.tick_label(id bigint) RETURNS text LANGUAGE sql AS $$SELECT 'v1 ' || id$$;"
                    + " CREATE VIEW public.branch_totals AS SELECT bid FROM public.pgbench_branches WHERE bid > 0;"
                    + " CREATE TYPE public.mood AS ENUM ('ok', 'bad');"
                    + " CREATE TABLE public.moods (id int PRIMARY KEY, m public.mood NOT NULL); CREATE ROLE reporter;"
                    + " CREATE TABLE public.legacy (id int PRIMARY KEY, note text, flag boolean NOT NULL);"
                    + " INSERT INTO public.legacy VALUES (0, 'old note', true); CREATE TABLE public.legacy_log (id int);"
                    // (and what a later deploy drops: a check, a function, a view)
                    + " ALTER TABLE public.legacy ADD CONSTRAINT legacy_id_small CHECK (id < 1000);"
                    + " CREATE FUNCTION public.old_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';"
                    + " CREATE VIEW public.old_view AS SELECT id FROM public.legacy;"
                    // (and views it changes: one loses a column with its table, a materialized one is defined anew)
                    + " CREATE VIEW public.legacy_view AS SELECT id, flag FROM public.legacy;"
                    + " CREATE MATERIALIZED VIEW public.mood_counts AS SELECT m, count(*) AS n FROM public.moods GROUP BY m;"
                    + " CREATE UNIQUE INDEX mood_counts_m ON public.mood_counts (m);"
                    // (and a table it renames)
                    + " CREATE TABLE public.old_name (id int PRIMARY KEY, v text);"
                    + " CREATE TABLE public.swapped (id int PRIMARY KEY, v text);"
                    + " INSERT INTO public.swapped SELECT g, 's' || g FROM generate_series(1, 3) g;"
                    + " CREATE TABLE public.rebuilt (id int PRIMARY KEY, v text);"
                    + " INSERT INTO public.rebuilt SELECT g, 'r' || g FROM generate_series(1, 3) g;"
                    + " INSERT INTO public.old_name SELECT g, 'v' || g FROM generate_series(1, 3) g");
            ReplicationIT.exec(source, "ledger", "CREATE TABLE public.entries (id serial PRIMARY KEY, v int NOT NULL);"
                    + " INSERT INTO public.entries (v) SELECT g FROM generate_series(1, 100) g");
            // (a trigger that fires on a replica too, as an application's own replication setup may have made it:
            // applied on the target, its row would meet the source's own copy of it there)
            ReplicationIT.exec(source, "ledger", "CREATE TABLE public.entry_audit (entry int PRIMARY KEY);"
                    + " CREATE FUNCTION public.audit_entry() RETURNS trigger LANGUAGE plpgsql AS"
                    + "   $$BEGIN INSERT INTO public.entry_audit VALUES (NEW.id); RETURN NEW; END$$;"
                    + " CREATE TRIGGER audited AFTER INSERT ON public.entries FOR EACH ROW EXECUTE FUNCTION public.audit_entry();"
                    + " ALTER TABLE public.entries ENABLE ALWAYS TRIGGER audited;"
                    + " INSERT INTO public.entries (v) VALUES (0)");
            // (unlogged tables, which replication does not carry; one references the other, and an insert into one
            // is logged by a trigger in a logged table; a second trigger is disabled)
            ReplicationIT.exec(source, "ledger", "CREATE UNLOGGED TABLE public.zone (id int PRIMARY KEY, name text);"
                    + " CREATE UNLOGGED TABLE public.sessions (id int PRIMARY KEY, zone int NOT NULL REFERENCES public.zone,"
                    + "   token text);"
                    + " CREATE TABLE public.session_log (id bigserial PRIMARY KEY, session int NOT NULL);"
                    + " CREATE FUNCTION public.log_session() RETURNS trigger LANGUAGE plpgsql AS"
                    + "   $$BEGIN INSERT INTO public.session_log (session) VALUES (NEW.id); RETURN NEW; END$$;"
                    + " CREATE TRIGGER logged AFTER INSERT ON public.sessions FOR EACH ROW EXECUTE FUNCTION public.log_session();"
                    + " CREATE TRIGGER dormant AFTER INSERT ON public.sessions FOR EACH ROW EXECUTE FUNCTION public.log_session();"
                    + " ALTER TABLE public.sessions DISABLE TRIGGER dormant;"
                    + " INSERT INTO public.zone VALUES (1, 'a'), (2, 'b');"
                    + " INSERT INTO public.sessions SELECT g, 1 + g % 2, md5(g::text) FROM generate_series(1, 50) g");
            // (and large objects, which replication does not carry either, one of them owned by a role, one shared)
            ReplicationIT.exec(source, "ledger", "CREATE ROLE lo_owner; CREATE ROLE lo_reader;"
                    + " SELECT lo_from_bytea(1001, 'one'), lo_from_bytea(1002, 'two'), lo_from_bytea(1003, 'three'),"
                    // (20 MB: hashed in chunks of 16 MB, as an object past 1 GB must be)
                    + "   lo_from_bytea(2001, convert_to(repeat('0123456789', 2000000), 'UTF8'));"
                    + " ALTER LARGE OBJECT 1003 OWNER TO lo_owner; GRANT SELECT ON LARGE OBJECT 1003 TO PUBLIC");
            MigrationRequest r = ReplicationIT.request(source, target, Method.REPLICATION, List.of("postgres"));
            pgferry.submit(r);
            MigrationStatus syncing = pgferry.awaitFinal(r.migrationId());
            assertThat(syncing.migrationDetail()).as(syncing.toString()).allSatisfy(d -> assertThat(d.status()).isEqualTo(State.SYNCING));
            // and that trigger is held disabled on the target while ledger replicates, which its row says
            assertThat(Compare.scalar(target, "ledger", "SELECT tgenabled FROM pg_trigger WHERE tgname = 'audited'"))
                    .isEqualTo("D");
            assertThat(syncing.migrationDetail().stream().filter(d -> d.dbname().equals("ledger")).findFirst().orElseThrow()
                    .warnings()).anySatisfy(w -> assertThat(w).startsWith("trigger(s) audited on public.entries (ALWAYS)"
                    + " fire in a subscription's apply worker too: they are held disabled on the target"));

            // When the target's apply worker is held by a lock and a cut-over of bank (asked over HTTP) has 3 seconds
            DatabaseStatus aborted;
            try (Connection hold = SampleData.connect(target, "bank"); Statement st = hold.createStatement()) {
                hold.setAutoCommit(false);
                st.execute("LOCK TABLE public.ticks IN ACCESS EXCLUSIVE MODE");
                ReplicationIT.exec(source, "bank", "INSERT INTO public.ticks (note) VALUES ('before the deadline')");
                assertThat(post(r.migrationId(), "{\"databases\": [\"bank\"], \"deadline_seconds\": 3}").statusCode())
                        .isEqualTo(202);
                aborted = awaitCutover(r.migrationId(), "bank", "failed", null);

                // Then the cut-over is aborted, the source takes writes again and its setting is as before
                assertThat(aborted.status()).isEqualTo(State.SYNCING);
                assertThat(aborted.cutover().errorCode()).isEqualTo(ErrorCode.CUTOVER_ABORTED);
                assertThat(aborted.cutover().error()).contains("deadline").contains("takes writes again");
                assertThat(aborted.cutover().sourceWritable()).isTrue();
                assertThat(readOnlySetting(source, "bank")).isNull();
                ReplicationIT.exec(source, "bank", "INSERT INTO public.ticks (note) VALUES ('after the abort')");
                hold.rollback();
            }
            // and the replication still runs: both rows arrive once the lock is gone
            ReplicationIT.eventually(() -> Compare.scalar(target, "bank", "SELECT count(*) FROM public.ticks"), "2");
            Reliability.record("cut-over past its deadline (the target's apply worker held by a lock)",
                    "aborted with CUTOVER_ABORTED; the source took writes again with its own setting; replication went on",
                    Reliability.rows(Compare.tableFingerprints(source, "bank")),
                    Reliability.rows(Compare.tableFingerprints(target, "bank")));

            // When a table is created and a column added on the source while bank is syncing
            // (the new table with a column of a new type, and a trigger on a new function that fires on a replica too,
            // writing to another new table)
            ReplicationIT.exec(source, "bank", "CREATE TYPE public.audit_kind AS ENUM ('manual', 'auto');"
                    + " CREATE TABLE public.audit (id serial PRIMARY KEY, what text NOT NULL,"
                    + "   kind public.audit_kind NOT NULL DEFAULT 'auto');"
                    + " CREATE TABLE public.audit_copy (id int PRIMARY KEY);"
                    + " CREATE FUNCTION public.copy_audit() RETURNS trigger LANGUAGE plpgsql AS"
                    + "   $$BEGIN INSERT INTO public.audit_copy VALUES (NEW.id); RETURN NEW; END$$;"
                    + " CREATE TRIGGER copied AFTER INSERT ON public.audit FOR EACH ROW EXECUTE FUNCTION public.copy_audit();"
                    + " ALTER TABLE public.audit ENABLE ALWAYS TRIGGER copied;"
                    + " INSERT INTO public.audit (what) VALUES ('a'), ('b');"
                    + " ALTER TABLE public.ticks ADD COLUMN source_note text DEFAULT 'none';"
                    + " INSERT INTO public.ticks (note, source_note) VALUES ('with the new column', 'x')");
            // and other DDL of an application's deploy: an index (on the new column), a constraint, a function and a
            // view changed, a new view, and an enum's new value, used at once (the apply worker stops on that row)
            ReplicationIT.exec(source, "bank", "CREATE INDEX ticks_source_note_idx ON public.ticks (source_note);"
                    + " ALTER TABLE public.pgbench_branches ADD CONSTRAINT bid_positive CHECK (bid > 0);"
                    + " CREATE OR REPLACE FUNCTION public.tick_label(id bigint) RETURNS text LANGUAGE sql"
                    // (its body names a table as the application's search_path finds it)
                    + "   AS $$SELECT 'v2 ' || id || '/' || (SELECT count(*) FROM pgbench_branches)$$;"
                    + " CREATE OR REPLACE VIEW public.branch_totals AS SELECT bid, bbalance FROM public.pgbench_branches"
                    + "   WHERE bid > 0;"
                    + " CREATE VIEW public.late_view AS SELECT count(*) AS n FROM public.ticks;"
                    + " GRANT SELECT ON public.late_view TO reporter; COMMENT ON VIEW public.late_view IS 'late';"
                    + " CREATE FUNCTION public.late_fn(plus int) RETURNS int LANGUAGE sql"
                    + "   AS $$SELECT n::int + plus FROM late_view$$;"
                    + " REVOKE EXECUTE ON FUNCTION public.late_fn(int) FROM PUBLIC;"
                    // (a new column of a new type, with a default from a new sequence it owns)
                    + " CREATE TYPE public.tier AS ENUM ('gold', 'silver'); CREATE SEQUENCE public.ticket_seq;"
                    + " ALTER TABLE public.moods ADD COLUMN tier public.tier DEFAULT 'gold',"
                    + "   ADD COLUMN ticket bigint DEFAULT nextval('public.ticket_seq');"
                    + " ALTER SEQUENCE public.ticket_seq OWNED BY public.moods.ticket;"
                    // (and a key widened, used at once; a column renamed, a column and a table dropped)
                    + " ALTER TABLE public.moods ALTER COLUMN id TYPE bigint;"
                    + " ALTER TABLE public.legacy RENAME COLUMN note TO remark;"
                    + " DROP VIEW public.legacy_view; ALTER TABLE public.legacy DROP COLUMN flag; DROP TABLE public.legacy_log;"
                    + " CREATE VIEW public.legacy_view AS SELECT id FROM public.legacy;"
                    + " GRANT SELECT ON public.legacy_view TO reporter;"
                    + " DROP MATERIALIZED VIEW public.mood_counts;"
                    + " CREATE MATERIALIZED VIEW public.mood_counts AS SELECT m, count(*) AS n, max(id) AS top"
                    + "   FROM public.moods GROUP BY m;"
                    + " CREATE UNIQUE INDEX mood_counts_m ON public.mood_counts (m);"
                    + " DROP VIEW public.old_view; DROP FUNCTION public.old_fn();"
                    + " ALTER TABLE public.old_name RENAME TO new_name;"
                    // (and a table rewritten by an online schema change's swap: made anew, filled, swapped in)
                    + " CREATE TABLE public.swapped_new (id bigint PRIMARY KEY, v text, extra int DEFAULT 1);"
                    + " INSERT INTO public.swapped_new (id, v) SELECT id, v FROM public.swapped;"
                    + " DROP TABLE public.swapped; ALTER TABLE public.swapped_new RENAME TO swapped;"
                    // (and one whose new table is filled now and swapped in only after the refresh)
                    + " CREATE TABLE public.rebuilt_new (id int PRIMARY KEY, v text);"
                    + " INSERT INTO public.rebuilt_new SELECT id, upper(v) FROM public.rebuilt;"
                    + " ALTER TABLE public.legacy DROP CONSTRAINT legacy_id_small;"
                    + " ALTER TABLE public.legacy ADD COLUMN seqno bigint GENERATED ALWAYS AS IDENTITY;"
                    + " ALTER TYPE public.mood ADD VALUE 'great' AFTER 'ok'");
            ReplicationIT.exec(source, "bank", "INSERT INTO public.moods VALUES (1, 'great'), (3000000000, 'bad');"
                    + " INSERT INTO public.legacy VALUES (1, 'new remark'), (5000, 'past the dropped check');"
                    + " INSERT INTO public.new_name VALUES (4, 'after the rename');"
                    + " INSERT INTO public.swapped VALUES (10, 'after the swap', 2)");
            // (while someone makes an index and a table of their own on the target)
            ReplicationIT.exec(target, "bank", "CREATE INDEX my_ticks_idx ON public.ticks (note);"
                    + " CREATE TABLE public.my_notes (x int)");

            // Then the status names both, and a cut-over refuses without blocking writes
            DatabaseStatus drifted = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "bank", d -> d.drift() != null
                    && d.drift().stream().anyMatch(i -> i.startsWith("table public.audit "))
                    && d.drift().stream().anyMatch(i -> i.startsWith("column public.ticks.source_note (text) "))
                    && d.drift().stream().anyMatch(i -> i.startsWith("view public.late_view "))
                    && d.drift().stream().anyMatch(i -> i.startsWith("table public.my_notes ")));
            assertThat(drifted.status()).isEqualTo(State.SYNCING);
            assertThat(drifted.drift()).contains(
                    "index public.ticks_source_note_idx is on the source but not on the target (DDL is not replicated):"
                            + " pgferry refresh creates it",
                    "constraint bid_positive on public.pgbench_branches is on the source but not on the target (DDL is"
                            + " not replicated): pgferry refresh creates it",
                    "function public.tick_label(id bigint) is defined otherwise on the source than on the target (DDL is"
                            + " not replicated): pgferry refresh makes it as on the source",
                    "view public.branch_totals is defined otherwise on the source than on the target (DDL is not"
                            + " replicated): pgferry refresh makes it as on the source",
                    "view public.late_view is on the source but not on the target (DDL is not replicated): pgferry"
                            + " refresh creates it",
                    "column public.moods.id is bigint NOT NULL on the source but integer NOT NULL on the target (DDL is"
                            + " not replicated; a row the target's column cannot take stops the apply worker): pgferry"
                            + " refresh alters it",
                    "table public.legacy_log is on the target but not on the source (DDL is not replicated): pgferry"
                            + " refresh drops it if the source dropped it (one made only on the target stays: drop it"
                            + " yourself)",
                    "column public.legacy.flag is on the target but not on the source (DDL is not replicated; it is NOT"
                            + " NULL without a default, so the apply worker stops at the next row inserted): pgferry"
                            + " refresh drops it if the source dropped it (one made only on the target stays: drop it"
                            + " yourself)",
                    "constraint legacy_id_small on public.legacy is on the target but not on the source (DDL is not"
                            + " replicated): pgferry refresh drops it if the source dropped it (one made only on the"
                            + " target stays: drop it yourself)",
                    "table public.new_name is published but the target has it as public.old_name (the same columns; DDL"
                            + " is not replicated, and changes to it stop the apply worker): it was renamed on the source;"
                            + " pgferry refresh renames it on the target",
                    "table public.my_notes is on the target but not on the source (DDL is not replicated): pgferry"
                            + " refresh drops it if the source dropped it (one made only on the target stays: drop it"
                            + " yourself)",
                    "column public.legacy.remark is on the source where the target has note (of the same type, which the"
                            + " source no longer has; DDL is not replicated): pgferry refresh renames it when its record"
                            + " says it is that column renamed; else, if it was renamed, rename it on the target (ALTER"
                            + " TABLE \"public\".\"legacy\" RENAME COLUMN \"note\" TO \"remark\"), or drop note there"
                            + " (refresh adds neither: adding remark would leave the target's rows without its values)")
                    .anySatisfy(i -> assertThat(i).startsWith("type public.mood is defined otherwise"))
                    // (nothing of the new tables is named apart: they come whole)
                    .noneMatch(i -> i.contains("audit_pkey") || i.contains("trigger copied"));
            cutover(CutoverRequest.of(r.migrationId(), List.of("bank"), 30, false, false));
            DatabaseStatus refused = awaitCutover(r.migrationId(), "bank", "failed", aborted.cutover().requestedAt());
            assertThat(refused.cutover().error()).contains("schema changed").contains("public.audit")
                    .contains("pgferry refresh " + r.migrationId()).contains("writes were not blocked");
            assertThat(readOnlySetting(source, "bank")).isNull();

            // When the drift is refreshed through the CLI
            CliIT.Run refresh = CliIT.pgferry("refresh", r.migrationId(), "--databases", "bank", "--timeout", "2m",
                    "--bootstrap-servers", Infra.kafka());

            // Then what the source dropped is dropped on the target, as both sides had it when bank began to
            // replicate, and what was made only on the target stays, named (so the drift is not empty: exit 1)
            assertThat(refresh.exitCode()).as(refresh.out()).isEqualTo(1);
            assertThat(refresh.out()).contains("dropped table public.legacy_log on the target (the source dropped it)")
                    .contains("renamed table public.old_name to public.new_name on the target, as the source renamed it"
                            + " (its rows stay)").doesNotContain("dropped table public.old_name")
                    // (the column renamed too: the record says the target's note is the source's column now remark)
                    .contains("renamed column public.legacy.note to remark on the target, as the source renamed it (its"
                            + " values stay)")
                    .contains("dropped public.swapped on the target to make it anew: the source dropped it and created"
                            + " it again, or its name now belongs to another table of the source (its rows are copied"
                            + " anew)").doesNotContain("dropped constraint swapped_pkey")
                    .contains("dropped column public.legacy.flag on the target (the source dropped it)")
                    .contains("dropped constraint legacy_id_small on public.legacy on the target (the source dropped it)")
                    .contains("dropped function public.old_fn() on the target (the source dropped it)")
                    .contains("dropped view public.old_view on the target (the source dropped it)")
                    .contains("drift: bank: index public.my_ticks_idx is on the target but not on the source (DDL is not"
                            + " replicated): the source never had it while pgferry compared the two, so it was made on"
                            + " the target and stays: drop it yourself, or cut over with --ignore-drift")
                    .contains("drift: bank: table public.my_notes is on the target but not on the source")
                    .doesNotContain("dropped index public.my_ticks_idx").doesNotContain("dropped table public.my_notes");
            assertThat(Compare.scalar(target, "bank", "SELECT to_regclass('public.my_ticks_idx') IS NOT NULL"
                    + " AND to_regclass('public.my_notes') IS NOT NULL AND to_regclass('public.legacy_log') IS NULL"
                    + " AND to_regclass('public.old_view') IS NULL AND to_regprocedure('public.old_fn()') IS NULL"
                    + " AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'legacy_id_small')"
                    + " AND NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'public.legacy'::regclass"
                    + "   AND attname = 'flag')")).isEqualTo("t");
            // (the view that used the dropped column, and the materialized view, made again as on the source: with
            // the view's new grant, and the materialized view's index)
            String views = "SELECT pg_get_viewdef('public.legacy_view') || pg_get_viewdef('public.mood_counts')"
                    + " || has_table_privilege('reporter', 'public.legacy_view', 'SELECT')"
                    + " || (SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'public.mood_counts'::regclass)";
            assertThat(Compare.scalar(target, "bank", views)).contains("max(moods.id) AS top").contains("true")
                    .isEqualTo(Compare.scalar(source, "bank", views));
            assertThat(refresh.out()).contains("made again ").contains("view public.legacy_view")
                    .contains("materialized view public.mood_counts");
            // and the new table and column are on the target with their rows, and rows written later arrive
            assertThat(refresh.out()).contains("created public.audit, public.audit_copy, public.rebuilt_new, public.swapped"
                    + " on the target (with"
                    + " indexes")
                    .contains("added column public.ticks.source_note (text) on the target")
                    .contains("trigger(s) copied on public.audit (ALWAYS) fire in a subscription's apply worker too")
                    .contains("created index public.ticks_source_note_idx on the target")
                    .contains("created constraint bid_positive on public.pgbench_branches on the target")
                    .contains("made function public.tick_label(id bigint) on the target as on the source")
                    .contains("made view public.branch_totals on the target as on the source")
                    .contains("added value(s) great to type public.mood on the target")
                    .contains("altered column public.moods.id on the target to bigint NOT NULL")
                    .contains("added column public.legacy.seqno (bigint) on the target")
                    .contains("created function public.copy_audit(), function public.late_fn(plus integer), sequence"
                            + " public.ticket_seq, type public.audit_kind, type public.tier on the target (from the source's"
                            + " schema dump, with owner and privileges)")
                    .contains("created view public.late_view on the target (from the source's schema dump");
            // and the row the apply worker stopped on arrives, and the target's objects are the source's
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "bank").get("public.moods"),
                    Compare.tableFingerprints(source, "bank").get("public.moods"));
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "bank").get("public.legacy"),
                    Compare.tableFingerprints(source, "bank").get("public.legacy"));
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "bank").get("public.new_name"),
                    Compare.tableFingerprints(source, "bank").get("public.new_name"));
            assertThat(Compare.scalar(target, "bank", "SELECT count(*) FROM public.new_name")).isEqualTo("4");
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "bank").get("public.swapped"),
                    Compare.tableFingerprints(source, "bank").get("public.swapped"));
            assertThat(Compare.scalar(target, "bank", "SELECT string_agg(id || v || extra, ',' ORDER BY id)"
                    + " FROM public.swapped")).isEqualTo("1s11,2s21,3s31,10after the swap2");
            assertThat(Compare.scalar(target, "bank", "SELECT public.tick_label(7) || ' ' || (SELECT string_agg(enumlabel,"
                    + " ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'public.mood'::regtype)"))
                    .isEqualTo("v2 7/2 ok,great,bad");
            // (the new objects with their privileges, comment and ownership; verified whole at the cut-over below)
            assertThat(Compare.scalar(target, "bank", "SELECT has_table_privilege('reporter', 'public.late_view', 'SELECT')"
                    + " || ' ' || has_function_privilege('reporter', 'public.late_fn(int)', 'EXECUTE')"
                    + " || ' ' || obj_description('public.late_view'::regclass, 'pg_class')"
                    + " || ' ' || pg_get_serial_sequence('public.moods', 'ticket')")).isEqualTo("true false late public.ticket_seq");
            ReplicationIT.exec(source, "bank", "INSERT INTO public.audit (what) VALUES ('after the refresh')");
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "bank").get("public.audit"),
                    Compare.tableFingerprints(source, "bank").get("public.audit"));
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "bank").get("public.audit_copy"),
                    Compare.tableFingerprints(source, "bank").get("public.audit_copy"));
            assertThat(Compare.scalar(target, "bank", "SELECT count(*) FROM public.audit_copy")).isEqualTo("3");
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "bank").get("public.ticks"),
                    Compare.tableFingerprints(source, "bank").get("public.ticks"));
            // and once the user drops their own, the drift is empty
            ReplicationIT.exec(target, "bank", "DROP INDEX public.my_ticks_idx; DROP TABLE public.my_notes");
            assertThat(Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "bank", d -> d.drift() == null).refresh().error()).isNull();

            // When the table the refresh added is swapped in for the old one as pg-osc does (the old one renamed
            // away, the new one to its name), and rows are written to both: the subscription follows tables by name,
            // so the target's copy of the old one takes the new one's row, and the old one's row stops the apply worker
            ReplicationIT.exec(source, "bank", "INSERT INTO public.rebuilt_new VALUES (20, 'before the swap');"
                    + " BEGIN; ALTER TABLE public.rebuilt RENAME TO rebuilt_old;"
                    + " ALTER TABLE public.rebuilt_new RENAME TO rebuilt; COMMIT;"
                    + " INSERT INTO public.rebuilt VALUES (21, 'after the swap')");
            ReplicationIT.eventually(() -> Compare.scalar(target, "bank", "SELECT string_agg(id || v, ',' ORDER BY id)"
                    + " FROM public.rebuilt"), "1r1,2r2,3r3,21after the swap");
            ReplicationIT.exec(source, "bank", "INSERT INTO public.rebuilt_old VALUES (30, 'old, after the swap')");
            CliIT.Run swapRefresh = CliIT.pgferry("refresh", r.migrationId(), "--databases", "bank", "--timeout", "2m",
                    "--bootstrap-servers", Infra.kafka());

            // Then the copy under the old name is made anew and copied from the table now of that name, the table
            // renamed away is made and copied (not taken to be the copy of the new one, which has the same columns),
            // and that copy is dropped
            assertThat(swapRefresh.exitCode()).as(swapRefresh.out()).isZero();
            assertThat(swapRefresh.out()).contains("dropped public.rebuilt on the target to make it anew")
                    .contains("created public.rebuilt, public.rebuilt_old on the target")
                    .contains("dropped table public.rebuilt_new on the target (the source dropped it)")
                    .doesNotContain("renamed table");
            ReplicationIT.eventually(() -> Compare.scalar(target, "bank", "SELECT string_agg(id || v, ',' ORDER BY id)"
                    + " FROM public.rebuilt"), "1R1,2R2,3R3,20before the swap,21after the swap");
            ReplicationIT.eventually(() -> Compare.scalar(target, "bank", "SELECT string_agg(id || v, ',' ORDER BY id)"
                    + " FROM public.rebuilt_old"), "1r1,2r2,3r3,30old, after the swap");
            assertThat(Compare.scalar(target, "bank", "SELECT to_regclass('public.rebuilt_new') IS NULL")).isEqualTo("t");
            ReplicationIT.exec(source, "bank", "INSERT INTO public.rebuilt VALUES (22, 'after the refresh');"
                    + " INSERT INTO public.rebuilt_old VALUES (31, 'after the refresh')");
            for (String table : List.of("public.rebuilt", "public.rebuilt_old")) {
                ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "bank").get(table),
                        Compare.tableFingerprints(source, "bank").get(table));
            }

            // When the two exchange their names as GitLab's guide does it (three renames in one transaction), and a
            // row is written to each: each copy on the target takes the other table's row, and no error says so
            ReplicationIT.exec(source, "bank", "BEGIN; ALTER TABLE public.rebuilt RENAME TO rebuilt_tmp;"
                    + " ALTER TABLE public.rebuilt_old RENAME TO rebuilt; ALTER TABLE public.rebuilt_tmp RENAME TO rebuilt_old;"
                    + " COMMIT; INSERT INTO public.rebuilt VALUES (40, 'exchanged'); INSERT INTO public.rebuilt_old"
                    + " VALUES (41, 'exchanged')");
            ReplicationIT.eventually(() -> Compare.scalar(target, "bank", "SELECT string_agg(id::text, ',' ORDER BY id)"
                    + " FROM public.rebuilt_old WHERE id >= 40"), "41");
            cutover(CutoverRequest.of(r.migrationId(), List.of("bank"), 30, false, false));
            DatabaseStatus exchanged = awaitCutover(r.migrationId(), "bank", "failed", refused.cutover().requestedAt());

            // Then a cut-over refuses, naming both
            assertThat(exchanged.cutover().error()).contains("table public.rebuilt is another table of the source than"
                    + " when pgferry last compared the sides").contains("table public.rebuilt_old is another table of the"
                    + " source").contains("writes were not blocked");
            // and when someone's view on the target holds one of them, a refresh makes the other anew and names it
            ReplicationIT.exec(target, "bank", "CREATE VIEW public.my_rebuilt AS SELECT id FROM public.rebuilt");
            CliIT.Run held = CliIT.pgferry("refresh", r.migrationId(), "--databases", "bank", "--timeout", "2m",
                    "--bootstrap-servers", Infra.kafka());
            assertThat(held.exitCode()).as(held.out()).isNotZero();
            assertThat(held.out()).contains("dropped public.rebuilt_old on the target to make it anew")
                    .contains("table public.rebuilt could not be made anew").contains("SQLSTATE 2BP01");
            // and once that view is gone, the next refresh still knows the other is to be made anew (and does)
            ReplicationIT.exec(target, "bank", "DROP VIEW public.my_rebuilt");
            CliIT.Run exchangeRefresh = CliIT.pgferry("refresh", r.migrationId(), "--databases", "bank", "--timeout", "2m",
                    "--bootstrap-servers", Infra.kafka());
            assertThat(exchangeRefresh.exitCode()).as(exchangeRefresh.out()).isZero();
            assertThat(exchangeRefresh.out()).contains("dropped public.rebuilt on the target to make it anew")
                    .doesNotContain("dropped public.rebuilt_old");
            for (String table : List.of("public.rebuilt", "public.rebuilt_old")) {
                ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "bank").get(table),
                        Compare.tableFingerprints(source, "bank").get(table));
            }
            assertThat(Compare.scalar(target, "bank", "SELECT string_agg(id::text, ',' ORDER BY id) FROM public.rebuilt"
                    + " WHERE id >= 20")).isEqualTo("30,31,40");

            // When pgbench and a writer that records each committed id write to bank while it is cut over (verified)
            // (both paced: the suite's other JVM shares the machine's cores)
            Process bench = pgbench(source, "-n", "-c", "4", "-j", "2", "-R", "400", "-T", "120", "bank");
            Writer writer = new Writer(source, 2);
            Thread writing = new Thread(writer, "ticks-writer");
            writing.start();
            ReplicationIT.eventually(() -> writer.committed().size() >= 200
                    && Long.parseLong(Compare.scalar(source, "bank", "SELECT count(*) FROM public.pgbench_history")) > 0, true);
            cutover(CutoverRequest.of(r.migrationId(), List.of("bank"), 60, true, false));
            DatabaseStatus cut = awaitCutover(r.migrationId(), "bank", "done", exchanged.cutover().requestedAt());
            writing.join(30_000);
            boolean benchEnded = bench.waitFor(30, TimeUnit.SECONDS);
            bench.destroyForcibly();

            // Then the writes stopped because the source refused them
            assertThat(writer.stoppedBy.get()).as("the writer's last error").isEqualTo("25006");
            assertThat(benchEnded).as("pgbench ended once its sessions were ended").isTrue();
            assertThat(cut.status()).isEqualTo(State.DONE);
            assertThat(cut.cutover().sessionsEnded()).isGreaterThanOrEqualTo(5);
            assertThat(cut.cutover().writesBlockedMs()).isPositive();
            assertThat(cut.cutover().fenceLsn()).matches("[0-9A-F]+/[0-9A-F]+");
            assertThat(cut.cutover().sourceWritable()).isFalse();
            assertThat(cut.verification().result()).isEqualTo(Verification.Result.MATCH);
            // (the materialized view the source made again before the rows it counts arrived is stale there, which no
            // copy can reproduce: the target holds what its query gives, and the verification says so)
            assertThat(cut.verification().checks()).filteredOn(c -> c.name().equals("materialized views")).singleElement()
                    .satisfies(c -> assertThat(c.details()).containsExactly("public.mood_counts: stale on the source"
                            + " (its rows are not what its query gives now: it was not refreshed since its tables"
                            + " changed); the target holds what the query gives now, as REFRESH MATERIALIZED VIEW on"
                            + " the source would make it"));
            assertThat(Compare.scalar(target, "bank", "SELECT string_agg(m || '=' || n || '/' || top, ',' ORDER BY m)"
                    + " FROM public.mood_counts")).isEqualTo(Compare.scalar(source, "bank", "SELECT string_agg(m || '='"
                    + " || n || '/' || top, ',' ORDER BY m) FROM (SELECT m, count(*) AS n, max(id) AS top"
                    + " FROM public.moods GROUP BY m) q"));
            // and every id the source confirmed to the writer is on the target, and every table matches
            List<Long> committed = writer.committed();
            assertThat(Compare.scalar(target, "bank", "SELECT count(*) FROM public.ticks WHERE id = ANY ('{"
                    + String.join(",", committed.stream().map(String::valueOf).toList()) + "}'::bigint[])"))
                    .isEqualTo(String.valueOf(committed.size()));
            assertThat(Compare.tableFingerprints(target, "bank")).isEqualTo(Compare.tableFingerprints(source, "bank"));
            // (the trigger held while bank replicated fires on the target again, as on the source)
            assertThat(Compare.scalar(target, "bank", "SELECT tgenabled FROM pg_trigger WHERE tgname = 'copied'"))
                    .isEqualTo("A");
            Reliability.record("cut-over while pgbench (4 clients) and a recording writer wrote to the source",
                    committed.size() + " ids the source confirmed, all on the target; writes blocked "
                            + cut.cutover().writesBlockedMs() + " ms; source read-only after",
                    Reliability.rows(Compare.tableFingerprints(source, "bank")),
                    Reliability.rows(Compare.tableFingerprints(target, "bank")));
            // and the source refuses writes while the target takes them, its sequence ahead of every source id
            assertThatThrownBy(() -> ReplicationIT.exec(source, "bank", "INSERT INTO public.ticks (note) VALUES ('late')"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("25006"));
            long sourceMax = Long.parseLong(Compare.scalar(source, "bank", "SELECT max(id) FROM public.ticks"));
            long targetNext = Long.parseLong(Compare.scalar(target, "bank",
                    "INSERT INTO public.ticks (note) VALUES ('on the target') RETURNING id"));
            assertThat(targetNext).isGreaterThan(sourceMax);
            // and nothing of the replication is left on either server
            assertThat(Compare.scalar(target, "bank", "SELECT count(*) FROM pg_subscription"
                    + " WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())")).isEqualTo("0");
            assertThat(Compare.scalar(source, "bank", "SELECT count(*) FROM pg_replication_slots"
                    + " WHERE database = current_database()")).isEqualTo("0");
            assertThat(Compare.scalar(source, "bank", "SELECT count(*) FROM pg_publication")).isEqualTo("0");

            // When the other database's unlogged tables change on the source while it replicates
            ReplicationIT.exec(source, "ledger", "INSERT INTO public.zone VALUES (3, 'c');"
                    + " INSERT INTO public.sessions SELECT g, 3, md5(g::text) FROM generate_series(51, 80) g;"
                    + " UPDATE public.sessions SET token = 'renewed' WHERE id % 7 = 0; DELETE FROM public.sessions WHERE id <= 10;"
                    + " INSERT INTO public.entries (v) VALUES (1000);"
                    + " DELETE FROM public.zone WHERE id = 1 AND NOT EXISTS (SELECT 1 FROM public.sessions WHERE zone = 1)");
            // and its large objects too: one rewritten, one removed, one added with an owner and a grant, one's grants
            // changed, and a large one changed past its first 16 MB
            ReplicationIT.exec(source, "ledger", "SELECT lo_put(1001, 0, 'ONE, longer now'), lo_unlink(1002),"
                    + " lo_put(2001, 19000000, 'changed in its second chunk'),"
                    + " lo_from_bytea(1004, 'four'); ALTER LARGE OBJECT 1004 OWNER TO lo_owner;"
                    + " GRANT SELECT ON LARGE OBJECT 1004 TO lo_reader; REVOKE SELECT ON LARGE OBJECT 1003 FROM PUBLIC;"
                    + " GRANT UPDATE ON LARGE OBJECT 1003 TO lo_reader WITH GRANT OPTION");
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "ledger").get("public.session_log"),
                    Compare.tableFingerprints(source, "ledger").get("public.session_log"));

            // and, once the coordinator restarts, it is cut over at once through the CLI with --unblock-source and
            // --verify (the new coordinator plans it from a view it must first rebuild)
            pgferry.coordinator.close();
            pgferry.coordinator = dev.pgferry.coordinator.Coordinator.start(Infra.kafka(), "127.0.0.1", 0, 1_000);
            CliIT.Run run = CliIT.pgferry("cutover", r.migrationId(), "--databases", "ledger", "--unblock-source",
                    "--verify", "--timeout", "2m", "--bootstrap-servers", Infra.kafka());

            // Then it exits 0, the whole migration is done, and ledger's source takes writes again
            assertThat(run.exitCode()).as(run.out()).isEqualTo(0);
            assertThat(run.out()).contains("cut-over: ledger: done").contains("writable again");
            // and the unlogged tables are as on the source, copied again while writes were blocked, without firing
            // the target's triggers (the log holds the source's rows only), whose states are as before
            var ledgerSource = Compare.tableFingerprints(source, "ledger");
            assertThat(ledgerSource.get("public.sessions")).startsWith("70:");
            assertThat(Compare.tableFingerprints(target, "ledger")).isEqualTo(ledgerSource);
            assertThat(Compare.scalar(target, "ledger", "SELECT string_agg(tgname || '=' || tgenabled::text, ',' ORDER BY tgname)"
                    + " FROM pg_trigger WHERE tgrelid = 'public.sessions'::regclass AND NOT tgisinternal"))
                    .isEqualTo("dormant=D,logged=O");
            assertThat(Compare.scalar(target, "ledger", "SELECT tgenabled FROM pg_trigger WHERE tgname = 'audited'"))
                    .isEqualTo("A");
            assertThat(Compare.scalar(target, "ledger", "SELECT count(*) FROM public.entry_audit")).isEqualTo("2");
            String largeObjects = "SELECT string_agg(oid || ' ' || pg_get_userbyid(lomowner) || ' ' || coalesce(lomacl::text, '')"
                    + " || ' ' || CASE WHEN oid < 2000 THEN encode(lo_get(oid), 'escape') ELSE md5(lo_get(oid)) END, ', '"
                    + " ORDER BY oid) FROM pg_largeobject_metadata";
            assertThat(Compare.scalar(source, "ledger", largeObjects)).startsWith("1001 postgres  ONE, longer now, 1003 lo_owner");
            assertThat(Compare.scalar(target, "ledger", largeObjects)).isEqualTo(Compare.scalar(source, "ledger", largeObjects));
            Verification cutVerified = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "ledger",
                    d -> d.verification() != null).verification();
            assertThat(cutVerified.result()).as(Json.writePretty(cutVerified)).isEqualTo(Verification.Result.MATCH);
            assertThat(cutVerified.tables()).filteredOn(t -> t.table().equals("public.sessions")).singleElement()
                    .satisfies(t -> assertThat(t.result()).isEqualTo(Verification.Result.MATCH));
            assertThat(cutVerified.checks()).filteredOn(c -> c.name().equals("sequences") || c.name().equals("large objects"))
                    .hasSize(2).allSatisfy(c -> assertThat(c.result()).isEqualTo(Verification.Result.MATCH));
            Reliability.record("unlogged tables (one referencing the other, a trigger logging inserts) and large objects"
                            + " (contents, owner, grants) changed while replicating, then cut over",
                    "copied again while writes were blocked, without firing the target's triggers; verified equal",
                    Reliability.rows(ledgerSource), Reliability.rows(Compare.tableFingerprints(target, "ledger")));
            MigrationStatus done = Pgferry.awaitView(pgferry.coordinator, r.migrationId(), s -> s.migration().status() == State.DONE
                    && s.migrationDetail().stream().allMatch(d -> d.status() == State.DONE));
            assertThat(done.migration().status()).isEqualTo(State.DONE);
            ReplicationIT.exec(source, "ledger", "INSERT INTO public.entries (v) VALUES (101)");
            assertThat(readOnlySetting(source, "ledger")).isNull();
            assertThat(readOnlySetting(source, "bank")).isEqualTo("on");
            assertThat(Compare.scalar(source, "ledger", "SELECT count(*) FROM pg_replication_slots")).isEqualTo("0");

            // and a cut-over of a migration with nothing left to cut over is refused before anything is sent
            CliIT.Run again = CliIT.pgferry("cutover", r.migrationId(), "--bootstrap-servers", Infra.kafka());
            assertThat(again.exitCode()).isEqualTo(2);
            assertThat(post(r.migrationId(), "").statusCode()).isEqualTo(409);
            assertThat(post(r.migrationId(), "{\"deadline_seconds\": 0}").statusCode()).isEqualTo(400);
            assertThat(post("m-unknown", "").statusCode()).isEqualTo(404);
        }
    }

    /** The source database's own default_transaction_read_only setting, or null. */
    static String readOnlySetting(LocalPostgres pg, String db) throws SQLException {
        return Compare.scalar(pg, "postgres", "SELECT substr(cfg, length('default_transaction_read_only') + 2)"
                + " FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) cfg"
                + " WHERE d.datname = '" + db + "' AND s.setrole = 0 AND cfg LIKE 'default_transaction_read_only=%'");
    }

    static java.net.http.HttpResponse<String> post(String id, String body) throws Exception {
        return java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(
                        "http://127.0.0.1:" + pgferry.coordinator.httpPort() + "/migrations/" + id + "/cutover"))
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    }

    static void cutover(CutoverRequest request) {
        pgferry.bus.send(Topics.REQUESTS, request.migrationId(), Json.write(request));
    }

    /** Waits for the end of a cut-over of {@code db} requested after {@code after} (null: any) and checks its state. */
    static DatabaseStatus awaitCutover(String id, String db, String state, java.time.Instant after) throws InterruptedException {
        DatabaseStatus row = Pgferry.awaitRow(pgferry.coordinator, id, db, d -> d.cutover() != null
                && (after == null || d.cutover().requestedAt().isAfter(after))
                && (d.cutover().state().equals("done") || d.cutover().state().equals("failed")));
        assertThat(row.cutover().state()).as(row.toString()).isEqualTo(state);
        return row;
    }

    static Process pgbench(LocalPostgres pg, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(LocalPostgres.defaultBinDir().resolve("pgbench").toString(),
                "-h", pg.host(), "-p", String.valueOf(pg.port()), "-U", "postgres"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(Infra.work().resolve("pgbench-" + pg.port() + ".log").toFile());
        pb.environment().put("PGPASSWORD", pg.password());
        return pb.start();
    }

    /**
     * Inserts rows one transaction at a time and keeps every id the source confirmed committed; reconnects when its
     * session is ended, and stops at the first other error (the SQLSTATE is kept).
     */
    static final class Writer implements Runnable {
        private final LocalPostgres pg;
        private final long pauseMs;
        private final List<Long> committed = Collections.synchronizedList(new ArrayList<>());
        final AtomicReference<String> stoppedBy = new AtomicReference<>();

        Writer(LocalPostgres pg) {
            this(pg, 0);
        }

        /** A writer that waits {@code pauseMs} after each committed row (a long run stays light). */
        Writer(LocalPostgres pg, long pauseMs) {
            this.pg = pg;
            this.pauseMs = pauseMs;
        }

        List<Long> committed() {
            synchronized (committed) {
                return List.copyOf(committed);
            }
        }

        @Override
        public void run() {
            while (stoppedBy.get() == null) {
                try (Connection c = SampleData.connect(pg, "bank");
                     PreparedStatement ps = c.prepareStatement("INSERT INTO public.ticks (note) VALUES ('w') RETURNING id")) {
                    while (true) {
                        try (ResultSet rs = ps.executeQuery()) {
                            rs.next();
                            committed.add(rs.getLong(1));
                        }
                        if (pauseMs > 0) {
                            Thread.sleep(pauseMs);
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    stoppedBy.set("interrupted");
                } catch (SQLException e) {
                    // 57P01: this session was ended; anything else ends the writer.
                    if (!"57P01".equals(e.getSQLState()) && !"08006".equals(e.getSQLState())) {
                        stoppedBy.set(e.getSQLState() == null ? e.toString() : e.getSQLState());
                    }
                }
            }
        }
    }
}
