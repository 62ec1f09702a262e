package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Less common choices of a migration, all off by default.
 *
 * @param replicaIdentityFull     set {@code REPLICA IDENTITY FULL} on source tables that have no primary key or
 *                                replica identity, so that their UPDATEs and DELETEs replicate (changes the source)
 * @param includeExtensionTables  also replicate / copy tables that belong to an extension (e.g. postgis'
 *                                {@code spatial_ref_sys}); by default {@code CREATE EXTENSION} on the target provides them
 * @param postgresTableSync       with logical replication, leave the initial copy to PostgreSQL's table sync
 *                                (subscription {@code copy_data = true}, indexes built first) instead of pgferry's
 *                                parallel copy under the slot's snapshot; slower (BENCHMARKS.md), for comparison
 */
public record MigrationOptions(
        @JsonProperty("replica_identity_full") Boolean replicaIdentityFull,
        @JsonProperty("include_extension_tables") Boolean includeExtensionTables,
        @JsonProperty("postgres_table_sync") Boolean postgresTableSync) {

    public static final MigrationOptions DEFAULTS = new MigrationOptions(false, false, false);

    public MigrationOptions {
        replicaIdentityFull = replicaIdentityFull != null && replicaIdentityFull;
        includeExtensionTables = includeExtensionTables != null && includeExtensionTables;
        postgresTableSync = postgresTableSync != null && postgresTableSync;
    }
}
