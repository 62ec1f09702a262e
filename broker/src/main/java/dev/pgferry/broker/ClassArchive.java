package dev.pgferry.broker;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;

/**
 * A class-data-sharing archive for the child broker's JVM. Kafka's broker loads thousands of classes as it starts;
 * with an archive of them (a dynamic CDS archive, written by the first broker JVM that runs) the next ones are ready
 * in about half the time (1.9 s against 0.9 s measured). On Java 25 or newer it is an ahead-of-time cache instead
 * (JEP 483 and 514: the classes loaded and linked, not only parsed; {@link Kind#AOT}), ready in 0.6-0.7 s. The
 * archive is keyed by the Java runtime and the exact class path (each entry's path, size and modification time), so
 * a rebuilt jar gets a new one; it is written under a name of its own by one JVM and moved into place only after that
 * JVM has exited and only when a JVM can map it ({@link #usable}), so no broker ever reads a half-written archive or
 * one cut short by a kill. The first broker JVM of a build writes it as it exits (about 3 s; 4-5 s for an
 * ahead-of-time cache), which its command need not wait for ({@link ChildBroker#stopInBackground}). Where it cannot
 * be written, the broker simply starts without it. Stateless.
 */
final class ClassArchive {
    static final int KEEP = 3;
    /** An unpublished archive older than this was left by a broker killed while writing it, or seen by no start since. */
    static final long STALE_MS = 24L * 3600 * 1000;

    /** What a JVM of a given runtime can map: its options to use one and to write one as it exits. */
    enum Kind {
        /** A dynamic class-data-sharing archive (Java 13 and newer). */
        CDS(".jsa", "-XX:ArchiveClassesAtExit="),
        /**
         * An ahead-of-time cache (Java 25 and newer), written in one run: the JVM records the classes as it runs and,
         * as it exits, starts a JVM of its own that writes the cache (printing on the broker's log).
         */
        AOT(".aot", "-XX:AOTCacheOutput=");

        final String suffix;
        final String writeOption;

        Kind(String suffix, String writeOption) {
            this.suffix = suffix;
            this.writeOption = writeOption;
        }

        /** The kind a JVM of the runtime at {@code javaHome} uses (its {@code release} file names its version). */
        static Kind of(Path javaHome) {
            return JavaRuntimes.feature(javaHome) >= 25 ? AOT : CDS;
        }

        List<String> useOptions(Path archive) {
            return this == AOT ? List.of("-XX:AOTCache=" + archive) : List.of("-XX:SharedArchiveFile=" + archive, "-Xshare:auto");
        }

        /** Options with which a JVM starts only if it maps {@code archive}. */
        List<String> requireOptions(Path archive) {
            return this == AOT ? List.of("-XX:AOTMode=on", "-XX:AOTCache=" + archive)
                    : List.of("-Xshare:on", "-XX:SharedArchiveFile=" + archive);
        }
    }

    private ClassArchive() {
    }

    /**
     * The archive for this runtime and class path (it may not exist yet), in the user's own cache directory
     * ({@code $XDG_CACHE_HOME} or {@code ~/.cache}), never a shared one: a JVM maps an archive into its memory, so
     * nobody else may be able to put one there.
     */
    static Path archive(String classPath) {
        return archive(classPath, Path.of(System.getProperty("java.home")));
    }

    /** As {@link #archive(String)}, for a JVM of the runtime at {@code javaHome}. */
    static Path archive(String classPath, Path javaHome) {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path cache = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return cache.resolve("pgferry").resolve("cds").resolve("broker-" + key(classPath, javaHome)
                + Kind.of(javaHome).suffix);
    }

    /**
     * JVM options, of this runtime's kind, that use the archive, or (when there is none yet) write one to
     * {@code pending} at exit; none when there is no place to write one ({@code pending} null).
     */
    static List<String> jvmOptions(Path archive, Path pending) {
        return jvmOptions(Kind.of(Path.of(System.getProperty("java.home"))), archive, pending);
    }

    static List<String> jvmOptions(Kind kind, Path archive, Path pending) {
        return Files.isRegularFile(archive) ? kind.useOptions(archive)
                : pending == null ? List.of() : List.of(kind.writeOption + pending);
    }

    /** Whether a JVM given {@code options} ({@link #jvmOptions}) writes an archive as it exits. */
    static boolean writes(List<String> options) {
        return options.stream().anyMatch(o -> java.util.Arrays.stream(Kind.values()).anyMatch(k -> o.startsWith(k.writeOption)));
    }

    /**
     * Moves what an exited JVM wrote to {@code pending} into place as {@code archive}, when a JVM with
     * {@code classPath} can use it ({@link #usable}); never throws.
     */
    static void publish(Path pending, Path archive, String classPath) {
        publish(pending, archive, Path.of(System.getProperty("java.home")), classPath);
    }

    static void publish(Path pending, Path archive, Path javaHome, String classPath) {
        publish(pending, archive, p -> usable(p, javaHome, classPath));
    }

    static void publish(Path pending, Path archive, java.util.function.Predicate<Path> usable) {
        if (pending == null) {
            return;
        }
        try {
            if (Files.isRegularFile(pending) && Files.size(pending) > 0 && !Files.exists(archive) && usable.test(pending)) {
                Files.move(pending, archive, StandardCopyOption.ATOMIC_MOVE);
                prune(archive.getParent());
            }
        } catch (IOException e) {
            // another broker published first, or the directory is not writable: start without an archive
        } finally {
            try {
                Files.deleteIfExists(pending);
                // an AOT cache's recording, left when its JVM was killed before it wrote the cache
                Files.deleteIfExists(pending.resolveSibling(pending.getFileName() + ".config"));
            } catch (IOException ignored) {
                // a stray temporary file in the cache directory; harmless
            }
        }
    }

    /**
     * Whether a JVM started with {@code classPath} maps {@code file} as its class archive: a JVM killed while it
     * wrote its archive (the broker's stop timed out, the user's kill) leaves one that makes every JVM given it abort
     * as it starts, which would stop every later broker until the cache were cleared. Checked once per archive, by
     * a JVM that only prints its version (about 0.2 s).
     */
    static boolean usable(Path file, String classPath) {
        return usable(file, Path.of(System.getProperty("java.home")), classPath);
    }

    static boolean usable(Path file, Path javaHome, String classPath) {
        try {
            List<String> cmd = new java.util.ArrayList<>(List.of(javaHome.resolve("bin").resolve("java").toString()));
            cmd.addAll(Kind.of(javaHome).requireOptions(file));
            cmd.addAll(List.of("-cp", classPath, "-version"));
            Process p = new ProcessBuilder(cmd)
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            if (!p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return false;
            }
            return p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * A place for one JVM to write an archive, in the archive's directory (so that the move is atomic); null when
     * that directory cannot be made.
     */
    static Path pending(Path archive) {
        try {
            Files.createDirectories(archive.getParent());
        } catch (IOException | SecurityException e) {
            return null;
        }
        return archive.resolveSibling(archive.getFileName() + "." + ProcessHandle.current().pid() + "." + System.nanoTime() + ".tmp");
    }

    /**
     * Keeps the {@link #KEEP} newest archives (one per build of the jars; about 55 MB each), and removes what a broker
     * wrote more than {@link #STALE_MS} ago that no start published (a broker stopped in the background leaves its
     * archive to the next broker's start: {@code ChildBroker.publishLeft}), and the files that named their writers.
     */
    private static void prune(Path dir) throws IOException {
        long stale = System.currentTimeMillis() - STALE_MS;
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                String name = f.getFileName().toString();
                if (name.startsWith("broker-") && (name.endsWith(".tmp") || name.endsWith(".tmp.writer"))
                        && f.toFile().lastModified() < stale) {
                    Files.deleteIfExists(f);
                }
            }
        }
        try (var files = Files.list(dir)) {
            List<Path> archives = files.filter(f -> f.getFileName().toString().matches("broker-[0-9a-f]+\\.(jsa|aot)"))
                    .sorted(Comparator.comparing((Path f) -> f.toFile().lastModified()).reversed()).toList();
            for (Path old : archives.subList(Math.min(KEEP, archives.size()), archives.size())) {
                Files.deleteIfExists(old);
            }
        }
    }

    private static String key(String classPath, Path javaHome) {
        StringBuilder stamps = new StringBuilder(javaHome.toString()).append('|');
        if (javaHome.equals(Path.of(System.getProperty("java.home")))) {
            stamps.append(System.getProperty("java.vm.version"));
        } else {
            try {
                stamps.append(Files.getLastModifiedTime(javaHome.resolve("release")).toMillis());
            } catch (IOException e) {
                stamps.append("unknown");
            }
        }
        for (String entry : classPath.split(java.io.File.pathSeparator)) {
            Path p = Path.of(entry);
            stamps.append('|').append(entry);
            try {
                stamps.append('|').append(Files.size(p)).append('|').append(Files.getLastModifiedTime(p).toMillis());
            } catch (IOException e) {
                stamps.append("|missing");
            }
        }
        // FNV-1a, 64 bits: a name, not a secret (a JVM checks the class path an archive was written for, and maps
        // none written for another). SHA-256's first use cost 20 ms of every broker's launch on a fresh JVM.
        long hash = 0xcbf29ce484222325L;
        for (byte b : stamps.toString().getBytes(StandardCharsets.UTF_8)) {
            hash = (hash ^ (b & 0xff)) * 0x100000001b3L;
        }
        String hex = Long.toHexString(hash);
        return "0".repeat(16 - hex.length()) + hex;
    }
}
