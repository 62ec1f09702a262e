package dev.pgferry.worker.verify;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class VerifyLogicTest {

    @Test
    void keyRangesCoverEveryKeyOnceAndOnlyBigTablesAreSplit() {
        assertThat(TableVerifier.ranges(1, 100_000, 100_000)).hasSize(1).allSatisfy(r -> assertThat(r).isEmpty());
        List<long[]> ranges = TableVerifier.ranges(1, 1_000_000, 1_000_000);
        assertThat(ranges).hasSize(4);
        // open at both ends (rows outside the bounds seen when planning still count), contiguous in between
        assertThat(ranges.get(0)[0]).isEqualTo(Long.MIN_VALUE);
        assertThat(ranges.get(ranges.size() - 1)[1]).isEqualTo(Long.MAX_VALUE);
        for (int i = 1; i < ranges.size(); i++) {
            assertThat(ranges.get(i)[0]).isEqualTo(ranges.get(i - 1)[1]);
        }
        List<long[]> top = TableVerifier.ranges(Long.MAX_VALUE - 10, Long.MAX_VALUE, 2_000_000);
        assertThat(top.get(top.size() - 1)[1]).isEqualTo(Long.MAX_VALUE);
        for (int i = 0; i < top.size(); i++) {
            assertThat(top.get(i)[0]).isLessThan(top.get(i)[1]);
            assertThat(i == top.size() - 1 || top.get(i)[1] != Long.MAX_VALUE).as("only the last range is open").isTrue();
        }
    }

    @Test
    void keysCompareAsCollateCDoes() {
        assertThat(TableVerifier.compareUtf8("(100001)", "(42)")).isNegative();
        assertThat(TableVerifier.compareUtf8("(Z)", "(a)")).isNegative();
        // byte order: U+FFFD (3 bytes) sorts before U+1F600 (4 bytes, a surrogate pair in UTF-16)
        assertThat(TableVerifier.compareUtf8("\uFFFD", "\uD83D\uDE00")).isNegative();
    }

    @Test
    void schemaDumpsAreComparedWithoutTheirCommentsAndSessionSettings() {
        List<String> source = List.of("--", "-- PostgreSQL database dump", "SET statement_timeout = 0;",
                "SELECT pg_catalog.set_config('search_path', '', false);", "\\restrict abc", "",
                "CREATE TABLE public.t (", "    id integer", ");", "ALTER TABLE public.t OWNER TO app;");
        List<String> same = List.of("-- dumped from database version 15.18", "CREATE TABLE public.t (", "    id integer",
                ");", "\\unrestrict xyz", "ALTER TABLE public.t OWNER TO app;");
        assertThat(SchemaDiff.differences(source, same, 20)).isEmpty();

        List<String> other = List.of("CREATE TABLE public.t (", "    id bigint", ");", "ALTER TABLE public.t OWNER TO postgres;");
        assertThat(SchemaDiff.differences(source, other, 20)).containsExactly("-     id integer",
                "- ALTER TABLE public.t OWNER TO app;", "+     id bigint", "+ ALTER TABLE public.t OWNER TO postgres;");
        assertThat(SchemaDiff.differences(source, other, 1)).hasSize(1);
        // a line the target has once more than the source is a difference too
        assertThat(SchemaDiff.differences(List.of(");"), List.of(");", ");"), 20)).containsExactly("+ );");
        // the publication of pgferry's own replication is the source's alone; a user's publication is compared
        String ours = dev.pgferry.messages.ReplicationNames.of("m-1", "app");
        List<String> replicating = List.of("CREATE PUBLICATION " + ours + " WITH (publish = 'insert, update, delete, truncate');",
                "ALTER PUBLICATION " + ours + " ADD TABLE ONLY public.t;", "CREATE PUBLICATION cdc WITH (publish = 'insert');",
                "ALTER PUBLICATION cdc ADD TABLE ONLY public.t;");
        assertThat(SchemaDiff.differences(replicating, List.of("CREATE PUBLICATION cdc WITH (publish = 'insert');"), 20))
                .containsExactly("- ALTER PUBLICATION cdc ADD TABLE ONLY public.t;");
    }

    @Test
    void aTriggerHeldDisabledWhileTheDatabaseReplicatesReadsAsTheSourcesOnlyThen() {
        List<String> source = List.of("CREATE TRIGGER audit AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.f();",
                "ALTER TABLE public.t ENABLE ALWAYS TRIGGER audit;",
                "CREATE TRIGGER copy AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.f();",
                "ALTER TABLE public.t ENABLE REPLICA TRIGGER copy;",
                "CREATE TRIGGER plain AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.f();");
        List<String> held = List.of(source.get(0), "ALTER TABLE public.t DISABLE TRIGGER audit;", source.get(2),
                "ALTER TABLE public.t DISABLE TRIGGER copy;", source.get(4));
        assertThat(SchemaDiff.differences(source, held, 20, true)).isEmpty();
        // once the replication is gone, a trigger left disabled is a difference
        assertThat(SchemaDiff.differences(source, held, 20, false)).containsExactly(
                "- ALTER TABLE public.t ENABLE ALWAYS TRIGGER audit;", "- ALTER TABLE public.t ENABLE REPLICA TRIGGER copy;",
                "+ ALTER TABLE public.t DISABLE TRIGGER audit;", "+ ALTER TABLE public.t DISABLE TRIGGER copy;");
        // and a trigger the source fires only for the application's own writes, disabled on the target, always is
        List<String> plainDisabled = List.of(source.get(0), source.get(1), source.get(2), source.get(3), source.get(4),
                "ALTER TABLE public.t DISABLE TRIGGER plain;");
        assertThat(SchemaDiff.differences(source, plainDisabled, 20, true))
                .containsExactly("+ ALTER TABLE public.t DISABLE TRIGGER plain;");
    }
}
