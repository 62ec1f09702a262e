package dev.pgferry.cli;

import dev.pgferry.bus.Bus;
import dev.pgferry.pg.Secrets;
import dev.pgferry.worker.runtime.Worker;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Clock;
import java.util.concurrent.Callable;

@Command(name = "worker", mixinStandardHelpOptions = true,
        description = "Run a worker: takes one database task at a time from the group. Start more processes to go faster.")
final class WorkerCommand implements Callable<Integer> {
    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
            description = "Kafka to use (or bootstrap.servers in --kafka-config).")
    String bootstrapServers;

    @Mixin
    KafkaOptions kafka;

    @Mixin
    CopyOptions copy;

    @Option(names = "--session-timeout-ms", defaultValue = "" + Worker.DEFAULT_SESSION_TIMEOUT_MS,
            description = "How long the group waits for a silent (dead) worker before its task goes to another (default: ${DEFAULT-VALUE}).")
    int sessionTimeoutMs;

    @Override
    public Integer call() throws Exception {
        Bus bus = new Bus(kafka.settings(bootstrapServers), "pgferry-worker");
        bus.ensureTopics();
        Worker w = new Worker(bus, Worker.newWorkerId(), Clock.systemUTC(), Secrets.system(), copy.jobs, sessionTimeoutMs,
                copy.splitTableBytes()).start();
        System.err.println("pgferry worker " + w.workerId() + ": " + bus.settings());
        return Daemon.runUntilStopped(bus, w);
    }
}
