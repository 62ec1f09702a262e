package dev.pgferry.coordinator.fold;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.pgferry.messages.CheckReport;
import dev.pgferry.messages.Failure;

import java.time.Instant;

/**
 * A validate-only check as {@code GET /checks/{id}} shows it: {@code pending} until a worker ran it, then
 * {@code done} with its report, or {@code failed} with the error that kept it from running.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CheckView(
        @JsonProperty("check_id") String checkId,
        @JsonProperty("status") String status,
        @JsonProperty("source") String source,
        @JsonProperty("target") String target,
        @JsonProperty("requested_at") Instant requestedAt,
        @JsonProperty("finished_at") Instant finishedAt,
        @JsonProperty("worker_id") String workerId,
        @JsonProperty("report") CheckReport report,
        @JsonProperty("error") Failure error) {
}
