package dev.pgferry.worker.verify;

import dev.pgferry.messages.Redaction;
import dev.pgferry.messages.ReplicationNames;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Compares two {@code pg_dump --schema-only} outputs after a normalization that drops only what says nothing
 * about the schema: comment lines (they hold the dump's version and the object's owner again), blank lines,
 * session settings ({@code SET ...;}, {@code set_config('search_path' ...)}), and psql meta-commands
 * ({@code \connect}, {@code \restrict}). Statements are compared as a multiset of lines, so a difference in order
 * alone (pg_dump sorts by name and dependencies, the same on both sides) is not one. The publications of pgferry's
 * own replications ({@link ReplicationNames}) are left out, and subscriptions are not dumped (pgferry's replication
 * makes one on the target, and the user's are not copied). While the database replicates, the triggers pgferry holds
 * disabled on the target read as the source's. Stateless.
 */
public final class SchemaDiff {
    private static final Pattern IGNORED = Pattern.compile(
            "^(--.*|\\s*|SET \\w+ = .*;|SELECT pg_catalog\\.set_config\\('search_path', '', false\\);|\\\\(connect|restrict|unrestrict)\\b.*"
            + "|(CREATE|ALTER) PUBLICATION " + ReplicationNames.NAME + " .*)$");

    private SchemaDiff() {
    }

    /** pg_dump's line for a disabled trigger: the table, and the trigger's name. */
    private static final Pattern DISABLED_TRIGGER = Pattern.compile("^ALTER TABLE (.+) DISABLE TRIGGER (.+);$");

    private static List<String> heldAsSource(List<String> source, List<String> target) {
        Set<String> enabled = new HashSet<>(source);
        List<String> out = new ArrayList<>(target.size());
        for (String line : target) {
            Matcher m = DISABLED_TRIGGER.matcher(line);
            String as = line;
            if (m.matches()) {
                for (String how : List.of("ENABLE ALWAYS", "ENABLE REPLICA")) {
                    String candidate = "ALTER TABLE " + m.group(1) + " " + how + " TRIGGER " + m.group(2) + ";";
                    if (enabled.contains(candidate)) {
                        as = candidate;
                    }
                }
            }
            out.add(as);
        }
        return out;
    }

    static boolean ignored(String line) {
        return IGNORED.matcher(line).matches();
    }

    /**
     * Lines only in the source's dump ({@code - line}) and only in the target's ({@code + line}), at most {@code max}
     * in all; empty when the schemas read the same.
     */
    public static List<String> differences(List<String> source, List<String> target, int max) {
        return differences(source, target, max, false);
    }

    /**
     * As {@link #differences(List, List, int)}; with {@code replicating} (pgferry's replication of the database still
     * runs), a trigger the target has disabled where the source has it enabled {@code ALWAYS} or {@code REPLICA} reads
     * as the source's: pgferry holds it so while the database replicates ({@code ReplicaTriggers}).
     */
    public static List<String> differences(List<String> source, List<String> target, int max, boolean replicating) {
        if (replicating) {
            target = heldAsSource(source, target);
        }
        Map<String, Integer> counts = new HashMap<>();
        source.stream().filter(l -> !ignored(l)).forEach(l -> counts.merge(l, 1, Integer::sum));
        target.stream().filter(l -> !ignored(l)).forEach(l -> counts.merge(l, -1, Integer::sum));
        List<String> out = new ArrayList<>();
        for (String l : source) {
            if (out.size() < max && counts.getOrDefault(l, 0) > 0) {
                out.add("- " + Redaction.sql(l));
                counts.merge(l, -1, Integer::sum);
            }
        }
        for (String l : target) {
            if (out.size() < max && counts.getOrDefault(l, 0) < 0) {
                out.add("+ " + Redaction.sql(l));
                counts.merge(l, 1, Integer::sum);
            }
        }
        return out;
    }
}
