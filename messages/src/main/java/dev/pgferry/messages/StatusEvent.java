package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

import java.time.Instant;
import java.util.List;

/**
 * One state transition of a migration or of one of its databases. Every event carries the migration id, the
 * database ({@code null} for migration-level events), the worker id (or {@code coordinator}), the attempt and a
 * timestamp. The coordinator's status view is a fold over these events (see {@code StatusFold}); events of an
 * attempt older than the newest seen for that database are ignored there.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
        @JsonSubTypes.Type(value = StatusEvent.MigrationAccepted.class, name = "migration_accepted"),
        @JsonSubTypes.Type(value = StatusEvent.MigrationPlanned.class, name = "migration_planned"),
        @JsonSubTypes.Type(value = StatusEvent.MigrationFailed.class, name = "migration_failed"),
        @JsonSubTypes.Type(value = StatusEvent.TaskStarted.class, name = "task_started"),
        @JsonSubTypes.Type(value = StatusEvent.PhaseChanged.class, name = "phase_changed"),
        @JsonSubTypes.Type(value = StatusEvent.TaskProgress.class, name = "task_progress"),
        @JsonSubTypes.Type(value = StatusEvent.TaskWarning.class, name = "task_warning"),
        @JsonSubTypes.Type(value = StatusEvent.TaskWaiting.class, name = "task_waiting"),
        @JsonSubTypes.Type(value = StatusEvent.TaskDone.class, name = "task_done"),
        @JsonSubTypes.Type(value = StatusEvent.TaskFailed.class, name = "task_failed"),
        @JsonSubTypes.Type(value = StatusEvent.CutoverRequested.class, name = "cutover_requested"),
        @JsonSubTypes.Type(value = StatusEvent.CutoverStep.class, name = "cutover_step"),
        @JsonSubTypes.Type(value = StatusEvent.TaskCutOver.class, name = "task_cut_over"),
        @JsonSubTypes.Type(value = StatusEvent.CutoverFailed.class, name = "cutover_failed"),
        @JsonSubTypes.Type(value = StatusEvent.SchemaDriftSeen.class, name = "schema_drift"),
        @JsonSubTypes.Type(value = StatusEvent.RefreshRequested.class, name = "refresh_requested"),
        @JsonSubTypes.Type(value = StatusEvent.TaskRefreshed.class, name = "task_refreshed"),
        @JsonSubTypes.Type(value = StatusEvent.TaskSyncing.class, name = "task_syncing"),
        @JsonSubTypes.Type(value = StatusEvent.ReplicationLag.class, name = "replication_lag"),
        @JsonSubTypes.Type(value = StatusEvent.RemovalRequested.class, name = "removal_requested"),
        @JsonSubTypes.Type(value = StatusEvent.TaskRemoved.class, name = "task_removed"),
        @JsonSubTypes.Type(value = StatusEvent.VerifyRequested.class, name = "verify_requested"),
        @JsonSubTypes.Type(value = StatusEvent.TaskVerified.class, name = "task_verified"),
        @JsonSubTypes.Type(value = StatusEvent.CheckRequested.class, name = "check_requested"),
        @JsonSubTypes.Type(value = StatusEvent.CheckReported.class, name = "check_reported"),
})
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(value = "schema_version", allowGetters = true)
public sealed interface StatusEvent {

    @JsonProperty("schema_version")
    default int schemaVersion() {
        return MigrationRequest.SCHEMA_VERSION;
    }

    @JsonProperty("migration_id")
    String migrationId();

    @JsonProperty("dbname")
    String dbname();

    @JsonProperty("worker_id")
    String workerId();

    @JsonProperty("attempt")
    int attempt();

    @JsonProperty("timestamp")
    Instant timestamp();

    /** The coordinator accepted a request. Connection details are given without passwords. */
    record MigrationAccepted(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                             @JsonProperty("source") String source, @JsonProperty("target") String target,
                             @JsonProperty("method") Method method) implements StatusEvent {
    }

    /** The coordinator listed the source and published one task per database. */
    record MigrationPlanned(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                            @JsonProperty("databases") List<String> databases) implements StatusEvent {
        public MigrationPlanned {
            databases = List.copyOf(databases);
        }
    }

    /** The whole migration failed before any task ran (bad request, unreachable source, wrong credentials). */
    record MigrationFailed(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                           @JsonProperty("error") Failure error) implements StatusEvent {
    }

    /** A worker took the task of one database; {@code reason} says why this method (e.g. why not replication). */
    record TaskStarted(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                       @JsonProperty("method") Method method, @JsonProperty("reason") String reason)
            implements StatusEvent {
    }

    /** A database entered a new phase. */
    record PhaseChanged(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                        @JsonProperty("phase") Phase phase) implements StatusEvent {
    }

    /**
     * How far the data copy of one database is: tables, rows and bytes (of the COPY stream) so far, the source's
     * estimates of rows and bytes (on disk) in all, and the expected seconds left ({@code null} while unknown);
     * {@code copied_by}: what each worker copied so far, when the database's tables are shared between workers.
     */
    record TaskProgress(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                        @JsonProperty("tables_done") int tablesDone, @JsonProperty("tables_total") int tablesTotal,
                        @JsonProperty("rows_copied") long rowsCopied, @JsonProperty("bytes_copied") long bytesCopied,
                        @JsonProperty("rows_estimate") long rowsEstimate, @JsonProperty("bytes_estimate") long bytesEstimate,
                        @JsonProperty("eta_seconds") Long etaSeconds,
                        @JsonProperty("copied_by") java.util.Map<String, MigrationStatus.WorkerShare> copiedBy)
            implements StatusEvent {
    }

    /** Something the user should know that does not stop the database (e.g. a role whose password was not copied). */
    record TaskWarning(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                       @JsonProperty("message") String message) implements StatusEvent {
    }

    /**
     * A database waits on something outside pgferry: {@code waiting_for} says on what (the sessions, by pid, user,
     * application, state and query) and how to unblock it; {@code null} once it no longer waits.
     */
    @JsonInclude(JsonInclude.Include.ALWAYS)
    record TaskWaiting(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                       @JsonProperty("waiting_for") String waitingFor) implements StatusEvent {
    }

    /** One database finished. */
    record TaskDone(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                    @JsonProperty("method") Method method) implements StatusEvent {
    }

    /** Every table of the database's subscription is ready: the target now follows the source. */
    record TaskSyncing(String migrationId, String dbname, String workerId, int attempt, Instant timestamp)
            implements StatusEvent {
    }

    /**
     * How far the target lags behind the source, measured at {@code timestamp} (bytes of WAL), and how safe the
     * database's slot is: {@code wal_status} as the source reports it (PostgreSQL 13+: {@code reserved},
     * {@code extended}, {@code unreserved}, {@code lost}), {@code safe_wal_bytes} the WAL that may still be written
     * before the source invalidates the slot (null without {@code max_slot_wal_keep_size}), and {@code wal_warning}
     * when that is running out.
     */
    record ReplicationLag(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                          @JsonProperty("lag_bytes") long lagBytes, @JsonProperty("wal_status") String walStatus,
                          @JsonProperty("safe_wal_bytes") Long safeWalBytes,
                          @JsonProperty("wal_warning") String walWarning) implements StatusEvent {
    }

    /** A user asked to remove the migration's replication. */
    record RemovalRequested(String migrationId, String dbname, String workerId, int attempt, Instant timestamp)
            implements StatusEvent {
    }

    /** The database's replication objects are gone from both servers (sequences were set first). */
    record TaskRemoved(String migrationId, String dbname, String workerId, int attempt, Instant timestamp)
            implements StatusEvent {
    }

    /** A user asked to verify the migration: every database's verification starts anew. */
    record VerifyRequested(String migrationId, String dbname, String workerId, int attempt, Instant timestamp)
            implements StatusEvent {
    }

    /** One database was compared with the source. It changes nothing else of the database's row. */
    record TaskVerified(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                        @JsonProperty("verification") Verification verification) implements StatusEvent {
    }

    /**
     * A validate-only check was asked for ({@code POST /checks}); {@code migration_id} is the check's id, never a
     * migration's. Connection details are given without passwords.
     */
    record CheckRequested(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                          @JsonProperty("source") String source, @JsonProperty("target") String target)
            implements StatusEvent {
    }

    /** A worker ran a check: its report, or the error that kept it from running. */
    record CheckReported(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                         @JsonProperty("report") CheckReport report, @JsonProperty("error") Failure error)
            implements StatusEvent {
    }

    /** One database failed; the others go on. */
    record TaskFailed(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                      @JsonProperty("error") Failure error) implements StatusEvent {
    }

    /** A user asked to cut the migration over; {@code databases} are those that got a cut-over task. */
    record CutoverRequested(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                            @JsonProperty("databases") List<String> databases) implements StatusEvent {
        public CutoverRequested {
            databases = List.copyOf(databases);
        }
    }

    /**
     * A database's cut-over reached a step ({@code catching_up}, {@code blocking_writes}, {@code awaiting_fence},
     * {@code copying_sequences}, {@code copying_unlogged}, {@code copying_extension_rows},
     * {@code copying_large_objects}, {@code refreshing_materialized_views}, {@code verifying},
     * {@code dropping_replication}); {@code detail} says what it waits
     * for, in words.
     */
    record CutoverStep(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                       @JsonProperty("step") String step, @JsonProperty("detail") String detail) implements StatusEvent {
    }

    /**
     * A database was cut over: every transaction the source committed before its writes were blocked is on the
     * target, sequences are set, the replication is gone. {@code writes_blocked_ms}: how long the source refused
     * writes before the target was ready; {@code fence_lsn}: the source's WAL position the target confirmed;
     * {@code sessions_ended}: source sessions ended to block writes; {@code source_writable}: whether the source
     * takes writes again ({@code --unblock-source}).
     */
    record TaskCutOver(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                       @JsonProperty("writes_blocked_ms") long writesBlockedMs, @JsonProperty("fence_lsn") String fenceLsn,
                       @JsonProperty("sessions_ended") int sessionsEnded,
                       @JsonProperty("source_writable") boolean sourceWritable) implements StatusEvent {
    }

    /**
     * A database's cut-over did not finish; the replication goes on. {@code source_writable} is false only when the
     * source's write block could not be lifted (the error says how to lift it by hand).
     */
    record CutoverFailed(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                         @JsonProperty("error") Failure error, @JsonProperty("source_writable") boolean sourceWritable)
            implements StatusEvent {
    }

    /**
     * What changed on a replicating database's source that replication does not carry, one line per object
     * ({@code SchemaDrift}); an empty list once nothing does. Written by the coordinator when it changes.
     */
    record SchemaDriftSeen(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                           @JsonProperty("drift") List<String> drift) implements StatusEvent {
        public SchemaDriftSeen {
            drift = List.copyOf(drift);
        }
    }

    /** A user asked to repair the schema drift of the migration; {@code databases} got a refresh task. */
    record RefreshRequested(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                            @JsonProperty("databases") List<String> databases) implements StatusEvent {
        public RefreshRequested {
            databases = List.copyOf(databases);
        }
    }

    /**
     * A database's refresh ended: {@code applied} lists what was made on the target or added to the replication,
     * {@code remaining} the drift still seen after it, {@code error} why it stopped (null when it did not).
     */
    record TaskRefreshed(String migrationId, String dbname, String workerId, int attempt, Instant timestamp,
                         @JsonProperty("applied") List<String> applied, @JsonProperty("remaining") List<String> remaining,
                         @JsonProperty("error") String error) implements StatusEvent {
        public TaskRefreshed {
            applied = List.copyOf(applied);
            remaining = List.copyOf(remaining);
        }
    }
}
