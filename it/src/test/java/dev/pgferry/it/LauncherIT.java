package dev.pgferry.it;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The {@code ./pgferry} launcher the README's commands run, as on a machine whose cache holds no class archive yet:
 * the script itself, on the jars {@code mvn package} built (in a directory of its own with only those, so that it
 * never finds a source newer than the jar and builds).
 */
class LauncherIT {

    @Test
    void everyRunAfterTheFirstOnANewMachineStartsAndMapsTheArchiveTheFirstWrote() throws Exception {
        Path repo = Path.of(System.getProperty("user.dir")).toAbsolutePath().getParent();
        Path home = Files.createTempDirectory(Infra.work(), "launcher-");
        Files.createDirectories(home.resolve("cli"));
        Files.copy(repo.resolve("pgferry"), home.resolve("pgferry"));
        Files.createSymbolicLink(home.resolve("cli/target"), repo.resolve("cli/target"));
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

    private record Run(int exitCode, String out) {
    }

    private static Run run(Path home, Path cache, String... args) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Stream.concat(Stream.of("bash", home.resolve("pgferry").toString()),
                Stream.of(args)).toList()).redirectErrorStream(true);
        pb.environment().put("XDG_CACHE_HOME", cache.toString());
        pb.environment().remove("PGFERRY_JAVA_OPTS");
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
