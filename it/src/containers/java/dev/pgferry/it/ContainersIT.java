package dev.pgferry.it;

import dev.pgferry.messages.Connection;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.State;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.containers.PostgreSQLContainer;
import org.testcontainers.kafka.KafkaContainer;

import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The migration path against Testcontainers' Kafka and PostgreSQL images instead of the embedded broker and local
 * clusters: {@code mvn -Pcontainers verify} (needs a Docker engine; skipped without one). The source is PostgreSQL 15
 * (the pg_dump this host runs must be at least as new as the source), the targets 16 and 17.
 */
class ContainersIT {
    static KafkaContainer kafka;
    static PostgreSQLContainer<?> source;

    /** Starts the broker and the source once, for every test; each test is skipped without a Docker engine. */
    static synchronized void start() throws Exception {
        Assumptions.assumeTrue(DockerClientFactory.instance().isDockerAvailable(),
                "no Docker engine: the containers suite is skipped");
        if (kafka != null) {
            return;
        }
        kafka = new KafkaContainer("apache/kafka:4.1.0");
        kafka.start();
        source = new PostgreSQLContainer<>("postgres:15").withCommand("postgres", "-c", "wal_level=logical");
        source.start();
        exec(source, source.getDatabaseName(), "CREATE DATABASE shop");
        exec(source, "shop", "CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);"
                + " CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers (id),"
                + " total numeric(10,2), doc jsonb);"
                + " CREATE INDEX orders_customer ON orders (customer_id);"
                + " INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 1000) g;"
                + " INSERT INTO orders SELECT g, 1 + g % 1000, g * 1.5, jsonb_build_object('n', g)"
                + " FROM generate_series(1, 20000) g");
    }

    @AfterAll
    static void stop() {
        if (source != null) {
            source.stop();
        }
        if (kafka != null) {
            kafka.stop();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"postgres:16", "postgres:17"})
    void aDumpMigrationThroughContainersArrivesWhole(String targetImage) throws Exception {
        start();
        try (PostgreSQLContainer<?> target = new PostgreSQLContainer<>(targetImage);
             Pgferry pgferry = startTarget(target)) {
            MigrationRequest r = MigrationRequest.of(conn(source), conn(target), Method.DUMP,
                    List.of("postgres", source.getDatabaseName()), List.of(), List.of());
            pgferry.submit(r);
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());
            assertThat(s.migration().status()).as(s.toString()).isEqualTo(State.DONE);
            assertThat(fingerprints(target, "shop")).isEqualTo(fingerprints(source, "shop"))
                    .containsEntry("customers", "1000");
        }
    }

    private static Pgferry startTarget(PostgreSQLContainer<?> target) throws Exception {
        target.start();
        return new Pgferry(kafka.getBootstrapServers(), 2, 0);
    }

    private static Connection conn(PostgreSQLContainer<?> pg) {
        return new Connection(pg.getHost(), pg.getFirstMappedPort(), pg.getDatabaseName(), pg.getUsername(),
                pg.getPassword(), null, "disable");
    }

    private static java.sql.Connection open(PostgreSQLContainer<?> pg, String db) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://" + pg.getHost() + ":" + pg.getFirstMappedPort() + "/" + db,
                pg.getUsername(), pg.getPassword());
    }

    private static void exec(PostgreSQLContainer<?> pg, String db, String sql) throws SQLException {
        try (java.sql.Connection c = open(pg, db); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    /** Rows and a content hash per table, read the same way on both servers. */
    private static Map<String, String> fingerprints(PostgreSQLContainer<?> pg, String db) throws SQLException {
        Map<String, String> out = new TreeMap<>();
        try (java.sql.Connection c = open(pg, db); Statement s = c.createStatement()) {
            for (String table : List.of("customers", "orders")) {
                try (ResultSet rs = s.executeQuery("SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t::text))"
                        + " FROM " + table + " t")) {
                    rs.next();
                    out.put(table, rs.getString(1));
                    out.put(table + " hash", rs.getString(2));
                }
            }
        }
        return out;
    }
}
