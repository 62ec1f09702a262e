package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.pg.ServerCatalog;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The databases a migration moves, as the coordinator lists and queues them. */
class ServerCatalogIT {

    @Test
    void databasesAreQueuedLargestFirstAndListedByName() throws Exception {
        try (LocalPostgres pg = Infra.postgres()) {
            // Given three databases of clearly different sizes
            for (String db : List.of("a_small", "b_large", "c_medium")) {
                ReplicationIT.exec(pg, "postgres", "CREATE DATABASE " + db);
            }
            ReplicationIT.exec(pg, "b_large", "CREATE TABLE t AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 60000) g");
            ReplicationIT.exec(pg, "c_medium", "CREATE TABLE t AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g");
            try (Connection c = SampleData.connect(pg, "postgres")) {
                // Then they are queued largest first, the rest by name, and listed by name
                assertThat(ServerCatalog.migratedDatabasesLargestFirst(c, db -> db.equals("postgres")))
                        .containsExactly("b_large", "c_medium", "a_small");
                assertThat(ServerCatalog.migratedDatabases(c, db -> db.equals("postgres")))
                        .containsExactly("a_small", "b_large", "c_medium");
            }
        }
    }
}
