package dev.pgferry.broker;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The Java runtimes of this machine, as the {@code ./pgferry} script chooses among them: a runtime's major version
 * read from its {@code release} file (no JVM started), and the newest installed under {@code /usr/lib/jvm}. Stateless.
 */
public final class JavaRuntimes {
    private static final Path INSTALLED = Path.of("/usr/lib/jvm");

    private JavaRuntimes() {
    }

    /** The major version of the Java runtime at {@code javaHome} (this JVM's own: its version; 17 when unknown). */
    public static int feature(Path javaHome) {
        if (javaHome.equals(Path.of(System.getProperty("java.home")))) {
            return Runtime.version().feature();
        }
        try (Stream<String> lines = Files.lines(javaHome.resolve("release"))) {
            return lines.filter(l -> l.startsWith("JAVA_VERSION=")).findFirst()
                    .map(l -> Runtime.Version.parse(l.substring(l.indexOf('=') + 1).replace("\"", "")).feature())
                    .orElse(17);
        } catch (IOException | RuntimeException e) {
            return 17;
        }
    }

    /** The newest runtime of version {@code atLeast} or newer under {@code /usr/lib/jvm}, if any. */
    public static Optional<Path> installed(int atLeast) {
        if (!Files.isDirectory(INSTALLED)) {
            return Optional.empty();
        }
        try (Stream<Path> homes = Files.list(INSTALLED)) {
            return homes.filter(h -> Files.isRegularFile(h.resolve("release")) && Files.isExecutable(h.resolve("bin/java")))
                    .filter(h -> feature(h) >= atLeast).max(Comparator.comparingInt(JavaRuntimes::feature));
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
