package dev.pgferry.pg;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class SchemaDriftTest {

    @Test
    void aLookWithoutTheRecordKeepsWhatARefreshSaidWasMadeOnTheTargetAlone() {
        String mine = "index public.my_idx is on the target but not on the source (DDL is not replicated): ";
        String dropped = "table public.old is on the target but not on the source (DDL is not replicated): ";
        List<String> shown = List.of(mine + SchemaDrift.KEPT, dropped + SchemaDrift.DROPPED);
        List<String> found = List.of(mine + SchemaDrift.DROPPED, dropped + SchemaDrift.DROPPED, "a new line");

        assertThat(SchemaDrift.keepingKept(found, shown))
                .containsExactly(mine + SchemaDrift.KEPT, dropped + SchemaDrift.DROPPED, "a new line");
        // (nothing shown: as found)
        assertThat(SchemaDrift.keepingKept(found, List.of())).isEqualTo(found);
    }
}
