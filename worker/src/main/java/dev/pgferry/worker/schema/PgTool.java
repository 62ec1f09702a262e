package dev.pgferry.worker.schema;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs a PostgreSQL client program ({@code pg_dump}, {@code pg_restore}) with a libpq environment. The password
 * travels only in the child's environment; stderr is kept in a file and its tail goes into error messages.
 * The binary comes from {@code $PGFERRY_PG_BIN} when set, else from the PATH (past Debian's {@code pg_wrapper}, see
 * {@link #wrappedClientDir}); it runs in the C locale.
 */
public final class PgTool {
    private static final Logger LOG = LoggerFactory.getLogger(PgTool.class);
    private static final int ERROR_TAIL_CHARS = 2000;

    private PgTool() {
    }

    /** Where Debian's and Ubuntu's postgresql-common install each major version's programs ({@code N/bin}). */
    static final Path DEBIAN_BIN_ROOT = Path.of("/usr/lib/postgresql");

    static String binary(String name) {
        String dir = System.getenv("PGFERRY_PG_BIN");
        if (dir != null && !dir.isBlank()) {
            return Path.of(dir, name).toString();
        }
        return WrappedClient.DIR.map(d -> d.resolve(name).toString()).orElse(name);
    }

    /** Resolved once per process, on first use. */
    private static final class WrappedClient {
        static final Optional<Path> DIR = wrappedClientDir(System.getenv("PATH"), DEBIAN_BIN_ROOT);

        static {
            DIR.ifPresent(d -> LOG.info("pg_dump on the PATH is Debian's pg_wrapper: running the programs in {}"
                    + " (PGFERRY_PG_BIN chooses others)", d));
        }
    }

    /**
     * When the {@code pg_dump} that {@code path} finds is Debian's {@code pg_wrapper} (a Perl script that picks a
     * version, then runs it), the directory of the newest version under {@code binRoot} that has both {@code pg_dump}
     * and {@code pg_restore}: the one the wrapper itself runs for a server that is not a local cluster of its own
     * (newer client programs dump and restore older servers). Running it directly saves the wrapper's start, about
     * 45 ms of CPU and of wall time per program run, and a small database takes four runs (BENCHMARKS.md). It also
     * keeps a local cluster on port 5432 from making the wrapper pick that cluster's older version. Empty when
     * {@code pg_dump} is not the wrapper, or no such directory exists: the name is then run from the PATH.
     */
    static Optional<Path> wrappedClientDir(String path, Path binRoot) {
        if (path == null) {
            return Optional.empty();
        }
        for (String dir : path.split(File.pathSeparator)) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, "pg_dump");
            if (!Files.isExecutable(candidate)) {
                continue;
            }
            try {
                if (!candidate.toRealPath().getFileName().toString().equals("pg_wrapper")) {
                    return Optional.empty();
                }
            } catch (IOException e) {
                return Optional.empty();
            }
            try (Stream<Path> versions = Files.list(binRoot)) {
                return versions.filter(v -> v.getFileName().toString().matches("\\d+(\\.\\d+)?"))
                        .map(v -> v.resolve("bin"))
                        .filter(b -> Files.isExecutable(b.resolve("pg_dump")) && Files.isExecutable(b.resolve("pg_restore")))
                        .max(Comparator.comparingDouble(b -> Double.parseDouble(b.getParent().getFileName().toString())));
            } catch (IOException e) {
                return Optional.empty();
            }
        }
        return Optional.empty();
    }

    private static volatile Integer pgDumpMajor;

    /**
     * The major version of the {@code pg_dump} pgferry runs (e.g. 15), read once from {@code pg_dump --version}; it
     * dumps servers of that version or older only.
     */
    public static int pgDumpMajor() {
        if (pgDumpMajor == null) {
            try {
                Path out = java.nio.file.Files.createTempFile("pgferry-pg_dump-version-", ".txt");
                try {
                    run("pg_dump", List.of("--version"), Map.of(), ErrorCode.SCHEMA_DUMP_FAILED, "pg_dump --version", out);
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\(PostgreSQL\\) (\\d+)")
                            .matcher(java.nio.file.Files.readString(out));
                    pgDumpMajor = m.find() ? Integer.parseInt(m.group(1)) : 0;
                } finally {
                    java.nio.file.Files.deleteIfExists(out);
                }
            } catch (java.io.IOException e) {
                throw new MigrationException(ErrorCode.INTERNAL, "cannot run pg_dump --version: " + e.getMessage());
            }
        }
        return pgDumpMajor;
    }

    private static void run(String program, List<String> args, Map<String, String> env, ErrorCode code, String what,
                            Path stdout) {
        Result r = exec(program, args, env, code, what, stdout);
        if (r.exitCode() != 0) {
            throw new MigrationException(code, what + " failed (" + program + " exit code " + r.exitCode() + "): "
                    + tail(r.stderr()));
        }
    }

    /** How a program ended: its exit code and the tail of its stderr. */
    public record Result(int exitCode, String stderr) {
    }

    /** Runs the program to completion; a non-zero exit becomes a {@link MigrationException} with {@code code}. */
    public static void run(String program, List<String> args, Map<String, String> env, ErrorCode code, String what) {
        Result r = exec(program, args, env, code, what);
        if (r.exitCode() != 0) {
            throw new MigrationException(code, what + " failed (" + program + " exit code " + r.exitCode() + "): "
                    + tail(r.stderr()));
        }
    }

    public static String tail(String err) {
        return err.length() > ERROR_TAIL_CHARS ? "..." + err.substring(err.length() - ERROR_TAIL_CHARS) : err;
    }

    /** Runs the program to completion and returns how it ended; only failing to start it throws. */
    public static Result exec(String program, List<String> args, Map<String, String> env, ErrorCode code, String what) {
        return exec(program, args, env, code, what, null);
    }

    /** As {@link #exec(String, List, Map, ErrorCode, String)}, sending stdout to {@code stdout} (null: discarded). */
    public static Result exec(String program, List<String> args, Map<String, String> env, ErrorCode code, String what,
                              Path stdout) {
        List<String> cmd = new ArrayList<>();
        cmd.add(binary(program));
        cmd.addAll(args);
        Path stderr = null;
        Process p = null;
        try {
            stderr = Files.createTempFile("pgferry-" + program, ".err");
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(stderr.toFile())
                    .redirectOutput(stdout == null ? ProcessBuilder.Redirect.DISCARD : ProcessBuilder.Redirect.to(stdout.toFile()));
            pb.environment().keySet().removeIf(k -> k.startsWith("PG"));
            pb.environment().putAll(env);
            // pgferry reads the programs' own reports (RestoreFailure): their words must not depend on our locale
            pb.environment().put("LC_ALL", "C");
            pb.environment().remove("LANGUAGE");
            p = pb.start();
            p.getOutputStream().close();
            int rc = p.waitFor();
            return new Result(rc, Files.readString(stderr, StandardCharsets.UTF_8).strip());
        } catch (IOException e) {
            throw new MigrationException(code, null, what + ": cannot run " + cmd.get(0) + " (" + e.getMessage()
                    + "); install the PostgreSQL client programs or set PGFERRY_PG_BIN", false, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigrationException(ErrorCode.INTERNAL, what + " interrupted");
        } finally {
            if (p != null && p.isAlive()) {
                p.destroyForcibly();
                try {
                    p.waitFor(10, TimeUnit.SECONDS);
                } catch (InterruptedException ignored) {
                    Thread.currentThread().interrupt();
                }
            }
            if (stderr != null) {
                try {
                    Files.deleteIfExists(stderr);
                } catch (IOException ignored) {
                    // a temp file left behind holds no secret
                }
            }
        }
    }
}
