package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.Objects;

/**
 * The wire form of a failure: what went wrong, the SQLSTATE when PostgreSQL reported one, a message that
 * tells the user what to do, and whether the work may be retried. Never contains a password.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Failure(
        @JsonProperty("code") ErrorCode code,
        @JsonProperty("sqlstate") String sqlstate,
        @JsonProperty("message") String message,
        @JsonProperty("retriable") boolean retriable) {

    public Failure {
        Objects.requireNonNull(code, "code");
        message = Redaction.sql(message);
        if (message == null || message.isBlank()) {
            throw new IllegalArgumentException("failure message must not be blank");
        }
    }
}
