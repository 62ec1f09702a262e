package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A user's request to verify a migration: compare source and target of every database of it, taking nothing on
 * trust from the copy. Travels on the requests topic with {@code "action": "verify"}; the coordinator knows the
 * servers from the original request. {@code jobs} bounds the connections per side and database (default 2).
 */
public record VerifyRequest(
        @JsonProperty("schema_version") Integer schemaVersion,
        @JsonProperty("action") String action,
        @JsonProperty("migration_id") String migrationId,
        @JsonProperty("jobs") Integer jobs) implements Request {

    public static final String ACTION = "verify";

    public VerifyRequest {
        schemaVersion = schemaVersion == null ? MigrationRequest.SCHEMA_VERSION : schemaVersion;
        action = action == null ? ACTION : action;
        if (!ACTION.equals(action)) {
            throw new IllegalArgumentException("action must be '" + ACTION + "'");
        }
        if (migrationId == null || migrationId.isBlank()) {
            throw new IllegalArgumentException("migration_id is required");
        }
        jobs = jobs == null ? 2 : jobs;
        if (jobs < 1 || jobs > 64) {
            throw new IllegalArgumentException("jobs must be 1 to 64, got " + jobs);
        }
    }

    public static VerifyRequest of(String migrationId, int jobs) {
        return new VerifyRequest(MigrationRequest.SCHEMA_VERSION, ACTION, migrationId, jobs);
    }
}
