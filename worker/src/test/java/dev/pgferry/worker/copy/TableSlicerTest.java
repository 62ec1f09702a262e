package dev.pgferry.worker.copy;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class TableSlicerTest {
    private static final long MB = 1_000_000;

    private static SourceCatalog.Table table(long bytes, long longestIndex) {
        return new SourceCatalog.Table("public", "t", List.of("id"), bytes, false, true, 3, 1,
                new SourceCatalog.IndexCost(longestIndex, longestIndex));
    }

    @Test
    void theBenchmarksForeignKeyShapeKeepsItsLargestTableWholeOnTwoJobsAndSplitsItOnEight() {
        // SHAPE=fk bench/run.sh 1000: pgbench_accounts 671 MB with a primary key costing 225 MB of copy, 1,297 MB of
        // work in all. On 2 jobs it was 20 % faster whole (FREEZE) than in 2 ranges.
        SourceCatalog.Table accounts = table(671 * MB, 225 * MB);
        assertThat(TableSlicer.parts(accounts, 1297 * MB, 2, 0)).isEqualTo(1);
        // On 8 jobs its chain (896 MB) is far longer than a share (162 MB, 246 MB split): one part per job.
        assertThat(TableSlicer.parts(accounts, 1297 * MB, 8, 0)).isEqualTo(8);
        // On 4 jobs: whole 896; in 4 parts 335 + 225 = 560 against a share of 492 (no fewer parts fit the share).
        assertThat(TableSlicer.parts(accounts, 1297 * MB, 4, 0)).isEqualTo(4);
    }

    @Test
    void aTableWhoseChainFitsTheShareOrThatIsSmallOrOnOneOrTwoJobsStaysWhole() {
        assertThat(TableSlicer.parts(table(300 * MB, 100 * MB), 4000 * MB, 8, 0)).isEqualTo(1);
        assertThat(TableSlicer.parts(table(TableSlicer.MIN_AUTO_SPLIT_BYTES - 1, 0), TableSlicer.MIN_AUTO_SPLIT_BYTES, 8, 0))
                .isEqualTo(1);
        assertThat(TableSlicer.parts(table(10_000 * MB, 0), 10_000 * MB, 1, 0)).isEqualTo(1);
        // On 2 jobs, even a database that is one table: each of 2 parts would cost as long as the whole.
        assertThat(TableSlicer.parts(table(10_000 * MB, 2000 * MB), 12_000 * MB, 2, 0)).isEqualTo(1);
    }

    @Test
    void aSplitSizeGivesOnePartPerSplitSizeUpToTheMost() {
        assertThat(TableSlicer.parts(table(100 * MB, 0), 100 * MB, 2, 30 * MB)).isEqualTo(4);
        assertThat(TableSlicer.parts(table(30 * MB, 0), 100 * MB, 2, 30 * MB)).isEqualTo(1);
        assertThat(TableSlicer.parts(table(1_000_000 * MB, 0), 1_000_000 * MB, 2, MB)).isEqualTo(256);
    }
}
