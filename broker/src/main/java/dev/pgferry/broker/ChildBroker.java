package dev.pgferry.broker;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A real single-node Kafka broker in a JVM of its own, for the single-machine default: its crashes, heap and logs
 * stay out of its owner's, and it can be killed and restarted. It is not the owner's child process (see
 * {@link #launch}); it watches the owner's pid and stops when the owner is gone. Data persists under
 * {@code dataDir}; both output streams go to {@code dataDir/broker.log}; readiness is a file the broker's JVM writes
 * once the broker accepts connections. That JVM shares the classes of earlier broker JVMs through a
 * {@link ClassArchive}. {@link #stopInBackground()}
 * lets the owner exit while the broker shuts down cleanly on its own; it leaves a marker naming the stopping JVM,
 * and the next {@link #start} of the same data directory waits until that JVM lets go of the data directory's lock
 * (once Kafka has stopped) or exits. Not thread-safe: one owner, which must {@link #close()} or
 * {@link #stopInBackground()} it.
 */
public final class ChildBroker implements AutoCloseable {
    private static final long READY_TIMEOUT_MS = 120_000;
    /** How long a broker may take to stop before it is killed (by its owner, or by itself: {@link BrokerMain}). */
    static final long STOP_TIMEOUT_MS = 30_000;
    /** The size past which the broker's log is set aside as the next broker starts ({@link #rotate}). */
    static final long LOG_ROTATE_BYTES = 16L * 1024 * 1024;
    /** The marker of a broker told to stop while its owner went on: its JVM's pid and start time ({@link #marker}). */
    private static final String STOPPING = "broker.stopping";
    /** The suffix of the file beside an archive being written that names the JVM writing it ({@link #writerOf}). */
    private static final String WRITER = ".writer";

    private final ProcessHandle process;
    private final String bootstrapServers;
    private final Path log;
    private final Path archive;
    private final Path pendingArchive;
    /** Whether the child writes {@link #pendingArchive} as it exits (no archive existed when it started). */
    private final boolean writesArchive;

    private ChildBroker(ProcessHandle process, String bootstrapServers, Path log, Path archive, Path pendingArchive,
                        boolean writesArchive) {
        this.process = process;
        this.bootstrapServers = bootstrapServers;
        this.log = log;
        this.archive = archive;
        this.pendingArchive = pendingArchive;
        this.writesArchive = writesArchive;
    }

    /**
     * The broker JVM's class path: this JVM's, less its directories when the broker's own classes come from a jar
     * (a build's or a test's classes, which the broker does not need). A JVM with a non-empty directory on its class
     * path can neither map nor write a class archive, so every broker started from a test ran without one. The
     * same for the JVM's whole life ({@link #CLASS_PATH}).
     */
    private static String classPath() {
        String all = System.getProperty("java.class.path");
        try {
            Path own = Path.of(BrokerMain.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (!Files.isRegularFile(own)) {
                return all;
            }
        } catch (java.net.URISyntaxException | RuntimeException e) {
            return all;
        }
        return java.util.Arrays.stream(all.split(java.io.File.pathSeparator))
                .filter(entry -> !Files.isDirectory(Path.of(entry)))
                .collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator));
    }

    /** {@link #classPath()}, worked out once. */
    private static final String CLASS_PATH = classPath();

    /** Starts the broker on {@code port} (0: any free port), retrying with new ports up to three times. */
    public static ChildBroker start(Path dataDir, int port) throws IOException, InterruptedException {
        return start(dataDir, port, true);
    }

    /** As {@link #start(Path, int)}; without {@code classArchive} the JVM neither maps nor writes a class archive. */
    static ChildBroker start(Path dataDir, int port, boolean classArchive) throws IOException, InterruptedException {
        Files.createDirectories(dataDir);
        awaitStopping(dataDir);
        Path log = dataDir.resolve("broker.log");
        rotate(log);
        Path ready = dataDir.resolve("broker.ready");
        String lastExit = "";
        for (int attempt = 1; attempt <= 3; attempt++) {
            Files.deleteIfExists(ready);
            int brokerPort = port > 0 ? port : BrokerConfig.freePort();
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            Path archive = ClassArchive.archive(CLASS_PATH);
            // (while another broker writes it, this one writes none of its own)
            Path pending = classArchive && !publishLeft(archive) ? ClassArchive.pending(archive) : null;
            List<String> archiveOptions = classArchive ? ClassArchive.jvmOptions(archive, pending) : List.of();
            cmd.addAll(archiveOptions);
            if (Runtime.version().feature() >= 24) {
                // (from Java 24 on, Kafka's use of sun.misc.Unsafe prints a warning meant for its maintainers)
                cmd.add("--sun-misc-unsafe-memory-access=allow");
            }
            cmd.addAll(List.of("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Dlogback.configurationFile=logback-broker.xml",
                    "-cp", CLASS_PATH, BrokerMain.class.getName(),
                    dataDir.toAbsolutePath().normalize().toString(), Integer.toString(brokerPort),
                    Integer.toString(BrokerConfig.freePort()), ready.toAbsolutePath().toString(),
                    Long.toString(ProcessHandle.current().pid())));
            ProcessHandle p = launch(cmd, log, dataDir.resolve("broker.pid"));
            long deadline = System.currentTimeMillis() + READY_TIMEOUT_MS;
            try {
                while (System.currentTimeMillis() < deadline && running(p) && !Files.exists(ready)) {
                    Thread.sleep(10);   // a look costs microseconds; every command that starts a broker waits here
                }
            } catch (InterruptedException e) {
                // The owner gave up on this start (EarlyBroker.abandon): no broker is left behind.
                p.destroyForcibly();
                awaitExit(p, STOP_TIMEOUT_MS);
                ClassArchive.publish(pending, archive, CLASS_PATH);
                throw e;
            }
            if (Files.exists(ready)) {
                return new ChildBroker(p, Files.readString(ready).trim(), log, archive, pending,
                        ClassArchive.writes(archiveOptions));
            }
            boolean timedOut = running(p);
            if (timedOut) {
                p.destroyForcibly();
                awaitExit(p, STOP_TIMEOUT_MS);
            }
            ClassArchive.publish(pending, archive, CLASS_PATH);
            if (timedOut) {
                throw new IOException("Kafka broker did not become ready within " + READY_TIMEOUT_MS / 1000
                        + " s; see " + log);
            }
            String cause = lastFatal(log);
            lastExit = cause.isEmpty() ? "its JVM exited" : "its JVM exited: " + cause.strip();
            if (cause.contains("Failed to acquire lock")) {
                throw new IOException("another pgferry (or Kafka) is using " + dataDir + "; stop it, or give this one"
                        + " its own --data-dir");
            }
        }
        throw new IOException("Kafka broker did not start (" + lastExit + "); see " + log);
    }

    /**
     * Publishes what brokers stopped in the background ({@link #stopInBackground}), of any data directory, wrote
     * to {@code archive} as they exited, once their JVMs are gone: each names its JVM in a file beside what it writes
     * ({@link #writerOf}). A start of another data directory would otherwise never see it, and every first command of
     * a new data directory would run without an archive. Returns whether one of them is still writing it.
     */
    private static boolean publishLeft(Path archive) {
        String prefix = archive.getFileName() + ".";
        List<Path> writers;
        try (var files = Files.list(archive.getParent())) {
            writers = files.filter(f -> f.getFileName().toString().startsWith(prefix)
                    && f.getFileName().toString().endsWith(".tmp" + WRITER)).toList();
        } catch (IOException e) {
            return false;   // no cache directory yet
        }
        boolean writing = false;
        for (Path writer : writers) {
            try {
                if (stillRunning(Files.readString(writer)).isPresent()) {
                    writing = true;
                } else {
                    Path pending = writer.resolveSibling(writer.getFileName().toString().replace(WRITER, ""));
                    ClassArchive.publish(pending, archive, CLASS_PATH);
                    Files.deleteIfExists(writer);
                }
            } catch (IOException e) {
                // another start took it, or it is unreadable: the stale sweep removes it after a day
            }
        }
        return writing;
    }

    /** The file that names the JVM writing {@code pending}. */
    private static Path writerOf(Path pending) {
        return pending.resolveSibling(pending.getFileName() + WRITER);
    }

    /**
     * Every broker of a data directory appends to its one log, about 0.3 MB a start and stop: past
     * {@value #LOG_ROTATE_BYTES} bytes it becomes {@code broker.log.1} (replacing the one before), so a data directory
     * that serves thousands of commands keeps at most about twice that.
     */
    static void rotate(Path log) throws IOException {
        if (Files.exists(log) && Files.size(log) > LOG_ROTATE_BYTES) {
            Files.move(log, log.resolveSibling(log.getFileName() + ".1"), StandardCopyOption.REPLACE_EXISTING);
        }
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

    /** Whether the broker's JVM still runs (not merely a zombie nobody has reaped yet). */
    public boolean alive() {
        return running(process);
    }

    /** The broker's log, which says why a broker that ended did. */
    public Path log() {
        return log;
    }

    /** The broker's JVM. */
    public ProcessHandle process() {
        return process;
    }

    /** Kills the broker's JVM (SIGKILL, as a crash would end it) and waits until it is gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        awaitExit(process, STOP_TIMEOUT_MS);
    }

    /**
     * Starts {@code cmd} with both output streams appended to {@code log}, as a process that is not this JVM's child:
     * a shell starts it in the background, writes its pid to {@code pidFile} and exits. While a child process of a JVM
     * runs, the JVM's exit waits 0.3 s for the thread that waits for the child (it is in native code; HotSpot's
     * {@code VM_Exit} waits up to 30 x 10 ms for such threads), and a broker stopping in the background
     * ({@link #stopInBackground}) would cost every command that exit. The broker watches its owner's pid instead
     * (BrokerMain), as it did. Returns the broker's handle (one already gone included: {@link #running} says so).
     */
    private static ProcessHandle launch(List<String> cmd, Path log, Path pidFile)
            throws IOException, InterruptedException {
        Files.deleteIfExists(pidFile);
        List<String> sh = new ArrayList<>(List.of("/bin/sh", "-c",
                "pidfile=$1; shift; \"$@\" </dev/null & echo $! > \"$pidfile\"",
                "pgferry-broker", pidFile.toAbsolutePath().toString()));
        sh.addAll(cmd);
        Process launcher = new ProcessBuilder(sh).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        if (launcher.waitFor() != 0 || !Files.exists(pidFile)) {
            throw new IOException("could not start the Kafka broker's JVM (/bin/sh exited with " + launcher.exitValue()
                    + "); see " + log);
        }
        long pid = Long.parseLong(Files.readString(pidFile).trim());
        Files.deleteIfExists(pidFile);
        // Gone already (it failed at once): the shell's handle, which has exited too, stands for it.
        return ProcessHandle.of(pid).orElse(launcher.toHandle());
    }

    /**
     * Whether {@code p} runs: alive and not a zombie (a process that is not our child is reaped by whoever adopted
     * it, and until then the JDK counts it alive).
     */
    static boolean running(ProcessHandle p) {
        if (!p.isAlive()) {
            return false;
        }
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"));
            int end = stat.lastIndexOf(')');
            return end < 0 || end + 2 >= stat.length() || stat.charAt(end + 2) != 'Z';
        } catch (IOException | RuntimeException e) {
            return true;   // no /proc to tell: alive, as the JDK says
        }
    }

    /** Waits until {@code p} no longer {@link #running runs}, at most {@code timeoutMs}; whether it ended. */
    static boolean awaitExit(ProcessHandle p, long timeoutMs) throws InterruptedException {
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (running(p)) {
            if (System.currentTimeMillis() >= deadline) {
                return false;
            }
            Thread.sleep(20);
        }
        return true;
    }

    /**
     * Waits until a broker of {@code dataDir} that was told to stop in the background ({@link #stopInBackground})
     * has let go of the directory's lock ({@link DataDirLock}: once Kafka has stopped, about 0.4 s) or exited,
     * not until its JVM has written its class archive too. Returns at once when there is none.
     */
    private static void awaitStopping(Path dataDir) throws InterruptedException {
        Path marker = dataDir.resolve(STOPPING);
        String content;
        try {
            content = Files.readString(marker);
        } catch (IOException e) {
            return;
        }
        Optional<ProcessHandle> stopping = stillRunning(content);
        if (stopping.isPresent()) {
            // it kills itself after STOP_TIMEOUT_MS; past that, the start below reports a lock still held
            long deadline = System.currentTimeMillis() + STOP_TIMEOUT_MS + 5_000;
            while (running(stopping.get()) && !DataDirLock.free(dataDir) && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
            }
        }
        try {
            Files.deleteIfExists(marker);
        } catch (IOException ignored) {
            // the next start reads a pid that is gone, and goes on
        }
    }

    /** The marker's content for {@code process}: its pid and its start time. */
    static String marker(ProcessHandle process) {
        return process.pid() + " " + process.info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L);
    }

    /**
     * The process a {@link #marker} names, while it runs; empty once it has exited, or when the system has given its
     * pid to another process since (whose start time differs). Not the command line: the JDK reads at most 4 kB of
     * it, and a broker's (its class path first) is longer.
     */
    static Optional<ProcessHandle> stillRunning(String marker) {
        String[] pidAndStart = marker.trim().split(" ");
        long pid;
        long start;
        try {
            pid = Long.parseLong(pidAndStart[0]);
            start = pidAndStart.length == 2 ? Long.parseLong(pidAndStart[1]) : -1;
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        return ProcessHandle.of(pid).filter(h -> h.info().startInstant().map(java.time.Instant::toEpochMilli)
                .orElse(0L) == start);
    }

    /**
     * Tells the broker to stop (SIGTERM: a clean shutdown, which takes about 0.4 s) and returns without waiting for
     * it, so that a command can exit at once; the broker's JVM kills itself should its shutdown outlast
     * {@link #STOP_TIMEOUT_MS}, and the next {@link #start} of this data directory waits until it lets go of the
     * directory. A broker that writes its class archive as it exits (the first of a build: 3-12 s more) is not waited
     * for either, by its command nor by the next start: a file beside the archive names the JVM writing it, the next
     * start of any data directory publishes it once that JVM has exited ({@link #publishLeft}), and the JVM writes it
     * at the lowest CPU priority ({@link #lowerPriority}).
     */
    public void stopInBackground() {
        try {
            if (writesArchive) {
                Files.writeString(writerOf(pendingArchive), marker(process));
                lowerPriority(process);
            }
            Files.writeString(log.resolveSibling(STOPPING), marker(process));
        } catch (IOException e) {
            // without the marker the next start may find the lock held: stop as close() does
            close();
            return;
        }
        process.destroy();
    }

    /**
     * Gives every thread of {@code p} the lowest CPU priority (nice 19; on Linux each thread has its own, and threads
     * and processes it starts later take the one of the thread that starts them): a broker stopped in the background
     * that then writes its class archive (seconds of two cores, the first time) yields them to the next command. Best
     * effort: without /proc or renice, it keeps its priority.
     */
    static void lowerPriority(ProcessHandle p) {
        List<String> cmd = new ArrayList<>(List.of("renice", "-n", "19", "-p"));
        try (var tasks = Files.list(Path.of("/proc", Long.toString(p.pid()), "task"))) {
            tasks.forEach(t -> cmd.add(t.getFileName().toString()));
        } catch (IOException | java.io.UncheckedIOException e) {
            return;
        }
        try {
            Process renice = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!renice.waitFor(2, java.util.concurrent.TimeUnit.SECONDS)) {
                renice.destroyForcibly();
            }
        } catch (IOException e) {
            // no renice: the archive is written at the usual priority
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the broker (SIGTERM, then SIGKILL after 30 s). */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!awaitExit(process, STOP_TIMEOUT_MS)) {
                kill();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        } finally {
            ClassArchive.publish(pendingArchive, archive, CLASS_PATH);
        }
    }
}
