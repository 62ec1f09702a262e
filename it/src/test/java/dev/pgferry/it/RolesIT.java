package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.CheckReport;
import dev.pgferry.messages.Connection;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Secrets;
import dev.pgferry.pg.Side;
import dev.pgferry.worker.check.Checker;
import dev.pgferry.worker.roles.RoleRemoval;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Roles on a managed-style target: the migrating user is not a superuser, so a superuser role cannot be created. */
class RolesIT {

    @Test
    void aRoleThatCannotBeCreatedIsReportedAndTheDatabaseStillArrives() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres(); Pgferry pgferry = new Pgferry(1)) {
            // Given a source database using a superuser role, and a target whose migrating user may not create one nor
            // act as its bootstrap superuser (postgres owns the function); the grants of table v mix both kinds of role
            try (var c = SampleData.connect(source, "postgres"); var s = c.createStatement()) {
                // (app_cert logs in with a certificate: it has no password on the source)
                s.execute("CREATE ROLE su_owner SUPERUSER NOLOGIN; CREATE ROLE app_owner NOLOGIN;"
                        + " CREATE ROLE app_reader LOGIN PASSWORD 'reader-pw-1'; CREATE ROLE app_cert LOGIN");
                s.execute("CREATE DATABASE app OWNER app_owner");
            }
            try (var c = SampleData.connect(source, "app"); var s = c.createStatement()) {
                s.execute("""
                        CREATE TABLE public.t (id int PRIMARY KEY, v text);
                        INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 250) g;
                        ALTER TABLE public.t OWNER TO su_owner;
                        CREATE TABLE public.u (id int PRIMARY KEY);
                        INSERT INTO public.u SELECT generate_series(1, 40);
                        ALTER TABLE public.u OWNER TO app_owner;
                        GRANT SELECT ON public.t TO app_reader;
                        GRANT SELECT ON public.u TO su_owner;
                        GRANT SELECT ON public.u TO app_cert;
                        CREATE TABLE public.v (id int PRIMARY KEY, secret text);
                        INSERT INTO public.v SELECT generate_series(1, 7), 's';
                        ALTER TABLE public.v OWNER TO app_owner;
                        GRANT SELECT ON public.v TO app_reader;
                        GRANT SELECT, UPDATE ON public.v TO su_owner;
                        GRANT INSERT ON public.v TO app_reader;
                        GRANT UPDATE (secret) ON public.v TO su_owner, app_reader;
                        CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
                        REVOKE EXECUTE ON FUNCTION public.f() FROM PUBLIC;
                        GRANT EXECUTE ON FUNCTION public.f() TO su_owner, app_reader;
                        ALTER DEFAULT PRIVILEGES FOR ROLE su_owner IN SCHEMA public GRANT SELECT ON TABLES TO app_reader;
                        ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA public GRANT SELECT ON TABLES TO app_reader;
                        CREATE PUBLICATION everything FOR ALL TABLES;
                        CREATE PUBLICATION app_feed FOR TABLE public.u, public.v;
                        ALTER PUBLICATION app_feed OWNER TO app_owner;
                        """);
            }
            try (var c = SampleData.connect(target, "postgres"); var s = c.createStatement()) {
                s.execute("CREATE ROLE migrator LOGIN CREATEDB CREATEROLE PASSWORD '" + Infra.PASSWORD + "'");
            }
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source),
                    new Connection(target.host(), target.port(), "postgres", "migrator", Infra.PASSWORD, null, "disable"),
                    Method.DUMP, List.of("postgres"), List.of(), List.of());

            // (checked first: pgferry check foresees both role problems, changing nothing)
            CheckReport check = new Checker(r, Secrets.system()).run();
            CheckReport.Finding roles = check.server().stream().filter(f -> f.check().equals("roles")).findFirst().orElseThrow();
            assertThat(roles.verdict()).isEqualTo(CheckReport.Verdict.WARNING);
            assertThat(roles.message()).startsWith("2 role(s) will not arrive as they are on the source: ")
                    .contains("role postgres exists on the target, but migrator is not a member of it")
                    .contains("role su_owner cannot be created: it is a superuser on the source");
            assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_roles WHERE rolname IN ('app_owner', 'su_owner')"))
                    .isEqualTo("0");
            // and the publication only a superuser may create
            CheckReport.Finding publications = check.databases().get(0).findings().stream()
                    .filter(f -> f.check().equals("publications")).findFirst().orElseThrow();
            assertThat(publications.verdict()).isEqualTo(CheckReport.Verdict.WARNING);
            assertThat(publications.message()).startsWith("1 publication(s) (everything) are FOR ALL TABLES or FOR"
                    + " TABLES IN SCHEMA, which only a superuser may create");

            // When it is migrated
            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            // Then the database is done, the role problem is reported, and ownership restores where it can
            assertThat(s.migration().status()).as(s.toString()).isEqualTo(State.DONE);
            List<String> warnings = s.migrationDetail().get(0).warnings();
            // the application's publication arrives with its owner; one FOR ALL TABLES, which only a superuser may
            // make, is named (by SQLSTATE) and does not stop the database
            assertThat(Compare.column(target, "app", "SELECT pubname || ' ' || pg_get_userbyid(pubowner) || ' '"
                    + " || coalesce((SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_publication_tables t"
                    + " WHERE t.pubname = p.pubname), '') FROM pg_publication p ORDER BY 1")).containsExactly("app_feed app_owner u,v");
            assertThat(warnings).anySatisfy(w -> assertThat(w).startsWith("post-data restore: publication statement not"
                    + " applied: CREATE PUBLICATION everything FOR ALL TABLES").contains("(SQLSTATE 42501)"));
            assertThat(warnings).anySatisfy(w -> assertThat(w).startsWith("role su_owner was not created on the target")
                    .contains("42501").contains("belong to migrator"));
            // each statement naming the missing role is reported (read from pg_restore's report or by SQLSTATE,
            // never by the server's words), and only that statement is lost
            assertThat(warnings).anySatisfy(w -> assertThat(w).isEqualTo("pre-data restore: not applied: it names role"
                    + " su_owner, which is not on the target or which the target user cannot act as (see the roles warnings): ALTER TABLE public.t OWNER TO su_owner;"
                    + " (ERROR:  role \"su_owner\" does not exist)"));
            assertThat(warnings).anySatisfy(w -> assertThat(w).isEqualTo("pre-data restore: not applied: it names role"
                    + " su_owner, which is not on the target or which the target user cannot act as (see the roles warnings): GRANT SELECT,UPDATE ON TABLE public.v TO su_owner (SQLSTATE 42704)"));
            assertThat(Compare.scalar(target, "app", "SELECT has_table_privilege('app_reader', 'public.v', 'SELECT')::text"
                    + " || has_table_privilege('app_reader', 'public.v', 'INSERT')::text"
                    + " || has_column_privilege('app_reader', 'public.v', 'secret', 'UPDATE')::text"
                    + " || has_function_privilege('app_reader', 'public.f()', 'EXECUTE')::text"
                    + " || has_function_privilege('public', 'public.f()', 'EXECUTE')::text")).isEqualTo("truetruetruetruefalse");
            assertThat(warnings).anySatisfy(w -> assertThat(w).startsWith("role postgres exists on the target, but migrator"
                    + " is not a member of it"));
            // a login role with a password arrives with its hash, one without (certificate authentication) as it is,
            // and is not reported: the source user may read pg_authid, so nothing of it was lost
            assertThat(Compare.column(target, "postgres", "SELECT rolname || ' ' || rolcanlogin || ' '"
                    + " || (rolpassword IS NOT NULL) FROM pg_authid WHERE rolname IN ('app_reader', 'app_cert') ORDER BY 1"))
                    .containsExactly("app_cert true false", "app_reader true true");
            assertThat(warnings).noneSatisfy(w -> assertThat(w).contains("arrived without a password"));
            assertThat(Compare.scalar(target, "app", "SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'f'"))
                    .isEqualTo("migrator");
            String defaults = "SELECT string_agg(pg_get_userbyid(defaclrole) || ':' || array_to_string(defaclacl, ','), ';')"
                    + " FROM pg_default_acl";
            assertThat(Compare.scalar(target, "app", defaults)).isEqualTo(Compare.scalar(source, "app",
                    defaults + " WHERE pg_get_userbyid(defaclrole) <> 'su_owner'"));
            assertThat(Compare.tableFingerprints(target, "app")).isEqualTo(Compare.tableFingerprints(source, "app"));
            assertThat(Compare.scalar(target, "app", "SELECT string_agg(tablename || '=' || tableowner, ',' ORDER BY tablename)"
                    + " FROM pg_tables WHERE schemaname = 'public'")).isEqualTo("t=migrator,u=app_owner,v=app_owner");
            assertThat(Compare.scalar(target, "postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'"))
                    .isEqualTo("app_owner");
            assertThat(Compare.scalar(target, "app", "SELECT has_table_privilege('app_reader', 'public.t', 'SELECT')")).isEqualTo("t");
            assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_roles WHERE rolname = 'su_owner'")).isEqualTo("0");
        }
    }

    @Test
    void rolesAStoppedMigrationCreatedAreDroppedUnlessSomethingOfTheTargetDependsOnThem() throws Exception {
        try (LocalPostgres target = Infra.postgres()) {
            // Given three roles a migration created on the target, one of which has since been given a table of the
            // user's, and one the user dropped already
            ReplicationIT.exec(target, "postgres", "CREATE ROLE made_a LOGIN PASSWORD 'made-pw-1'; CREATE ROLE made_b;"
                    + " CREATE ROLE made_owner; CREATE TABLE public.users_table (id int);"
                    + " ALTER TABLE public.users_table OWNER TO made_owner;"
                    + " CREATE ROLE made_gone; DROP ROLE made_gone");
            MigrationRequest r = Pgferry.sealed(MigrationRequest.of(Pgferry.conn(target), Pgferry.conn(target),
                    Method.DUMP, List.of(), List.of(), List.of()));

            // When they are dropped as a stopped migration's
            RoleRemoval.Result result = RoleRemoval.dropCreated(new PgConnector(r.target(), Side.TARGET, "it",
                    Secrets.system()), List.of("made_a", "made_owner", "made_gone", "made_b"));

            // Then the owner of the user's table stays, named with the reason, and the others are gone
            assertThat(result.dropped()).containsExactly("made_b", "made_gone", "made_a");
            assertThat(result.kept()).containsExactly("made_owner (objects or privileges on the target depend on it)");
            assertThat(Compare.scalar(target, "postgres", "SELECT string_agg(rolname, ',' ORDER BY rolname)"
                    + " FROM pg_roles WHERE rolname LIKE 'made%'")).isEqualTo("made_owner");
            assertThat(Compare.scalar(target, "postgres", "SELECT pg_get_userbyid(relowner) FROM pg_class"
                    + " WHERE relname = 'users_table'")).isEqualTo("made_owner");
        }
    }
}
