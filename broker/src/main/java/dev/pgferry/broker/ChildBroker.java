package dev.pgferry.broker;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real single-node Kafka broker in a child JVM, for the single-machine default: its crashes, heap and logs stay
 * out of the parent, and it can be killed and restarted. Data persists under {@code dataDir}; both output streams
 * go to {@code dataDir/broker.log}; readiness is a file the child writes once the broker accepts connections. The
 * child JVM shares the classes of earlier broker JVMs through a {@link ClassArchive}.
 * Not thread-safe: one owner, which must {@link #close()} it.
 */
public final class ChildBroker implements AutoCloseable {
    private static final long READY_TIMEOUT_MS = 120_000;

    private final Process process;
    private final String bootstrapServers;
    private final Path log;
    private final Path archive;
    private final Path pendingArchive;

    private ChildBroker(Process process, String bootstrapServers, Path log, Path archive, Path pendingArchive) {
        this.process = process;
        this.bootstrapServers = bootstrapServers;
        this.log = log;
        this.archive = archive;
        this.pendingArchive = pendingArchive;
    }

    /** Starts the broker on {@code port} (0: any free port), retrying with new ports up to three times. */
    public static ChildBroker start(Path dataDir, int port) throws IOException, InterruptedException {
        Files.createDirectories(dataDir);
        Path log = dataDir.resolve("broker.log");
        Path ready = dataDir.resolve("broker.ready");
        String lastExit = "";
        for (int attempt = 1; attempt <= 3; attempt++) {
            Files.deleteIfExists(ready);
            int brokerPort = port > 0 ? port : BrokerConfig.freePort();
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            Path archive = ClassArchive.archive(System.getProperty("java.class.path"));
            Path pending = ClassArchive.pending(archive);
            cmd.addAll(ClassArchive.jvmOptions(archive, pending));
            cmd.addAll(List.of("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Dlogback.configurationFile=logback-broker.xml",
                    "-cp", System.getProperty("java.class.path"), BrokerMain.class.getName(),
                    dataDir.toAbsolutePath().toString(), Integer.toString(brokerPort),
                    Integer.toString(BrokerConfig.freePort()), ready.toAbsolutePath().toString(),
                    Long.toString(ProcessHandle.current().pid())));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
            long deadline = System.currentTimeMillis() + READY_TIMEOUT_MS;
            while (System.currentTimeMillis() < deadline && p.isAlive() && !Files.exists(ready)) {
                Thread.sleep(50);
            }
            if (Files.exists(ready)) {
                return new ChildBroker(p, Files.readString(ready).trim(), log, archive, pending);
            }
            boolean timedOut = p.isAlive();
            if (timedOut) {
                p.destroyForcibly().waitFor();
            }
            ClassArchive.publish(pending, archive, System.getProperty("java.class.path"));
            if (timedOut) {
                throw new IOException("Kafka broker did not become ready within " + READY_TIMEOUT_MS / 1000
                        + " s; see " + log);
            }
            lastExit = "exit code " + p.exitValue();
            String cause = lastFatal(log);
            if (cause.contains("Failed to acquire lock")) {
                throw new IOException("another pgferry (or Kafka) is using " + dataDir + "; stop it, or give this one"
                        + " its own --data-dir");
            }
        }
        throw new IOException("Kafka broker did not start (" + lastExit + "); see " + log);
    }

    private static String lastFatal(Path log) {
        try (var lines = Files.lines(log)) {
            return lines.filter(l -> l.contains("Exception:")).reduce((a, b) -> b).orElse("");
        } catch (IOException | java.io.UncheckedIOException e) {
            return "";
        }
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    public Process process() {
        return process;
    }

    /** Stops the broker (SIGTERM, then SIGKILL after 30 s). */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        } finally {
            ClassArchive.publish(pendingArchive, archive, System.getProperty("java.class.path"));
        }
    }
}
