package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

import java.time.Instant;
import java.util.List;

/**
 * The aggregated status of one migration, in the shape {@code avn service migration-status} prints:
 * {@code {"migration": {"status", "method", "error"}, "migration_detail": [{"dbname", "method", "status", "error"}]}}
 * plus {@code migration_id} and progress fields, and {@code databases_by_status} (how many databases are in each
 * state, before the rows: a migration of a thousand databases is read from its counts first). Immutable.
 */
@JsonPropertyOrder({"migration_id", "migration", "databases_by_status"})
@JsonIgnoreProperties(value = "databases_by_status", allowGetters = true)
public record MigrationStatus(
        @JsonProperty("migration_id") String migrationId,
        @JsonProperty("migration") Overall migration,
        @JsonProperty("migration_detail") List<DatabaseStatus> migrationDetail,
        @JsonProperty("source") String source,
        @JsonProperty("target") String target,
        @JsonProperty("updated_at") Instant updatedAt,
        @JsonProperty("removal_requested") boolean removalRequested,
        @JsonProperty("accepted_at") Instant acceptedAt,
        @JsonProperty("verify") VerifySummary verify,
        @JsonProperty("cutover_requested_at") Instant cutoverRequestedAt,
        @JsonProperty("refresh_requested_at") Instant refreshRequestedAt) {

    public MigrationStatus {
        migrationDetail = List.copyOf(migrationDetail);
    }

    /** How many databases are in each state, in the order of {@link State}; states no database is in are left out. */
    @JsonProperty("databases_by_status")
    public java.util.Map<String, Integer> databasesByStatus() {
        java.util.Map<State, Integer> byState = new java.util.EnumMap<>(State.class);
        migrationDetail.forEach(d -> byState.merge(d.status(), 1, Integer::sum));
        java.util.Map<String, Integer> counts = new java.util.LinkedHashMap<>();
        byState.forEach((state, n) -> counts.put(state.wireName(), n));
        return counts;
    }

    /**
     * The latest {@code pgferry verify} of the migration, {@code null} when none was asked for: {@code running} until
     * every database has its verification, then {@code match} when all match, else {@code differs} (or
     * {@code error} when a verification itself failed).
     */
    public record VerifySummary(
            @JsonProperty("result") String result,
            @JsonProperty("requested_at") Instant requestedAt,
            @JsonProperty("databases_verified") int databasesVerified,
            @JsonProperty("databases_matching") int databasesMatching,
            @JsonProperty("databases_total") int databasesTotal) {

        @com.fasterxml.jackson.annotation.JsonIgnore
        public boolean finished() {
            return !"running".equals(result);
        }
    }

    /**
     * For a request that names {@code databases}: a refusal naming those this migration does not have (and the ones
     * it has), or null when it has them all.
     */
    public String refuseUnknown(List<String> databases) {
        List<String> known = migrationDetail.stream().map(DatabaseStatus::dbname).toList();
        List<String> unknown = databases.stream().filter(db -> !known.contains(db)).toList();
        return unknown.isEmpty() ? null : "migration " + migrationId + " has no database " + String.join(", ", unknown)
                + " (it has " + String.join(", ", known) + ")";
    }

    /** Whether nothing more will change without a new request. */
    @com.fasterxml.jackson.annotation.JsonIgnore
    public boolean isFinal() {
        return migration.status() == State.DONE || migration.status() == State.FAILED
                || migration.status() == State.REMOVED;
    }

    /**
     * Status of a migration or of one database. A replicated database is {@code running} during its initial copy,
     * {@code syncing} once every table is ready, {@code cutting_over} during a cut-over (then {@code done}, or
     * {@code syncing} again when it did not finish); {@code removing}/{@code removed} after a removal request.
     */
    public enum State {
        PENDING, RUNNING, SYNCING, CUTTING_OVER, DONE, FAILED, REMOVING, REMOVED;

        @com.fasterxml.jackson.annotation.JsonValue
        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        @com.fasterxml.jackson.annotation.JsonCreator
        public static State parse(String s) {
            return valueOf(s.toUpperCase(java.util.Locale.ROOT));
        }
    }

    /**
     * What one worker copied of a database whose tables were shared between workers (see {@code copy_unit}): its
     * units (a range, a table, or a batch of small tables), their rows and bytes of COPY stream.
     */
    public record WorkerShare(
            @JsonProperty("units") int units,
            @JsonProperty("rows") long rows,
            @JsonProperty("bytes") long bytes) {

        public WorkerShare plus(long unitRows, long unitBytes) {
            return new WorkerShare(units + 1, rows + unitRows, bytes + unitBytes);
        }
    }

    /** The overall line. {@code method} is empty when databases used different methods; {@code error} is null when none. */
    public record Overall(
            @JsonProperty("status") State status,
            @JsonProperty("method") String method,
            @JsonProperty("error") String error) {
    }

    /** One database's row. */
    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record DatabaseStatus(
            @JsonProperty("dbname") String dbname,
            @JsonProperty("method") String method,
            @JsonProperty("status") State status,
            @JsonProperty("error") String error,
            @JsonProperty("error_code") ErrorCode errorCode,
            @JsonProperty("phase") Phase phase,
            @JsonProperty("attempt") int attempt,
            @JsonProperty("worker_id") String workerId,
            @JsonProperty("tables_done") int tablesDone,
            @JsonProperty("tables_total") int tablesTotal,
            @JsonProperty("rows_copied") long rowsCopied,
            @JsonProperty("bytes_copied") long bytesCopied,
            @JsonProperty("warnings") List<String> warnings,
            @JsonProperty("method_reason") String methodReason,
            @JsonProperty("lag_bytes") Long lagBytes,
            @JsonProperty("lag_measured_at") Instant lagMeasuredAt,
            @JsonProperty("rows_estimate") long rowsEstimate,
            @JsonProperty("bytes_estimate") long bytesEstimate,
            @JsonProperty("eta_seconds") Long etaSeconds,
            @JsonProperty("phase_seconds") java.util.Map<String, Double> phaseSeconds,
            @JsonProperty("started_at") Instant startedAt,
            @JsonProperty("finished_at") Instant finishedAt,
            @JsonProperty("verification") Verification verification,
            @JsonProperty("verified_at") Instant verifiedAt,
            @JsonProperty("cutover") Cutover cutover,
            @JsonProperty("waiting_for") String waitingFor,
            @JsonProperty("wal_status") String walStatus,
            @JsonProperty("safe_wal_bytes") Long safeWalBytes,
            @JsonProperty("wal_warning") String walWarning,
            @JsonProperty("drift") List<String> drift,
            @JsonProperty("refresh") Refresh refresh,
            @JsonProperty("copied_by") java.util.Map<String, WorkerShare> copiedBy) {

        public DatabaseStatus {
            copiedBy = copiedBy == null ? null : java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(copiedBy));
            warnings = List.copyOf(warnings == null ? List.of() : warnings);
            drift = drift == null ? null : List.copyOf(drift);
            phaseSeconds = phaseSeconds == null ? java.util.Map.of()
                    : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(phaseSeconds));
        }
    }

    /**
     * The latest cut-over of one database, {@code null} when none was asked for. {@code state}: {@code cutting_over},
     * {@code done} or {@code failed} (the replication goes on); {@code step} and {@code detail}: where it stands and
     * what it waits for; {@code writes_blocked_ms}, {@code fence_lsn}, {@code sessions_ended}: see the
     * {@code task_cut_over} event; {@code source_writable}: whether the source takes writes now.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Cutover(
            @JsonProperty("state") String state,
            @JsonProperty("step") String step,
            @JsonProperty("detail") String detail,
            @JsonProperty("requested_at") Instant requestedAt,
            @JsonProperty("finished_at") Instant finishedAt,
            @JsonProperty("writes_blocked_ms") Long writesBlockedMs,
            @JsonProperty("fence_lsn") String fenceLsn,
            @JsonProperty("sessions_ended") Integer sessionsEnded,
            @JsonProperty("source_writable") Boolean sourceWritable,
            @JsonProperty("error") String error,
            @JsonProperty("error_code") ErrorCode errorCode) {
    }

    /**
     * The latest refresh of one database: when it was asked for and when it ended (null while it runs), what it
     * applied, and why it stopped ({@code error}, null when it did not).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Refresh(
            @JsonProperty("requested_at") Instant requestedAt,
            @JsonProperty("finished_at") Instant finishedAt,
            @JsonProperty("applied") List<String> applied,
            @JsonProperty("error") String error) {
    }
}
