package dev.pgferry.messages;

import java.time.Clock;
import java.util.List;
import java.util.Objects;

/**
 * Stamps events for one emitter: a migration, a database ({@code null} at migration level), a worker id and an
 * attempt, with time taken from the injected clock. Immutable and thread-safe.
 */
public record EventSource(String migrationId, String dbname, String workerId, int attempt, Clock clock) {

    public EventSource {
        Objects.requireNonNull(migrationId, "migrationId");
        Objects.requireNonNull(workerId, "workerId");
        Objects.requireNonNull(clock, "clock");
    }

    public StatusEvent.MigrationAccepted accepted(MigrationRequest r) {
        return new StatusEvent.MigrationAccepted(migrationId, dbname, workerId, attempt, clock.instant(),
                r.source().describe(), r.target().describe(), r.method());
    }

    public StatusEvent.CheckRequested checkRequested(MigrationRequest r) {
        return new StatusEvent.CheckRequested(migrationId, dbname, workerId, attempt, clock.instant(),
                r.source().describe(), r.target().describe());
    }

    public StatusEvent.CheckReported checkReported(CheckReport report) {
        return new StatusEvent.CheckReported(migrationId, dbname, workerId, attempt, clock.instant(), report, null);
    }

    public StatusEvent.CheckReported checkFailed(Failure error) {
        return new StatusEvent.CheckReported(migrationId, dbname, workerId, attempt, clock.instant(), null, error);
    }

    public StatusEvent.MigrationPlanned planned(List<String> databases) {
        return new StatusEvent.MigrationPlanned(migrationId, dbname, workerId, attempt, clock.instant(), databases);
    }

    public StatusEvent.MigrationFailed migrationFailed(Failure error) {
        return new StatusEvent.MigrationFailed(migrationId, dbname, workerId, attempt, clock.instant(), error);
    }

    public StatusEvent.TaskStarted started(Method method, String reason) {
        return new StatusEvent.TaskStarted(migrationId, dbname, workerId, attempt, clock.instant(), method, reason);
    }

    public StatusEvent.TaskSyncing syncing() {
        return new StatusEvent.TaskSyncing(migrationId, dbname, workerId, attempt, clock.instant());
    }

    public StatusEvent.ReplicationLag lag(long lagBytes) {
        return lag(lagBytes, null, null, null);
    }

    public StatusEvent.ReplicationLag lag(long lagBytes, String walStatus, Long safeWalBytes, String walWarning) {
        return new StatusEvent.ReplicationLag(migrationId, dbname, workerId, attempt, clock.instant(), lagBytes,
                walStatus, safeWalBytes, walWarning);
    }

    public StatusEvent.RemovalRequested removalRequested() {
        return new StatusEvent.RemovalRequested(migrationId, dbname, workerId, attempt, clock.instant());
    }

    public StatusEvent.TaskRemoved removed() {
        return new StatusEvent.TaskRemoved(migrationId, dbname, workerId, attempt, clock.instant());
    }

    public StatusEvent.VerifyRequested verifyRequested() {
        return new StatusEvent.VerifyRequested(migrationId, dbname, workerId, attempt, clock.instant());
    }

    public StatusEvent.TaskVerified verified(Verification verification) {
        return new StatusEvent.TaskVerified(migrationId, dbname, workerId, attempt, clock.instant(), verification);
    }

    public StatusEvent.PhaseChanged phase(Phase phase) {
        return new StatusEvent.PhaseChanged(migrationId, dbname, workerId, attempt, clock.instant(), phase);
    }

    public StatusEvent.TaskProgress progress(int tablesDone, int tablesTotal, long rows, long bytes) {
        return new StatusEvent.TaskProgress(migrationId, dbname, workerId, attempt, clock.instant(),
                tablesDone, tablesTotal, rows, bytes, 0, 0, null, null);
    }

    public StatusEvent.TaskProgress progress(CopyProgress p) {
        return new StatusEvent.TaskProgress(migrationId, dbname, workerId, attempt, clock.instant(), p.tablesDone(),
                p.tablesTotal(), p.rowsCopied(), p.bytesCopied(), p.rowsEstimate(), p.bytesEstimate(), p.etaSeconds(),
                p.copiedBy());
    }

    /** {@code message} may quote SQL: its passwords are removed ({@link Redaction#sql}). */
    public StatusEvent.TaskWarning warning(String message) {
        return new StatusEvent.TaskWarning(migrationId, dbname, workerId, attempt, clock.instant(), Redaction.sql(message));
    }

    public StatusEvent.TaskWaiting waiting(String waitingFor) {
        return new StatusEvent.TaskWaiting(migrationId, dbname, workerId, attempt, clock.instant(), waitingFor);
    }

    public StatusEvent.TaskDone done(Method method) {
        return new StatusEvent.TaskDone(migrationId, dbname, workerId, attempt, clock.instant(), method);
    }

    public StatusEvent.TaskFailed failed(Failure error) {
        return new StatusEvent.TaskFailed(migrationId, dbname, workerId, attempt, clock.instant(), error);
    }

    public StatusEvent.CutoverRequested cutoverRequested(List<String> databases) {
        return new StatusEvent.CutoverRequested(migrationId, dbname, workerId, attempt, clock.instant(), databases);
    }

    public StatusEvent.CutoverStep cutoverStep(String step, String detail) {
        return new StatusEvent.CutoverStep(migrationId, dbname, workerId, attempt, clock.instant(), step, detail);
    }

    public StatusEvent.TaskCutOver cutOver(long writesBlockedMs, String fenceLsn, int sessionsEnded, boolean sourceWritable) {
        return new StatusEvent.TaskCutOver(migrationId, dbname, workerId, attempt, clock.instant(), writesBlockedMs,
                fenceLsn, sessionsEnded, sourceWritable);
    }

    public StatusEvent.CutoverFailed cutoverFailed(Failure error, boolean sourceWritable) {
        return new StatusEvent.CutoverFailed(migrationId, dbname, workerId, attempt, clock.instant(), error, sourceWritable);
    }

    public StatusEvent.SchemaDriftSeen drift(List<String> drift) {
        return new StatusEvent.SchemaDriftSeen(migrationId, dbname, workerId, attempt, clock.instant(), drift);
    }

    public StatusEvent.RefreshRequested refreshRequested(List<String> databases) {
        return new StatusEvent.RefreshRequested(migrationId, dbname, workerId, attempt, clock.instant(), databases);
    }

    public StatusEvent.TaskRefreshed refreshed(List<String> applied, List<String> remaining, String error) {
        return new StatusEvent.TaskRefreshed(migrationId, dbname, workerId, attempt, clock.instant(), applied, remaining, error);
    }
}
