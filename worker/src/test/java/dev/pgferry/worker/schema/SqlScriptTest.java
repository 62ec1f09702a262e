package dev.pgferry.worker.schema;

import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class SqlScriptTest {

    @Test
    void splitsAScriptAsPgDumpWritesIt() {
        String script = """
                --
                -- Name: TABLE "a;b"; Type: ACL; Schema: public; Owner: postgres
                --
                \\restrict abc;def

                SET client_min_messages = warning;
                GRANT SELECT ON TABLE public."a;b" TO "x;y";
                COMMENT ON TABLE t IS 'it''s; fine';
                CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $_$ SELECT 1; $_$;
                SELECT E'\\'; still a literal';
                CREATE RULE r AS ON INSERT TO public.t DO INSTEAD (INSERT INTO public.u VALUES (new.id); NOTIFY "t;u";);
                GRANT ALL ON SCHEMA s TO a
                """;
        assertThat(SqlScript.statements(script)).containsExactly(
                "SET client_min_messages = warning",
                "GRANT SELECT ON TABLE public.\"a;b\" TO \"x;y\"",
                "COMMENT ON TABLE t IS 'it''s; fine'",
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $_$ SELECT 1; $_$",
                "SELECT E'\\'; still a literal'",
                "CREATE RULE r AS ON INSERT TO public.t DO INSTEAD (INSERT INTO public.u VALUES (new.id); NOTIFY \"t;u\";)",
                "GRANT ALL ON SCHEMA s TO a");
    }

    @Test
    void aFunctionBodyBeginAtomicIsOneStatementWithItsCaseExpressions() {
        String script = """
                CREATE FUNCTION public.f(n integer) RETURNS text
                    LANGUAGE sql IMMUTABLE
                    BEGIN ATOMIC
                 SELECT CASE WHEN (n > 0) THEN 'a;' ELSE 'b' END AS "end";
                 SELECT (repeat('*'::text, n) || ';'::text);
                END;
                ALTER FUNCTION public.f(n integer) OWNER TO postgres;
                """;
        assertThat(SqlScript.statements(script)).containsExactly("""
                CREATE FUNCTION public.f(n integer) RETURNS text
                    LANGUAGE sql IMMUTABLE
                    BEGIN ATOMIC
                 SELECT CASE WHEN (n > 0) THEN 'a;' ELSE 'b' END AS "end";
                 SELECT (repeat('*'::text, n) || ';'::text);
                END""", "ALTER FUNCTION public.f(n integer) OWNER TO postgres");
    }

    @Test
    void findsRolesWhereARoleGoesOnly() {
        Set<String> missing = Set.of("su", "Big Boss", "app");
        assertThat(SqlScript.namedRoles("GRANT SELECT ON TABLE public.app TO reader, su", missing)).containsExactly("su");
        assertThat(SqlScript.namedRoles("GRANT SELECT ON TABLE public.su TO reader", missing)).isEmpty();
        assertThat(SqlScript.namedRoles("ALTER TABLE public.t OWNER TO \"Big Boss\"", missing)).containsExactly("Big Boss");
        assertThat(SqlScript.namedRoles("ALTER TABLE public.t OWNER TO \"big boss\"", missing)).isEmpty();
        assertThat(SqlScript.namedRoles("REVOKE ALL ON FUNCTION public.f() FROM PUBLIC", missing)).isEmpty();
        assertThat(SqlScript.namedRoles("ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA s GRANT SELECT ON TABLES TO x",
                missing)).containsExactly("app");
        assertThat(SqlScript.namedRoles("SET SESSION AUTHORIZATION su", missing)).containsExactly("su");
        assertThat(SqlScript.namedRoles("CREATE POLICY p ON t TO a1, app USING (v = 'su')", missing)).containsExactly("app");
        assertThat(SqlScript.namedRoles("COMMENT ON TABLE t IS 'GRANT x TO su'", missing)).isEmpty();
    }

    @Test
    void readsTheFailuresOfARestoreThatWentOn() {
        String stderr = """
                pg_restore: error: could not execute query: ERROR:  rôle « su » n'existe pas
                Command was: ALTER FUNCTION public.f() OWNER TO su;

                pg_restore: error: could not execute query: ERROR:  syntax error
                LINE 1: CREATE FUNCTION g() RETURNS int
                Command was: CREATE FUNCTION g() RETURNS int
                    AS 'select 1';

                pg_restore: error: connection to server lost
                pg_restore: warning: errors ignored on restore: 2""";
        assertThat(RestoreFailure.parse(stderr)).containsExactly(
                new RestoreFailure("ERROR:  rôle « su » n'existe pas", "ALTER FUNCTION public.f() OWNER TO su;"),
                new RestoreFailure("ERROR:  syntax error\nLINE 1: CREATE FUNCTION g() RETURNS int",
                        "CREATE FUNCTION g() RETURNS int\n    AS 'select 1';"),
                new RestoreFailure("connection to server lost", null));
    }
}
