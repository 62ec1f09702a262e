package dev.pgferry.messages;

/** A message on the requests topic: a migration to start, or a request about one (remove, verify, cut over). */
public sealed interface Request permits MigrationRequest, RemovalRequest, VerifyRequest, CutoverRequest {
    String migrationId();
}
