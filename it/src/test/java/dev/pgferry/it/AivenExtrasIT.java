package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.messages.Connection;
import dev.pgferry.messages.CutoverRequest;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.messages.RefreshRequest;
import dev.pgferry.messages.Topics;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The managed-service setting: users that are not superusers on both sides, as an Aiven admin user is. The source
 * user has REPLICATION but does not own the application's tables, so the publication is made through
 * {@code aiven_extras}; the target user may not create subscriptions, so the subscription is made and dropped
 * through {@code aiven_extras}. The extension is pgferry's stand-in with the same functions
 * ({@code src/test/resources/aiven-extras-stand-in}), installed as a trusted extension into the PostgreSQL 16
 * binaries the suite unpacks. Migrate, syncing, changes flowing, a new table and column refreshed (the publication made
 * again and the subscription refreshed through the extension), cut-over (which drops the subscription through the
 * extension) and nothing left behind.
 */
class AivenExtrasIT {

    @Test
    void nonSuperusersReplicateAndCutOverThroughAivenExtras() throws Exception {
        // The source is PostgreSQL 15 (pg_dump here is 15), the target 16, each with the stand-in installed
        Path bin15 = privatePostgres15();
        install(bin15.getParent().getParent().getParent().getParent().resolve("share/postgresql/15/extension"));
        Path bin16 = ZonkyBinaries.bin16();
        install(bin16.getParent().resolve("share/postgresql/extension"));
        // On a managed target the admin user can SET ROLE to the roles it creates (PostgreSQL 16's default gives it
        // only ADMIN): what ownership of restored objects needs.
        try (LocalPostgres source = LocalPostgres.start(bin15, Infra.work().resolve("pg"), Infra.PASSWORD);
             LocalPostgres target = LocalPostgres.start(bin16, Infra.work().resolve("pg"), Infra.PASSWORD,
                     Map.of("createrole_self_grant", "'set, inherit'"));
             Pgferry pgferry = new Pgferry(1)) {
            // Given a source admin with REPLICATION that does not own the application's tables
            String pw = "'" + Infra.PASSWORD + "'";
            ReplicationIT.exec(source, "postgres", "CREATE ROLE srcadmin LOGIN REPLICATION CREATEDB CREATEROLE PASSWORD " + pw
                    + "; GRANT pg_signal_backend TO srcadmin; CREATE ROLE appowner NOLOGIN");
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE app OWNER srcadmin");
            // (The extension's schema belongs to srcadmin: an object the source's superuser owns cannot be given back
            // its owner by a target user that is not a superuser; see README, known limits.)
            ReplicationIT.exec(source, "app", "CREATE SCHEMA aiven_extras AUTHORIZATION srcadmin; CREATE EXTENSION aiven_extras;"
                    + " CREATE SCHEMA bank AUTHORIZATION appowner;"
                    + " CREATE TABLE bank.accounts (id serial PRIMARY KEY, balance int NOT NULL);"
                    + " INSERT INTO bank.accounts (balance) SELECT g FROM generate_series(1, 2000) g;"
                    + " ALTER TABLE bank.accounts OWNER TO appowner;"
                    + " GRANT USAGE ON SCHEMA bank TO srcadmin; GRANT SELECT ON ALL TABLES IN SCHEMA bank TO srcadmin;"
                    + " GRANT SELECT ON ALL SEQUENCES IN SCHEMA bank TO srcadmin");
            // and a target admin that may create databases and roles, but not subscriptions
            ReplicationIT.exec(target, "postgres", "CREATE ROLE tgtadmin LOGIN CREATEDB CREATEROLE PASSWORD " + pw
                    + "; CREATE EXTENSION aiven_extras");
            assertThat(Compare.scalar(source, "app", "SELECT rolsuper::text FROM pg_roles WHERE rolname = 'srcadmin'")).isEqualTo("false");
            assertThatThrownBy(() -> exec(source, "srcadmin", "app", "CREATE PUBLICATION probe FOR TABLE bank.accounts"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("42501"));

            // When a replication migration runs as these users
            MigrationRequest r = MigrationRequest.of(conn(source, "srcadmin"), conn(target, "tgtadmin"), Method.REPLICATION,
                    List.of("postgres"), List.of(), List.of());
            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            // Then the database syncs; the publication and the subscription were made through the extension
            DatabaseStatus app = ReplicationIT.row(s, "app");
            assertThat(app.status()).as(s.toString()).isEqualTo(State.SYNCING);
            assertThat(Compare.tableFingerprints(target, "app")).isEqualTo(Compare.tableFingerprints(source, "app"));
            assertThat(Compare.scalar(source, "app", "SELECT pg_get_userbyid(pubowner) FROM pg_publication")).isEqualTo("srcadmin");
            assertThat(Compare.scalar(target, "app", "SELECT r.rolsuper::text FROM pg_subscription s"
                    + " JOIN pg_roles r ON r.oid = s.subowner")).isEqualTo("true");
            ReplicationIT.exec(source, "app", "INSERT INTO bank.accounts (balance) VALUES (-1); UPDATE bank.accounts"
                    + " SET balance = balance + 1 WHERE id <= 10");
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "app"), Compare.tableFingerprints(source, "app"));

            // When a table is created and a column added on the source while app is syncing (by the application's
            // owner, who grants the admin SELECT on the new table)
            ReplicationIT.exec(source, "app", "SET ROLE appowner;"
                    + " CREATE TABLE bank.transfers (id serial PRIMARY KEY, amount int NOT NULL);"
                    + " INSERT INTO bank.transfers (amount) SELECT g FROM generate_series(1, 300) g;"
                    + " ALTER TABLE bank.accounts ADD COLUMN note text DEFAULT 'none';"
                    + " GRANT SELECT ON bank.transfers TO srcadmin; GRANT SELECT ON bank.transfers_id_seq TO srcadmin;"
                    + " RESET ROLE; UPDATE bank.accounts SET note = 'changed' WHERE id <= 5");
            DatabaseStatus drifted = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "app", d -> d.drift() != null
                    && d.drift().stream().anyMatch(i -> i.startsWith("table bank.transfers "))
                    && d.drift().stream().anyMatch(i -> i.startsWith("column bank.accounts.note (text) ")));
            assertThat(drifted.status()).isEqualTo(State.SYNCING);
            // and refreshed: neither admin may add a table it does not own to the publication or refresh a subscription
            // a superuser owns, so both go through the extension
            assertThatThrownBy(() -> exec(source, "srcadmin", "app", "ALTER PUBLICATION "
                    + Compare.scalar(source, "app", "SELECT quote_ident(pubname) FROM pg_publication") + " ADD TABLE bank.transfers"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("42501"));
            allowLoopback(target);
            pgferry.bus.send(Topics.REQUESTS, r.migrationId(), Json.write(RefreshRequest.of(r.migrationId(), List.of())));
            DatabaseStatus refreshed = Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "app", d -> d.refresh() != null
                    && d.refresh().finishedAt() != null);

            // Then the new table and column are on the target with their rows; the publication, made again, is still
            // the admin's and holds both tables; rows written later to either arrive
            assertThat(refreshed.refresh().error()).as(refreshed.toString()).isNull();
            assertThat(refreshed.refresh().applied()).anyMatch(a -> a.contains("bank.transfers") && a.contains("(made again through aiven_extras)"))
                    .anyMatch(a -> a.contains("refreshed subscription") && a.contains("through aiven_extras"));
            assertThat(Compare.scalar(source, "app", "SELECT pg_get_userbyid(pubowner) || ':' || (SELECT string_agg("
                    + "schemaname || '.' || tablename, ',' ORDER BY tablename) FROM pg_publication_tables) FROM pg_publication"))
                    .isEqualTo("srcadmin:bank.accounts,bank.transfers");
            ReplicationIT.exec(source, "app", "INSERT INTO bank.transfers (amount) VALUES (-5);"
                    + " INSERT INTO bank.accounts (balance, note) VALUES (7, 'after the refresh')");
            ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "app"), Compare.tableFingerprints(source, "app"));
            assertThat(Pgferry.awaitRow(pgferry.coordinator, r.migrationId(), "app", d -> d.drift() == null).status())
                    .isEqualTo(State.SYNCING);

            // When it is cut over
            pgferry.bus.send(Topics.REQUESTS, r.migrationId(), Json.write(CutoverRequest.of(r.migrationId(), List.of(), 60,
                    false, false)));
            MigrationStatus cut = Pgferry.awaitView(pgferry.coordinator, r.migrationId(), v -> ReplicationIT.row(v, "app").cutover() != null
                    && !"cutting_over".equals(ReplicationIT.row(v, "app").cutover().state()));

            // Then it is done: the source refuses writes, the target has every row and its sequence ahead, and the
            // subscription (dropped through the extension), slot and publication are gone
            DatabaseStatus done = ReplicationIT.row(cut, "app");
            assertThat(done.cutover().state()).as(done.toString()).isEqualTo("done");
            assertThat(done.status()).isEqualTo(State.DONE);
            assertThat(Compare.tableFingerprints(target, "app")).isEqualTo(Compare.tableFingerprints(source, "app"));
            assertThatThrownBy(() -> ReplicationIT.exec(source, "app", "INSERT INTO bank.accounts (balance) VALUES (0)"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getSQLState()).isEqualTo("25006"));
            assertThat(Long.parseLong(Compare.scalar(target, "app", "SELECT last_value FROM bank.accounts_id_seq")))
                    .isEqualTo(Long.parseLong(Compare.scalar(source, "app", "SELECT last_value FROM bank.accounts_id_seq")));
            assertThat(Compare.scalar(target, "app", "SELECT count(*) FROM pg_subscription")).isEqualTo("0");
            assertThat(Compare.scalar(source, "app", "SELECT count(*) FROM pg_replication_slots")).isEqualTo("0");
            assertThat(Compare.scalar(source, "app", "SELECT count(*) FROM pg_publication")).isEqualTo("0");
        }
    }

    /**
     * Lets the bootstrap superuser connect over the local socket without a password, as the stand-in's refresh
     * (a dblink loopback, see aiven_extras--1.0.sql) needs; Aiven's own runs in the calling backend instead.
     */
    private static void allowLoopback(LocalPostgres pg) throws Exception {
        Path hba = Path.of(Compare.scalar(pg, "postgres", "SHOW hba_file"));
        Path ident = Path.of(Compare.scalar(pg, "postgres", "SHOW ident_file"));
        String osUser = "root".equals(System.getProperty("user.name")) ? "postgres" : System.getProperty("user.name");
        Files.writeString(ident, Files.readString(ident) + "\nloopback " + osUser + " postgres\n");
        Files.writeString(hba, "local all postgres peer map=loopback\n" + Files.readString(hba));
        Compare.scalar(pg, "postgres", "SELECT pg_reload_conf()::text");
    }

    private static void install(Path extensions) throws Exception {
        for (String file : List.of("aiven_extras.control", "aiven_extras--1.0.sql")) {
            try (InputStream in = AivenExtrasIT.class.getResourceAsStream("/aiven-extras-stand-in/" + file)) {
                Files.copy(in, extensions.resolve(file), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /**
     * Debian's PostgreSQL 15 with a share directory of its own: PostgreSQL finds its share and lib directories
     * relative to where its programs are, so a tree of hard links to Debian's files (under the suite's work
     * directory) is a server whose extension directory the test may add to without touching the system's.
     */
    static Path privatePostgres15() throws Exception {
        Path root = Infra.work().resolve("pg15-private");
        Path bin = root.resolve("lib/postgresql/15/bin");
        if (!Files.isDirectory(bin)) {
            Files.createDirectories(root.resolve("lib/postgresql/15"));
            Files.createDirectories(root.resolve("share/postgresql"));
            Path debian = Path.of("/usr/lib/postgresql/15");
            copy(debian.resolve("bin"), root.resolve("lib/postgresql/15"));
            copy(debian.resolve("lib"), root.resolve("lib/postgresql/15"));
            copy(Path.of("/usr/share/postgresql/15"), root.resolve("share/postgresql"));
        }
        return bin;
    }

    /** Copies {@code from} into directory {@code into}: hard links where the file system allows, else copies. */
    private static void copy(Path from, Path into) throws Exception {
        if (run("cp", "-al", from.toString(), into.toString()) != 0) {
            assertThat(run("cp", "-a", from.toString(), into.toString())).as("cp -a " + from).isZero();
        }
    }

    private static int run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return p.waitFor();
    }

    static Connection conn(LocalPostgres pg, String user) {
        return new Connection(pg.host(), pg.port(), "postgres", user, Infra.PASSWORD, null, "disable");
    }

    /** Runs {@code sql} as {@code user}. */
    static void exec(LocalPostgres pg, String user, String db, String sql) throws SQLException {
        try (var c = java.sql.DriverManager.getConnection(pg.jdbcUrl(db), user, Infra.PASSWORD); var st = c.createStatement()) {
            st.execute(sql);
        }
    }
}
