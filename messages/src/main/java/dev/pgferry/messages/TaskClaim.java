package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.Objects;

/**
 * A running task's claim on {@value Topics#CLAIMS}: which worker runs the task at {@code partition}/{@code offset}
 * of {@value Topics#TASKS}. It names the task record instead of copying it, so that no credential of the task is
 * written to one more topic. Renewed every {@value Topics#CLAIM_HEARTBEAT_MS} ms while the task runs; deleted (a
 * null value) once its final status event is written.
 */
public record TaskClaim(
        @JsonProperty("schema_version") Integer schemaVersion,
        @JsonProperty("worker_id") String workerId,
        @JsonProperty("task_key") String taskKey,
        @JsonProperty("partition") int partition,
        @JsonProperty("offset") long offset) {

    public TaskClaim {
        schemaVersion = schemaVersion == null ? MigrationRequest.SCHEMA_VERSION : schemaVersion;
        Objects.requireNonNull(workerId, "worker_id is required");
        Objects.requireNonNull(taskKey, "task_key is required");
    }

    public static TaskClaim of(String workerId, String taskKey, int partition, long offset) {
        return new TaskClaim(null, workerId, taskKey, partition, offset);
    }

    /** The claim's key: one per task record, so two tasks of one database (a run and its removal) never share one. */
    public String key() {
        return taskKey + "@" + partition + ":" + offset;
    }
}
