package dev.pgferry.coordinator.intake;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Secrets;
import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.Side;
import dev.pgferry.pg.SqlStates;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * Plans a migration: checks that the target can be reached and lists the source's databases that are migrated
 * (connectable, neither template0 nor template1, not ignored, ours to connect to). Stateless.
 */
public final class SourceCatalog {
    private final Secrets secrets;

    public SourceCatalog(Secrets secrets) {
        this.secrets = secrets;
    }

    /** The databases to migrate, largest first (then by name): the order their tasks are queued in. */
    public List<String> plan(MigrationRequest request) {
        if (request.onOneServer()) {
            throw new MigrationException(ErrorCode.INVALID_REQUEST, "source and target are the same server ("
                    + request.source().describe() + "); migrating a server onto itself would destroy its data");
        }
        PgConnector target = new PgConnector(request.target(), Side.TARGET, "coordinator", secrets);
        try (Connection c = target.open(); Statement s = c.createStatement()) {
            s.execute("SELECT 1");
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "checking target " + request.target().describe(), e);
        }
        PgConnector source = new PgConnector(request.source(), Side.SOURCE, "coordinator", secrets);
        List<String> databases;
        try (Connection c = source.open()) {
            databases = ServerCatalog.migratedDatabasesLargestFirst(c, request::ignores);
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SOURCE_UNREACHABLE, "listing databases of source " + request.source().describe(), e);
        }
        return databases;
    }
}
