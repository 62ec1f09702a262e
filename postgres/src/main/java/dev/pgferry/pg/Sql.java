package dev.pgferry.pg;

/**
 * The one place where SQL identifiers are quoted. Values never go through here: they are bind parameters.
 * A database or table called {@code a"; DROP TABLE x; --} comes out as one harmless identifier.
 */
public final class Sql {
    private Sql() {
    }

    /** Quotes an identifier: wraps it in double quotes and doubles any quote inside. */
    public static String ident(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("identifier must not be empty");
        }
        if (name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("identifier must not contain a NUL character");
        }
        return '"' + name.replace("\"", "\"\"") + '"';
    }

    /** {@code "schema"."name"}. */
    public static String qualified(String schema, String name) {
        return ident(schema) + "." + ident(name);
    }

    /** A string literal, for the rare statements that take no bind parameters (e.g. COMMENT ON, ALTER ROLE ... PASSWORD). */
    public static String literal(String value) {
        if (value.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("literal must not contain a NUL character");
        }
        return "'" + value.replace("'", "''") + "'";
    }
}
