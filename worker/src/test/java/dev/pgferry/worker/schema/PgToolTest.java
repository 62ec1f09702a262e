package dev.pgferry.worker.schema;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.assertj.core.api.Assertions.assertThat;

class PgToolTest {

    @TempDir
    Path dir;

    private Path executable(Path file) throws IOException {
        Files.createDirectories(file.getParent());
        Files.writeString(file, "#!/bin/sh\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
        return file;
    }

    /** PATH with an empty directory first, then one whose pg_dump links to {@code target}. */
    private String pathTo(Path target) throws IOException {
        Path bin = Files.createDirectories(dir.resolve("usr/bin"));
        Files.createSymbolicLink(bin.resolve("pg_dump"), target);
        return Files.createDirectories(dir.resolve("empty")) + ":" + bin;
    }

    @Test
    void pastDebiansWrapperRunsTheNewestVersionThatHasBothPrograms() throws IOException {
        Path wrapper = executable(dir.resolve("share/postgresql-common/pg_wrapper"));
        Path root = dir.resolve("lib/postgresql");
        for (String v : new String[] {"9.6", "12", "15"}) {
            executable(root.resolve(v + "/bin/pg_dump"));
            executable(root.resolve(v + "/bin/pg_restore"));
        }
        executable(root.resolve("17/bin/pg_dump"));   // a server package without pg_restore
        Files.createDirectories(root.resolve("common/bin"));

        assertThat(PgTool.wrappedClientDir(pathTo(wrapper), root)).contains(root.resolve("15/bin"));
    }

    @Test
    void aRealPgDumpOnThePathIsRunAsItIs() throws IOException {
        Path real = executable(dir.resolve("opt/pg/bin/pg_dump"));
        Path root = dir.resolve("lib/postgresql");
        executable(root.resolve("15/bin/pg_dump"));
        executable(root.resolve("15/bin/pg_restore"));

        assertThat(PgTool.wrappedClientDir(pathTo(real), root)).isEmpty();
        assertThat(PgTool.wrappedClientDir(dir.resolve("empty").toString(), root)).isEmpty();
        assertThat(PgTool.wrappedClientDir(null, root)).isEmpty();
    }

    @Test
    void theWrapperWithoutVersionDirectoriesIsRunAsItIs() throws IOException {
        Path wrapper = executable(dir.resolve("share/postgresql-common/pg_wrapper"));

        assertThat(PgTool.wrappedClientDir(pathTo(wrapper), dir.resolve("no/such/root"))).isEmpty();
    }
}
