package dev.pgferry.cli.local;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A throw-away PostgreSQL cluster started with {@code initdb}/{@code pg_ctl} on a free loopback port, with
 * password (SCRAM) authentication for user {@code postgres} and {@code wal_level=logical}. PostgreSQL refuses to
 * run as root, so as root the server programs run as the {@code postgres} OS user through {@code runuser}.
 * Used by {@code pgferry demo} and by the integration tests. {@link #close()} stops it and deletes its files.
 */
public final class LocalPostgres implements AutoCloseable {
    private final Path binDir;
    private final Path dir;
    private final int port;
    private final String password;
    /** The server's options (port, socket directory, settings), for a start after a stop. */
    private final String options;

    private LocalPostgres(Path binDir, Path dir, int port, String password, String options) {
        this.binDir = binDir;
        this.dir = dir;
        this.port = port;
        this.password = password;
        this.options = options;
    }

    /** The server programs: $PGFERRY_PG_SERVER_BIN, else Debian's PostgreSQL 15, else the newest under /usr/lib/postgresql. */
    public static Path defaultBinDir() {
        String env = System.getenv("PGFERRY_PG_SERVER_BIN");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        Path debian15 = Path.of("/usr/lib/postgresql/15/bin");
        if (Files.isExecutable(debian15.resolve("initdb"))) {
            return debian15;
        }
        try (Stream<Path> versions = Files.list(Path.of("/usr/lib/postgresql"))) {
            return versions.map(p -> p.resolve("bin")).filter(p -> Files.isExecutable(p.resolve("initdb")))
                    .max(Comparator.comparing(p -> Integer.parseInt(p.getParent().getFileName().toString())))
                    .orElseThrow();
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("no PostgreSQL server programs found: install postgresql-15 or set"
                    + " PGFERRY_PG_SERVER_BIN to the directory holding initdb and pg_ctl");
        }
    }

    /** Starts a new cluster under a fresh directory inside {@code parent}. */
    public static LocalPostgres start(Path binDir, Path parent, String password) throws IOException, InterruptedException {
        return start(binDir, parent, password, Map.of());
    }

    /** As {@link #start(Path, Path, String)}, with server settings that override the defaults (e.g. wal_level). */
    public static LocalPostgres start(Path binDir, Path parent, String password, Map<String, String> overrides)
            throws IOException, InterruptedException {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("listen_addresses", "127.0.0.1");
        settings.put("wal_level", "logical");
        settings.put("fsync", "off");
        settings.put("max_connections", "100");
        settings.put("max_replication_slots", "10");
        settings.put("max_wal_senders", "20");
        settings.put("max_logical_replication_workers", "16");
        settings.put("max_worker_processes", "24");
        // PostgreSQL starts at most one apply worker per interval (default 5 s): keep syncing quick here.
        settings.put("wal_retrieve_retry_interval", "500ms");
        settings.putAll(overrides);
        Files.createDirectories(parent);
        Path dir = Files.createTempDirectory(parent, "pg-");
        boolean root = "root".equals(System.getProperty("user.name"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        if (root) {
            run(List.of("chown", "-R", "postgres:postgres", dir.toString()), dir, false);
            // PostgreSQL must be able to traverse every parent directory.
            for (Path p = parent.toAbsolutePath(); p != null; p = p.getParent()) {
                if (!p.toString().equals("/")) {
                    Files.setPosixFilePermissions(p, addExec(Files.getPosixFilePermissions(p)));
                }
            }
        }
        Path data = dir.resolve("data");
        // A copy of a data directory made once per binaries, password and parent: initdb costs a second, a copy
        // a tenth of that (the suite starts about fifty servers).
        run(List.of("cp", "-a", template(binDir, parent, password, root).toString(), data.toString()), dir, false);
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            int port = freePort();
            try {
                String options = "-p " + port + " -k " + dir + settings.entrySet().stream()
                        .map(e -> " -c " + e.getKey() + "=" + e.getValue()).collect(Collectors.joining());
                run(List.of(binDir.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", dir.resolve("server.log").toString(),
                        "-w", "-t", "60", "-o", options, "start"), dir, root);
                return new LocalPostgres(binDir, dir, port, password, options);
            } catch (IOException e) {
                last = e;
            }
        }
        throw last;
    }

    private static final Map<String, Path> TEMPLATES = new java.util.HashMap<>();

    /** A data directory made by initdb for these binaries and password, under {@code parent}; made on first use. */
    private static synchronized Path template(Path binDir, Path parent, String password, boolean root)
            throws IOException, InterruptedException {
        String key = binDir.toAbsolutePath() + "|" + parent.toAbsolutePath() + "|" + password;
        Path existing = TEMPLATES.get(key);
        if (existing != null && Files.isDirectory(existing)) {
            return existing;
        }
        Path dir = Files.createTempDirectory(parent, "template-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path pwfile = dir.resolve("pwfile");
        Files.writeString(pwfile, password + "\n", StandardCharsets.UTF_8);
        if (root) {
            run(List.of("chown", "-R", "postgres:postgres", dir.toString()), dir, false);
        }
        Path data = dir.resolve("data");
        try {
            run(List.of(binDir.resolve("initdb").toString(), "-D", data.toString(), "-U", "postgres", "-A", "scram-sha-256",
                    "--pwfile=" + pwfile, "-E", "UTF8", "--locale=C", "--no-sync"), dir, root);
        } finally {
            Files.deleteIfExists(pwfile);
        }
        if (TEMPLATES.isEmpty()) {
            Runtime.getRuntime().addShutdownHook(new Thread(LocalPostgres::deleteTemplates, "delete-pg-templates"));
        }
        TEMPLATES.put(key, data);
        return data;
    }

    private static synchronized void deleteTemplates() {
        TEMPLATES.values().forEach(data -> delete(data.getParent()));
    }

    private static void delete(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a leftover temp directory holds nothing of value
        }
    }

    private static java.util.Set<java.nio.file.attribute.PosixFilePermission> addExec(
            java.util.Set<java.nio.file.attribute.PosixFilePermission> perms) {
        var out = java.util.EnumSet.copyOf(perms);
        out.add(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE);
        return out;
    }

    private static void run(List<String> cmd, Path dir, boolean asPostgres) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>();
        if (asPostgres) {
            full.addAll(List.of("runuser", "-u", "postgres", "--"));
        }
        full.addAll(cmd);
        Path out = Files.createTempFile("pgferry-pgctl", ".out");
        try {
            Process p = new ProcessBuilder(full).directory(dir.toFile()).redirectErrorStream(true)
                    .redirectOutput(out.toFile()).start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + " timed out");
            }
            if (p.exitValue() != 0) {
                throw new IOException(cmd.get(0) + " failed (exit " + p.exitValue() + "): " + Files.readString(out));
            }
        } finally {
            Files.deleteIfExists(out);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    public int port() {
        return port;
    }

    public String host() {
        return "127.0.0.1";
    }

    public String password() {
        return password;
    }

    /** A connection URI for {@code dbname}, with the password (for local, throw-away clusters). */
    public String uri(String dbname) {
        return "postgres://postgres:" + java.net.URLEncoder.encode(password, StandardCharsets.UTF_8) + "@127.0.0.1:"
                + port + "/" + dbname;
    }

    public String jdbcUrl(String dbname) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + java.net.URLEncoder.encode(dbname, StandardCharsets.UTF_8)
                .replace("+", "%20");
    }

    public Path serverLog() {
        return dir.resolve("server.log");
    }

    /**
     * Restarts the server on the same port and settings, ending every session (fast shutdown), as a managed
     * service's maintenance or fail-over does.
     */
    public void restart() throws IOException, InterruptedException {
        pgCtl("restart");
    }

    /** Stops the server (fast shutdown), keeping its files: {@link #startAgain} brings it back on the same port. */
    public void stop() throws IOException, InterruptedException {
        pgCtl("stop");
    }

    /** Starts a server {@link #stop}ped before, on the same port and settings. */
    public void startAgain() throws IOException, InterruptedException {
        pgCtl("start");
    }

    private void pgCtl(String action) throws IOException, InterruptedException {
        List<String> cmd = new java.util.ArrayList<>(List.of(binDir.resolve("pg_ctl").toString(), "-D",
                dir.resolve("data").toString(), "-l", dir.resolve("server.log").toString(), "-m", "fast", "-w", "-t", "60"));
        if (action.equals("start")) {
            // restart reuses the options of the running server (postmaster.opts); a start needs them again
            cmd.addAll(List.of("-o", options));
        }
        cmd.add(action);
        run(cmd, dir, "root".equals(System.getProperty("user.name")));
    }

    /** Stops the server immediately (fast shutdown) and deletes its files. */
    @Override
    public void close() {
        try {
            run(List.of(binDir.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-m", "fast", "-w", "stop"),
                    dir, "root".equals(System.getProperty("user.name")));
        } catch (IOException | InterruptedException e) {
            // already stopped
        }
        delete(dir);
    }
}
