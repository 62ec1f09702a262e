package dev.pgferry.messages;

/** A message on the requests topic: a migration to start, or a request about one (remove, verify, cut over, refresh). */
public sealed interface Request permits MigrationRequest, RemovalRequest, VerifyRequest, CutoverRequest, RefreshRequest {
    String migrationId();
}
