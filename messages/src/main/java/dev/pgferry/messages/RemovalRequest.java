package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A user's request to end a migration: stop replication and drop every replication object pgferry made on both
 * servers (after advancing the target's sequences to the source's, never moving one back). With {@code final_copy}
 * the target first gets the source's copy of everything else replication does not carry (roles, the database's
 * properties, unlogged tables, large objects, materialized views, extension rows), as a cut-over gives it, but
 * without blocking writes: for when the source is still the one written to. Travels on the requests topic with
 * {@code "action": "remove"}; the coordinator knows the servers from the original request.
 */
public record RemovalRequest(
        @JsonProperty("schema_version") Integer schemaVersion,
        @JsonProperty("action") String action,
        @JsonProperty("migration_id") String migrationId,
        @JsonProperty("final_copy") Boolean finalCopy) implements Request {

    public static final String ACTION = "remove";

    public RemovalRequest {
        schemaVersion = schemaVersion == null ? MigrationRequest.SCHEMA_VERSION : schemaVersion;
        action = action == null ? ACTION : action;
        if (!ACTION.equals(action)) {
            throw new IllegalArgumentException("action must be '" + ACTION + "'");
        }
        if (migrationId == null || migrationId.isBlank()) {
            throw new IllegalArgumentException("migration_id is required");
        }
        finalCopy = finalCopy != null && finalCopy;
    }

    public static RemovalRequest of(String migrationId) {
        return new RemovalRequest(MigrationRequest.SCHEMA_VERSION, ACTION, migrationId, false);
    }

    /** The removal that first makes what replication does not carry the source's on the target. */
    public static RemovalRequest withFinalCopy(String migrationId) {
        return new RemovalRequest(MigrationRequest.SCHEMA_VERSION, ACTION, migrationId, true);
    }
}
