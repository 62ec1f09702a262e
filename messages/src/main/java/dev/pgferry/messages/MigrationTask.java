package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.Objects;

/**
 * The work for one source database of one migration. Its Kafka key is {@link #key()} so that every message about
 * one database lands in one partition, in order.
 */
public record MigrationTask(
        @JsonProperty("schema_version") Integer schemaVersion,
        @JsonProperty("migration_id") String migrationId,
        @JsonProperty("dbname") String dbname,
        @JsonProperty("request") MigrationRequest request,
        @JsonProperty("action") Action action,
        @JsonProperty("verify_jobs") Integer verifyJobs,
        @JsonProperty("cutover") CutoverRequest cutover,
        @JsonProperty("unit") CopyUnit unit,
        @JsonProperty("final_copy") Boolean finalCopy) {

    /**
     * What to do with the database: migrate it, remove the replication of an earlier migration, verify it
     * against the source ({@code verify_jobs} connections per side), cut it over to the target ({@code cutover}), or
     * repair its schema drift; or check the whole request without changing anything ({@code pgferry check}, asked
     * through {@code POST /checks}: one task for the request, named after the source's bootstrap database); or copy
     * one range of a large table that the worker migrating the database offers to the others ({@code unit}).
     * A removal with {@code final_copy} first copies what replication does not carry ({@link RemovalRequest}).
     */
    public enum Action {
        MIGRATE, REMOVE, VERIFY, CUTOVER, REFRESH, CHECK, COPY_UNIT;

        @com.fasterxml.jackson.annotation.JsonValue
        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        @com.fasterxml.jackson.annotation.JsonCreator
        public static Action parse(String s) {
            return s == null ? MIGRATE : valueOf(s.toUpperCase(java.util.Locale.ROOT));
        }
    }

    public MigrationTask {
        schemaVersion = schemaVersion == null ? MigrationRequest.SCHEMA_VERSION : schemaVersion;
        if (schemaVersion != MigrationRequest.SCHEMA_VERSION) {
            throw new IllegalArgumentException("unknown schema_version " + schemaVersion);
        }
        Objects.requireNonNull(request, "request is required");
        migrationId = migrationId == null ? request.migrationId() : migrationId;
        if (!migrationId.equals(request.migrationId())) {
            throw new IllegalArgumentException("task migration_id differs from its request's");
        }
        action = action == null ? Action.MIGRATE : action;
        if (action == Action.CUTOVER && cutover == null) {
            throw new IllegalArgumentException("a cutover task needs its 'cutover' options");
        }
        finalCopy = finalCopy != null && finalCopy;
        if (finalCopy && action != Action.REMOVE) {
            throw new IllegalArgumentException("only a remove task has a 'final_copy'");
        }
        if ((action == Action.COPY_UNIT) != (unit != null)) {
            throw new IllegalArgumentException("a copy_unit task, and only it, has a 'unit'");
        }
        if (dbname == null || dbname.isEmpty()) {
            throw new IllegalArgumentException("dbname is required");
        }
    }

    /** The task that checks the whole request ({@code migration_id} is the check's id). */
    public static MigrationTask check(MigrationRequest request) {
        String bootstrap = request.source().dbname() == null ? "postgres" : request.source().dbname();
        return new MigrationTask(MigrationRequest.SCHEMA_VERSION, request.migrationId(), bootstrap, request, Action.CHECK,
                null, null, null, false);
    }

    public static MigrationTask of(MigrationRequest request, String dbname) {
        return new MigrationTask(MigrationRequest.SCHEMA_VERSION, request.migrationId(), dbname, request, Action.MIGRATE, null, null, null, false);
    }

    /** The task that verifies this database against the source. */
    public static MigrationTask verification(MigrationRequest request, String dbname, int jobs) {
        return new MigrationTask(MigrationRequest.SCHEMA_VERSION, request.migrationId(), dbname, request, Action.VERIFY, jobs, null, null, false);
    }

    /** The task that removes the replication of this database ({@code finalCopy}: see {@link RemovalRequest}). */
    public static MigrationTask removal(MigrationRequest request, String dbname, boolean finalCopy) {
        return new MigrationTask(MigrationRequest.SCHEMA_VERSION, request.migrationId(), dbname, request, Action.REMOVE, null, null, null, finalCopy);
    }

    /** The task that cuts this database over to the target. */
    public static MigrationTask cutover(MigrationRequest request, String dbname, CutoverRequest cutover) {
        return new MigrationTask(MigrationRequest.SCHEMA_VERSION, request.migrationId(), dbname, request, Action.CUTOVER,
                null, cutover, null, false);
    }

    /** The task that repairs the schema drift of this database. */
    public static MigrationTask refresh(MigrationRequest request, String dbname) {
        return new MigrationTask(MigrationRequest.SCHEMA_VERSION, request.migrationId(), dbname, request, Action.REFRESH,
                null, null, null, false);
    }

    /** The task that copies one range of a large table of this database, offered by the worker migrating it. */
    public static MigrationTask copyUnit(MigrationRequest request, String dbname, CopyUnit unit) {
        return new MigrationTask(MigrationRequest.SCHEMA_VERSION, request.migrationId(), dbname, request, Action.COPY_UNIT,
                null, null, unit, false);
    }

    /**
     * The Kafka key: migration id and database; a unit adds its attempt and index, so that the units of one database
     * spread over the partitions (and so over the waiting workers).
     */
    public String key() {
        return migrationId + "/" + dbname + (unit == null ? "" : "#" + unit.attempt() + "." + unit.index());
    }
}
