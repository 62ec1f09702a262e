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
    void tablesAndIndexBuildsGoAtHalfTheReadRateAfterTheFixedCost() {
        // 300 MB of tables and 100 MB of index builds at half of 100 MB/s: 8 s, plus 1 s for the database
        Checker.Estimate e = Checker.Estimate.of(List.of(table(200_000_000, 100_000_000), table(100_000_000, 0)), 100e6);
        assertThat(e.seconds()).isEqualTo(9);
        assertThat(e.workBytes()).isEqualTo(400_000_000);
        assertThat(e.describe()).startsWith("about 9 s for one worker").contains("400.0 MB")
                .contains("100 MB/s, the rate this check read the largest table at");
    }

    @Test
    void withoutAMeasuredRateTheAssumedOneIsNamed() {
        Checker.Estimate e = Checker.Estimate.of(List.of(table(1_000_000, 0)), null);
        assertThat(e.seconds()).isEqualTo(1);
        assertThat(e.describe()).contains("200 MB/s assumed (no table large enough to measure)");
        assertThat(Checker.Estimate.of(List.of(), null).seconds()).isEqualTo(1);
    }

    @Test
    void longDurationsReadInMinutesAndHours() {
        assertThat(Checker.Estimate.human(119)).isEqualTo("119 s");
        assertThat(Checker.Estimate.human(600)).isEqualTo("10 min");
        assertThat(Checker.Estimate.human(36_000)).isEqualTo("10.0 h");
    }
}
