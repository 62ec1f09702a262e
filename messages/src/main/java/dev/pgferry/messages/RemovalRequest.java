package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A user's request to end a migration: stop replication and drop every replication object pgferry made on both
 * servers (after setting the target's sequences from the source). Travels on the requests topic with
 * {@code "action": "remove"}; the coordinator knows the servers from the original request.
 */
public record RemovalRequest(
        @JsonProperty("schema_version") Integer schemaVersion,
        @JsonProperty("action") String action,
        @JsonProperty("migration_id") String migrationId) implements Request {

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
    }

    public static RemovalRequest of(String migrationId) {
        return new RemovalRequest(MigrationRequest.SCHEMA_VERSION, ACTION, migrationId);
    }
}
