package dev.pgferry.worker.replication;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class RefreshTest {

    @Test
    void aNewPartitionIsAttachedOnlyOnceItsKeysAndIndexesAreMade() {
        // (pg_restore --list of pg_dump --schema-only --table=public.events_2027_01, a partition)
        List<String> toc = List.of(
                ";",
                "; Selected TOC Entries:",
                "218; 1259 19571 TABLE public events_2027_01 postgres",
                "3205; 0 0 TABLE ATTACH public events_2027_01 postgres",
                "3213; 2606 19576 CONSTRAINT public events_2027_01 events_2027_01_pkey postgres",
                "3211; 1259 19577 INDEX public events_2027_01_at_idx postgres",
                "3214; 0 0 INDEX ATTACH public events_2027_01_at_idx postgres",
                "3215; 0 0 INDEX ATTACH public events_2027_01_pkey postgres",
                "219; 1259 19580 TABLE public \"TABLE ATTACH x\" postgres");

        assertThat(Refresh.attachesLast(toc)).containsExactly(
                ";",
                "; Selected TOC Entries:",
                "218; 1259 19571 TABLE public events_2027_01 postgres",
                "3213; 2606 19576 CONSTRAINT public events_2027_01 events_2027_01_pkey postgres",
                "3211; 1259 19577 INDEX public events_2027_01_at_idx postgres",
                "219; 1259 19580 TABLE public \"TABLE ATTACH x\" postgres",
                "3205; 0 0 TABLE ATTACH public events_2027_01 postgres",
                "3214; 0 0 INDEX ATTACH public events_2027_01_at_idx postgres",
                "3215; 0 0 INDEX ATTACH public events_2027_01_pkey postgres");
    }
}
