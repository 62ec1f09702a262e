package dev.pgferry.broker;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

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
        assertThat(ClassArchive.jvmOptions(ClassArchive.Kind.CDS, archive, pending)).containsExactly("-XX:ArchiveClassesAtExit=" + pending);

        // When that JVM has exited and written its archive
        Files.writeString(pending, "archive bytes");
        ClassArchive.publish(pending, archive, p -> true);

        assertThat(archive).hasContent("archive bytes");
        assertThat(pending).doesNotExist();
        assertThat(ClassArchive.jvmOptions(ClassArchive.Kind.CDS, archive, ClassArchive.pending(archive)))
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
        // (and what two brokers wrote that no start published: one two days ago, one still being written)
        Path left = Files.writeString(cds.resolve("broker-" + "1".repeat(16) + ".aot.4242.1.tmp"), "left");
        Files.setLastModifiedTime(left, FileTime.fromMillis(System.currentTimeMillis() - 2 * 86_400_000L));
        Path writing = Files.writeString(cds.resolve("broker-" + "2".repeat(16) + ".jsa.4343.1.tmp"), "writing");
        Path archive = cds.resolve("broker-" + "f".repeat(24) + ".jsa");
        Path pending = ClassArchive.pending(archive);
        Files.writeString(pending, "new");

        ClassArchive.publish(pending, archive, p -> true);

        try (var files = Files.list(cds)) {
            assertThat(files.map(f -> f.getFileName().toString())).containsExactlyInAnyOrder(
                    "broker-" + "f".repeat(24) + ".jsa", "broker-" + "0".repeat(23) + "3.jsa", "broker-" + "0".repeat(23) + "2.jsa",
                    writing.getFileName().toString());
        }
    }

    @Test
    void theRuntimeChoosesTheKindJava25AndNewerAnAheadOfTimeCache() throws Exception {
        Path java25 = Files.createDirectories(dir.resolve("jdk-25"));
        Files.writeString(java25.resolve("release"), "IMPLEMENTOR=\"Eclipse Adoptium\"\nJAVA_VERSION=\"25.0.3\"\n");
        Path java17 = Files.createDirectories(dir.resolve("jdk-17"));
        Files.writeString(java17.resolve("release"), "JAVA_VERSION=\"17.0.15\"\n");
        Path jar = Files.writeString(dir.resolve("app.jar"), "v1");

        assertThat(ClassArchive.Kind.of(java25)).isEqualTo(ClassArchive.Kind.AOT);
        assertThat(ClassArchive.Kind.of(java17)).isEqualTo(ClassArchive.Kind.CDS);
        assertThat(ClassArchive.Kind.of(dir.resolve("no-such-runtime"))).isEqualTo(ClassArchive.Kind.CDS);
        assertThat(ClassArchive.Kind.of(Path.of(System.getProperty("java.home"))))
                .isEqualTo(Runtime.version().feature() >= 25 ? ClassArchive.Kind.AOT : ClassArchive.Kind.CDS);
        assertThat(ClassArchive.archive(jar.toString(), java25).getFileName().toString()).matches("broker-[0-9a-f]{16}\\.aot");
        assertThat(ClassArchive.archive(jar.toString(), java17).getFileName().toString()).matches("broker-[0-9a-f]{16}\\.jsa");
        assertThat(ClassArchive.archive(jar.toString(), java17).getFileName())
                .as("each runtime its own").isNotEqualTo(ClassArchive.archive(jar.toString()).getFileName());

        Path archive = dir.resolve("cds").resolve("broker-" + "a".repeat(16) + ".aot");
        Path pending = ClassArchive.pending(archive);
        java.util.List<String> first = ClassArchive.jvmOptions(ClassArchive.Kind.AOT, archive, pending);
        assertThat(first).containsExactly("-XX:AOTCacheOutput=" + pending);
        assertThat(ClassArchive.writes(first)).isTrue();
        Files.writeString(pending, "cache bytes");
        Files.writeString(pending.resolveSibling(pending.getFileName() + ".config"), "the recording");
        ClassArchive.publish(pending, archive, p -> true);
        java.util.List<String> next = ClassArchive.jvmOptions(ClassArchive.Kind.AOT, archive, ClassArchive.pending(archive));
        assertThat(next).containsExactly("-XX:AOTCache=" + archive);
        assertThat(ClassArchive.writes(next)).isFalse();
        try (var files = Files.list(archive.getParent())) {
            assertThat(files.map(f -> f.getFileName().toString())).containsExactly(archive.getFileName().toString());
        }
    }

    @Test
    void aJava25CacheAJvmCannotMapIsNotPublishedAndACompleteOneIs() throws Exception {
        Path java25 = JavaRuntimes.installed(25).orElse(null);
        assumeTrue(java25 != null, "no Java 25 or newer under /usr/lib/jvm");
        // A real cache, recorded and written by a JVM of that runtime as it exits, and the same cache cut short
        Path jar = Path.of(org.junit.jupiter.api.Test.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path archive = dir.resolve("cds").resolve("broker-" + "d".repeat(16) + ".aot");
        Path written = ClassArchive.pending(archive);
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(java25.resolve("bin/java").toString()));
        cmd.addAll(ClassArchive.jvmOptions(ClassArchive.Kind.of(java25), archive, written));
        cmd.addAll(java.util.List.of("-cp", jar.toString(), "-version"));
        Process jvm = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertThat(jvm.waitFor()).isZero();
        byte[] bytes = Files.readAllBytes(written);
        Files.delete(written);

        Path cut = ClassArchive.pending(archive);
        Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        assertThat(ClassArchive.usable(cut, java25, jar.toString())).isFalse();
        ClassArchive.publish(cut, archive, java25, jar.toString());
        assertThat(archive).doesNotExist();
        assertThat(cut).doesNotExist();

        Path whole = ClassArchive.pending(archive);
        Files.write(whole, bytes);
        ClassArchive.publish(whole, archive, java25, jar.toString());
        assertThat(archive).hasBinaryContent(bytes);
    }
}
