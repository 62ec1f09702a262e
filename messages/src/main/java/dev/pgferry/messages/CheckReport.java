package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonValue;

import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * What {@code pgferry check} found, changing nothing: for the servers and for each database a list of findings,
 * each a pass, a warning (the migration runs, but the user should know) or a blocker (it would fail), with what to
 * do. {@code verdict} is the worst finding. Immutable.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CheckReport(
        @JsonProperty("verdict") Verdict verdict,
        @JsonProperty("source") String source,
        @JsonProperty("target") String target,
        @JsonProperty("server") List<Finding> server,
        @JsonProperty("databases") List<DatabaseCheck> databases) {

    public CheckReport {
        server = List.copyOf(server);
        databases = List.copyOf(databases);
    }

    public static CheckReport of(String source, String target, List<Finding> server, List<DatabaseCheck> databases) {
        Verdict worst = Stream.concat(server.stream().map(Finding::verdict), databases.stream().map(DatabaseCheck::verdict))
                .max(Comparator.naturalOrder()).orElse(Verdict.PASS);
        return new CheckReport(worst, source, target, server, databases);
    }

    /** A verdict, from best to worst. */
    public enum Verdict {
        PASS, WARNING, BLOCKER;

        @JsonValue
        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }

        @JsonCreator
        public static Verdict parse(String s) {
            return valueOf(s.toUpperCase(Locale.ROOT));
        }
    }

    /** One finding: its verdict, what was checked ({@code check}) and what was found, with the fix. */
    public record Finding(@JsonProperty("verdict") Verdict verdict, @JsonProperty("check") String check,
                          @JsonProperty("message") String message) {
        public static Finding pass(String check, String message) {
            return new Finding(Verdict.PASS, check, message);
        }

        public static Finding warning(String check, String message) {
            return new Finding(Verdict.WARNING, check, message);
        }

        public static Finding blocker(String check, String message) {
            return new Finding(Verdict.BLOCKER, check, message);
        }
    }

    /**
     * One database: the method the migration would use, its size on the source and the rows its statistics expect,
     * the findings and their worst verdict.
     */
    public record DatabaseCheck(@JsonProperty("dbname") String dbname, @JsonProperty("verdict") Verdict verdict,
                                @JsonProperty("method") String method, @JsonProperty("size_bytes") long sizeBytes,
                                @JsonProperty("rows_estimate") long rowsEstimate,
                                @JsonProperty("estimated_seconds") Long estimatedSeconds,
                                @JsonProperty("estimated_ms") Long estimatedMs,
                                @JsonProperty("findings") List<Finding> findings) {
        public DatabaseCheck {
            findings = List.copyOf(findings);
        }

        /**
         * {@code estimatedSeconds}: a rough duration of the migration by one worker, at least 1; {@code estimatedMs}
         * the same unrounded, for sums over many small databases; both null when the database could not be read.
         */
        public static DatabaseCheck of(String dbname, String method, long sizeBytes, long rowsEstimate,
                                       Long estimatedSeconds, Long estimatedMs, List<Finding> findings) {
            return new DatabaseCheck(dbname, findings.stream().map(Finding::verdict).max(Comparator.naturalOrder())
                    .orElse(Verdict.PASS), method, sizeBytes, rowsEstimate, estimatedSeconds, estimatedMs, findings);
        }
    }
}
