package dev.pgferry.cli;

import dev.pgferry.broker.ChildBroker;
import dev.pgferry.bus.Bus;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.Topics;
import dev.pgferry.pg.Secrets;
import dev.pgferry.worker.runtime.Worker;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * The single-machine default: a real Kafka broker in a child JVM (data under {@code dataDir/kafka}), a coordinator
 * and {@code workers} workers in this JVM, all over loopback. {@link #close()} stops them all. Not thread-safe.
 */
final class SingleMachine implements AutoCloseable {
    private final ChildBroker broker;
    private final Coordinator coordinator;
    private final Bus bus;
    private final List<Worker> workers = new ArrayList<>();

    SingleMachine(Path dataDir, int workerCount, int jobs, int httpPort) throws Exception {
        this.broker = ChildBroker.start(dataDir.resolve("kafka"), 0);
        try {
            this.coordinator = Coordinator.start(broker.bootstrapServers(), "127.0.0.1", httpPort);
            this.bus = new Bus(broker.bootstrapServers(), "pgferry-cli");
            for (int i = 0; i < workerCount; i++) {
                workers.add(new Worker(bus, Worker.newWorkerId(), Clock.systemUTC(), Secrets.system(), jobs).start());
            }
        } catch (Exception | Error e) {
            broker.close();
            throw e;
        }
    }

    /** Submits the request and waits for its final status, printing progress to {@code progress}. */
    MigrationStatus migrate(MigrationRequest request, PrintStream progress) throws InterruptedException {
        bus.send(Topics.REQUESTS, request.migrationId(), Json.write(request));
        return MigrationWatcher.await(bus, request.migrationId(), progress);
    }

    String bootstrapServers() {
        return broker.bootstrapServers();
    }

    @Override
    public void close() {
        workers.forEach(Worker::close);
        if (bus != null) {
            bus.close();
        }
        if (coordinator != null) {
            coordinator.close();
        }
        broker.close();
    }
}
