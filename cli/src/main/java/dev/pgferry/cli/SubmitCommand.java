package dev.pgferry.cli;

import dev.pgferry.bus.Bus;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.Topics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "submit", mixinStandardHelpOptions = true,
        description = "Publish a migration request to a running pgferry (coordinator and workers) and print its id.")
final class SubmitCommand implements Callable<Integer> {
    @Mixin
    RequestOptions request;

    @Option(names = "--bootstrap-servers", required = true, paramLabel = "HOST:PORT")
    String bootstrapServers;

    @Option(names = "--wait", description = "Block until the migration is done or failed; exit like migrate.")
    boolean await;

    @Option(names = "--json", description = "With --wait, print the final status as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        MigrationRequest r = request.toRequest();
        try (Bus bus = new Bus(bootstrapServers, "pgferry-submit")) {
            bus.ensureTopics();
            bus.send(Topics.REQUESTS, r.migrationId(), Json.write(r));
            System.out.println(r.migrationId());
            if (!await) {
                return Exits.DONE;
            }
            return Exits.report(MigrationWatcher.await(bus, r.migrationId(), System.err), json, System.out);
        }
    }
}
