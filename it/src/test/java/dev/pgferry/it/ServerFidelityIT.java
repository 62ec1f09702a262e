package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.Connection;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationOptions;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.State;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.sql.DriverManager;
import java.util.List;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Everything a server is besides its tables arrives: every role (a login role that gets its privileges only
 * through a group included), role settings with list values, memberships with their options, password hashes,
 * and each database's locale, ACL, settings, per-role settings, connection limit and comment. Roles that already
 * exist on the target are left as they are and reported.
 */
class ServerFidelityIT {
    static LocalPostgres source;
    static Pgferry pgferry;

    static final String SOURCE_ROLES = """
            CREATE ROLE app_rw NOLOGIN;
            CREATE ROLE app_user LOGIN PASSWORD 'app-user-pw-1' CONNECTION LIMIT 7 VALID UNTIL '2099-01-01 00:00:00+00';
            GRANT app_rw TO app_user;
            CREATE ROLE app LOGIN PASSWORD 'app-pw-1';
            ALTER ROLE app SET search_path TO 'app', 'public';
            ALTER ROLE app SET work_mem TO '12MB';
            COMMENT ON ROLE app IS 'the application';
            CREATE ROLE ops NOLOGIN CREATEDB;
            GRANT ops TO app WITH ADMIN OPTION;
            GRANT pg_read_all_data TO ops;
            CREATE ROLE auditor LOGIN;
            CREATE ROLE scratch_role NOLOGIN;
            CREATE ROLE legacy LOGIN;
            CREATE ROLE app_owner NOLOGIN;
            GRANT SET ON PARAMETER log_statement TO app;
            GRANT ALTER SYSTEM ON PARAMETER work_mem TO ops WITH GRANT OPTION;
            GRANT SET ON PARAMETER myapp.tenant TO app_rw;
            GRANT SET ON PARAMETER log_min_duration_statement TO PUBLIC;
            GRANT SET ON PARAMETER log_lock_waits TO legacy;
            """;

    /** Privileges on parameters, one line each, as aclexplode shows them. */
    static final String PARAMETER_GRANTS = "SELECT p.parname || ':' || coalesce(pg_get_userbyid(NULLIF(a.grantee, 0)),"
            + " 'PUBLIC') || ':' || a.privilege_type || ':' || a.is_grantable FROM pg_parameter_acl p,"
            + " aclexplode(p.paracl) a WHERE a.grantee <> 10 ORDER BY 1";

    @BeforeAll
    static void source() throws Exception {
        // (a server on local time, as self-hosted ones often are)
        source = Infra.postgres(java.util.Map.of("timezone", "America/New_York"));
        try (var c = SampleData.connect(source, "postgres"); var s = c.createStatement()) {
            s.execute(SOURCE_ROLES);
            s.execute("CREATE DATABASE shop OWNER app_owner LC_COLLATE 'C.utf8' LC_CTYPE 'C.utf8' TEMPLATE template0");
            s.execute("CREATE DATABASE intl LOCALE_PROVIDER icu ICU_LOCALE 'de-DE' TEMPLATE template0");
            s.execute("""
                    REVOKE ALL ON DATABASE shop FROM PUBLIC;
                    GRANT CONNECT ON DATABASE shop TO app_rw;
                    GRANT CONNECT, TEMPORARY ON DATABASE shop TO app WITH GRANT OPTION;
                    ALTER DATABASE shop SET work_mem TO '8MB';
                    ALTER DATABASE shop SET default_transaction_read_only TO on;
                    ALTER DATABASE shop CONNECTION LIMIT 50;
                    ALTER ROLE app IN DATABASE shop SET search_path TO app, "$user", public;
                    COMMENT ON DATABASE shop IS 'the shop''s database';
                    """);
        }
        // a template database of the user's (its own tables; only its owner may connect), and one that allows no
        // connections
        try (var c = SampleData.connect(source, "postgres"); var s = c.createStatement()) {
            s.execute("CREATE DATABASE tmpl TEMPLATE template0");
            s.execute("CREATE DATABASE closed");
        }
        try (var c = SampleData.connect(source, "tmpl"); var s = c.createStatement()) {
            s.execute("""
                    CREATE TABLE public.tenant_defaults (k text PRIMARY KEY, v text);
                    INSERT INTO public.tenant_defaults SELECT 'k' || g, 'v' || g FROM generate_series(1, 40) g;
                    REVOKE CONNECT ON DATABASE tmpl FROM PUBLIC;
                    ALTER DATABASE tmpl IS_TEMPLATE true;
                    ALTER DATABASE closed ALLOW_CONNECTIONS false;
                    """);
        }
        try (var c = SampleData.connect(source, "shop"); var s = c.createStatement()) {
            s.execute("SET default_transaction_read_only = off");
            s.execute("""
                    CREATE SCHEMA app AUTHORIZATION app_owner;
                    CREATE TABLE app.orders (id int PRIMARY KEY, item text);
                    INSERT INTO app.orders SELECT g, 'item ' || g FROM generate_series(1, 300) g;
                    ALTER TABLE app.orders OWNER TO app_owner;
                    GRANT USAGE ON SCHEMA app TO app_rw;
                    GRANT SELECT, INSERT ON app.orders TO app_rw;
                    CREATE TABLE app.order_log (id int, item text);
                    ALTER TABLE app.order_log OWNER TO app_owner;
                    CREATE FUNCTION app.keep() RETURNS trigger LANGUAGE plpgsql AS
                      $$BEGIN INSERT INTO app.order_log VALUES (NEW.id, NEW.item); RETURN NEW; END$$;
                    CREATE TRIGGER audit_copy AFTER INSERT ON app.orders FOR EACH ROW EXECUTE FUNCTION app.keep();
                    ALTER TABLE app.orders ENABLE REPLICA TRIGGER audit_copy;
                    """);
            // a change-data-capture consumer's slot, which no migration can carry
            s.execute("SELECT pg_create_logical_replication_slot('cdc_shop', 'pgoutput')");
        }
        pgferry = new Pgferry(2);
    }

    @AfterAll
    static void stop() {
        pgferry.close();
        source.close();
    }

    @ParameterizedTest
    @EnumSource(value = Method.class, names = {"DUMP", "REPLICATION"})
    void everyRoleAndEveryDatabasePropertyArrives(Method method) throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            // Given a target that already has a role of the same name with other attributes
            try (var c = SampleData.connect(target, "postgres"); var s = c.createStatement()) {
                s.execute("CREATE ROLE legacy NOLOGIN");
            }
            // (replication is asked for as auto: the template is copied once, as a dump, and says why)
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target),
                    method == Method.REPLICATION ? Method.AUTO : method, List.of("postgres"), List.of(), List.of())
                    .withOptions(new MigrationOptions(false, false, false, MigrationOptions.RoleScope.ALL,
                            List.of("scratch_role")));

            // When the server is migrated
            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            // Then every database is done
            assertThat(s.migration().status()).as(s.toString()).isEqualTo(State.DONE);
            // every role arrived, the ignored one and the reserved ones excepted, with its attributes
            assertThat(Compare.column(target, "postgres", "SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_'"
                    + " ORDER BY 1")).containsExactly("app", "app_owner", "app_rw", "app_user", "auditor", "legacy",
                    "ops", "postgres");
            String attrs = "SELECT rolname || ':' || rolcanlogin || ':' || rolcreatedb || ':' || rolconnlimit || ':'"
                    + " || coalesce(rolvaliduntil::text, '-') FROM pg_roles WHERE rolname IN ('app_user', 'ops', 'app')"
                    + " ORDER BY 1";
            assertThat(Compare.column(target, "postgres", attrs)).isEqualTo(Compare.column(source, "postgres", attrs));
            // the login role that gets its privileges only through its group can log in with its own password
            assertThat(selectAs(target, "shop", "app_user", "app-user-pw-1", "SELECT count(*) FROM app.orders"))
                    .isEqualTo("300");
            // role settings keep list values as lists: app's search_path is two schemas, not one called "app, public"
            String settings = "SELECT coalesce(d.datname, '*') || ' ' || array_to_string(setconfig, ';')"
                    + " FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase"
                    + " WHERE setrole = 'app'::regrole ORDER BY 1";
            assertThat(Compare.column(target, "postgres", settings)).isEqualTo(Compare.column(source, "postgres", settings))
                    .contains("* search_path=app, public;work_mem=12MB");
            assertThat(selectAs(target, "shop", "app", "app-pw-1", "SELECT current_schemas(false)::text"))
                    .isEqualTo("{app,public}");
            // memberships, with their options, and in predefined roles
            String members = "SELECT g.rolname || '>' || m.rolname || ':' || am.admin_option FROM pg_auth_members am"
                    + " JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member ORDER BY 1";
            assertThat(Compare.column(target, "postgres", members)).isEqualTo(Compare.column(source, "postgres", members))
                    .contains("app_rw>app_user:false", "ops>app:true", "pg_read_all_data>ops:false");
            assertThat(Compare.scalar(target, "postgres", "SELECT shobj_description('app'::regrole, 'pg_authid')"))
                    .isEqualTo("the application");
            // privileges on parameters, PUBLIC's included: app may set a superuser-only parameter there too
            assertThat(Compare.column(target, "postgres", PARAMETER_GRANTS))
                    .containsExactly("log_min_duration_statement:PUBLIC:SET:false", "log_statement:app:SET:false",
                            "myapp.tenant:app_rw:SET:false", "work_mem:ops:ALTER SYSTEM:true");
            assertThat(selectAs(target, "shop", "app", "app-pw-1", "SELECT set_config('log_statement', 'mod', false)"))
                    .isEqualTo("mod");
            assertThat(s.migrationDetail().stream().flatMap(d -> d.warnings().stream()))
                    .contains("role legacy already exists on the target and was left as it is; it lacks SET on"
                            + " parameter log_lock_waits, which it has on the source");
            // the user's template arrives as a template, with its rows, copied once; the database that allows no
            // connections is named with the fix
            assertThat(Compare.scalar(target, "postgres", "SELECT datistemplate FROM pg_database WHERE datname = 'tmpl'"))
                    .isEqualTo("t");
            assertThat(Compare.tableFingerprints(target, "tmpl")).isEqualTo(Compare.tableFingerprints(source, "tmpl"))
                    .isNotEmpty();
            MigrationStatus.DatabaseStatus tmpl = s.migrationDetail().stream().filter(d -> d.dbname().equals("tmpl"))
                    .findFirst().orElseThrow();
            assertThat(tmpl.method()).isEqualTo("dump");
            if (method == Method.REPLICATION) {
                assertThat(s.migrationDetail().stream().filter(d -> d.dbname().equals("shop")).findFirst().orElseThrow()
                        .method()).isEqualTo("replication");
                assertThat(tmpl.methodReason()).startsWith("dump instead of logical replication: database tmpl is a"
                        + " template").contains("55006");
                // a trigger that fires in replica sessions is held disabled while shop replicates, and named
                assertThat(s.migrationDetail().stream().filter(d -> d.dbname().equals("shop")).findFirst().orElseThrow()
                        .warnings()).anySatisfy(w -> assertThat(w).startsWith("trigger(s) audit_copy on app.orders"
                        + " (REPLICA) fire in a subscription's apply worker too: they are held disabled on the target"));
                assertThat(Compare.scalar(target, "shop", "SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_copy'"))
                        .isEqualTo("D");
            }
            assertThat(s.migrationDetail().stream().flatMap(d -> d.warnings().stream()))
                    .contains("database(s) of the source not migrated: closed (it allows no connections: ALTER DATABASE"
                            + " \"closed\" ALLOW_CONNECTIONS true on the source migrates it, --ignore-dbs closed says"
                            + " it is meant)");
            // the server's time zone, which no migration copies, is named
            assertThat(s.migrationDetail().stream().flatMap(d -> d.warnings().stream())).anySatisfy(w -> assertThat(w)
                    .startsWith("server setting(s) that applications see differ")
                    .contains("TimeZone: America/New_York on the source, "));
            // the user's logical slot is named, with what to do at the switch
            assertThat(s.migrationDetail().stream().filter(d -> d.dbname().equals("shop")).findFirst().orElseThrow()
                    .warnings()).anySatisfy(w -> assertThat(w).startsWith("logical replication slot(s) cdc_shop"
                    + " (pgoutput) of the source database are not copied").contains("pg_create_logical_replication_slot"));
            // the existing role was not altered, and the status says how it differs
            assertThat(Compare.scalar(target, "postgres", "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'legacy'"))
                    .isEqualTo("f");
            assertThat(s.migrationDetail().stream().flatMap(d -> d.warnings().stream()))
                    .anySatisfy(w -> assertThat(w).startsWith("role legacy already exists on the target and was left as it is")
                            .contains("NOLOGIN").contains(" LOGIN"));

            // the databases keep their locale, ACL, settings, connection limit and comment
            String db = "SELECT datname || ' ' || pg_encoding_to_char(encoding) || ' ' || datcollate || ' ' || datctype"
                    + " || ' ' || datlocprovider::text || ' ' || coalesce(daticulocale, '-') || ' ' || datconnlimit || ' '"
                    + " || pg_get_userbyid(datdba) || ' ' || coalesce(shobj_description(oid, 'pg_database'), '-')"
                    + " FROM pg_database WHERE datname IN ('shop', 'intl') ORDER BY 1";
            assertThat(Compare.column(target, "postgres", db)).isEqualTo(Compare.column(source, "postgres", db))
                    .contains("shop UTF8 C.utf8 C.utf8 c - 50 app_owner the shop's database")
                    .anySatisfy(line -> assertThat(line).startsWith("intl UTF8 C C i de-DE"));
            String acl = "SELECT coalesce(pg_get_userbyid(NULLIF(a.grantee, 0)), 'PUBLIC') || ':' || a.privilege_type"
                    + " || ':' || a.is_grantable FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = 'shop'"
                    + " ORDER BY 1";
            assertThat(Compare.column(target, "postgres", acl)).isEqualTo(Compare.column(source, "postgres", acl))
                    .contains("app_rw:CONNECT:false", "app:TEMPORARY:true").noneMatch(a -> a.startsWith("PUBLIC"));
            String dbSettings = "SELECT coalesce(pg_get_userbyid(NULLIF(setrole, 0)), '*') || ' '"
                    + " || array_to_string(setconfig, ';') FROM pg_db_role_setting"
                    + " WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = 'shop') ORDER BY 1";
            assertThat(Compare.column(target, "postgres", dbSettings)).isEqualTo(Compare.column(source, "postgres", dbSettings))
                    .contains("* work_mem=8MB;default_transaction_read_only=on", "app search_path=app, \"$user\", public");
            assertThat(Compare.tableFingerprints(target, "shop")).isEqualTo(Compare.tableFingerprints(source, "shop"));
            if (method == Method.REPLICATION) {
                // the database's settings (default_transaction_read_only among them) do not stop the replication,
                // and the held trigger logs nothing on the target for the row applied
                ReplicationIT.exec(source, "shop", "BEGIN READ WRITE;"
                        + " INSERT INTO app.orders VALUES (301, 'after the copy'); COMMIT");
                ReplicationIT.eventually(() -> Compare.tableFingerprints(target, "shop"), Compare.tableFingerprints(source, "shop"));
                assertThat(Compare.scalar(target, "shop", "SELECT count(*) FROM app.order_log")).isEqualTo("0");
                // the shared source keeps no slot or publication of this test
                pgferry.bus.send(dev.pgferry.messages.Topics.REQUESTS, r.migrationId(),
                        dev.pgferry.messages.Json.write(dev.pgferry.messages.RemovalRequest.of(r.migrationId())));
                Pgferry.awaitView(pgferry.coordinator, r.migrationId(), v -> v.migration().status() == State.REMOVED);
                ReplicationIT.exec(source, "shop", "BEGIN READ WRITE; DELETE FROM app.orders WHERE id = 301; COMMIT");
            }
            // the trigger is enabled on the target as on the source (after the removal, for the replication)
            assertThat(Compare.scalar(target, "shop", "SELECT tgenabled FROM pg_trigger WHERE tgname = 'audit_copy'"))
                    .isEqualTo("R");
        }
    }

    @Test
    void rolesUsedTakesTheRolesConnectedToTheDatabasesByMembership() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            MigrationRequest r = Pgferry.request(source, target, List.of("postgres", "intl", "tmpl"))
                    .withOptions(new MigrationOptions(false, false, false, MigrationOptions.RoleScope.USED, List.of()));

            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            assertThat(s.migration().status()).as(s.toString()).isEqualTo(State.DONE);
            // app_rw and app hold privileges in shop; app_user is a member of app_rw, ops a group of app; auditor,
            // scratch_role and legacy have nothing to do with shop
            assertThat(Compare.column(target, "postgres", "SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_'"
                    + " ORDER BY 1")).containsExactly("app", "app_owner", "app_rw", "app_user", "ops", "postgres");
        }
    }

    @Test
    void aSourceUserThatMayNotReadPasswordsGivesRolesWithoutAndListsThem() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            try (var c = SampleData.connect(source, "postgres"); var st = c.createStatement()) {
                st.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dumper') THEN"
                        + " CREATE ROLE dumper LOGIN PASSWORD '" + Infra.PASSWORD + "'; END IF; END $$");
                // it reads the data as a member of its owner, and may not read pg_authid
                st.execute("GRANT app_owner TO dumper");
            }
            MigrationRequest r = MigrationRequest.of(new Connection(source.host(), source.port(), "postgres", "dumper",
                            Infra.PASSWORD, null, "disable"), Pgferry.conn(target), Method.DUMP,
                    List.of("postgres", "intl"), List.of(), List.of());

            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            assertThat(s.migration().status()).as(s.toString()).isEqualTo(State.DONE);
            // (the template it may not connect to is named, with the grant that would migrate it)
            assertThat(s.migrationDetail()).extracting(MigrationStatus.DatabaseStatus::dbname).containsExactly("shop");
            assertThat(s.migrationDetail().get(0).warnings()).anySatisfy(w -> assertThat(w)
                    .startsWith("database(s) of the source not migrated: closed (it allows no connections").endsWith(
                            "; tmpl (the source user may not connect to it: GRANT CONNECT ON DATABASE \"tmpl\" TO"
                            + " \"dumper\" on the source migrates it, --ignore-dbs tmpl says it is meant)"));
            assertThat(s.migrationDetail().get(0).warnings()).anySatisfy(w -> assertThat(w)
                    .startsWith("5 login role(s) arrived without a password")
                    .contains("app_user", "app, ", "auditor", "legacy", "dumper").contains("ALTER ROLE"));
            assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_authid WHERE rolname = 'app_user'"
                    + " AND rolpassword IS NULL")).isEqualTo("1");
        }
    }

    @Test
    void aPostgres16TargetGetsEveryRoleMembershipAndDatabaseProperty() throws Exception {
        try (LocalPostgres target = LocalPostgres.start(ZonkyBinaries.bin16(), Infra.work().resolve("pg"), Infra.PASSWORD)) {
            assertThat(Compare.scalar(target, "postgres", "SHOW server_version_num")).startsWith("16");
            // a managed-style target user: CREATEROLE and CREATEDB, not a superuser (16 changed what such a user may do)
            try (var c = SampleData.connect(target, "postgres"); var s = c.createStatement()) {
                s.execute("CREATE ROLE migrator LOGIN CREATEDB CREATEROLE PASSWORD '" + Infra.PASSWORD + "'");
            }
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source),
                    new Connection(target.host(), target.port(), "postgres", "migrator", Infra.PASSWORD, null, "disable"),
                    Method.DUMP, List.of("postgres", "tmpl"), List.of(), List.of());
            // (pgferry check foresees the privileges on parameters that user may not grant)
            dev.pgferry.messages.CheckReport check = new dev.pgferry.worker.check.Checker(r,
                    dev.pgferry.pg.Secrets.system()).run();
            assertThat(check.server().stream().filter(f -> f.check().equals("parameter privileges")).findFirst()
                    .orElseThrow().message()).startsWith("5 privilege(s) on parameters may not arrive: only a superuser")
                    .contains("GRANT ALTER SYSTEM ON PARAMETER \"work_mem\" TO \"ops\" WITH GRANT OPTION");

            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            assertThat(s.migration().status()).as(s.toString()).isEqualTo(State.DONE);
            List<String> warnings = s.migrationDetail().stream().flatMap(d -> d.warnings().stream()).toList();
            // intl belongs to postgres, which the migrating user may not give a database to on 16
            assertThat(warnings).anySatisfy(w -> assertThat(w).startsWith("database intl: its owner postgres exists on"
                    + " the target, but the target user may not give it a database").contains("SET ROLE"));
            assertThat(Compare.scalar(target, "postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database"
                    + " WHERE datname = 'intl'")).isEqualTo("migrator");
            // nor grant a predefined role it holds no ADMIN option on: said, and everything else arrives
            assertThat(warnings).anySatisfy(w -> assertThat(w).startsWith("membership of ops in pg_read_all_data not copied")
                    .contains("42501"));
            String members = "SELECT g.rolname || '>' || m.rolname || ':' || am.admin_option FROM pg_auth_members am"
                    + " JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member"
                    + " WHERE m.rolname NOT IN ('migrator', 'postgres') AND g.rolname <> 'pg_read_all_data' ORDER BY 1";
            assertThat(Compare.column(target, "postgres", members)).isEqualTo(Compare.column(source, "postgres", members))
                    .contains("app_rw>app_user:false", "ops>app:true");
            assertThat(selectAs(target, "shop", "app_user", "app-user-pw-1", "SELECT count(*) FROM app.orders"))
                    .isEqualTo("300");
            // (app reaches schema app only through ops' membership in pg_read_all_data, which did not arrive, so its
            // settings are compared as stored)
            String settings = "SELECT coalesce(d.datname, '*') || ' ' || array_to_string(setconfig, ';')"
                    + " FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase"
                    + " WHERE setrole = 'app'::regrole ORDER BY 1";
            assertThat(Compare.column(target, "postgres", settings)).isEqualTo(Compare.column(source, "postgres", settings));
            String acl = "SELECT coalesce(pg_get_userbyid(NULLIF(a.grantee, 0)), 'PUBLIC') || ':' || a.privilege_type"
                    + " || ':' || a.is_grantable FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = 'shop'"
                    + " ORDER BY 1";
            assertThat(Compare.column(target, "postgres", acl)).isEqualTo(Compare.column(source, "postgres", acl));
            // and verify, run against the 16 target, names exactly the two things that could not be copied
            MigrationStatus verified = VerifyIT.verify(pgferry, r.migrationId());
            assertThat(verified.verify().result()).as(dev.pgferry.messages.Json.writePretty(verified)).isEqualTo("differs");
            assertThat(VerifyIT.verification(verified, "shop").result()).as(dev.pgferry.messages.Json.writePretty(verified))
                    .isEqualTo(dev.pgferry.messages.Verification.Result.MATCH);
            dev.pgferry.messages.Verification intl = VerifyIT.verification(verified, "intl");
            assertThat(VerifyIT.check(intl, "database properties").details())
                    .containsExactly("owner: postgres on the source, migrator on the target");
            // (a user that is not a superuser may not grant privileges on parameters either: said with the statements)
            assertThat(warnings).anySatisfy(w -> assertThat(w).startsWith("5 privilege(s) on parameters not copied,"
                    + " the target user may not grant them (SQLSTATE 42501").contains("; a superuser of the target can"
                    + " run: GRANT SET ON PARAMETER \"log_lock_waits\" TO \"legacy\"; GRANT SET ON PARAMETER"
                    + " \"log_min_duration_statement\" TO PUBLIC; "));
            assertThat(VerifyIT.check(intl, "roles").details())
                    .containsExactly("membership of ops in pg_read_all_data is missing on the target",
                            "privilege SET ON PARAMETER log_lock_waits TO legacy is missing on the target",
                            "privilege SET ON PARAMETER log_min_duration_statement TO PUBLIC is missing on the target",
                            "privilege SET ON PARAMETER log_statement TO app is missing on the target",
                            "privilege SET ON PARAMETER myapp.tenant TO app_rw is missing on the target",
                            "privilege ALTER SYSTEM ON PARAMETER work_mem TO ops WITH GRANT OPTION is missing on the target");
            // Debian's pg_dump 15 cannot dump a 16 server: the schemas are not compared, and it says how to fix that
            assertThat(VerifyIT.check(intl, "schema").result()).isEqualTo(dev.pgferry.messages.Verification.Result.NOT_COMPARABLE);
            assertThat(VerifyIT.check(intl, "schema").details().get(0)).startsWith("pg_dump 15 cannot dump a PostgreSQL 16"
                    + " server").contains("PGFERRY_PG_BIN");
        }
    }

    @Test
    void aDatabaseInATablespaceTheTargetLacksArrivesInTheDefaultOneWithAWarning() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory(Infra.work(), "tablespace-");
        if ("root".equals(System.getProperty("user.name"))) {
            assertThat(new ProcessBuilder("chown", "postgres:postgres", dir.toString()).start().waitFor()).isZero();
        }
        try (var c = SampleData.connect(source, "postgres"); var st = c.createStatement()) {
            st.execute("CREATE TABLESPACE archive_space LOCATION '" + dir + "'");
            st.execute("CREATE DATABASE archive TABLESPACE archive_space");
        }
        try (var c = SampleData.connect(source, "archive"); var st = c.createStatement()) {
            st.execute("CREATE TABLE old_orders (id int PRIMARY KEY, note text);"
                    + " INSERT INTO old_orders SELECT g, 'n' || g FROM generate_series(1, 50) g");
        }
        try (LocalPostgres target = Infra.postgres()) {
            MigrationRequest r = Pgferry.request(source, target, List.of("postgres", "intl", "shop", "tmpl"));

            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            assertThat(s.migration().status()).as(s.toString()).isEqualTo(State.DONE);
            assertThat(s.migrationDetail().get(0).warnings()).anySatisfy(w -> assertThat(w)
                    .isEqualTo("database archive: tablespace archive_space does not exist on the target; the database is"
                            + " in the target's default tablespace"));
            assertThat(Compare.scalar(target, "postgres", "SELECT t.spcname FROM pg_database d JOIN pg_tablespace t"
                    + " ON t.oid = d.dattablespace WHERE d.datname = 'archive'")).isEqualTo("pg_default");
            assertThat(Compare.tableFingerprints(target, "archive")).isEqualTo(Compare.tableFingerprints(source, "archive"));
        } finally {
            try (var c = SampleData.connect(source, "postgres"); var st = c.createStatement()) {
                st.execute("DROP DATABASE archive");
                st.execute("DROP TABLESPACE archive_space");
            }
        }
    }

    /** The first column of a query run as {@code user} with {@code password}: proves the role can log in. */
    static String selectAs(LocalPostgres pg, String db, String user, String password, String sql) throws Exception {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        try (var c = DriverManager.getConnection("jdbc:postgresql://" + pg.host() + ":" + pg.port() + "/" + db, p);
             var s = c.createStatement(); var rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
