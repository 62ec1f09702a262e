package dev.pgferry.messages;

/** A message on the requests topic: a migration to start, or one to remove. */
public sealed interface Request permits MigrationRequest, RemovalRequest, VerifyRequest {
    String migrationId();
}
