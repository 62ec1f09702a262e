package dev.pgferry.pg;

import dev.pgferry.messages.ErrorCode;

/** Which server of a migration a connection goes to; it decides the error code of a failed connection. */
public enum Side {
    SOURCE(ErrorCode.SOURCE_UNREACHABLE), TARGET(ErrorCode.TARGET_UNREACHABLE);

    private final ErrorCode unreachable;

    Side(ErrorCode unreachable) {
        this.unreachable = unreachable;
    }

    public ErrorCode unreachable() {
        return unreachable;
    }

    public String label() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
