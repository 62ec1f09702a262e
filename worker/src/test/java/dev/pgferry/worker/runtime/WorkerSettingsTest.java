package dev.pgferry.worker.runtime;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WorkerSettingsTest {

    @Test
    void defaultsAreOneSlotAutomaticJobsAndTheGroupTimeout() {
        Worker.Settings s = Worker.Settings.defaults();
        assertThat(s.slots()).isEqualTo(1);
        assertThat(s.jobs()).isZero();
        assertThat(s.effectiveJobs()).isEqualTo(Math.max(2, Runtime.getRuntime().availableProcessors()));
        assertThat(s.sessionTimeoutMs()).isEqualTo(Worker.DEFAULT_SESSION_TIMEOUT_MS);
        assertThat(s.splitTableBytes()).isZero();
        assertThat(s.workerId()).matches("worker-[0-9a-f]{8}");
        assertThat(Worker.Settings.defaults().workerId()).isNotEqualTo(s.workerId());
    }

    @Test
    void eachWitherChangesItsSettingOnly() {
        Worker.Settings s = Worker.Settings.defaults().withWorkerId("w").withJobs(3).withSlots(4).withSessionTimeout(6_000)
                .withSplitTableBytes(1 << 20);
        assertThat(s).extracting(Worker.Settings::workerId, Worker.Settings::jobs, Worker.Settings::slots,
                Worker.Settings::sessionTimeoutMs, Worker.Settings::splitTableBytes).containsExactly("w", 3, 4, 6_000, 1L << 20);
        assertThat(s.effectiveJobs()).isEqualTo(3);
    }

    @Test
    void impossibleValuesAreRefusedWithTheirName() {
        assertThatThrownBy(() -> Worker.Settings.defaults().withSlots(0)).hasMessageContaining("at least one task slot");
        assertThatThrownBy(() -> Worker.Settings.defaults().withJobs(-1)).hasMessageContaining("--jobs");
        assertThatThrownBy(() -> Worker.Settings.defaults().withSessionTimeout(10)).hasMessageContaining("session timeout");
        assertThatThrownBy(() -> Worker.Settings.defaults().withSplitTableBytes(-1)).hasMessageContaining("split size");
    }

    @Test
    void theHeartbeatIsHalfASecondOrAThirdOfAShorterSessionTimeout() {
        assertThat(Worker.heartbeatMs(Worker.DEFAULT_SESSION_TIMEOUT_MS)).isEqualTo(500);
        assertThat(Worker.heartbeatMs(1_200)).isEqualTo(400);
    }
}
