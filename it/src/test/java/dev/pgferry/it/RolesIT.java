package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.Connection;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.State;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Roles on a managed-style target: the migrating user is not a superuser, so a superuser role cannot be created. */
class RolesIT {

    @Test
    void aRoleThatCannotBeCreatedIsReportedAndTheDatabaseStillArrives() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres(); Pgferry pgferry = new Pgferry(1)) {
            // Given a source database using a superuser role, and a target whose migrating user may not create one
            try (var c = SampleData.connect(source, "postgres"); var s = c.createStatement()) {
                s.execute("CREATE ROLE su_owner SUPERUSER NOLOGIN; CREATE ROLE app_owner NOLOGIN;"
                        + " CREATE ROLE app_reader LOGIN PASSWORD 'reader-pw-1'");
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
                        """);
            }
            try (var c = SampleData.connect(target, "postgres"); var s = c.createStatement()) {
                s.execute("CREATE ROLE migrator LOGIN CREATEDB CREATEROLE PASSWORD '" + Infra.PASSWORD + "'");
            }
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source),
                    new Connection(target.host(), target.port(), "postgres", "migrator", Infra.PASSWORD, null, "disable"),
                    Method.DUMP, List.of("postgres"), List.of(), List.of());

            // When it is migrated
            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            // Then the database is done, the role problem is reported, and ownership restores where it can
            assertThat(s.migration().status()).as(s.toString()).isEqualTo(State.DONE);
            List<String> warnings = s.migrationDetail().get(0).warnings();
            assertThat(warnings).anySatisfy(w -> assertThat(w).startsWith("role su_owner was not created on the target")
                    .contains("42501").contains("belong to migrator"));
            assertThat(warnings).anySatisfy(w -> assertThat(w).contains("role \"su_owner\" does not exist"));
            assertThat(Compare.tableFingerprints(target, "app")).isEqualTo(Compare.tableFingerprints(source, "app"));
            assertThat(Compare.scalar(target, "app", "SELECT string_agg(tablename || '=' || tableowner, ',' ORDER BY tablename)"
                    + " FROM pg_tables WHERE schemaname = 'public'")).isEqualTo("t=migrator,u=app_owner");
            assertThat(Compare.scalar(target, "postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'"))
                    .isEqualTo("app_owner");
            assertThat(Compare.scalar(target, "app", "SELECT has_table_privilege('app_reader', 'public.t', 'SELECT')")).isEqualTo("t");
            assertThat(Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_roles WHERE rolname = 'su_owner'")).isEqualTo("0");
        }
    }
}
