package dev.pgferry.cli;

import dev.pgferry.coordinator.Coordinator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "coordinator", mixinStandardHelpOptions = true,
        description = "Run a coordinator: turns requests into tasks, folds status, serves the HTTP API. Stops on SIGTERM.")
final class CoordinatorCommand implements Callable<Integer> {
    @Option(names = "--bootstrap-servers", required = true, paramLabel = "HOST:PORT")
    String bootstrapServers;

    @Option(names = "--http-port", defaultValue = "8080", description = "HTTP port (default: ${DEFAULT-VALUE}).")
    int httpPort;

    @Option(names = "--http-host", defaultValue = "0.0.0.0", description = "HTTP bind address (default: ${DEFAULT-VALUE}).")
    String httpHost;

    @Override
    public Integer call() throws Exception {
        Coordinator c = Coordinator.start(bootstrapServers, httpHost, httpPort);
        System.err.println("pgferry coordinator: HTTP on port " + c.httpPort() + ", Kafka " + bootstrapServers);
        return Daemon.runUntilStopped(c);
    }
}
