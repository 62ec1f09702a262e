package dev.pgferry.cli;

import dev.pgferry.messages.Connection;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationOptions;
import dev.pgferry.messages.MigrationRequest;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/** The options that describe a migration request, shared by {@code migrate} and {@code submit}. */
final class RequestOptions {
    @Option(names = "--source", required = true, paramLabel = "URI",
            description = "Source server: postgres://user[:password]@host[:port][/dbname][?sslmode=..&password_ref=..];"
                    + " dbname is the bootstrap database (default postgres). The password may be inline or a reference,"
                    + " password_ref=env:NAME or file:PATH, resolved only by the process that opens the connection.")
    String source;

    @Option(names = "--target", required = true, paramLabel = "URI",
            description = "Target server, same form as --source.")
    String target;

    @Option(names = "--method", defaultValue = "auto", paramLabel = "METHOD",
            description = "auto | replication | dump (default: ${DEFAULT-VALUE}): auto replicates where the preconditions"
                    + " hold and dumps otherwise, saying why; replication never falls back (it fails the database with"
                    + " the reason); dump never replicates.")
    String method;

    @Option(names = "--ignore-dbs", split = ",", paramLabel = "DB,...",
            description = "Source databases to leave out (template0 and template1 always are).")
    List<String> ignoreDbs = new ArrayList<>();

    @Option(names = "--skip-table", paramLabel = "TABLE",
            description = "Do not copy this table's data: table, schema.table or db.schema.table (quote a part"
                    + " containing a dot: \"we.ird\".t). Repeatable. The schema of every table is always copied; a"
                    + " filtered table arrives empty.")
    List<String> skipTables = new ArrayList<>();

    @Option(names = "--with-table", paramLabel = "TABLE",
            description = "Copy the data of only these tables (same forms). Repeatable. A list that matches nothing in a"
                    + " database copies no data there.")
    List<String> withTables = new ArrayList<>();

    @Option(names = "--migration-id", paramLabel = "ID",
            description = "Name the migration (default: generated, m-...).")
    String migrationId;

    @Option(names = "--replica-identity-full",
            description = "Replication: set REPLICA IDENTITY FULL on source tables without a primary key, so that their"
                    + " UPDATEs and DELETEs replicate (this changes the source).")
    boolean replicaIdentityFull;

    @Option(names = "--include-extension-tables",
            description = "Also copy tables that belong to an extension (e.g. postgis spatial_ref_sys); by default"
                    + " CREATE EXTENSION on the target provides their rows.")
    boolean includeExtensionTables;

    @Option(names = "--postgres-table-sync",
            description = "Replication: leave the initial copy to PostgreSQL's table sync (indexes first, then"
                    + " subscription copy_data) instead of pgferry's parallel copy; slower (BENCHMARKS.md), kept for"
                    + " comparison.")
    boolean postgresTableSync;

    @Option(names = "--roles", defaultValue = "all", paramLabel = "all|used",
            description = "Which source roles are created on the target: all (default: every role but the reserved"
                    + " pg_* and managed-platform roles, as pg_dumpall --roles-only) or used (the roles the migrated"
                    + " databases use and every role connected to them by membership).")
    String roles;

    @Option(names = "--ignore-roles", split = ",", paramLabel = "ROLE,...",
            description = "Source roles never created on the target (the name Aiven's migration configuration uses).")
    List<String> ignoreRoles = new ArrayList<>();

    @Option(names = "--max-wait", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "Fail a database (WAIT_TIMEOUT) that waits longer than this on a session of the user's: a"
                    + " transaction left open that keeps the replication slot from being created, or a lock one of the"
                    + " database's sessions waits for on either server (default: wait; the status names the session).")
    java.time.Duration maxWait;

    MigrationRequest toRequest() {
        return new MigrationRequest(MigrationRequest.SCHEMA_VERSION, migrationId, Connection.fromUri(source),
                Connection.fromUri(target), Method.parse(method), ignoreDbs, skipTables, withTables,
                new MigrationOptions(replicaIdentityFull, includeExtensionTables, postgresTableSync,
                        MigrationOptions.RoleScope.parse(roles), ignoreRoles,
                        maxWait == null ? null : (int) Math.min(Integer.MAX_VALUE, maxWait.toSeconds())));
    }
}
