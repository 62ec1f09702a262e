package dev.pgferry.cli;

import dev.pgferry.messages.Connection;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/** The options that describe a migration request, shared by {@code migrate} and {@code submit}. */
final class RequestOptions {
    @Option(names = "--source", required = true, paramLabel = "URI",
            description = "Source server: postgres://user[:password]@host[:port][/dbname][?sslmode=..&password_ref=env:NAME|file:PATH]")
    String source;

    @Option(names = "--target", required = true, paramLabel = "URI", description = "Target server, same form as --source.")
    String target;

    @Option(names = "--method", defaultValue = "auto", paramLabel = "METHOD",
            description = "auto | replication | dump (default: ${DEFAULT-VALUE}; auto means dump in this version).")
    String method;

    @Option(names = "--ignore-dbs", split = ",", paramLabel = "DB,...",
            description = "Source databases to leave out (template0 and template1 always are).")
    List<String> ignoreDbs = new ArrayList<>();

    @Option(names = "--skip-table", paramLabel = "TABLE",
            description = "Do not copy this table's data: table, schema.table or db.schema.table. Repeatable.")
    List<String> skipTables = new ArrayList<>();

    @Option(names = "--with-table", paramLabel = "TABLE",
            description = "Copy data of only these tables (same forms). Repeatable.")
    List<String> withTables = new ArrayList<>();

    @Option(names = "--migration-id", paramLabel = "ID", description = "Name the migration (default: generated).")
    String migrationId;

    MigrationRequest toRequest() {
        return new MigrationRequest(MigrationRequest.SCHEMA_VERSION, migrationId, Connection.fromUri(source),
                Connection.fromUri(target), Method.parse(method), ignoreDbs, skipTables, withTables);
    }
}
