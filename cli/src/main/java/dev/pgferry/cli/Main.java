package dev.pgferry.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.util.Set;

/** The {@code pgferry} command. */
@Command(name = "pgferry", mixinStandardHelpOptions = true, version = "pgferry 0.1.0",
        description = "Moves PostgreSQL databases between servers, as tasks over Apache Kafka.",
        subcommands = {MigrateCommand.class, DemoCommand.class, SubmitCommand.class, StatusCommand.class, RemoveCommand.class, CutoverCommand.class, RefreshCommand.class, VerifyCommand.class, CheckCommand.class,
                CoordinatorCommand.class, WorkerCommand.class, BrokerCommand.class, SecretKeyCommand.class})
public final class Main {
    private static final Set<String> SERVICES = Set.of("coordinator", "worker", "broker");

    private Main() {
    }

    public static void main(String[] args) {
        // Interactive commands print the status; logs would only get in the way (set before logging starts).
        boolean service = args.length > 0 && SERVICES.contains(args[0]);
        System.setProperty("pgferry.console.level", System.getProperty("pgferry.console.level", service ? "INFO" : "ERROR"));
        System.setProperty("pgferry.kafka.level", System.getProperty("pgferry.kafka.level", service ? "WARN" : "ERROR"));
        EarlyBroker.startFor(args);
        int code;
        try {
            code = run(args);
        } finally {
            EarlyBroker.abandon();
        }
        System.exit(code);
    }

    /** Runs the command line and returns its exit code: 0 done, 1 failed, 2 bad usage. */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("pgferry: " + (e instanceof IllegalArgumentException || e.getMessage() != null
                    ? e.getMessage() : e.toString()));
            return 1;
        });
        return cl.execute(args);
    }
}
