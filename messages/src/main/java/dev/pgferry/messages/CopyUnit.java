package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;
import java.util.Objects;

/**
 * One range of a large table, or a whole table, offered by the worker that migrates its database (the owner) to any
 * other worker: read under the owner's exported {@code snapshot} (importable only while the owner's attempt
 * {@code attempt} runs) and written in one target transaction. The range is given as numbers, never as SQL: heap
 * pages {@code [lower, upper)} when {@code key_column} is null, else values of that integer column; a null bound is
 * open, and a unit with neither bound is the whole table (part 0 of 1), which the copy truncates first. {@code index}
 * numbers the database's offered units from 0 ({@code count} in all), so that owner and helpers name each unit alike
 * (its advisory lock on the target and its ledger entry). {@code target_database_oid} names the target database the owner copies into:
 * a database of the same name made again since (by a later attempt) has another, and the unit is not copied there.
 * Immutable.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CopyUnit(
        @JsonProperty("snapshot") String snapshot,
        @JsonProperty("attempt") int attempt,
        @JsonProperty("index") int index,
        @JsonProperty("count") int count,
        @JsonProperty("schema") String schema,
        @JsonProperty("table") String table,
        @JsonProperty("columns") List<String> columns,
        @JsonProperty("key_column") String keyColumn,
        @JsonProperty("lower") Long lower,
        @JsonProperty("upper") Long upper,
        @JsonProperty("part") int part,
        @JsonProperty("parts") int parts,
        @JsonProperty("owner") String owner,
        @JsonProperty("target_database_oid") long targetDatabaseOid) {

    public CopyUnit {
        Objects.requireNonNull(snapshot, "snapshot is required");
        Objects.requireNonNull(schema, "schema is required");
        Objects.requireNonNull(table, "table is required");
        columns = List.copyOf(columns == null ? List.of() : columns);
        if (columns.isEmpty()) {
            throw new IllegalArgumentException("a copy unit needs the table's columns");
        }
        if (lower == null && upper == null && (part != 0 || parts != 1)) {
            throw new IllegalArgumentException("a copy unit without bounds is a whole table (part 0 of 1), not part "
                    + part + " of " + parts);
        }
        if (index < 0 || index >= count) {
            throw new IllegalArgumentException("unit index " + index + " is outside 0.." + (count - 1));
        }
    }
}
