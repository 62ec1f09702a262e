package dev.pgferry.pg;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;

import java.sql.SQLException;
import java.util.Set;

/**
 * Turns PostgreSQL errors into {@link MigrationException}s. Whether an error is worth retrying is decided by its
 * SQLSTATE alone, never by its message text: connection errors (class 08), admin shutdown (57P01..57P03),
 * serialization failures (40001) and deadlocks (40P01) are retriable; authentication (28), syntax and access
 * (42), data (22) and constraint (23) errors are not.
 */
public final class SqlStates {
    /** SQLSTATEs pgferry acts on that pgjdbc's {@code PSQLState} does not name. */
    public static final String INSUFFICIENT_PRIVILEGE = "42501";
    public static final String DUPLICATE_OBJECT = "42710";
    public static final String DUPLICATE_DATABASE = "42P04";
    public static final String UNDEFINED_OBJECT = "42704";
    /** A definition a statement cannot change in place (a view's columns dropped or retyped by CREATE OR REPLACE). */
    public static final String INVALID_TABLE_DEFINITION = "42P16";
    /** lock_not_available: a lock not granted within lock_timeout. */
    public static final String LOCK_NOT_AVAILABLE = "55P03";
    /** invalid_parameter_value: among others, a snapshot that cannot be imported (its exporter ended). */
    public static final String INVALID_PARAMETER_VALUE = "22023";
    /** dependent_objects_still_exist: a role that owns objects or holds privileges cannot be dropped. */
    public static final String DEPENDENT_OBJECTS_STILL_EXIST = "2BP01";

    private static final Set<String> RETRIABLE_STATES = Set.of("57P01", "57P02", "57P03", "40001", "40P01", "53300");

    private SqlStates() {
    }

    public static boolean retriable(String sqlstate) {
        return sqlstate != null && (sqlstate.startsWith("08") || RETRIABLE_STATES.contains(sqlstate));
    }

    /** The error code a SQLSTATE implies, or the given fallback. */
    public static ErrorCode codeFor(String sqlstate, ErrorCode fallback) {
        if (sqlstate == null) {
            return fallback;
        }
        if (sqlstate.startsWith("28")) {
            return ErrorCode.AUTH_FAILED;
        }
        return switch (sqlstate) {
            case "3D000" -> ErrorCode.DATABASE_MISSING;
            case "42501" -> ErrorCode.PERMISSION_DENIED;
            default -> fallback;
        };
    }

    /** Wraps a SQL error raised while doing {@code what}; the message keeps PostgreSQL's own words. */
    public static MigrationException wrap(ErrorCode fallback, String what, SQLException e) {
        String state = e.getSQLState();
        String message = what + ": " + firstLine(e.getMessage()) + (state != null ? " (SQLSTATE " + state + ")" : "");
        return new MigrationException(codeFor(state, fallback), state, message, retriable(state), e);
    }

    /** PostgreSQL's words and the SQLSTATE, for a warning: {@code permission denied ... (SQLSTATE 42501)}. */
    public static String describe(SQLException e) {
        return firstLine(e.getMessage()) + (e.getSQLState() != null ? " (SQLSTATE " + e.getSQLState() + ")" : "");
    }

    static String firstLine(String s) {
        if (s == null) {
            return "unknown error";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
