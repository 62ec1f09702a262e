package dev.pgferry.messages;

/**
 * Machine-readable reason of a failure, as it travels in status events and HTTP responses.
 * Each constant says whether retrying the same work can help by default.
 */
public enum ErrorCode {
    /** The request message could not be read or is not valid. */
    INVALID_REQUEST(false),
    /** The source server could not be reached (DNS, connection refused, timeout). */
    SOURCE_UNREACHABLE(true),
    /** The target server could not be reached. */
    TARGET_UNREACHABLE(true),
    /** Wrong user name or password (SQLSTATE class 28). */
    AUTH_FAILED(false),
    /** A database named in the request does not exist (SQLSTATE 3D000). */
    DATABASE_MISSING(false),
    /** The user lacks a privilege the step needs (SQLSTATE 42501). */
    PERMISSION_DENIED(false),
    /** The target database already holds tables that the migration would overwrite. */
    TARGET_NOT_EMPTY(false),
    /** A precondition of the chosen method does not hold. */
    PRECONDITION_FAILED(false),
    /** pg_dump of the source schema failed. */
    SCHEMA_DUMP_FAILED(false),
    /** pg_restore into the target failed. */
    SCHEMA_RESTORE_FAILED(false),
    /** Copying table data failed. */
    COPY_FAILED(true),
    /** A password reference (env:NAME, file:PATH) could not be resolved. */
    SECRET_UNRESOLVED(false),
    /** An inline password would be written to Kafka in clear: no secret key to seal it, and plaintext not allowed. */
    PLAINTEXT_PASSWORD(false),
    /** A database waited longer than its {@code max_wait_seconds} on a session of the user's; the message names it. */
    WAIT_TIMEOUT(false),
    /**
     * The source invalidated the database's replication slot ({@code wal_status = lost}: it held more WAL than
     * {@code max_slot_wal_keep_size}); the target no longer follows the source.
     */
    SLOT_LOST(false),
    /** A cut-over was asked for a database that is not replicating (no subscription of this migration). */
    NOT_REPLICATING(false),
    /**
     * A cut-over did not finish (its deadline passed, verification found differences, a step failed): the source
     * takes writes again and the replication goes on.
     */
    CUTOVER_ABORTED(false),
    /**
     * A database was started too many times without finishing (its workers stopped mid-task: killed, out of memory,
     * cut off from Kafka; or its failures were retriable each time): not started again.
     */
    TOO_MANY_ATTEMPTS(false),
    /**
     * The pgferry command running the migration was interrupted (Ctrl-C, SIGTERM) and stopped the database for good;
     * what its attempt had made on both servers was removed (nothing, when it had not started).
     */
    STOPPED(false),
    /** An unexpected error inside pgferry; the message says what happened. */
    INTERNAL(false);

    private final boolean retriableByDefault;

    ErrorCode(boolean retriableByDefault) {
        this.retriableByDefault = retriableByDefault;
    }

    /** Whether a failure with this code is worth retrying when no SQLSTATE says otherwise. */
    public boolean retriableByDefault() {
        return retriableByDefault;
    }
}
