package dev.pgferry.cli;

import dev.pgferry.broker.ChildBroker;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The single-machine broker of a command that always needs one ({@code migrate}, {@code demo}), started as the
 * JVM starts: the broker's JVM takes about 2 s to be ready, and parsing the command line and loading the command's
 * classes (about 0.4 s) would otherwise come first. The two JVMs then share the machine's cores, so on two cores the
 * broker is ready only 0.1-0.3 s sooner (BENCHMARKS.md). {@link SingleMachine} takes it
 * ({@link #take}) when it asks for the broker of the same data directory; {@link #abandon} (after every command)
 * stops one nobody took (a usage error, {@code --help}) and removes the data directory it made, if it made it.
 * Only the {@code --data-dir} option is read here, as picocli reads it; anything else about the command line is
 * picocli's to judge. Used by the main thread only.
 */
final class EarlyBroker {
    private static final Set<String> COMMANDS = Set.of("migrate", "demo");
    private static final Set<String> NO_RUN = Set.of("-h", "--help", "-V", "--version");

    private static Path kafkaDir;
    private static Path madeDataDir;
    private static Thread starting;
    private static volatile ChildBroker started;
    private static volatile Throwable failed;

    private EarlyBroker() {
    }

    /** Starts the broker in the background when {@code args} run a command that needs it. */
    static void startFor(String[] args) {
        if (args.length == 0 || !COMMANDS.contains(args[0]) || Stream.of(args).anyMatch(NO_RUN::contains)) {
            return;
        }
        started = null;
        failed = null;
        Path dataDir = Path.of(dataDir(List.of(args)));
        kafkaDir = normalized(dataDir.resolve("kafka"));
        madeDataDir = Files.exists(dataDir) ? null : normalized(dataDir);
        starting = new Thread(() -> {
            try {
                started = ChildBroker.start(kafkaDir, 0);
            } catch (Throwable e) {
                failed = e;
            }
        }, "early-broker");
        starting.setDaemon(true);
        starting.start();
    }

    /** The value of the last {@code --data-dir} ({@code --data-dir DIR} or {@code --data-dir=DIR}), else the default. */
    static String dataDir(List<String> args) {
        String dir = SingleMachine.DATA_DIR;
        for (int i = 1; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--")) {
                break;
            }
            if (a.equals("--data-dir") && i + 1 < args.size()) {
                dir = args.get(++i);
            } else if (a.startsWith("--data-dir=")) {
                dir = a.substring("--data-dir=".length());
            }
        }
        return dir;
    }

    /**
     * The broker started early for {@code kafkaDir}, once it is ready (its start's failure is thrown as
     * {@link ChildBroker#start} would throw it); null when none was started for that directory.
     */
    static ChildBroker take(Path kafkaDir) throws IOException, InterruptedException {
        if (starting == null || !normalized(kafkaDir).equals(EarlyBroker.kafkaDir)) {
            return null;
        }
        starting.join();
        starting = null;
        madeDataDir = null;
        if (failed instanceof IOException e) {
            throw e;
        }
        if (failed instanceof InterruptedException e) {
            throw e;
        }
        if (failed instanceof RuntimeException e) {
            throw e;
        }
        if (failed != null) {
            throw new IllegalStateException("starting the Kafka broker: " + failed, failed);
        }
        return started;
    }

    /** Stops a broker started early that nobody took, and removes the data directory its start made. */
    static void abandon() {
        if (starting == null) {
            return;
        }
        starting.interrupt();
        try {
            starting.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        starting = null;
        if (started != null) {
            started.close();
            started = null;
        }
        failed = null;
        if (madeDataDir != null) {
            try (Stream<Path> files = Files.walk(madeDataDir)) {
                files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            } catch (IOException ignored) {
                // what is left is an empty broker's data, in a directory the user named
            }
        }
    }

    private static Path normalized(Path p) {
        return p.toAbsolutePath().normalize();
    }
}
