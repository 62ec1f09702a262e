package dev.pgferry.it;

import dev.pgferry.broker.JavaRuntimes;
import dev.pgferry.cli.local.LocalPostgres;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The {@code ./pgferry} launcher the README's commands run, as on a machine whose cache holds no class archive yet:
 * the script itself, on the jars {@code mvn package} built (in a directory of its own with only those, so that it
 * never finds a source newer than the jar and builds).
 */
class LauncherIT {

    /** This JVM's runtime (Java 17 on the machines the suite runs on). */
    private static final Path JAVA_HOME = Path.of(System.getProperty("java.home"));

    @Test
    void everyRunAfterTheFirstOnANewMachineStartsAndMapsTheArchiveTheFirstWrote() throws Exception {
        assumeTrue(Runtime.version().feature() < 25, "this JVM's runtime writes an ahead-of-time cache: the test below");
        Path home = launcherHome();
        Path cache = home.resolve("cache");

        // Given a new machine: the first run writes the class archive as it exits
        Run first = run(home, cache, "migrate", "--help");
        assertThat(first.exitCode()).as(first.out()).isZero();
        assertThat(first.out()).contains("--source");
        assertThat(archives(cache, ".tmp")).hasSize(1);

        // When the next runs start (the archive moved into place by the first of them, and the only one there)
        Run second = run(home, cache, "--version");
        Run third = run(home, cache, "--version");

        // Then each runs the command, on the archive
        assertThat(second.exitCode()).as(second.out()).isZero();
        assertThat(second.out()).contains("pgferry 0.1.0");
        assertThat(third.exitCode()).as(third.out()).isZero();
        assertThat(third.out()).contains("pgferry 0.1.0");
        assertThat(archives(cache, ".tmp")).isEmpty();
        List<Path> kept = archives(cache, ".jsa");
        assertThat(kept).hasSize(1);

        // and archives of other builds beyond the two newest are removed, never the one in use
        for (int i = 1; i <= 3; i++) {
            Path old = cache.resolve("pgferry/cds/cli-old" + i + ".jsa");
            Files.writeString(old, "an archive of another build");
            Files.setLastModifiedTime(old, FileTime.from(Instant.now().minusSeconds(3600L * (4 - i))));
        }
        Files.setLastModifiedTime(kept.get(0), FileTime.from(Instant.now().minusSeconds(86_400)));
        Run fourth = run(home, cache, "--version");
        assertThat(fourth.exitCode()).as(fourth.out()).isZero();
        assertThat(archives(cache, ".jsa")).extracting(p -> p.getFileName().toString())
                .containsExactlyInAnyOrder(kept.get(0).getFileName().toString(), "cli-old2.jsa", "cli-old3.jsa");
    }

    @Test
    void onJava25TheFirstMigrateRecordsQuietlyTheNextWritesTheCacheApartAndLaterRunsMapIt() throws Exception {
        Path java25 = java25();
        Path home = launcherHome();
        Path cache = home.resolve("cache");

        // Given a new machine whose JAVA_HOME is a Java 25: the first migrate records the classes it loads, saying
        // nothing of it where --json would write
        Run first = run(home, cache, java25, "migrate", "--help");
        assertThat(first.exitCode()).as(first.out()).isZero();
        assertThat(first.out()).contains("--source").doesNotContain("AOT");
        assertThat(archives(cache, ".tmp")).singleElement().asString().contains(".aotconf.");

        // When the next command runs, the cache is written apart from it, and moved into place once a JVM maps it
        Run second = run(home, cache, java25, "--version");
        assertThat(second.exitCode()).as(second.out()).isZero();
        assertThat(second.out()).isEqualTo("pgferry 0.1.0\n");
        long deadline = System.currentTimeMillis() + 120_000;
        while ((archives(cache, ".aot").isEmpty() || !archives(cache, ".tmp").isEmpty())
                && System.currentTimeMillis() < deadline) {
            Thread.sleep(100);
        }
        assertThat(archives(cache, ".tmp")).isEmpty();
        Path aot = archives(cache, ".aot").get(0);
        assertThat(aot.getFileName().toString()).matches("cli-[0-9a-f]{24}\\.aot");

        // Then later commands run on it (only the version on their output) and a JVM that must map it does
        Run third = run(home, cache, java25, "--version");
        assertThat(third.exitCode()).as(third.out()).isZero();
        assertThat(third.out()).isEqualTo("pgferry 0.1.0\n");
        Process check = new ProcessBuilder(java25.resolve("bin/java").toString(), "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC", "-XX:AOTMode=on", "-XX:AOTCache=" + aot,
                "-cp", home.resolve("cli/target/lib") + "/*:" + home.resolve("cli/target/pgferry.jar"),
                "dev.pgferry.cli.Main", "--version").redirectErrorStream(true).start();
        assertThat(new String(check.getInputStream().readAllBytes())).isEqualTo("pgferry 0.1.0\n");
        assertThat(check.waitFor()).isZero();
    }

    @Test
    void aRecordOfAnotherBuildStaysForThatBuildsNextCommandAndGoesOnceADayOld() throws Exception {
        Path java25 = java25();
        Path home = launcherHome();
        Path cache = home.resolve("cache");
        Path dir = Files.createDirectories(cache.resolve("pgferry/cds"));
        // Given the class records two other builds' first commands left as they exited (their JVMs gone: no such
        // pid), one of them two days old
        Path fresh = dir.resolve("cli-aaaaaaaaaaaaaaaaaaaaaaaa.aotconf.999999999.tmp");
        Path stale = dir.resolve("cli-bbbbbbbbbbbbbbbbbbbbbbbb.aotconf.999999998.tmp");
        Files.writeString(fresh, "the classes another build's command loaded");
        Files.writeString(stale, "the classes another build's command loaded");
        Files.setLastModifiedTime(stale, FileTime.from(Instant.now().minusSeconds(2 * 86_400)));

        // When a command of this build runs
        Run run = run(home, cache, java25, "--version");

        // Then the fresh record stays for its own build's next command, which writes that build's cache from it (two
        // checkouts used in turn removed each other's records, and neither ever got a cache), and the old one is gone
        assertThat(run.exitCode()).as(run.out()).isZero();
        assertThat(fresh).exists();
        assertThat(stale).doesNotExist();
    }

    @Test
    void withoutJavaHomeAndAnOlderJavaOnThePathTheNewestJava25UnderUsrLibJvmRunsTheCommand() throws Exception {
        Path java25 = JavaRuntimes.installed(25).orElse(null);
        assumeTrue(java25 != null && Runtime.version().feature() < 25,
                "no Java 25 or newer under /usr/lib/jvm beside this older one");
        Path home = launcherHome();
        Path cache = home.resolve("cache");

        // Given no JAVA_HOME, and this JVM's older java first on the PATH
        Run first = run(home, cache, (Path) null, "migrate", "--help");

        // Then the command ran on the Java 25: it recorded the classes for an ahead-of-time cache, as only a Java 25 does
        assertThat(first.exitCode()).as(first.out()).isZero();
        assertThat(first.out()).contains("--source");
        assertThat(archives(cache, ".tmp")).singleElement().asString().contains(".aotconf.");
    }

    @Test
    void theFirstMigrateOfABuildExitsWhileItsBrokerWritesItsArchiveAndTheNextOfAnyDataDirectoryPublishesIt()
            throws Exception {
        Path home = launcherHome();
        Path cache = home.resolve("cache");
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE archived");
            ReplicationIT.exec(source, "archived", "CREATE TABLE t (id int PRIMARY KEY, v text);"
                    + " INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g");

            // Given a new machine: the first migrate copies the database and exits, its broker told to stop
            Run first = run(home, cache, migrate(source, target, home.resolve("first")));
            assertThat(first.exitCode()).as(first.out()).isZero();
            assertThat(Compare.tableFingerprints(target, "archived")).isEqualTo(Compare.tableFingerprints(source, "archived"));

            // Then it did not wait for its broker, which writes its archive as it exits: a file beside it names that JVM
            Path writer;
            try (Stream<Path> files = Files.list(cache.resolve("pgferry/cds"))) {
                writer = files.filter(f -> f.getFileName().toString().endsWith(".tmp.writer")).findFirst().orElseThrow();
            }
            assertThat(writer.getFileName().toString()).matches("broker-[0-9a-f]{16}\\.jsa\\..*\\.tmp\\.writer");
            assertThat(Files.readString(writer)).isEqualTo(Files.readString(home.resolve("first/kafka/broker.stopping")));

            // When that broker has exited and the next migrate starts, on a data directory of its own, it puts that
            // archive in place, and its own broker maps it
            Path writerProcess = Path.of("/proc", Files.readString(writer).split(" ")[0]);
            long deadline = System.currentTimeMillis() + 60_000;
            while (Files.exists(writerProcess) && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
            }
            ReplicationIT.exec(target, "postgres", "DROP DATABASE archived WITH (FORCE)");
            Run second = run(home, cache, migrate(source, target, home.resolve("second")));
            assertThat(second.exitCode()).as(second.out()).isZero();
            assertThat(Compare.tableFingerprints(target, "archived")).isEqualTo(Compare.tableFingerprints(source, "archived"));
            String archive = writer.getFileName().toString().replaceAll("\\.[0-9]+\\.[0-9]+\\.tmp\\.writer$", "");
            assertThat(cache.resolve("pgferry/cds").resolve(archive)).isRegularFile();
            assertThat(archives(cache, ".tmp")).isEmpty();
            assertThat(archives(cache, ".writer")).isEmpty();
        }
    }

    private static String[] migrate(LocalPostgres source, LocalPostgres target, Path dataDir) {
        return new String[]{"migrate", "--source", source.uri("postgres"), "--target", target.uri("postgres"),
                "--ignore-dbs", "postgres", "--method", "dump", "--data-dir", dataDir.toString()};
    }

    /** A directory with the launcher and (a link to) the jars {@code mvn package} built. */
    /** The newest Java 25 or newer under /usr/lib/jvm; the test is skipped without one. */
    private static Path java25() {
        Path java25 = JavaRuntimes.installed(25).orElse(null);
        assumeTrue(java25 != null, "no Java 25 or newer under /usr/lib/jvm");
        return java25;
    }

    private static Path launcherHome() throws Exception {
        Path repo = Path.of(System.getProperty("user.dir")).toAbsolutePath().getParent();
        Path home = Files.createTempDirectory(Infra.work(), "launcher-");
        Files.createDirectories(home.resolve("cli"));
        Files.copy(repo.resolve("pgferry"), home.resolve("pgferry"));
        Files.createSymbolicLink(home.resolve("cli/target"), repo.resolve("cli/target"));
        return home;
    }

    private record Run(int exitCode, String out) {
    }

    private static Run run(Path home, Path cache, String... args) throws Exception {
        return run(home, cache, JAVA_HOME, args);
    }

    /** Runs the launcher with {@code javaHome} as JAVA_HOME; none (null): with this JVM's java first on the PATH. */
    private static Run run(Path home, Path cache, Path javaHome, String... args) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Stream.concat(Stream.of("bash", home.resolve("pgferry").toString()),
                Stream.of(args)).toList()).redirectErrorStream(true);
        pb.environment().put("XDG_CACHE_HOME", cache.toString());
        pb.environment().remove("PGFERRY_JAVA_OPTS");
        if (javaHome != null) {
            pb.environment().put("JAVA_HOME", javaHome.toString());
        } else {
            pb.environment().remove("JAVA_HOME");
            pb.environment().put("PATH", JAVA_HOME.resolve("bin") + ":" + pb.environment().get("PATH"));
        }
        Path out = Files.createTempFile(Infra.work(), "launcher-out-", ".txt");
        Process p = pb.redirectOutput(out.toFile()).start();
        if (!p.waitFor(2, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("./pgferry " + String.join(" ", args) + " did not end: " + Files.readString(out));
        }
        return new Run(p.exitValue(), Files.readString(out));
    }

    private static List<Path> archives(Path cache, String suffix) throws Exception {
        Path dir = cache.resolve("pgferry/cds");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(suffix)).sorted().toList();
        }
    }
}
