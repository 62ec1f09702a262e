package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/**
 * A user's request to cut a replicating migration over to the target: per database, block new writes on the source,
 * wait until the target has applied everything the source committed, copy sequences, optionally verify, then drop
 * the replication (see {@code Cutover} in the worker). Travels on the requests topic with
 * {@code "action": "cutover"}; the coordinator knows the servers from the original request.
 *
 * <p>{@code databases}: the databases to cut over (null or empty: every syncing database of the migration).
 * {@code deadline_seconds}: how long one database's cut-over may take (default 60); past it the source takes writes
 * again and replication goes on. {@code verify}: compare source and target while writes are blocked, and cut over
 * only when they match. {@code unblock_source}: let the source take writes again after a successful cut-over
 * (default: it stays read-only, since the application now writes to the target). {@code ignore_drift}: cut over
 * although the source's schema changed since replication began (tables, columns or other schema objects that
 * differ).
 */
public record CutoverRequest(
        @JsonProperty("schema_version") Integer schemaVersion,
        @JsonProperty("action") String action,
        @JsonProperty("migration_id") String migrationId,
        @JsonProperty("databases") List<String> databases,
        @JsonProperty("deadline_seconds") Integer deadlineSeconds,
        @JsonProperty("verify") Boolean verify,
        @JsonProperty("unblock_source") Boolean unblockSource,
        @JsonProperty("ignore_drift") Boolean ignoreDrift) implements Request {

    public static final String ACTION = "cutover";
    public static final int DEFAULT_DEADLINE_SECONDS = 60;

    public CutoverRequest {
        schemaVersion = schemaVersion == null ? MigrationRequest.SCHEMA_VERSION : schemaVersion;
        action = action == null ? ACTION : action;
        if (!ACTION.equals(action)) {
            throw new IllegalArgumentException("action must be '" + ACTION + "'");
        }
        if (migrationId == null || migrationId.isBlank()) {
            throw new IllegalArgumentException("migration_id is required");
        }
        databases = databases == null ? List.of() : List.copyOf(databases);
        deadlineSeconds = deadlineSeconds == null ? DEFAULT_DEADLINE_SECONDS : deadlineSeconds;
        if (deadlineSeconds < 1 || deadlineSeconds > 86_400) {
            throw new IllegalArgumentException("deadline_seconds must be 1 to 86400, got " + deadlineSeconds);
        }
        verify = verify != null && verify;
        unblockSource = unblockSource != null && unblockSource;
        ignoreDrift = ignoreDrift != null && ignoreDrift;
    }

    public static CutoverRequest of(String migrationId, List<String> databases, int deadlineSeconds, boolean verify,
                                    boolean unblockSource) {
        return of(migrationId, databases, deadlineSeconds, verify, unblockSource, false);
    }

    public static CutoverRequest of(String migrationId, List<String> databases, int deadlineSeconds, boolean verify,
                                    boolean unblockSource, boolean ignoreDrift) {
        return new CutoverRequest(MigrationRequest.SCHEMA_VERSION, ACTION, migrationId, databases, deadlineSeconds,
                verify, unblockSource, ignoreDrift);
    }

    /** Whether this request names {@code dbname} (an empty list names every database). */
    public boolean names(String dbname) {
        return databases.isEmpty() || databases.contains(dbname);
    }

    /**
     * Why the request cannot be made as asked (a named database that the migration does not have or that does not
     * replicate), or null when it can.
     */
    public String refusal(MigrationStatus status) {
        String unknown = status.refuseUnknown(databases);
        if (unknown != null) {
            return unknown;
        }
        List<MigrationStatus.DatabaseStatus> named = status.migrationDetail().stream().filter(d -> names(d.dbname())).toList();
        List<MigrationStatus.DatabaseStatus> notSyncing = named.stream().filter(d -> !replicating(d)).toList();
        if (!databases.isEmpty() && !notSyncing.isEmpty()) {
            return "only syncing databases can be cut over; " + String.join(", ", notSyncing.stream()
                    .map(d -> d.dbname() + " is " + d.status().wireName()).toList());
        }
        if (named.stream().noneMatch(CutoverRequest::replicating)) {
            return "no database of migration " + status.migrationId() + " is syncing: nothing to cut over";
        }
        return null;
    }

    private static boolean replicating(MigrationStatus.DatabaseStatus d) {
        return d.status() == MigrationStatus.State.SYNCING || d.status() == MigrationStatus.State.CUTTING_OVER;
    }
}
