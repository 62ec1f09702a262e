package dev.pgferry.messages;

/**
 * The one exception type of pgferry: an {@link ErrorCode}, the SQLSTATE when PostgreSQL gave one, and a
 * message written for the user. {@link #toFailure()} is the only place it becomes its wire form.
 * Messages must never contain a password; code that builds them from connection details uses
 * {@link Connection#describe()}.
 */
public class MigrationException extends RuntimeException {
    private final ErrorCode code;
    private final String sqlstate;
    private final boolean retriable;

    public MigrationException(ErrorCode code, String message) {
        this(code, null, message, code.retriableByDefault(), null);
    }

    /** {@code message} may quote SQL: its passwords are removed ({@link Redaction#sql}). */
    public MigrationException(ErrorCode code, String sqlstate, String message, boolean retriable, Throwable cause) {
        super(Redaction.sql(message), cause);
        this.code = code;
        this.sqlstate = sqlstate;
        this.retriable = retriable;
    }

    public ErrorCode code() {
        return code;
    }

    public String sqlstate() {
        return sqlstate;
    }

    public boolean retriable() {
        return retriable;
    }

    /** The wire form, for status events and HTTP responses. */
    public Failure toFailure() {
        return new Failure(code, sqlstate, getMessage(), retriable);
    }
}
