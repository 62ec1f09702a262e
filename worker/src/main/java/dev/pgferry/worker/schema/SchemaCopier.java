package dev.pgferry.worker.schema;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.pg.PgConnector;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Copies one database's schema in two halves around the data: {@link #dump} takes a custom-format schema dump
 * (with large-object metadata) under the copy's snapshot; {@link #restorePreData} creates types, tables and
 * functions before the data; {@link #restorePostData} creates indexes, constraints, triggers and refreshes
 * materialized views after it. The dump file is deleted by {@link #close()}. Confined to one thread.
 */
public final class SchemaCopier implements AutoCloseable {
    private final PgConnector source;
    private final PgConnector target;
    private final String dbname;
    private final Path dumpFile;

    public SchemaCopier(PgConnector source, PgConnector target, String dbname) throws IOException {
        this.source = source;
        this.target = target;
        this.dbname = dbname;
        this.dumpFile = Files.createTempFile("pgferry-schema-", ".dump");
    }

    /** Dumps the schema as seen by {@code snapshotId} (the exporting transaction must still be open). */
    public void dump(String snapshotId) {
        PgTool.run("pg_dump", List.of("--schema-only", "--blobs", "--format=custom",
                        "--snapshot=" + snapshotId, "--file=" + dumpFile, "--no-subscriptions", "--no-publications"),
                source.libpqEnv(dbname), ErrorCode.SCHEMA_DUMP_FAILED, "dumping the schema of source database " + dbname);
    }

    public void restorePreData() {
        restore("pre-data");
    }

    public void restorePostData() {
        restore("post-data");
    }

    private void restore(String section) {
        PgTool.run("pg_restore", List.of("--section=" + section, "--exit-on-error", "--single-transaction",
                        "--dbname=" + conninfoDbname(dbname), dumpFile.toString()),
                target.libpqEnv(dbname), ErrorCode.SCHEMA_RESTORE_FAILED,
                "restoring the " + section + " schema into target database " + dbname);
    }

    /** A libpq conninfo naming only the database, so that a name containing '=' is not read as conninfo. */
    static String conninfoDbname(String name) {
        return "dbname='" + name.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    @Override
    public void close() throws IOException {
        Files.deleteIfExists(dumpFile);
    }
}
