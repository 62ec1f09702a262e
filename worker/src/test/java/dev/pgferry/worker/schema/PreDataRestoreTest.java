package dev.pgferry.worker.schema;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class PreDataRestoreTest {

    /** pg_restore --section=pre-data --verbose --file of a table with a serial column, a comment and a grant, a view. */
    static final String SCRIPT = """
            --
            -- PostgreSQL database dump
            --

            \\restrict 7T3Ock3gWKw3340U3q

            SET statement_timeout = 0;
            SET client_encoding = 'UTF8';
            SELECT pg_catalog.set_config('search_path', '', false);
            SET check_function_bodies = false;

            SET default_tablespace = '';

            SET default_table_access_method = heap;

            --
            -- TOC entry 715 (class 1259 OID 23393)
            -- Name: ser; Type: TABLE; Schema: public; Owner: postgres
            -- Data Pos: 0
            --

            CREATE TABLE public.ser (
                id bigint NOT NULL,
                t text DEFAULT ';'::text
            );


            ALTER TABLE public.ser OWNER TO postgres;

            --
            -- TOC entry 7848 (class 0 OID 0)
            -- Dependencies: 715
            -- Name: TABLE ser; Type: COMMENT; Schema: public; Owner: postgres
            -- Data Pos: 0
            --

            COMMENT ON TABLE public.ser IS '-- TOC entry 1 (class 1259 OID 2)
            ;';


            --
            -- TOC entry 714 (class 1259 OID 23392)
            -- Dependencies: 715
            -- Name: ser_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres
            -- Data Pos: 0
            --

            CREATE SEQUENCE public.ser_id_seq
                START WITH 1
                CACHE 1;


            ALTER TABLE public.ser_id_seq OWNER TO postgres;

            --
            -- TOC entry 7850 (class 0 OID 0)
            -- Dependencies: 714
            -- Name: ser_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: postgres
            -- Data Pos: 0
            --

            ALTER SEQUENCE public.ser_id_seq OWNED BY public.ser.id;


            --
            -- TOC entry 214 (class 1259 OID 16385)
            -- Name: t1; Type: TABLE; Schema: public; Owner: postgres
            -- Data Pos: 0
            --

            CREATE TABLE public.t1 (
                id integer NOT NULL
            );


            ALTER TABLE public.t1 OWNER TO postgres;

            --
            -- TOC entry 216 (class 1259 OID 16390)
            -- Dependencies: 214
            -- Name: v1; Type: VIEW; Schema: public; Owner: postgres
            -- Data Pos: 0
            --

            CREATE VIEW public.v1 AS
             SELECT t1.id
               FROM public.t1;


            ALTER TABLE public.v1 OWNER TO postgres;

            --
            -- TOC entry 5698 (class 2604 OID 23396)
            -- Dependencies: 714 715 715
            -- Name: ser id; Type: DEFAULT; Schema: public; Owner: postgres
            -- Data Pos: 0
            --

            ALTER TABLE ONLY public.ser ALTER COLUMN id SET DEFAULT nextval('public.ser_id_seq'::regclass);


            --
            -- TOC entry 7849 (class 0 OID 0)
            -- Dependencies: 715
            -- Name: TABLE ser; Type: ACL; Schema: public; Owner: postgres
            -- Data Pos: 0
            --

            GRANT SELECT ON TABLE public.ser TO PUBLIC;


            --
            -- TOC entry 7851 (class 0 OID 0)
            -- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: public; Owner: postgres
            -- Data Pos: 0
            --

            ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON TABLES TO PUBLIC;


            -- Completed on 2026-12-02 19:34:24 UTC

            --
            -- PostgreSQL database dump complete
            --

            \\unrestrict 7T3Ock3gWKw3340U3q
            """;

    @Test
    void readsEachEntryWithItsObjectDependenciesAndStatements() {
        PreDataRestore.Script script = PreDataRestore.parse(SCRIPT);
        assertThat(script.header()).containsExactly("SET statement_timeout = 0",
                "SELECT pg_catalog.set_config('search_path', '', false)", "SET check_function_bodies = false",
                "SET default_tablespace = ''", "SET default_table_access_method = heap");
        assertThat(script.entries()).extracting(PreDataRestore.Entry::id)
                .containsExactly(715, 7848, 714, 7850, 214, 216, 5698, 7849, 7851);
        PreDataRestore.Entry table = script.entries().get(0);
        assertThat(table.classOid()).isEqualTo(1259);
        assertThat(table.oid()).isEqualTo(23393);
        assertThat(table.type()).isEqualTo("TABLE");
        assertThat(table.statements()).containsExactly(
                "CREATE TABLE public.ser (\n    id bigint NOT NULL,\n    t text DEFAULT ';'::text\n)",
                "ALTER TABLE public.ser OWNER TO postgres");
        // a comment's text that looks like an entry's header is the comment's
        PreDataRestore.Entry comment = script.entries().get(1);
        assertThat(comment.type()).isEqualTo("COMMENT");
        assertThat(comment.statements()).containsExactly("COMMENT ON TABLE public.ser IS '-- TOC entry 1 (class 1259 OID 2)\n;'");
        assertThat(script.entries().get(6).dependencies()).containsExactly(714, 715, 715);
        assertThat(script.entries().get(3).type()).isEqualTo("SEQUENCE OWNED BY");
        assertThat(script.entries().get(8).type()).isEqualTo("DEFAULT ACL");
    }

    @Test
    void aScriptNotInUtf8IsLeftToPgRestore() {
        assertThat(PreDataRestore.parse(SCRIPT.replace("'UTF8'", "'LATIN1'"))).isNull();
    }

    @Test
    void whatCompletesATableComesRightAfterItAndDefaultPrivilegesStayLast() {
        PreDataRestore.Plan plan = PreDataRestore.plan(PreDataRestore.parse(SCRIPT).entries());
        // the privilege of ser moves up to just after it, its default to just after the sequence; default privileges,
        // which change what is created after them, stay where pg_restore put them
        assertThat(plan.entries()).extracting(PreDataRestore.Entry::id)
                .containsExactly(715, 7848, 7849, 714, 7850, 5698, 214, 216, 7851);
        assertThat(plan.transactions()).isEqualTo(1);
        assertThat(plan.readyAfter()).isEqualTo(Map.of(23393L, 0, 23392L, 0, 16385L, 0, 16390L, 0));
    }

    @Test
    void aTableIsReadyOnceEverythingThatDependsOnItIsCommitted() {
        // 40 tables with a serial column each (table, sequence, owner, default), then a view over the first table
        List<PreDataRestore.Entry> entries = new ArrayList<>();
        List<PreDataRestore.Entry> defaults = new ArrayList<>();
        for (int i = 1; i <= 40; i++) {
            int table = i * 10;
            entries.add(entry(table, 1259, 1000 + i, "TABLE"));
            entries.add(entry(table + 1, 1259, 2000 + i, "SEQUENCE", table));
            entries.add(entry(table + 2, 0, 0, "SEQUENCE OWNED BY", table + 1));
            defaults.add(entry(table + 3, 2604, 3000 + i, "DEFAULT", table + 1, table));
        }
        entries.add(entry(9000, 1259, 9000, "VIEW", 10));
        entries.addAll(defaults); // pg_dump writes the defaults after every table and view
        PreDataRestore.Plan plan = PreDataRestore.plan(entries);
        // each table's four entries together: table i's are entries 4(i-1) to 4i-1
        assertThat(plan.entries().subList(0, 8)).extracting(PreDataRestore.Entry::id)
                .containsExactly(10, 11, 12, 13, 20, 21, 22, 23);
        assertThat(plan.transactions()).isEqualTo(4); // 16, 64, 64 and 17 entries
        // the first four tables are ready with the first transaction, table 5 with the second...
        assertThat(plan.readyAfter().get(1004L)).isEqualTo(0);
        assertThat(plan.readyAfter().get(1005L)).isEqualTo(1);
        assertThat(plan.readyAfter().get(1020L)).isEqualTo(1);
        // ...but the first, with a view over it in the last transaction, only after that one
        assertThat(plan.readyAfter().get(1001L)).isEqualTo(3);
        assertThat(plan.entries().get(160).id()).isEqualTo(9000);
        assertThat(plan.transactionOf()[160]).isEqualTo(3);
    }

    @Test
    void anEntryThatCreatesOrSetsAnythingStaysInItsPlaceWhateverItsKind() {
        List<PreDataRestore.Entry> entries = List.of(
                entry(1, 1259, 100, "TABLE"),
                entry(2, 1259, 200, "TABLE"),
                new PreDataRestore.Entry(3, 0, 0, "COMMENT", List.of(1), List.of("COMMENT ON TABLE a IS 'x'",
                        "CREATE TABLE b (id int)")),
                new PreDataRestore.Entry(4, 0, 0, "ACL", List.of(1), List.of("GRANT SELECT ON a TO r",
                        "SET default_tablespace = 'fast'")),
                entry(5, 0, 0, "COMMENT", 1));
        assertThat(PreDataRestore.plan(entries).entries()).extracting(PreDataRestore.Entry::id)
                .containsExactly(1, 5, 2, 3, 4);
    }

    @Test
    void anEntryBeforeOneItDependsOnMakesEveryTableWaitForTheEnd() {
        List<PreDataRestore.Entry> entries = new ArrayList<>();
        for (int i = 1; i <= 20; i++) {
            entries.add(entry(i, 1259, 100 + i, "TABLE", i == 1 ? 20 : 0));
        }
        PreDataRestore.Plan plan = PreDataRestore.plan(entries);
        assertThat(plan.transactions()).isEqualTo(2);
        assertThat(plan.readyAfter().values()).containsOnly(1);
    }

    private static PreDataRestore.Entry entry(int id, long classOid, long oid, String type, int... deps) {
        List<Integer> d = new ArrayList<>();
        for (int x : deps) {
            if (x != 0) {
                d.add(x);
            }
        }
        return new PreDataRestore.Entry(id, classOid, oid, type, d, List.of("-- " + type + " " + id));
    }
}
