package dev.pgferry.it;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs alone after every other integration test (its own failsafe execution, see it/pom.xml) and searches
 * everything they left behind for a password: every Kafka segment file of every test JVM's broker (records are
 * stored as written: no producer of the suite compresses), every server, broker and process log in their work
 * directories, and the test JVMs' own logs. Every migration of the suite used the recognisable
 * {@link Infra#PASSWORD}. It then deletes those work directories.
 */
class SecretHuntIT {
    /** The password inside the raw request of FaultInjectionIT, which --raw publishes unchanged on purpose. */
    static final String RAW_SECRET = "Raw-Secret-4411";

    @Test
    void noPasswordIsInAnyTopicOrLog() throws Exception {
        List<Path> roots = new ArrayList<>(List.of(Path.of("target")));
        Path dirs = Path.of("target", "it-work-dirs");
        List<Path> markers = Files.isDirectory(dirs) ? Files.list(dirs).toList() : List.of();
        for (Path marker : markers) {
            Path work = Path.of(Files.readString(marker).trim());
            if (Files.isDirectory(work)) {
                roots.add(work);
            }
        }
        assertThat(roots).as("work directories of the test JVMs").hasSizeGreaterThan(1);
        int segments = 0;
        long segmentBytes = 0;
        int logs = 0;
        for (Path root : roots) {
            List<Path> files;
            try (var walk = Files.walk(root)) {
                files = walk.filter(p -> p.toString().endsWith(".log") && Files.isRegularFile(p)).toList();
            }
            for (Path log : files) {
                String text = Files.readString(log, StandardCharsets.ISO_8859_1);
                assertThat(text).as("%s", log).doesNotContain(Infra.PASSWORD);
                // The requests topic holds what users sent: a raw request's own bytes, and inline passwords of
                // requests that were then refused or sealed; nothing after it may.
                if (!log.toString().contains("pgferry.requests-")) {
                    assertThat(text).as("%s", log).doesNotContain(RAW_SECRET, SecretsByDefaultIT.INLINE, SecretsByDefaultIT.RAW_INLINE);
                }
                if (log.getParent().getFileName().toString().matches(".*pgferry\\..*-\\d+")) {
                    // a user mapping's password, which the target's server logs with the statement it refused
                    assertThat(text).as("%s", log).doesNotContain(SchemaCornerCasesIT.MAPPING_SECRET);
                    segments++;
                    segmentBytes += Files.size(log);
                } else {
                    logs++;
                }
            }
        }
        // Not vacuous: records were there to search (the whole suite leaves megabytes; one test class, kilobytes).
        assertThat(segments).as("Kafka segment files searched").isPositive();
        assertThat(segmentBytes).as("bytes of Kafka records searched").isGreaterThan(1_000);
        assertThat(logs).as("log files searched").isPositive();
        Reliability.record("secret hunt after the whole suite: " + segments + " Kafka segment files (" + segmentBytes / 1024
                        + " kB of records) and " + logs + " log files of " + (roots.size() - 1) + " test JVMs",
                "no password found (requests sealed with the shared key; the one --raw request is its own bytes)",
                null, null);

        if (!"1".equals(System.getenv("PGFERRY_KEEP_IT_WORK"))) {
            for (Path root : roots.subList(1, roots.size())) {
                try (var walk = Files.walk(root)) {
                    walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
            for (Path marker : markers) {
                Files.deleteIfExists(marker);
            }
        }
    }
}
