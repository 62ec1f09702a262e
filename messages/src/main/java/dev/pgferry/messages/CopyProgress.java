package dev.pgferry.messages;

/**
 * A snapshot of a data copy's progress, as the worker measures it. {@code etaSeconds} is null while unknown;
 * {@code copiedBy}, what each worker copied of the units done so far, is null unless the database's tables are shared
 * with other workers.
 */
public record CopyProgress(int tablesDone, int tablesTotal, long rowsCopied, long bytesCopied, long rowsEstimate,
                           long bytesEstimate, Long etaSeconds, java.util.Map<String, MigrationStatus.WorkerShare> copiedBy) {
}
