package dev.pgferry.cli;

import dev.pgferry.bus.Bus;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.Topics;
import dev.pgferry.pg.Secrets;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

@Command(name = "submit", mixinStandardHelpOptions = true,
        description = "Publish a migration request to a running pgferry (coordinator and workers) and print its id.")
final class SubmitCommand implements Callable<Integer> {

    /** Either the request options, or a file whose bytes are the request. */
    static final class Input {
        @ArgGroup(exclusive = false)
        RequestOptions request;

        @Option(names = "--raw", paramLabel = "FILE",
                description = "Publish this file's bytes unchanged as the request message ('-' for standard input),"
                        + " for scripted clients and tests; the coordinator validates it like any other.")
        String raw;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
            description = "Kafka to use (or bootstrap.servers in --kafka-config).")
    String bootstrapServers;

    @Mixin
    KafkaOptions kafka;

    @Option(names = "--allow-plaintext-passwords",
            description = "Publish an inline password in clear when no PGFERRY_SECRET_KEY can seal it (refused by default).")
    boolean allowPlaintextPasswords;

    @Option(names = "--wait", description = "Block until the migration is done or failed; exit like migrate.")
    boolean await;

    @Option(names = "--json", description = "With --wait, print the final status as JSON.")
    boolean json;

    @Option(names = "--timeout", paramLabel = "DURATION", converter = DurationConverter.class,
            description = "With --wait: stop waiting after this long (e.g. 90s, 10m): exit 3; the migration goes on"
                    + " (see 'pgferry status').")
    Duration timeout;

    @Override
    public Integer call() throws Exception {
        String id;
        byte[] message;
        if (input.raw != null) {
            message = input.raw.equals("-") ? System.in.readAllBytes() : Files.readAllBytes(Path.of(input.raw));
            id = Json.peekMigrationId(message);
        } else {
            MigrationRequest r = input.request.toRequest();
            try {
                r = Secrets.system().protect(r, allowPlaintextPasswords);
            } catch (MigrationException e) {
                System.err.println("pgferry: " + e.getMessage());
                return Exits.USAGE;
            }
            id = r.migrationId();
            message = Json.write(r);
        }
        try (Bus bus = new Bus(kafka.settings(bootstrapServers), "pgferry-submit")) {
            bus.ensureTopics();
            bus.send(Topics.REQUESTS, id, message);
            System.out.println(id == null ? "(no migration_id in the message)" : id);
            if (!await || id == null) {
                return Exits.DONE;
            }
            try {
                return Exits.report(MigrationWatcher.await(bus, id, System.err, MigrationStatus::isFinal, timeout), json,
                        System.out);
            } catch (MigrationWatcher.TimedOut e) {
                return Exits.timedOut(e, id);
            }
        }
    }
}
