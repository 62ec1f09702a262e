package dev.pgferry.it;

import dev.pgferry.bus.Bus;
import dev.pgferry.bus.KafkaSettings;
import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.Topics;
import dev.pgferry.worker.runtime.Worker;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a small database costs in sessions (issue 10: each is a TCP connection, and on a managed service a TLS
 * handshake and a SCRAM exchange, several round trips): the target's bootstrap database sees one session per
 * database (its task's lock, on which the database is inspected, created and given its properties) and a few per
 * migration (the roles step), each source database three and each target database two, counted by PostgreSQL itself
 * ({@code pg_stat_database.sessions}).
 */
class SessionsIT {

    @Test
    void aSmallDatabaseTakesOneSessionOnTheTargetsBootstrapDatabase() throws Exception {
        // (an installation of its own, a topic prefix: no other test's worker joins its group, so no rebalance hands a
        // task to a second worker, whose lock attempt would be one more session)
        KafkaSettings own = KafkaSettings.of(Infra.kafka()).withTopicPrefix("it-sessions-" + UUID.randomUUID() + ".");
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres();
             Bus bus = new Bus(own, "it-sessions");
             Coordinator coordinator = Coordinator.start(own, Coordinator.Settings.of("127.0.0.1", -1));
             Worker worker = new Worker(bus, Worker.Settings.defaults().withWorkerId("it-sessions-worker").withJobs(2)).start();
             Connection stats = SampleData.connect(target, "postgres");
             Connection sourceStats = SampleData.connect(source, "postgres")) {
            // Given three small databases
            for (int i = 1; i <= 3; i++) {
                ReplicationIT.exec(source, "postgres", "CREATE DATABASE tenant_" + i);
                ReplicationIT.exec(source, "tenant_" + i, "CREATE TABLE public.t (id int PRIMARY KEY, v text);"
                        + " INSERT INTO public.t SELECT g, 'v' || g FROM generate_series(1, 100) g");
            }
            long before = sessions(stats);
            long sourceBefore = tenantSessions(sourceStats);
            long targetBefore = tenantSessions(stats);

            // When they are migrated
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of("postgres"), List.of(), List.of());
            bus.ensureTopics();
            bus.send(Topics.REQUESTS, r.migrationId(), Json.write(Pgferry.sealed(r)));
            MigrationStatus s = Pgferry.awaitView(coordinator, r.migrationId(), MigrationStatus::isFinal);
            assertThat(s.migration().status()).as(s.toString()).isEqualTo(MigrationStatus.State.DONE);

            // Then the target's bootstrap database saw one session per database (two with a lock-wait watcher) and at
            // most three for the migration
            long used = settled(stats) - before;
            // (6 alone; a task that outlasts LockWaits' 2 s grace also opens its watcher's session there, as on a busy
            // machine; before, each database took four more: its inspection, creation, preconditions and properties)
            assertThat(used).as("sessions on the target's bootstrap database").isBetween(3L, 3L + 3 * 2);
            // and each source database three: the properties and preconditions, then the snapshot on that same session;
            // pg_dump; and one session that reads the catalog, plans and copies (before: six, the snapshot, the catalog
            // read and the plan a session each)
            assertThat(tenantSessions(sourceStats) - sourceBefore).as("sessions on the source's databases").isEqualTo(3 * 3L);
            // and each target database two: the pre-data restore, and one session that copies, builds the indexes,
            // sets the sequences and analyzes (three when two of that work overlap; before: four, the sequences and
            // ANALYZE on sessions of their own)
            assertThat(tenantSessions(stats) - targetBefore).as("sessions on the target's databases").isBetween(3 * 2L, 3 * 3L);
            for (int i = 1; i <= 3; i++) {
                assertThat(Compare.tableFingerprints(target, "tenant_" + i)).isEqualTo(Compare.tableFingerprints(source, "tenant_" + i));
            }
        }
    }

    /** Sessions established to the bootstrap database so far, read on {@code stats} (one session, counted before). */
    private static long sessions(Connection stats) throws Exception {
        return number(stats, "SELECT sessions FROM pg_stat_database WHERE datname = 'postgres'");
    }

    /** Sessions established so far to the databases tenant_1 to tenant_3. */
    private static long tenantSessions(Connection stats) throws Exception {
        return number(stats, "SELECT sum(sessions) FROM pg_stat_database WHERE datname LIKE 'tenant\\_%'");
    }

    /** As {@link #sessions}, once no pgferry session is left and the count has not moved for a second. */
    private static long settled(Connection stats) throws Exception {
        long last = -1;
        int same = 0;
        for (int i = 0; i < 100 && same < 5; i++) {
            long now = sessions(stats);
            boolean open = number(stats, "SELECT count(*) FROM pg_stat_activity"
                    + " WHERE application_name LIKE 'pgferry%' AND datname = 'postgres'") > 0;
            same = now == last && !open ? same + 1 : 0;
            last = now;
            Thread.sleep(200);
        }
        return last;
    }

    private static long number(Connection c, String sql) throws Exception {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
