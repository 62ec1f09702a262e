package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.CheckReport;
import dev.pgferry.messages.CheckReport.DatabaseCheck;
import dev.pgferry.messages.CheckReport.Finding;
import dev.pgferry.messages.CheckReport.Verdict;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.pg.Secrets;
import dev.pgferry.worker.check.Checker;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code pgferry check} against servers built to hold every warning and blocker it knows of, each reported by name
 * with its verdict, and nothing changed on either server. A PostgreSQL 15 source (Debian) with a prepared transaction,
 * a transaction left open, a table without a primary key, an unlogged table, a large object, an extension the target
 * lacks and one it has in an older version, an ICU database, a tiny {@code max_slot_wal_keep_size}; a PostgreSQL 12
 * target (zonky binaries) holding a database with a table; the source compresses large values with lz4, which the
 * target has not. Then a source user that may not replicate, and a
 * PostgreSQL 16 source that the suite's {@code pg_dump} 15 cannot dump.
 */
class CheckVerdictsIT {

    @Test
    void everyWarningAndBlockerIsReportedByNameAndNothingIsChanged() throws Exception {
        Map<String, String> settings = new HashMap<>(Infra.TEST_SETTINGS);
        settings.put("max_prepared_transactions", "2");
        settings.put("max_slot_wal_keep_size", "1MB");
        settings.put("default_toast_compression", "lz4");
        settings.put("timezone", "Europe/Berlin");
        try (LocalPostgres source = Infra.postgres(settings);
             LocalPostgres target = LocalPostgres.start(ZonkyBinaries.bin(), Infra.work().resolve("pg"), Infra.PASSWORD,
                     Infra.TEST_SETTINGS)) {
            // Given a source with a bit of everything a check warns of or blocks on
            try (Connection c = SampleData.connect(source, "postgres"); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE risky");
                s.execute("CREATE DATABASE icu_db LOCALE_PROVIDER icu ICU_LOCALE 'de-DE' TEMPLATE template0");
                s.execute("CREATE DATABASE occupied");
            }
            try (Connection c = SampleData.connect(source, "risky"); Statement s = c.createStatement()) {
                s.execute("""
                        CREATE TABLE public.nokey (v text);
                        CREATE UNLOGGED TABLE public.scratch (id int PRIMARY KEY);
                        CREATE TABLE public.keyed (id int PRIMARY KEY);
                        CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
                        CREATE TRIGGER stamp BEFORE INSERT ON public.keyed FOR EACH ROW EXECUTE FUNCTION public.touch();
                        ALTER TABLE public.keyed ENABLE ALWAYS TRIGGER stamp;
                        SELECT lo_from_bytea(0, 'blob');
                        CREATE EXTENSION hstore;
                        CREATE EXTENSION pg_walinspect;
                        """);
                s.execute("BEGIN");
                s.execute("INSERT INTO public.keyed VALUES (1)");
                s.execute("PREPARE TRANSACTION 'left-by-the-app'");
            }
            try (Connection c = SampleData.connect(target, "postgres"); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE occupied");
            }
            try (Connection c = SampleData.connect(target, "occupied"); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE public.users_own (id int)");
            }
            String targetDatabases = Compare.scalar(target, "postgres", "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database");
            CheckReport report;
            try (Connection open = SampleData.connect(source, "risky"); Statement s = open.createStatement()) {
                s.execute("SET application_name = 'report-job'");
                open.setAutoCommit(false);
                s.execute("SELECT count(*) FROM public.keyed");   // a transaction the application left open
                Thread.sleep(1_500);

                // When a replication migration of it onto the older target is checked, reporting transactions open 1 s
                report = new Checker(request(source, target, Method.REPLICATION), Secrets.system(), Duration.ofSeconds(1)).run();
                open.rollback();
            }

            // Then the servers' findings name the older target, the prepared and the open transaction
            assertThat(report.verdict()).isEqualTo(Verdict.BLOCKER);
            assertThat(finding(report.server(), "versions").verdict()).isEqualTo(Verdict.WARNING);
            assertThat(finding(report.server(), "versions").message()).contains("PostgreSQL 15");
            assertThat(finding(report.server(), "pg_dump").verdict()).isEqualTo(Verdict.PASS);
            assertThat(finding(report.server(), "compression").verdict()).isEqualTo(Verdict.WARNING);
            assertThat(finding(report.server(), "compression").message()).startsWith("the source compresses large values"
                    + " with lz4, which the target's PostgreSQL 12 does not have");
            // a server time zone the target does not share (the JDBC driver would have hidden it: read with psql)
            assertThat(finding(report.server(), "server settings").verdict()).isEqualTo(Verdict.WARNING);
            assertThat(finding(report.server(), "server settings").message()).startsWith("server setting(s) that"
                    + " applications see differ").contains("TimeZone: Europe/Berlin on the source, ");
            assertThat(finding(report.server(), "prepared transactions").verdict()).isEqualTo(Verdict.WARNING);
            assertThat(finding(report.server(), "prepared transactions").message()).startsWith("1 prepared transaction(s)")
                    .contains("left-by-the-app (database risky");
            assertThat(finding(report.server(), "open transactions").verdict()).isEqualTo(Verdict.WARNING);
            assertThat(finding(report.server(), "open transactions").message()).startsWith("1 transaction(s) open for more than 1 s")
                    .contains("application 'report-job', database risky");
            Map<String, DatabaseCheck> dbs = byName(report);
            assertThat(dbs.keySet()).containsExactlyInAnyOrder("risky", "icu_db", "occupied");

            // and each database's: what replication does not carry, the extensions, the WAL a slot may keep
            DatabaseCheck risky = dbs.get("risky");
            assertThat(risky.verdict()).isEqualTo(Verdict.BLOCKER);
            assertThat(risky.method()).isEqualTo("replication");
            assertThat(finding(risky.findings(), "replication").verdict()).isEqualTo(Verdict.PASS);
            assertThat(finding(risky.findings(), "primary keys").verdict()).isEqualTo(Verdict.WARNING);
            assertThat(finding(risky.findings(), "primary keys").message()).startsWith("1 table(s)").contains("public.nokey")
                    .doesNotContain("public.keyed");
            assertThat(finding(risky.findings(), "unlogged tables").message()).startsWith("1 unlogged table(s) (public.scratch)");
            assertThat(finding(risky.findings(), "triggers").message()).startsWith("trigger(s) stamp on public.keyed"
                    + " (ALWAYS) fire in a subscription's apply worker too: while the database replicates, pgferry holds"
                    + " them disabled on the target");
            assertThat(finding(risky.findings(), "large objects").message()).startsWith("1 large object(s)");
            assertThat(findings(risky.findings(), "extensions")).extracting(Finding::verdict)
                    .containsExactlyInAnyOrder(Verdict.BLOCKER, Verdict.WARNING);
            assertThat(findings(risky.findings(), "extensions")).anySatisfy(f -> assertThat(f.message())
                    .startsWith("the target cannot create extension(s) pg_walinspect 1.0"));
            assertThat(findings(risky.findings(), "extensions")).anySatisfy(f -> assertThat(f.message())
                    .contains("hstore 1.8 (the target offers 1.6)"));
            assertThat(finding(risky.findings(), "max_slot_wal_keep_size").verdict()).isEqualTo(Verdict.WARNING);
            assertThat(finding(risky.findings(), "max_slot_wal_keep_size").message()).startsWith("the source keeps at most 1 MB");
            // an ICU database on a target older than 15, and a target database that holds a table
            assertThat(finding(dbs.get("icu_db").findings(), "locale").verdict()).isEqualTo(Verdict.BLOCKER);
            assertThat(finding(dbs.get("icu_db").findings(), "locale").message()).contains("icu locale provider (de-DE)")
                    .contains("PostgreSQL 12 target");
            assertThat(finding(dbs.get("occupied").findings(), "target database").verdict()).isEqualTo(Verdict.BLOCKER);
            assertThat(finding(dbs.get("occupied").findings(), "target database").message())
                    .contains("already holds 1 table(s)").contains("TARGET_NOT_EMPTY");
            assertThat(finding(dbs.get("occupied").findings(), "extensions").verdict()).isEqualTo(Verdict.PASS);
            // and nothing was changed: no database on the target, no slot or publication on the source
            assertThat(Compare.scalar(target, "postgres", "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database"))
                    .isEqualTo(targetDatabases);
            assertThat(Compare.scalar(source, "postgres", "SELECT count(*) FROM pg_replication_slots")).isEqualTo("0");
            assertThat(Compare.scalar(source, "risky", "SELECT count(*) FROM pg_publication")).isEqualTo("0");
            assertThat(Compare.scalar(source, "risky", "SELECT count(*) FROM pg_prepared_xacts")).isEqualTo("1");

            // When the source user may not replicate (neither superuser nor REPLICATION)
            try (Connection c = SampleData.connect(source, "postgres"); Statement s = c.createStatement()) {
                s.execute("CREATE ROLE reader LOGIN PASSWORD '" + Infra.PASSWORD + "'");
            }
            dev.pgferry.messages.Connection reader = new dev.pgferry.messages.Connection(source.host(), source.port(),
                    "postgres", "reader", Infra.PASSWORD, null, "disable");
            MigrationRequest replication = MigrationRequest.of(reader, Pgferry.conn(target), Method.REPLICATION,
                    List.of("postgres"), List.of(), List.of());
            DatabaseCheck strict = byName(new Checker(replication, Secrets.system()).run()).get("risky");
            DatabaseCheck auto = byName(new Checker(MigrationRequest.of(reader, Pgferry.conn(target), Method.AUTO,
                    List.of("postgres"), List.of(), List.of()), Secrets.system()).run()).get("risky");

            // Then replication is a blocker when asked for, and auto says it dumps instead, and why
            assertThat(finding(strict.findings(), "replication").verdict()).isEqualTo(Verdict.BLOCKER);
            assertThat(finding(strict.findings(), "replication").message()).contains("source user reader may not replicate");
            assertThat(auto.method()).isEqualTo("dump");
            assertThat(finding(auto.findings(), "replication").verdict()).isEqualTo(Verdict.WARNING);
            assertThat(finding(auto.findings(), "replication").message()).startsWith("dump instead of logical replication: ")
                    .contains("source user reader may not replicate");
            // (what dump carries whole is no warning then)
            assertThat(auto.findings()).extracting(Finding::check).doesNotContain("primary keys", "max_slot_wal_keep_size");
            assertThat(finding(new Checker(request(source, target, Method.DUMP), Secrets.system()).run().server(),
                    "open transactions").verdict()).isEqualTo(Verdict.PASS);

            // When the source is a PostgreSQL 16 that the suite's pg_dump 15 cannot dump
            try (LocalPostgres newer = LocalPostgres.start(ZonkyBinaries.bin16(), Infra.work().resolve("pg"), Infra.PASSWORD,
                    Infra.TEST_SETTINGS)) {
                CheckReport tooNew = new Checker(request(newer, source, Method.DUMP), Secrets.system()).run();

                // Then pg_dump is a blocker that names the fix, and the target (15) is older than the source
                assertThat(tooNew.verdict()).isEqualTo(Verdict.BLOCKER);
                assertThat(finding(tooNew.server(), "pg_dump").verdict()).isEqualTo(Verdict.BLOCKER);
                assertThat(finding(tooNew.server(), "pg_dump").message()).startsWith("pg_dump is version 15, older than the source"
                        + " (PostgreSQL 16)").contains("PGFERRY_PG_BIN");
                assertThat(finding(tooNew.server(), "versions").verdict()).isEqualTo(Verdict.WARNING);
            }
        }
    }

    private static MigrationRequest request(LocalPostgres source, LocalPostgres target, Method method) {
        return MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), method, List.of("postgres"), List.of(), List.of());
    }

    private static Map<String, DatabaseCheck> byName(CheckReport report) {
        Map<String, DatabaseCheck> out = new HashMap<>();
        report.databases().forEach(d -> out.put(d.dbname(), d));
        return out;
    }

    private static List<Finding> findings(List<Finding> all, String check) {
        return all.stream().filter(f -> f.check().equals(check)).toList();
    }

    /** The one finding of that check. */
    private static Finding finding(List<Finding> all, String check) {
        List<Finding> found = findings(all, check);
        assertThat(found).as("findings %s in %s", check, all).hasSize(1);
        return found.get(0);
    }
}
