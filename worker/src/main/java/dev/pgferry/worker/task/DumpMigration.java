package dev.pgferry.worker.task;

import dev.pgferry.pg.PgConnector;
import dev.pgferry.worker.database.DatabaseProperties;
import dev.pgferry.worker.schema.PreDataRestore;

import java.sql.Connection;
import java.util.Set;

/**
 * The dump method: the database is copied once under one exported snapshot, read (schema dump and catalog) while
 * the roles and the target database are prepared (the pre-data section restored as soon as both the dump and the
 * target database are ready, while the catalog is still being read), and ends {@code done}.
 */
final class DumpMigration {
    private final CopyPipeline pipeline;

    DumpMigration(CopyPipeline pipeline) {
        this.pipeline = pipeline;
    }

    /**
     * {@code source}: the session that read the source database's properties, which exports the snapshot (one
     * session fewer); this takes it over and closes it.
     */
    void run(TargetDatabase targetDb, TargetDatabase.Prior prior, int attempt, DatabaseProperties properties,
             Connection source) {
        Set<String> missingRoles;
        CopyPipeline.Resources opened;
        try {
            opened = pipeline.open();
        } catch (RuntimeException e) {
            PgConnector.closeQuietly(source);
            throw e;
        }
        try (CopyPipeline.Resources res = opened;
             CopyPipeline.ReadAhead ahead = pipeline.readAhead(res.schema(), true, source)) {
            missingRoles = pipeline.rolesAndTarget(targetDb, prior, attempt, properties);
            // The pre-data section needs only the dump: it is restored while the source's catalog is still read, and
            // each table's rows are copied as soon as the table is there.
            ahead.awaitDump();
            try (PreDataRestore preData = pipeline.startPreData(res, missingRoles);
                 CopyPipeline.SourceRead read = ahead.take()) {
                pipeline.copyRestored(res, read, missingRoles, CopyPipeline.Scope.ALL, false, preData);
            }
        }
        pipeline.finish(targetDb, properties, missingRoles);
        pipeline.createEventTriggers();
    }
}
