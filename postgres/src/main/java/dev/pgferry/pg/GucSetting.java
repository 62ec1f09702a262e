package dev.pgferry.pg;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * One stored setting of {@code pg_db_role_setting.setconfig} ({@code name=value}), turned back into the SQL that
 * sets it, as pg_dump does. PostgreSQL stores a list-valued setting such as {@code search_path} flattened
 * ({@code app, public}, {@code "$user", public}); set again as one literal it would become a single schema
 * named {@code "app, public"}. Those settings are split into their elements (double-quoted elements unquoted)
 * and each element is given as its own literal. Immutable.
 */
public record GucSetting(String name, String value) {
    /** Settings whose value is a list PostgreSQL flattens (pg_dump's {@code variable_is_guc_list_quote}). */
    private static final Set<String> LIST_QUOTED = Set.of("local_preload_libraries", "search_path",
            "session_preload_libraries", "shared_preload_libraries", "temp_tablespaces", "unix_socket_directories");

    /** Parses one {@code setconfig} element. */
    public static GucSetting parse(String stored) {
        int eq = stored.indexOf('=');
        if (eq <= 0) {
            throw new IllegalArgumentException("not a stored setting: " + stored);
        }
        return new GucSetting(stored.substring(0, eq), stored.substring(eq + 1));
    }

    /** {@code "name" TO 'v1', 'v2'}: what follows {@code SET} in ALTER ROLE / ALTER DATABASE. */
    public String toSql() {
        if (LIST_QUOTED.contains(name.toLowerCase(Locale.ROOT))) {
            Optional<List<String>> elements = splitList(value);
            if (elements.isPresent()) {
                List<String> literals = elements.get().stream().map(Sql::literal).toList();
                return Sql.ident(name) + " TO " + (literals.isEmpty() ? "''" : String.join(", ", literals));
            }
        }
        return Sql.ident(name) + " TO " + Sql.literal(value);
    }

    /**
     * Splits a flattened list as PostgreSQL's {@code SplitGUCList} does: comma-separated, surrounding blanks
     * dropped, {@code "..."} quoting with {@code ""} for a quote; empty when the text is not such a list.
     */
    static Optional<List<String>> splitList(String raw) {
        List<String> out = new ArrayList<>();
        int i = skipBlanks(raw, 0);
        if (i == raw.length()) {
            return Optional.of(out);
        }
        while (true) {
            StringBuilder element = new StringBuilder();
            if (raw.charAt(i) == '"') {
                i++;
                while (true) {
                    int q = raw.indexOf('"', i);
                    if (q < 0) {
                        return Optional.empty();
                    }
                    element.append(raw, i, q);
                    if (q + 1 < raw.length() && raw.charAt(q + 1) == '"') {
                        element.append('"');
                        i = q + 2;
                    } else {
                        i = q + 1;
                        break;
                    }
                }
            } else {
                int start = i;
                while (i < raw.length() && raw.charAt(i) != ',' && !Character.isWhitespace(raw.charAt(i))) {
                    i++;
                }
                if (i == start) {
                    return Optional.empty();
                }
                element.append(raw, start, i);
            }
            out.add(element.toString());
            i = skipBlanks(raw, i);
            if (i == raw.length()) {
                return Optional.of(out);
            }
            if (raw.charAt(i) != ',') {
                return Optional.empty();
            }
            i = skipBlanks(raw, i + 1);
        }
    }

    private static int skipBlanks(String s, int i) {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        return i;
    }
}
