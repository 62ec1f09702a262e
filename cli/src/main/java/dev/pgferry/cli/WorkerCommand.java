package dev.pgferry.cli;

import dev.pgferry.bus.Bus;
import dev.pgferry.worker.runtime.Worker;
import dev.pgferry.worker.runtime.WorkerMetrics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "worker", mixinStandardHelpOptions = true,
        description = "Run a worker: takes database tasks from the queue, --tasks at a time. Start more processes to go faster.")
final class WorkerCommand implements Callable<Integer> {
    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
            description = "Kafka to use (or bootstrap.servers in --kafka-config).")
    String bootstrapServers;

    @Mixin
    KafkaOptions kafka;

    @Mixin
    CopyOptions copy;

    @Option(names = "--session-timeout-ms", paramLabel = "MS", defaultValue = "" + Worker.DEFAULT_SESSION_TIMEOUT_MS,
            description = "How long the group waits for a silent (dead) idle worker before its partitions go to another"
                    + " (default: ${DEFAULT-VALUE}). A running task of a dead worker is queued again by the coordinator"
                    + " (its --claim-timeout).")
    int sessionTimeoutMs;

    @Option(names = "--tasks", defaultValue = "" + Worker.DEFAULT_SLOTS, paramLabel = "N",
            description = "Databases this worker migrates at once, each with its own --jobs (default: ${DEFAULT-VALUE}).")
    int tasks;

    @Option(names = "--metrics-port", paramLabel = "PORT",
            description = "Serve this worker's own metrics (tasks, status events by type, retries, JVM) at GET /metrics on"
                    + " this port, in Prometheus' text format (default: none).")
    Integer metricsPort;

    @Option(names = "--metrics-host", defaultValue = "127.0.0.1", paramLabel = "HOST",
            description = "The address --metrics-port listens on (default: ${DEFAULT-VALUE}; 0.0.0.0 for a scraper on"
                    + " another host: the metrics hold no secret, only counts).")
    String metricsHost;

    @Override
    public Integer call() throws Exception {
        Bus bus = new Bus(kafka.settings(bootstrapServers), "pgferry-worker");
        bus.ensureTopics();
        Worker.Settings settings = copy.workerSettings().withSessionTimeout(sessionTimeoutMs).withSlots(tasks);
        WorkerMetrics metrics = metricsPort == null ? null : WorkerMetrics.serve(settings.workerId(), metricsHost, metricsPort);
        Worker w = new Worker(bus, settings).withMetrics(metrics).start();
        System.err.println("pgferry worker " + w.workerId() + ": " + bus.settings()
                + (metrics == null ? "" : "; metrics at http://" + metricsHost + ":" + metrics.port() + "/metrics"));
        return metrics == null ? Daemon.runUntilStopped(bus, w) : Daemon.runUntilStopped(metrics, bus, w);
    }
}
