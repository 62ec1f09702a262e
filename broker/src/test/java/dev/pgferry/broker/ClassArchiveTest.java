package dev.pgferry.broker;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;

import static org.assertj.core.api.Assertions.assertThat;

class ClassArchiveTest {
    @TempDir
    Path dir;

    @Test
    void aRebuiltJarGetsANewArchive() throws Exception {
        Path jar = Files.writeString(dir.resolve("app.jar"), "v1");
        Path before = ClassArchive.archive(jar.toString());
        assertThat(ClassArchive.archive(jar.toString())).isEqualTo(before);

        Files.writeString(jar, "version 2");
        Files.setLastModifiedTime(jar, FileTime.fromMillis(1_000_000));

        assertThat(ClassArchive.archive(jar.toString())).isNotEqualTo(before);
        assertThat(before.getFileName().toString()).matches("broker-[0-9a-f]{16}\\.jsa");
    }

    @Test
    void theFirstJvmWritesTheArchiveLaterOnesUseIt() throws Exception {
        Path archive = dir.resolve("cds").resolve("broker-0123456789abcdef01234567.jsa");
        Path pending = ClassArchive.pending(archive);
        assertThat(ClassArchive.jvmOptions(archive, pending)).containsExactly("-XX:ArchiveClassesAtExit=" + pending);

        // When that JVM has exited and written its archive
        Files.writeString(pending, "archive bytes");
        ClassArchive.publish(pending, archive, p -> true);

        assertThat(archive).hasContent("archive bytes");
        assertThat(pending).doesNotExist();
        assertThat(ClassArchive.jvmOptions(archive, ClassArchive.pending(archive)))
                .containsExactly("-XX:SharedArchiveFile=" + archive, "-Xshare:auto");
    }

    @Test
    void aJvmThatWroteNothingPublishesNothingAndNoPlaceToWriteMeansNoOptions() throws Exception {
        Path archive = dir.resolve("cds").resolve("broker-aa.jsa");
        Path pending = ClassArchive.pending(archive);
        ClassArchive.publish(pending, archive, p -> true);
        assertThat(archive).doesNotExist();

        Path blocked = Files.writeString(dir.resolve("file"), "not a directory").resolve("cds").resolve("broker-bb.jsa");
        assertThat(ClassArchive.pending(blocked)).isNull();
        assertThat(ClassArchive.jvmOptions(blocked, null)).isEmpty();
    }

    @Test
    void anArchiveAJvmCannotMapIsNotPublishedAndACompleteOneIs() throws Exception {
        // A real archive, written by a JVM as it exits, and the same archive cut short (a JVM killed while writing it)
        Path classPath = Files.createDirectories(dir.resolve("classes"));
        Path written = dir.resolve("written.jsa");
        Process jvm = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:ArchiveClassesAtExit=" + written, "-cp", classPath.toString(), "-version")
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertThat(jvm.waitFor()).isZero();
        byte[] bytes = Files.readAllBytes(written);
        Path archive = dir.resolve("cds").resolve("broker-" + "c".repeat(24) + ".jsa");

        Path cut = ClassArchive.pending(archive);
        Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        assertThat(ClassArchive.usable(cut, classPath.toString())).isFalse();
        ClassArchive.publish(cut, archive, classPath.toString());
        assertThat(archive).doesNotExist();
        assertThat(cut).doesNotExist();

        Path whole = ClassArchive.pending(archive);
        Files.write(whole, bytes);
        ClassArchive.publish(whole, archive, classPath.toString());
        assertThat(archive).hasBinaryContent(bytes);
    }

    @Test
    void onlyTheNewestArchivesAreKept() throws Exception {
        Path cds = Files.createDirectories(dir.resolve("cds"));
        for (int i = 0; i < 4; i++) {
            Path old = Files.writeString(cds.resolve("broker-" + "0".repeat(23) + i + ".jsa"), "x");
            Files.setLastModifiedTime(old, FileTime.fromMillis(1_000_000L * (i + 1)));
        }
        Path archive = cds.resolve("broker-" + "f".repeat(24) + ".jsa");
        Path pending = ClassArchive.pending(archive);
        Files.writeString(pending, "new");

        ClassArchive.publish(pending, archive, p -> true);

        try (var files = Files.list(cds)) {
            assertThat(files.map(f -> f.getFileName().toString())).containsExactlyInAnyOrder(
                    "broker-" + "f".repeat(24) + ".jsa", "broker-" + "0".repeat(23) + "3.jsa", "broker-" + "0".repeat(23) + "2.jsa");
        }
    }
}
