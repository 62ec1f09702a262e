package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/**
 * A user's request to repair the schema drift of a replicating migration (see {@code Refresh} in the worker): the
 * tables and columns created on the source since it began are made on the target, new tables are added to the
 * publication and the subscription refreshed so that their rows are copied. Travels on the requests topic with
 * {@code "action": "refresh"}. {@code databases}: the databases to refresh (null or empty: every syncing one).
 */
public record RefreshRequest(
        @JsonProperty("schema_version") Integer schemaVersion,
        @JsonProperty("action") String action,
        @JsonProperty("migration_id") String migrationId,
        @JsonProperty("databases") List<String> databases) implements Request {

    public static final String ACTION = "refresh";

    public RefreshRequest {
        schemaVersion = schemaVersion == null ? MigrationRequest.SCHEMA_VERSION : schemaVersion;
        action = action == null ? ACTION : action;
        if (!ACTION.equals(action)) {
            throw new IllegalArgumentException("action must be '" + ACTION + "'");
        }
        if (migrationId == null || migrationId.isBlank()) {
            throw new IllegalArgumentException("migration_id is required");
        }
        databases = databases == null ? List.of() : List.copyOf(databases);
    }

    public static RefreshRequest of(String migrationId, List<String> databases) {
        return new RefreshRequest(MigrationRequest.SCHEMA_VERSION, ACTION, migrationId, databases);
    }

    /** Whether this request names {@code dbname} (an empty list names every database). */
    public boolean names(String dbname) {
        return databases.isEmpty() || databases.contains(dbname);
    }

    /** Why the request cannot be made as asked (an unknown database, none named syncing), or null when it can. */
    public String refusal(MigrationStatus status) {
        String unknown = status.refuseUnknown(databases);
        if (unknown != null) {
            return unknown;
        }
        if (status.migrationDetail().stream().noneMatch(d -> names(d.dbname()) && d.status() == MigrationStatus.State.SYNCING)) {
            return "no named database of migration " + status.migrationId() + " is syncing: nothing to refresh";
        }
        return null;
    }
}
