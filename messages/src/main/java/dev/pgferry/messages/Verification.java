package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/**
 * What {@code pgferry verify} found for one database: a verdict, the checks of everything but table rows
 * (database properties, roles, schema, sequences, large objects, materialized views) and one line per table.
 * Immutable.
 *
 * @param result   {@code match} when every check and table matches; {@code differs} when any differs;
 *                 {@code error} when the verification itself failed ({@code error} says why)
 * @param tablesMatching tables that matched but are not listed in {@code tables} (a long list is cut to the
 *                 tables that did not match, so that the event stays small)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Verification(
        @JsonProperty("result") Result result,
        @JsonProperty("checks") List<Check> checks,
        @JsonProperty("tables") List<TableCheck> tables,
        @JsonProperty("tables_matching") Integer tablesMatching,
        @JsonProperty("seconds") Double seconds,
        @JsonProperty("error") String error) {

    public Verification {
        checks = List.copyOf(checks == null ? List.of() : checks);
        tables = List.copyOf(tables == null ? List.of() : tables);
    }

    /** A verdict. {@code not_comparable}: the item cannot be compared (the reason says why); not a difference. */
    public enum Result {
        MATCH, DIFFERS, NOT_COMPARABLE, ERROR;

        @com.fasterxml.jackson.annotation.JsonValue
        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        @com.fasterxml.jackson.annotation.JsonCreator
        public static Result parse(String s) {
            return valueOf(s.toUpperCase(java.util.Locale.ROOT));
        }
    }

    /** One check of something other than a table's rows; {@code details} lists the differences (or the reason). */
    @JsonInclude(JsonInclude.Include.NON_EMPTY)
    public record Check(@JsonProperty("name") String name, @JsonProperty("result") Result result,
                        @JsonProperty("details") List<String> details) {
        public Check {
            details = List.copyOf(details == null ? List.of() : details);
        }
    }

    /**
     * One table: row counts on both sides, and for a table that differs up to 10 keys of rows that are missing,
     * extra or changed on the target ({@code sample_keys}); {@code reason} says why a table is not comparable.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record TableCheck(@JsonProperty("table") String table, @JsonProperty("result") Result result,
                             @JsonProperty("rows_source") Long rowsSource, @JsonProperty("rows_target") Long rowsTarget,
                             @JsonProperty("sample_keys") List<String> sampleKeys,
                             @JsonProperty("reason") String reason) {
    }
}
