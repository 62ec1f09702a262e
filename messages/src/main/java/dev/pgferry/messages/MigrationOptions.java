package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/**
 * Less common choices of a migration; every flag is off by default.
 *
 * @param replicaIdentityFull     set {@code REPLICA IDENTITY FULL} on source tables that have no primary key or
 *                                replica identity, so that their UPDATEs and DELETEs replicate (changes the source)
 * @param includeExtensionTables  also replicate / copy tables that belong to an extension (e.g. postgis'
 *                                {@code spatial_ref_sys}); by default {@code CREATE EXTENSION} on the target provides them
 * @param postgresTableSync       with logical replication, leave the initial copy to PostgreSQL's table sync
 *                                (subscription {@code copy_data = true}, indexes built first) instead of pgferry's
 *                                parallel copy under the slot's snapshot; slower (BENCHMARKS.md), for comparison
 * @param roles                   which source roles are created on the target: {@code all} (the default, as
 *                                {@code pg_dumpall --roles-only}, less reserved and platform roles) or {@code used}
 * @param ignoreRoles             roles never created on the target (the name Aiven's migration config uses)
 * @param maxWaitSeconds          how long a database may wait on a session of the user's (e.g. a transaction left
 *                                open that keeps the replication slot from being created) before it fails with
 *                                {@code WAIT_TIMEOUT}; {@code null}: as long as it takes (the status says what it waits for)
 */
public record MigrationOptions(
        @JsonProperty("replica_identity_full") Boolean replicaIdentityFull,
        @JsonProperty("include_extension_tables") Boolean includeExtensionTables,
        @JsonProperty("postgres_table_sync") Boolean postgresTableSync,
        @JsonProperty("roles") RoleScope roles,
        @JsonProperty("ignore_roles") List<String> ignoreRoles,
        @JsonProperty("max_wait_seconds") Integer maxWaitSeconds) {

    public static final MigrationOptions DEFAULTS = new MigrationOptions(false, false, false, RoleScope.ALL, List.of(), null);

    public MigrationOptions {
        replicaIdentityFull = replicaIdentityFull != null && replicaIdentityFull;
        includeExtensionTables = includeExtensionTables != null && includeExtensionTables;
        postgresTableSync = postgresTableSync != null && postgresTableSync;
        roles = roles == null ? RoleScope.ALL : roles;
        ignoreRoles = List.copyOf(ignoreRoles == null ? List.of() : ignoreRoles);
        if (maxWaitSeconds != null && maxWaitSeconds < 1) {
            throw new IllegalArgumentException("max_wait_seconds must be at least 1, got " + maxWaitSeconds);
        }
    }

    public MigrationOptions(Boolean replicaIdentityFull, Boolean includeExtensionTables, Boolean postgresTableSync,
                            RoleScope roles, List<String> ignoreRoles) {
        this(replicaIdentityFull, includeExtensionTables, postgresTableSync, roles, ignoreRoles, null);
    }

    public MigrationOptions(Boolean replicaIdentityFull, Boolean includeExtensionTables, Boolean postgresTableSync) {
        this(replicaIdentityFull, includeExtensionTables, postgresTableSync, RoleScope.ALL, List.of(), null);
    }

    /** Which source roles a migration creates on the target. */
    public enum RoleScope {
        /** Every role of the source server except reserved and managed-platform roles. */
        ALL,
        /**
         * The roles the migrated databases use (owners, object owners, grantees), the roles those are members of,
         * and every role that is a member, directly or not, of one of them (login roles of a group role).
         */
        USED;

        @com.fasterxml.jackson.annotation.JsonValue
        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        @com.fasterxml.jackson.annotation.JsonCreator
        public static RoleScope parse(String s) {
            try {
                return valueOf(s.toUpperCase(java.util.Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("roles must be 'all' or 'used', got '" + s + "'");
            }
        }
    }
}
