package dev.pgferry.worker.check;

import dev.pgferry.worker.copy.SourceCatalog;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class EstimateTest {

    private static SourceCatalog.Table table(long bytes, long indexCost) {
        return new SourceCatalog.Table("public", "t" + bytes, List.of("id"), bytes, false, true, 0, bytes,
                new SourceCatalog.IndexCost(indexCost, indexCost));
    }

    @Test
    void tablesAndIndexBuildsGoAtHalfTheReadRateAfterTheFixedCosts() {
        // 300 MB of tables and 100 MB of index builds at half of 100 MB/s: 8 s, plus 0.3 s for the database and
        // 9 ms for each of its 2 tables
        Checker.Estimate e = Checker.Estimate.of(List.of(table(200_000_000, 100_000_000), table(100_000_000, 0)), 100e6);
        assertThat(e.millis()).isEqualTo(8_318);
        assertThat(e.seconds()).isEqualTo(8);
        assertThat(e.workBytes()).isEqualTo(400_000_000);
        assertThat(e.describe()).startsWith("about 8 s for one worker").contains("0.3 s for the database and its 2 table(s)")
                .contains("400.0 MB").contains("100 MB/s, the rate this check read the largest table at");
    }

    @Test
    void aSmallDatabaseShowsAtLeastASecondButSumsAtItsOwnCost() {
        // 4 tables of 1 MB: 0.3 + 0.036 s of fixed costs and 4 MB at half of 200 MB/s, 0.04 s
        List<SourceCatalog.Table> four = List.of(table(1_000_000, 0), table(1_000_001, 0), table(1_000_002, 0), table(1_000_003, 0));
        Checker.Estimate e = Checker.Estimate.of(four, null);
        assertThat(e.millis()).isEqualTo(376);
        assertThat(e.seconds()).isEqualTo(1);
        assertThat(e.describe()).contains("200 MB/s assumed (no table large enough to measure)");
        assertThat(Checker.Estimate.of(List.of(), null).millis()).isEqualTo(300);
        // a table more costs its fixed share
        Checker.Estimate five = Checker.Estimate.of(List.of(table(1, 0), table(2, 0), table(3, 0), table(4, 0), table(5, 0)), null);
        assertThat(five.millis()).isEqualTo(345);
    }

    @Test
    void longDurationsReadInMinutesAndHours() {
        assertThat(Checker.Estimate.human(119)).isEqualTo("119 s");
        assertThat(Checker.Estimate.human(600)).isEqualTo("10 min");
        assertThat(Checker.Estimate.human(36_000)).isEqualTo("10.0 h");
    }
}
