package dev.pgferry.it;

import dev.pgferry.bus.Bus;
import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.messages.Connection;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.Topics;
import dev.pgferry.pg.Secrets;
import dev.pgferry.worker.runtime.Worker;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** A coordinator and workers over the shared test broker, as separate components talking only through Kafka. */
final class Pgferry implements AutoCloseable {
    final Bus bus;
    Coordinator coordinator;
    final List<Worker> workers = new ArrayList<>();

    Pgferry(int workerCount) throws Exception {
        this(workerCount, 0);
    }

    /** Workers that copy tables larger than {@code splitTableBytes} in ranges (0: the automatic threshold). */
    Pgferry(int workerCount, long splitTableBytes) throws Exception {
        this(Infra.kafka(), workerCount, splitTableBytes);
    }

    /** As {@link #Pgferry(int, long)}, over the broker at {@code bootstrapServers} (a test's own). */
    Pgferry(String bootstrapServers, int workerCount, long splitTableBytes) throws Exception {
        bus = new Bus(bootstrapServers, "it-client");
        bus.ensureTopics();
        coordinator = Coordinator.start(bootstrapServers, "127.0.0.1", 0, 1_000);
        for (int i = 0; i < workerCount; i++) {
            workers.add(new Worker(bus, Worker.Settings.defaults().withWorkerId("it-worker-" + i).withJobs(2)
                    .withSplitTableBytes(splitTableBytes)).start());
        }
    }

    /** A dump-method request (replication tests ask for their method explicitly). */
    static MigrationRequest request(LocalPostgres source, LocalPostgres target, List<String> ignore) {
        return MigrationRequest.of(conn(source), conn(target), Method.DUMP, ignore, List.of(), List.of());
    }

    static Connection conn(LocalPostgres pg) {
        return new Connection(pg.host(), pg.port(), "postgres", "postgres", Infra.PASSWORD, null, "disable");
    }

    void submit(MigrationRequest r) {
        bus.send(Topics.REQUESTS, r.migrationId(), Json.write(sealed(r)));
    }

    /** The request with its inline passwords sealed, as every pgferry client seals them when it has a key. */
    static MigrationRequest sealed(MigrationRequest r) {
        return Secrets.system().protect(r, false);
    }

    /** Waits (bounded) for the coordinator's view of the migration to be final. */
    MigrationStatus awaitFinal(String migrationId) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (System.nanoTime() < deadline) {
            Optional<MigrationStatus> s = coordinator.fold().view(migrationId);
            if (s.isPresent() && s.get().isFinal()) {
                return s.get();
            }
            Thread.sleep(100);
        }
        throw new AssertionError("migration " + migrationId + " did not finish: " + coordinator.fold().view(migrationId));
    }

    /** Waits (bounded) until the first database row of the migration, as {@code c} folds it, satisfies {@code p}. */
    static MigrationStatus.DatabaseStatus awaitRow(Coordinator c, String migrationId,
                                                   java.util.function.Predicate<MigrationStatus.DatabaseStatus> p)
            throws InterruptedException {
        long deadline = System.currentTimeMillis() + 240_000;
        while (System.currentTimeMillis() < deadline) {
            Optional<MigrationStatus.DatabaseStatus> row = c.fold().view(migrationId)
                    .flatMap(s -> s.migrationDetail().stream().findFirst());
            if (row.isPresent() && p.test(row.get())) {
                return row.get();
            }
            Thread.sleep(20);
        }
        throw new AssertionError("condition not reached: " + c.fold().view(migrationId));
    }

    /** Waits (bounded) until the row of database {@code db}, as {@code c} folds it, satisfies {@code p}. */
    static MigrationStatus.DatabaseStatus awaitRow(Coordinator c, String migrationId, String db,
                                                   java.util.function.Predicate<MigrationStatus.DatabaseStatus> p)
            throws InterruptedException {
        return ReplicationIT.row(awaitView(c, migrationId, v -> v.migrationDetail().stream()
                .anyMatch(d -> d.dbname().equals(db) && p.test(d))), db);
    }

    /** Waits (bounded) until the migration's view, as {@code c} folds it, satisfies {@code p}. */
    static MigrationStatus awaitView(Coordinator c, String migrationId, java.util.function.Predicate<MigrationStatus> p)
            throws InterruptedException {
        long deadline = System.currentTimeMillis() + 240_000;
        while (System.currentTimeMillis() < deadline) {
            Optional<MigrationStatus> s = c.fold().view(migrationId);
            if (s.isPresent() && p.test(s.get())) {
                return s.get();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("condition not reached: " + c.fold().view(migrationId));
    }

    @Override
    public void close() {
        workers.forEach(Worker::close);
        coordinator.close();
        bus.close();
    }
}
