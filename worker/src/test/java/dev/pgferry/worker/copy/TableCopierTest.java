package dev.pgferry.worker.copy;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class TableCopierTest {
    private static SourceCatalog.Table table(String name, long bytes) {
        return new SourceCatalog.Table("public", name, List.of("id"), bytes, false, true, 3, name.hashCode(),
                SourceCatalog.IndexCost.NONE);
    }

    private static TableSlicer.Slice whole(SourceCatalog.Table t) {
        return new TableSlicer.Slice(t, null, 0, 1);
    }

    @Test
    void smallTablesGoInBatchesBoundedByCountAndBytesAndTheRestStayAlone() {
        List<TableSlicer.Slice> slices = new ArrayList<>();
        SourceCatalog.Table big = table("big", TableCopier.SMALL_TABLE_BYTES + 1);
        slices.add(new TableSlicer.Slice(big, new TableSlicer.Range(null, null, 10L), 0, 2));
        slices.add(new TableSlicer.Slice(big, new TableSlicer.Range(null, 10L, null), 1, 2));
        for (int i = 0; i < TableCopier.BATCH_TABLES + 5; i++) {
            slices.add(whole(table("t" + i, 8192)));
        }
        SourceCatalog.Table needsRestore = table("restored", 8192);
        slices.add(whole(needsRestore));
        for (int i = 0; i < 10; i++) {
            slices.add(whole(table("mb" + i, TableCopier.SMALL_TABLE_BYTES)));
        }

        List<TableCopier.Unit> units = TableCopier.units(slices,
                t -> t == needsRestore ? null : List.of("ANALYZE " + t.qualifiedName()));

        // The two ranges of the big table: one unit each, not batches, their commits checked
        assertThat(units.get(0).slices()).containsExactly(slices.get(0));
        assertThat(units.get(1).slices()).containsExactly(slices.get(1));
        assertThat(units.subList(0, 2)).allSatisfy(u -> {
            assertThat(u.batch()).isFalse();
            assertThat(u.checkedCommit()).isTrue();
        });
        // A full batch of small tables, each with its statements
        TableCopier.Unit first = units.get(2);
        assertThat(first.batch()).isTrue();
        assertThat(first.checkedCommit()).isTrue();
        assertThat(first.slices()).hasSize(TableCopier.BATCH_TABLES);
        assertThat(first.after().get(first.slices().get(0).table())).containsExactly("ANALYZE \"public\".\"t0\"");
        // The table whose indexes need pg_restore is copied alone (TRUNCATE and FREEZE), its indexes built by the callback
        TableCopier.Unit alone = units.stream().filter(u -> u.slices().get(0).table() == needsRestore).findFirst().orElseThrow();
        assertThat(alone.slices()).hasSize(1);
        assertThat(alone.batch()).isFalse();
        assertThat(alone.checkedCommit()).isFalse();
        // The rest of the small tables: the 5 left over and the 1 MB tables, until the bytes bound closes a batch
        List<TableCopier.Unit> batches = units.stream().filter(TableCopier.Unit::batch).toList();
        assertThat(batches.stream().mapToInt(u -> u.slices().size()).sum()).isEqualTo(TableCopier.BATCH_TABLES + 5 + 10);
        assertThat(batches).as("the bytes bound closed a batch before its count did")
                .anySatisfy(u -> assertThat(u.slices().size()).isLessThan(TableCopier.BATCH_TABLES).isGreaterThan(5));
        assertThat(batches).allSatisfy(u -> {
            assertThat(u.slices()).hasSizeLessThanOrEqualTo(TableCopier.BATCH_TABLES);
            long bytes = u.slices().stream().mapToLong(s -> s.table().bytes()).sum();
            long last = u.slices().get(u.slices().size() - 1).table().bytes();
            assertThat(bytes - last).isLessThan(TableCopier.BATCH_BYTES);
        });
        // Every slice is in exactly one unit
        assertThat(units.stream().flatMap(u -> u.slices().stream()).toList()).containsExactlyInAnyOrderElementsOf(slices);
    }

    @Test
    void aRangeIsMadeIntoSqlFromItsNumbersAndQuotedColumnOnly() {
        assertThat(new TableSlicer.Range(null, null, 10L).where()).isEqualTo("ctid < '(10,0)'::pg_catalog.tid");
        assertThat(new TableSlicer.Range(null, 10L, 20L).where())
                .isEqualTo("ctid >= '(10,0)'::pg_catalog.tid AND ctid < '(20,0)'::pg_catalog.tid");
        assertThat(new TableSlicer.Range("Id\"; DROP TABLE x; --", 5L, null).where())
                .isEqualTo("\"Id\"\"; DROP TABLE x; --\" >= 5");
        assertThat(new TableSlicer.Slice(table("t", 1), null, 0, 1).where()).isNull();
    }
}
