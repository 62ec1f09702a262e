package dev.pgferry.coordinator.fold;

import dev.pgferry.messages.CopyProgress;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.Failure;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.messages.Phase;
import dev.pgferry.messages.Verification;
import dev.pgferry.pg.SchemaDrift;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class StatusFoldTest {
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-11-27T10:00:00Z"), ZoneOffset.UTC);
    private final StatusFold fold = new StatusFold();

    private static EventSource db(String name, int attempt) {
        return new EventSource("m-1", name, "w-" + attempt, attempt, CLOCK);
    }

    private void plan(String... dbs) {
        fold.apply(new EventSource("m-1", null, "coordinator", 1, CLOCK).planned(List.of(dbs)));
    }

    private MigrationStatus view() {
        return fold.view("m-1").orElseThrow();
    }

    @Test
    void isRunningUntilEveryDatabaseIsDone() {
        plan("a", "b");
        fold.apply(db("a", 1).done(Method.DUMP));

        assertThat(view().migration().status()).isEqualTo(State.RUNNING);
        assertThat(view().migrationDetail().get(1).status()).isEqualTo(State.PENDING);

        fold.apply(db("b", 1).started(Method.DUMP, null));
        fold.apply(db("b", 1).phase(Phase.DATA));
        fold.apply(db("b", 1).progress(1, 3, 100, 4096));
        assertThat(view().migrationDetail().get(1).phase()).isEqualTo(Phase.DATA);
        assertThat(view().migrationDetail().get(1).rowsCopied()).isEqualTo(100);

        fold.apply(db("b", 1).done(Method.DUMP));
        assertThat(view().migration()).isEqualTo(new MigrationStatus.Overall(State.DONE, "dump", null));
    }

    @Test
    void aReplicationKeptAsAOneTimeCopyChangesItsMethodButNotItsStart() {
        plan("a");
        Clock later = Clock.fixed(CLOCK.instant().plusSeconds(30), ZoneOffset.UTC);
        fold.apply(db("a", 1).started(Method.REPLICATION, null));
        fold.apply(new EventSource("m-1", "a", "w-1", 1, later).started(Method.DUMP, "dump instead of logical replication: x"));
        fold.apply(new EventSource("m-1", "a", "w-1", 1, later).done(Method.DUMP));

        MigrationStatus.DatabaseStatus row = view().migrationDetail().get(0);
        assertThat(row.method()).isEqualTo("dump");
        assertThat(row.methodReason()).isEqualTo("dump instead of logical replication: x");
        assertThat(row.startedAt()).isEqualTo(CLOCK.instant());
        assertThat(row.status()).isEqualTo(State.DONE);

        // a new attempt starts afresh
        fold.apply(new EventSource("m-1", "a", "w-2", 2, later).started(Method.DUMP, null));
        assertThat(view().migrationDetail().get(0).startedAt()).isEqualTo(later.instant());
    }

    @Test
    void whatEachWorkerCopiedOfASharedDatabaseIsShownUntilTheNextAttempt() {
        plan("big");
        fold.apply(db("big", 1).started(Method.DUMP, null));
        fold.apply(db("big", 1).progress(new CopyProgress(1, 2, 700, 7000, 1000, 10_000, 2L, Map.of(
                "w-1", new MigrationStatus.WorkerShare(3, 400, 4000), "helper", new MigrationStatus.WorkerShare(2, 300, 3000)))));
        fold.apply(db("big", 1).done(Method.DUMP));

        MigrationStatus.DatabaseStatus row = view().migrationDetail().get(0);
        assertThat(row.copiedBy()).containsOnlyKeys("helper", "w-1");
        assertThat(row.copiedBy().get("helper")).isEqualTo(new MigrationStatus.WorkerShare(2, 300, 3000));
        assertThat(dev.pgferry.messages.Json.mapper().valueToTree(row).get("copied_by").get("w-1").get("rows").asLong())
                .isEqualTo(400);

        fold.apply(db("big", 2).started(Method.DUMP, null));
        assertThat(view().migrationDetail().get(0).copiedBy()).isNull();
    }

    @Test
    void aLookForDriftThatLandsAfterARefreshKeepsWhatTheRefreshSaidWasMadeOnTheTargetAlone() {
        plan("a");
        fold.apply(db("a", 1).started(Method.REPLICATION, null));
        fold.apply(db("a", 1).syncing());
        String index = "index public.my_idx is on the target but not on the source (DDL is not replicated): ";
        String column = "column public.t.c is on the source but not on the target: the apply worker fails at the next"
                + " change to public.t";
        // the refresh knows from its record that the index was made on the target alone
        fold.apply(db("a", 1).refreshed(List.of("added column public.t.c on the target"),
                List.of(index + SchemaDrift.KEPT), null));
        // then a look that read before the refresh (the column still missing) lands, in its own words
        fold.apply(new EventSource("m-1", "a", "coordinator", 1, CLOCK).drift(List.of(column, index + SchemaDrift.DROPPED)));

        assertThat(view().migrationDetail().get(0).drift()).containsExactly(column, index + SchemaDrift.KEPT);

        // and once the index is gone, so is its line; a later look words it anew
        fold.apply(new EventSource("m-1", "a", "coordinator", 1, CLOCK).drift(List.of()));
        assertThat(view().migrationDetail().get(0).drift()).isNull();
        fold.apply(new EventSource("m-1", "a", "coordinator", 1, CLOCK).drift(List.of(index + SchemaDrift.DROPPED)));
        assertThat(view().migrationDetail().get(0).drift()).containsExactly(index + SchemaDrift.DROPPED);
    }

    @Test
    void failsWhenAnyDatabaseFailedOnceTheOthersFinished() {
        plan("a", "b");
        fold.apply(db("a", 1).failed(new Failure(ErrorCode.SCHEMA_RESTORE_FAILED, null, "restore broke", false)));
        assertThat(view().migration().status()).isEqualTo(State.RUNNING);

        fold.apply(db("b", 1).done(Method.DUMP));

        assertThat(view().migration().status()).isEqualTo(State.FAILED);
        assertThat(view().migration().error()).isEqualTo("1 of 2 databases failed: a: restore broke");
        assertThat(view().migrationDetail().get(0).errorCode()).isEqualTo(ErrorCode.SCHEMA_RESTORE_FAILED);
    }

    @Test
    void ignoresStatusFromOlderAttempt() {
        plan("a");
        fold.apply(db("a", 1).started(Method.DUMP, null));
        fold.apply(db("a", 2).started(Method.DUMP, null));
        fold.apply(db("a", 2).warning("role x: password not copied"));
        fold.apply(db("a", 1).failed(new Failure(ErrorCode.COPY_FAILED, "57P01", "old worker lost its connection", true)));

        assertThat(view().migrationDetail().get(0).status()).isEqualTo(State.RUNNING);
        assertThat(view().migrationDetail().get(0).attempt()).isEqualTo(2);
        assertThat(view().migrationDetail().get(0).workerId()).isEqualTo("w-2");
        assertThat(view().migrationDetail().get(0).warnings()).containsExactly("role x: password not copied");
    }

    @Test
    void migrationLevelFailureWinsAndMixedMethodsLeaveMethodEmpty() {
        fold.apply(new EventSource("m-2", null, "coordinator", 1, CLOCK)
                .migrationFailed(new Failure(ErrorCode.SOURCE_UNREACHABLE, "08001", "cannot connect", true)));
        assertThat(fold.view("m-2").orElseThrow().migration())
                .isEqualTo(new MigrationStatus.Overall(State.FAILED, "", "cannot connect"));

        plan("a", "b");
        fold.apply(db("a", 1).done(Method.DUMP));
        fold.apply(db("b", 1).done(Method.REPLICATION));
        assertThat(view().migration()).isEqualTo(new MigrationStatus.Overall(State.DONE, "", null));
    }

    private static Verification verification(Verification.Result result) {
        return new Verification(result, List.of(new Verification.Check("schema", result, List.of())),
                List.of(new Verification.TableCheck("public.t", result, 3L, 3L, null, null)), null, 0.5, null);
    }

    @Test
    void verificationIsRunningUntilEveryDatabaseHasItsResult() {
        plan("a", "b");
        fold.apply(db("a", 1).done(Method.DUMP));
        fold.apply(db("b", 2).done(Method.DUMP));
        assertThat(view().verify()).isNull();

        fold.apply(new EventSource("m-1", null, "coordinator", 1, CLOCK).verifyRequested());
        assertThat(view().verify().result()).isEqualTo("running");
        assertThat(view().verify().finished()).isFalse();

        // a verification changes nothing else of the row, whatever attempt stamped it
        fold.apply(db("a", 1).verified(verification(Verification.Result.MATCH)));
        fold.apply(db("b", 1).verified(verification(Verification.Result.DIFFERS)));
        assertThat(view().verify()).isEqualTo(new MigrationStatus.VerifySummary("differs", CLOCK.instant(), 2, 1, 2));
        assertThat(view().migrationDetail().get(1).attempt()).isEqualTo(2);
        assertThat(view().migrationDetail().get(1).status()).isEqualTo(State.DONE);
        assertThat(view().migrationDetail().get(1).verification().tables().get(0).rowsSource()).isEqualTo(3L);
    }

    @Test
    void aNewVerificationForgetsThePreviousResults() {
        plan("a");
        fold.apply(db("a", 1).done(Method.DUMP));
        fold.apply(new EventSource("m-1", null, "coordinator", 1, CLOCK).verifyRequested());
        fold.apply(db("a", 1).verified(verification(Verification.Result.DIFFERS)));
        assertThat(view().verify().result()).isEqualTo("differs");

        fold.apply(new EventSource("m-1", null, "coordinator", 1, CLOCK).verifyRequested());
        assertThat(view().verify().result()).isEqualTo("running");
        assertThat(view().migrationDetail().get(0).verification()).isNull();

        fold.apply(db("a", 1).verified(verification(Verification.Result.MATCH)));
        assertThat(view().verify().result()).isEqualTo("match");
        fold.apply(db("a", 1).verified(new Verification(Verification.Result.ERROR, null, null, null, null, "boom")));
        assertThat(view().verify().result()).isEqualTo("error");
    }

    @Test
    void aCutOverIsCuttingOverUntilItsDatabasesAreDoneOrSyncingAgain() {
        plan("a", "b", "c");
        fold.apply(db("a", 1).syncing());
        fold.apply(db("b", 1).syncing());
        fold.apply(db("c", 1).done(Method.DUMP));
        fold.apply(db("a", 1).lag(4096));
        fold.apply(new EventSource("m-1", null, "coordinator", 1, CLOCK).cutoverRequested(List.of("a", "b")));

        assertThat(view().migration().status()).isEqualTo(State.CUTTING_OVER);
        assertThat(view().isFinal()).isFalse();
        assertThat(view().cutoverRequestedAt()).isEqualTo(CLOCK.instant());
        assertThat(view().migrationDetail().get(0).cutover().step()).isEqualTo("queued");
        assertThat(view().migrationDetail().get(2).cutover()).isNull();
        assertThat(view().migrationDetail().get(2).status()).isEqualTo(State.DONE);

        fold.apply(db("a", 1).cutoverStep("awaiting_fence", "waiting for 0/3000"));
        MigrationStatus.DatabaseStatus a = view().migrationDetail().get(0);
        assertThat(a.status()).isEqualTo(State.CUTTING_OVER);
        assertThat(a.cutover().detail()).isEqualTo("waiting for 0/3000");

        fold.apply(db("a", 1).cutOver(1500, "0/3000", 4, false));
        fold.apply(db("b", 1).cutoverFailed(new Failure(ErrorCode.CUTOVER_ABORTED, null, "deadline", false), true));

        a = view().migrationDetail().get(0);
        assertThat(a.status()).isEqualTo(State.DONE);
        assertThat(a.lagBytes()).isNull();
        assertThat(a.cutover()).isEqualTo(new MigrationStatus.Cutover("done", null, null, CLOCK.instant(), CLOCK.instant(),
                1500L, "0/3000", 4, false, null, null));
        MigrationStatus.DatabaseStatus b = view().migrationDetail().get(1);
        assertThat(b.status()).isEqualTo(State.SYNCING);
        assertThat(b.error()).isNull();
        assertThat(b.cutover().state()).isEqualTo("failed");
        assertThat(b.cutover().errorCode()).isEqualTo(ErrorCode.CUTOVER_ABORTED);
        assertThat(view().migration().status()).isEqualTo(State.DONE);
    }

    @Test
    void cutOverEventsApplyWhateverTheirAttempt() {
        plan("a");
        fold.apply(db("a", 3).syncing());
        fold.apply(new EventSource("m-1", null, "coordinator", 1, CLOCK).cutoverRequested(List.of("a")));
        fold.apply(db("a", 1).cutoverStep("catching_up", null));
        assertThat(view().migrationDetail().get(0).attempt()).isEqualTo(3);
        assertThat(view().migrationDetail().get(0).cutover().step()).isEqualTo("catching_up");
    }

    @Test
    void driftIsShownUntilARefreshLeavesNoneAndAWaitOnlyWhileRunning() {
        plan("a");
        fold.apply(db("a", 1).started(Method.REPLICATION, null));
        fold.apply(db("a", 1).waiting("creating replication slot x waits for pid 7"));
        assertThat(view().migrationDetail().get(0).waitingFor()).contains("pid 7");
        fold.apply(db("a", 1).waiting(null));
        assertThat(view().migrationDetail().get(0).waitingFor()).isNull();

        fold.apply(db("a", 1).syncing());
        EventSource coordinator = new EventSource("m-1", "a", "coordinator", 1, CLOCK);
        fold.apply(coordinator.drift(List.of("table public.t is on the source but not in the publication")));
        assertThat(view().migrationDetail().get(0).drift()).containsExactly("table public.t is on the source but not in the publication");
        assertThat(view().migrationDetail().get(0).workerId()).isEqualTo("w-1");

        fold.apply(new EventSource("m-1", null, "coordinator", 1, CLOCK).refreshRequested(List.of("a")));
        assertThat(view().refreshRequestedAt()).isEqualTo(CLOCK.instant());
        assertThat(view().migrationDetail().get(0).refresh().finishedAt()).isNull();
        fold.apply(db("a", 1).refreshed(List.of("created public.t on the target"), List.of(), null));
        MigrationStatus.DatabaseStatus a = view().migrationDetail().get(0);
        assertThat(a.drift()).isNull();
        assertThat(a.refresh()).isEqualTo(new MigrationStatus.Refresh(CLOCK.instant(), CLOCK.instant(),
                List.of("created public.t on the target"), null));
        assertThat(a.status()).isEqualTo(State.SYNCING);
    }

    @Test
    void unfinishedNamesTheDatabasesPendingOrRunningOfEachMigration() {
        plan("a", "b", "c", "d");
        fold.apply(db("a", 1).done(Method.DUMP));
        fold.apply(db("b", 1).started(Method.DUMP, null));
        fold.apply(db("d", 1).started(Method.REPLICATION, null));
        fold.apply(db("d", 1).syncing());
        EventSource other = new EventSource("m-2", null, "coordinator", 1, CLOCK);
        fold.apply(other.planned(List.of("x")));
        fold.apply(new EventSource("m-2", "x", "w-1", 1, CLOCK).done(Method.DUMP));

        assertThat(fold.unfinished()).isEqualTo(Map.of("m-1", List.of("b", "c")));

        fold.apply(db("b", 1).failed(new Failure(ErrorCode.STOPPED, null, "stopped", false)));
        fold.apply(db("c", 1).done(Method.DUMP));
        assertThat(fold.unfinished()).isEmpty();
    }

    @Test
    void aWaitForAChangeEndsWithTheNextEventOrItsTimeout() throws Exception {
        long before = fold.changes();
        assertThat(fold.awaitChange(before, 20)).isEqualTo(before);

        Thread applier = new Thread(() -> plan("a"));
        applier.start();
        // a long timeout: the wait ends when the event is applied, whenever that is
        long after = fold.awaitChange(before, 60_000);
        applier.join();
        assertThat(after).isGreaterThan(before);
        assertThat(fold.changes()).isEqualTo(after);
        assertThat(fold.view("m-1")).isPresent();
    }
}
