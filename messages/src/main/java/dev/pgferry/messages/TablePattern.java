package dev.pgferry.messages;

import java.util.ArrayList;
import java.util.List;

/**
 * A table named in {@code skip_tables} or {@code with_tables}: {@code table}, {@code schema.table} or
 * {@code db.schema.table}. Parts are compared exactly (no case folding); a part that contains a dot is written
 * in double quotes, with {@code ""} for a quote inside it. A missing part matches anything.
 */
public record TablePattern(String dbname, String schema, String table) {

    public TablePattern {
        if (table == null || table.isEmpty()) {
            throw new IllegalArgumentException("table pattern needs a table name");
        }
    }

    /** Parses the wire form; throws {@link IllegalArgumentException} with the offending text. */
    public static TablePattern parse(String text) {
        List<String> parts = splitParts(text);
        return switch (parts.size()) {
            case 1 -> new TablePattern(null, null, parts.get(0));
            case 2 -> new TablePattern(null, parts.get(0), parts.get(1));
            case 3 -> new TablePattern(parts.get(0), parts.get(1), parts.get(2));
            default -> throw new IllegalArgumentException("table pattern '" + text
                    + "' must be table, schema.table or db.schema.table");
        };
    }

    private static List<String> splitParts(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("table pattern must not be empty");
        }
        List<String> parts = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"') {
                if (quoted && i + 1 < text.length() && text.charAt(i + 1) == '"') {
                    current.append('"');
                    i++;
                } else {
                    quoted = !quoted;
                }
            } else if (c == '.' && !quoted) {
                parts.add(current.toString());
                current.setLength(0);
            } else {
                current.append(c);
            }
        }
        if (quoted) {
            throw new IllegalArgumentException("table pattern '" + text + "' has an unclosed quote");
        }
        parts.add(current.toString());
        if (parts.stream().anyMatch(String::isEmpty)) {
            throw new IllegalArgumentException("table pattern '" + text + "' has an empty part");
        }
        return parts;
    }

    /** Whether this pattern names the given table of the given database. */
    public boolean matches(String db, String schemaName, String tableName) {
        return (dbname == null || dbname.equals(db))
                && (schema == null || schema.equals(schemaName))
                && table.equals(tableName);
    }
}
