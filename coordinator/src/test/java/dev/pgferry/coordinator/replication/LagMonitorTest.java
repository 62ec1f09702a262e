package dev.pgferry.coordinator.replication;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class LagMonitorTest {
    private static final long GB = 1L << 30;

    @Test
    void warnsOnlyWhenTheSlotIsCloseToBeingInvalidated() {
        assertThat(LagMonitor.warning("s", new LagMonitor.Slot(1_000, "reserved", 9 * GB), 10 * GB)).isNull();
        assertThat(LagMonitor.warning("s", new LagMonitor.Slot(1_000, "reserved", null), null)).isNull();
        assertThat(LagMonitor.warning("s", new LagMonitor.Slot(1_000, "extended", 3 * GB), 10 * GB)).isNull();

        assertThat(LagMonitor.warning("s", new LagMonitor.Slot(8 * GB, "extended", GB), 10 * GB))
                .contains("replication slot s holds " + 8 * GB + " bytes of WAL").contains("after " + GB + " more bytes");
        assertThat(LagMonitor.warning("s", new LagMonitor.Slot(11 * GB, "unreserved", -GB), 10 * GB))
                .contains("after 0 more bytes").contains("max_slot_wal_keep_size");
    }
}
