package dev.pgferry.cli;

import dev.pgferry.bus.KafkaSettings;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.messages.Topics;
import dev.pgferry.pg.Secrets;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "coordinator", mixinStandardHelpOptions = true,
        description = "Run a coordinator: turns requests into tasks, folds status, serves the HTTP API. Stops on SIGTERM."
                + " Environment: PGFERRY_SECRET_KEY or PGFERRY_SECRET_KEY_FILE (seals inline passwords),"
                + " PGFERRY_API_TOKEN or PGFERRY_API_TOKEN_FILE (the bearer token every HTTP request must carry).")
final class CoordinatorCommand implements Callable<Integer> {
    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
            description = "Kafka to use (or bootstrap.servers in --kafka-config).")
    String bootstrapServers;

    @Mixin
    KafkaOptions kafka;

    @Option(names = "--http-port", paramLabel = "PORT", defaultValue = "8080",
            description = "HTTP port (default: ${DEFAULT-VALUE}).")
    int httpPort;

    @Option(names = "--http-host", paramLabel = "HOST", defaultValue = "127.0.0.1",
            description = "HTTP bind address (default: ${DEFAULT-VALUE}); any other than loopback needs PGFERRY_API_TOKEN.")
    String httpHost;

    @Option(names = "--allow-plaintext-passwords",
            description = "Accept requests with an inline password although no secret key can seal it (it is then"
                    + " written to the tasks topic in clear). Off by default: such requests are refused.")
    boolean allowPlaintextPasswords;

    @Option(names = "--claim-timeout", defaultValue = Topics.CLAIM_TIMEOUT_MS / 1000 + "s", paramLabel = "DURATION",
            converter = DurationConverter.class,
            description = "Queue a running task again when its worker has not renewed its claim for this long: the"
                    + " worker died or lost Kafka (default: ${DEFAULT-VALUE}; workers renew every "
                    + Topics.CLAIM_HEARTBEAT_MS / 1000 + " s).")
    java.time.Duration claimTimeout;

    @Override
    public Integer call() throws Exception {
        KafkaSettings settings = kafka.settings(bootstrapServers);
        Coordinator c = Coordinator.start(settings, Coordinator.Settings.of(httpHost, httpPort)
                .withSecrets(Secrets.system(), allowPlaintextPasswords).withApiToken(apiToken())
                .withClaimTimeout(claimTimeout.toMillis()));
        System.err.println("pgferry coordinator: HTTP on " + httpHost + ":" + c.httpPort() + ", " + settings);
        return Daemon.runUntilStopped(c);
    }

    /** PGFERRY_API_TOKEN, or the content of the file PGFERRY_API_TOKEN_FILE names; null when neither is set. */
    static String apiToken() throws IOException {
        String inline = System.getenv("PGFERRY_API_TOKEN");
        String file = System.getenv("PGFERRY_API_TOKEN_FILE");
        String token = inline != null ? inline : file != null ? Files.readString(Path.of(file), StandardCharsets.UTF_8) : null;
        if (token == null || token.isBlank()) {
            return null;
        }
        return token.strip();
    }
}
