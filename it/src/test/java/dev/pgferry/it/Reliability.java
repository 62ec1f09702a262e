package dev.pgferry.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The fault-injection suite's own record of what it injected and what came of it: each fault or bad-input test
 * calls {@link #record} with values it measured (rows compared on both servers). At the end of the test JVM the
 * rows are written to {@code target/RELIABILITY.md}; the repository's RELIABILITY.md is a copy of it.
 */
final class Reliability {
    private static final List<String> ROWS = new ArrayList<>();
    private static final Path OUT = Path.of("target", "RELIABILITY.md");

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(Reliability::write));
    }

    private Reliability() {
    }

    /**
     * @param fault    what was injected
     * @param outcome  what happened (survived / failed with the expected error ...)
     * @param source   rows per table on the source ({@code null}: no data compared)
     * @param target   rows per table on the target after the run
     */
    static synchronized void record(String fault, String outcome, Map<String, Long> source, Map<String, Long> target) {
        long lost = 0;
        long duplicated = 0;
        if (source != null) {
            for (var e : source.entrySet()) {
                long t = target.getOrDefault(e.getKey(), 0L);
                lost += Math.max(0, e.getValue() - t);
                duplicated += Math.max(0, t - e.getValue());
            }
        }
        ROWS.add("| " + fault + " | " + outcome + " | " + (source == null ? "n/a" : Long.toString(lost)) + " | "
                + (source == null ? "n/a" : Long.toString(duplicated)) + " |");
    }

    /** Rows per table, from the fingerprints ("rows:hash"). */
    static Map<String, Long> rows(Map<String, String> fingerprints) {
        Map<String, Long> out = new java.util.TreeMap<>();
        fingerprints.forEach((table, fp) -> out.put(table, Long.parseLong(fp.substring(0, fp.indexOf(':')))));
        return out;
    }

    /**
     * Writes this JVM's rows to a file of its own, then {@code RELIABILITY.md} from the rows of every test JVM (the
     * suite runs in two, then the secret hunt in a third): the last to end writes the whole table. The hunt's JVM
     * ({@code pgferry.lastJvm}, set in it/pom.xml) deletes the row files after it, so that a next run starts afresh.
     */
    private static synchronized void write() {
        try {
            Files.createDirectories(OUT.getParent());
            Files.write(OUT.getParent().resolve("reliability-rows-" + ProcessHandle.current().pid() + ".txt"), ROWS);
            java.util.SortedSet<String> all = new java.util.TreeSet<>();
            List<Path> rowFiles;
            try (var files = Files.list(OUT.getParent())) {
                rowFiles = files.filter(f -> f.getFileName().toString().startsWith("reliability-rows-")).toList();
            }
            for (Path f : rowFiles) {
                all.addAll(Files.readAllLines(f));
            }
            if (!all.isEmpty()) {
                StringBuilder md = new StringBuilder("# Reliability\n\nWritten by the integration suite (`mvn -B verify`, module `it`)"
                        + " from its own results: every injected fault and bad input, what happened, and the rows lost or"
                        + " duplicated as counted on the source and target after the run.\n\n"
                        + "| fault or bad input | outcome | rows lost | rows duplicated |\n|---|---|---|---|\n");
                all.forEach(r -> md.append(r).append('\n'));
                Files.writeString(OUT, md, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING);
            }
            if (Boolean.getBoolean("pgferry.lastJvm")) {
                for (Path f : rowFiles) {
                    Files.deleteIfExists(f);
                }
            }
        } catch (IOException e) {
            System.err.println("cannot write " + OUT + ": " + e);
        }
    }
}
