package dev.pgferry.messages;

/**
 * A snapshot of a data copy's progress, as the worker measures it. {@code etaSeconds} is null while unknown.
 */
public record CopyProgress(int tablesDone, int tablesTotal, long rowsCopied, long bytesCopied, long rowsEstimate,
                           long bytesEstimate, Long etaSeconds) {
}
