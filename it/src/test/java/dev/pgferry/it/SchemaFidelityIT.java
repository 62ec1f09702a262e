package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.Statement;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * pgferry builds indexes and constraints itself (in parallel, primary keys and unique constraints through
 * {@code CREATE UNIQUE INDEX} + {@code ADD CONSTRAINT ... USING INDEX}); the target's catalog must still describe
 * exactly what pg_dump/pg_restore would have made: index definitions, constraint definitions and deferrability,
 * clustering, replica identity, statistics targets, comments, foreign keys on top, and statistics gathered.
 */
class SchemaFidelityIT {
    static final String DB = "fidelity";
    static LocalPostgres source;
    static LocalPostgres target;
    static Pgferry pgferry;
    static MigrationStatus status;

    @BeforeAll
    static void migrate() throws Exception {
        source = Infra.postgres();
        target = Infra.postgres();
        try (Connection c = SampleData.connect(source, "postgres"); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + DB);
        }
        try (Connection c = SampleData.connect(source, DB); Statement s = c.createStatement()) {
            s.execute("""
                    CREATE TABLE a (id int PRIMARY KEY, u int NOT NULL, v int, w text, code varchar(10) NOT NULL,
                                    c text COLLATE "C" NOT NULL, r int4range);
                    ALTER TABLE a ADD CONSTRAINT a_u_key UNIQUE (u);
                    ALTER TABLE a ADD CONSTRAINT a_code_key UNIQUE (code);
                    ALTER TABLE a ADD CONSTRAINT a_c_key UNIQUE (c);
                    ALTER TABLE a ADD CONSTRAINT a_w_v_key UNIQUE (w, v) DEFERRABLE INITIALLY DEFERRED;
                    ALTER TABLE a ADD CONSTRAINT a_r_excl EXCLUDE USING gist (r WITH &&);
                    ALTER TABLE a ADD CONSTRAINT a_v_check CHECK (v > 0) NOT VALID;
                    ALTER TABLE a CLUSTER ON a_pkey;
                    ALTER TABLE a REPLICA IDENTITY USING INDEX a_u_key;
                    CREATE INDEX a_expr ON a ((v + 1));
                    ALTER INDEX a_expr ALTER COLUMN 1 SET STATISTICS 500;
                    COMMENT ON INDEX a_expr IS 'expression index';
                    COMMENT ON CONSTRAINT a_pkey ON a IS 'the key';
                    CREATE UNIQUE INDEX a_v_include ON a (v) INCLUDE (w);
                    INSERT INTO a SELECT g, 100000 - g, g, 'w' || g, 'c' || g, 'k' || g, int4range(g * 10, g * 10 + 5)
                      FROM generate_series(1, 3000) g;

                    CREATE TABLE b (id int, note text, a_id int REFERENCES a (id),
                                    CONSTRAINT b_pkey PRIMARY KEY (id) INCLUDE (note));
                    CREATE UNIQUE INDEX b_desc ON b (id DESC NULLS LAST);
                    CREATE INDEX b_partial ON b (note) WHERE id > 10;
                    CREATE STATISTICS b_stats (dependencies) ON id, a_id FROM b;
                    INSERT INTO b SELECT g, 'n' || g, g FROM generate_series(1, 2000) g;

                    CREATE TABLE \"Odd \"\"Name\"\"\" (\"Key\" bigint PRIMARY KEY, \"Val ue\" text UNIQUE, a_id int REFERENCES a (u));
                    ALTER TABLE \"Odd \"\"Name\"\"\" CLUSTER ON \"Odd \"\"Name\"\"_pkey\";
                    INSERT INTO \"Odd \"\"Name\"\"\" SELECT g, 'v' || g, 100000 - g FROM generate_series(1, 1000) g;
                    ANALYZE;
                    """);
        }
        pgferry = new Pgferry(1);
        MigrationRequest request = Pgferry.request(source, target, List.of("postgres"));
        pgferry.submit(request);
        status = pgferry.awaitFinal(request.migrationId());
    }

    @AfterAll
    static void stop() {
        pgferry.close();
        target.close();
        source.close();
    }

    @Test
    void migrationIsDoneAndRowsAreEqual() throws Exception {
        assertThat(status.migration().status()).isEqualTo(MigrationStatus.State.DONE);
        assertThat(Compare.tableFingerprints(target, DB)).isEqualTo(Compare.tableFingerprints(source, DB)).hasSize(3);
    }

    @Test
    void indexDefinitionsClusteringReplicaIdentityStatisticsTargetsAndCommentsAreThoseOfTheSource() throws Exception {
        String indexes = """
                SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisprimary, i.indisunique, i.indimmediate,
                       i.indisclustered, i.indisreplident, i.indisvalid,
                       coalesce(obj_description(i.indexrelid, 'pg_class'), '-'),
                       coalesce((SELECT string_agg(attnum || '=' || attstattarget, ',') FROM pg_attribute
                                 WHERE attrelid = i.indexrelid AND attstattarget >= 0), '-')
                FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1""";
        List<String> expected = rows(source, indexes);
        assertThat(expected).hasSize(13);
        assertThat(rows(target, indexes)).containsExactlyElementsOf(expected);
        assertThat(expected).anySatisfy(r -> assertThat(r).startsWith("a_expr|").contains("expression index", "1=500"))
                .anySatisfy(r -> assertThat(r).startsWith("a_pkey|").contains("|t|t|t|t|f|t|"))
                .anySatisfy(r -> assertThat(r).startsWith("a_u_key|").contains("|f|t|t|f|t|t|"));
    }

    @Test
    void constraintsKeepTheirDefinitionsDeferrabilityValidityAndComments() throws Exception {
        String constraints = """
                SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid), condeferrable, condeferred,
                       convalidated, coalesce(obj_description(oid, 'pg_constraint'), '-'),
                       (SELECT relname FROM pg_class WHERE oid = conindid)
                FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2""";
        List<String> expected = rows(source, constraints);
        assertThat(expected).hasSize(12);
        assertThat(rows(target, constraints)).containsExactlyElementsOf(expected);
        String replicaIdentity = "SELECT relname || ':' || relreplident::text FROM pg_class"
                + " WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY 1";
        assertThat(rows(target, replicaIdentity)).containsExactlyElementsOf(rows(source, replicaIdentity)).contains("a:i");
    }

    @Test
    void everyTableAndExpressionIndexHasStatisticsAndExtendedStatisticsAreBuilt() throws Exception {
        String analyzed = "SELECT tablename || ':' || count(*) FROM pg_stats WHERE schemaname = 'public'"
                + " GROUP BY tablename ORDER BY tablename";
        // Each table's columns, and the expression index's expression, have statistics.
        assertThat(rows(target, analyzed)).containsExactly("Odd \"Name\":3", "a:7", "a_expr:1", "b:3");
        assertThat(Compare.scalar(target, DB, "SELECT count(*) FROM pg_statistic_ext_data"))
                .isEqualTo(Compare.scalar(source, DB, "SELECT count(*) FROM pg_statistic_ext_data")).isEqualTo("1");
    }

    @Test
    void constraintsStillEnforceOnTheTarget() throws Exception {
        try (Connection c = SampleData.connect(target, DB); Statement s = c.createStatement()) {
            assertThat(sqlState(s, "INSERT INTO a (id, u, code, c) VALUES (1, -1, 'x', 'y')")).isEqualTo("23505");
            assertThat(sqlState(s, "INSERT INTO b (id, a_id) VALUES (99999, -5)")).isEqualTo("23503");
            assertThat(sqlState(s, "INSERT INTO a (id, u, code, c, r) VALUES (-1, -1, 'x', 'y', int4range(10, 12))"))
                    .isEqualTo("23P01");
        }
    }

    private static String sqlState(Statement s, String sql) {
        try {
            s.execute(sql);
            return "no error";
        } catch (java.sql.SQLException e) {
            return e.getSQLState();
        }
    }

    private static List<String> rows(LocalPostgres pg, String sql) throws Exception {
        return Compare.query(pg, DB, sql).stream().map(r -> String.join("|", r)).toList();
    }
}
