package dev.pgferry.coordinator.fold;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.Failure;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.Phase;
import dev.pgferry.messages.StatusEvent;
import dev.pgferry.messages.Verification;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** A fold restored from checkpoints and fed the rest of the topic equals one that read the topic from the start. */
class StatusFoldSnapshotTest {
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-12-01T10:00:00Z"), ZoneOffset.UTC);

    private static EventSource src(String migration, String db, int attempt) {
        return new EventSource(migration, db, "w-" + attempt, attempt, CLOCK);
    }

    /** Every kind of state a row can hold, across two migrations, in the order one status partition holds them. */
    private static List<StatusEvent> history() {
        List<StatusEvent> e = new ArrayList<>();
        e.add(src("m-a", null, 1).planned(List.of("shop", "crm")));
        e.add(src("m-b", null, 1).planned(List.of("big")));
        e.add(src("m-a", "shop", 1).started(Method.DUMP, "wal_level is replica"));
        e.add(src("m-a", "shop", 1).phase(Phase.DATA));
        e.add(src("m-a", "shop", 1).progress(2, 6, 1_000, 65_536));
        e.add(src("m-a", "shop", 1).warning("role x: password not copied"));
        e.add(src("m-a", "crm", 1).failed(new Failure(ErrorCode.COPY_FAILED, "57P01", "lost", true)));
        e.add(src("m-a", "crm", 2).started(Method.DUMP, null));
        e.add(src("m-b", "big", 1).started(Method.REPLICATION, null));
        e.add(src("m-b", "big", 1).waiting("pid 42 (psql), idle in transaction"));
        e.add(src("m-a", "shop", 1).done(Method.DUMP));
        e.add(src("m-b", "big", 1).syncing());
        e.add(src("m-b", "big", 1).lag(4096, "reserved", 1_000_000L, null));
        e.add(src("m-b", null, 1).cutoverRequested(List.of("big")));
        e.add(src("m-b", "big", 1).cutoverStep("fence", "waiting for 0/3000000"));
        e.add(src("m-a", null, 1).verifyRequested());
        e.add(src("m-a", "shop", 1).verified(new Verification(Verification.Result.MATCH, List.of(), List.of(), 0, 1.5, null)));
        e.add(src("m-a", "crm", 2).progress(new dev.pgferry.messages.CopyProgress(1, 2, 500, 5000, 900, 9000, 3L,
                Map.of("w-2", new dev.pgferry.messages.MigrationStatus.WorkerShare(2, 300, 3000),
                        "w-9", new dev.pgferry.messages.MigrationStatus.WorkerShare(1, 200, 2000)))));
        e.add(src("m-a", "crm", 2).phase(Phase.POST_DATA));
        e.add(src("m-b", "big", 1).cutOver(120, "0/3000000", 1, false));
        e.add(src("m-a", "crm", 2).done(Method.DUMP));
        return e;
    }

    @Test
    void checkpointsAtEveryPointRestoreToTheSameView() {
        List<StatusEvent> events = history();
        StatusFold whole = new StatusFold();
        for (int i = 0; i < events.size(); i++) {
            whole.apply(events.get(i), 0, i);
        }
        for (int cut = 0; cut <= events.size(); cut++) {
            // Given a fold that checkpointed every 3 events up to the cut (the latest snapshot of each migration kept,
            // as compaction does), and a checkpoint whose marker was lost after its snapshots were written
            StatusFold before = new StatusFold();
            Map<String, byte[]> kept = new HashMap<>();
            Map<Integer, Long> marker = Map.of();
            for (int i = 0; i < cut; i++) {
                before.apply(events.get(i), 0, i);
                if (i % 3 == 2) {
                    StatusFold.Checkpoint c = before.checkpoint();
                    kept.putAll(c.changed());
                    if (i < cut - 2) {
                        marker = c.positions();
                    }
                }
            }
            // When a new reader restores them and reads on from the marker
            StatusFold after = new StatusFold();
            after.restore(kept, marker);
            for (int i = marker.getOrDefault(0, 0L).intValue(); i < events.size(); i++) {
                after.apply(events.get(i), 0, i);
            }
            // Then it shows exactly what a reader of the whole topic shows
            assertThat(after.all()).as("cut at " + cut).isEqualTo(whole.all());
        }
    }

    @Test
    void aCheckpointHoldsOnlyWhatChangedSinceThePreviousOne() {
        StatusFold fold = new StatusFold();
        List<StatusEvent> events = history();
        for (int i = 0; i < 3; i++) {
            fold.apply(events.get(i), 0, i);
        }
        assertThat(fold.checkpoint().changed().keySet()).containsExactlyInAnyOrder("m-a", "m-b");
        fold.apply(events.get(3), 0, 3);
        StatusFold.Checkpoint c = fold.checkpoint();
        assertThat(c.changed().keySet()).containsExactly("m-a");
        assertThat(c.positions()).containsExactly(Map.entry(0, 4L));
        assertThat(fold.checkpoint().changed()).isEmpty();
    }
}
