package dev.pgferry.worker.database;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.worker.schema.PgTool;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The server-wide settings that change what applications see (how times, dates, numbers and bytea read, the time
 * zone, the text search configuration, the search path, timeouts), compared between source and target: they live
 * in each server's configuration, which no migration copies, and a move from a server on local time to a service
 * on UTC changes every {@code now()::date} without an error anywhere. Read with {@code psql}, because the JDBC
 * driver sets {@code TimeZone}, {@code DateStyle} and {@code extra_float_digits} for its own sessions and so hides
 * the server's. Values a database or role setting gives the connecting session are not the server's and are left
 * out (database settings are copied with their databases). Stateless.
 */
public final class ServerSettings {
    /** Compared by value; {@code max_connections} is compared apart (only fewer on the target matters). */
    static final List<String> COMPARED = List.of("TimeZone", "DateStyle", "IntervalStyle", "timezone_abbreviations",
            "extra_float_digits", "bytea_output", "standard_conforming_strings", "lc_monetary", "lc_numeric", "lc_time",
            "default_text_search_config", "search_path", "default_transaction_isolation", "statement_timeout",
            "lock_timeout", "idle_in_transaction_session_timeout");

    /** Where a value comes from when it is the server's own (pg_settings.source). */
    private static final Set<String> SERVER_SOURCES = Set.of("default", "configuration file", "command line",
            "environment variable", "override", "global");

    private ServerSettings() {
    }

    /** One value as the server gives it to a new session, and where it comes from. */
    record Value(String setting, String source) {
    }

    /**
     * One line per setting whose server value differs ({@code TimeZone: Europe/Berlin on the source, Etc/UTC on the
     * target}); empty when none does.
     */
    public static List<String> differences(PgConnector source, PgConnector target) {
        return differences(read(source), read(target));
    }

    static List<String> differences(Map<String, Value> source, Map<String, Value> target) {
        List<String> out = new ArrayList<>();
        for (String name : COMPARED) {
            Value s = source.get(name);
            Value t = target.get(name);
            if (s == null || t == null || !SERVER_SOURCES.contains(s.source()) || !SERVER_SOURCES.contains(t.source())) {
                continue;
            }
            if (!s.setting().equals(t.setting())) {
                out.add(name + ": " + s.setting() + " on the source, " + t.setting() + " on the target");
            }
        }
        Value s = source.get("max_connections");
        Value t = target.get("max_connections");
        if (s != null && t != null && Integer.parseInt(t.setting()) < Integer.parseInt(s.setting())) {
            out.add("max_connections: " + s.setting() + " on the source, " + t.setting() + " on the target (fewer"
                    + " sessions at once)");
        }
        return out;
    }

    /** The compared settings of a new libpq session on the server's bootstrap database. */
    static Map<String, Value> read(PgConnector server) {
        Path out = null;
        try {
            out = Files.createTempFile("pgferry-settings", ".txt");
            List<String> names = new ArrayList<>(COMPARED);
            names.add("max_connections");
            String sql = "SELECT name, current_setting(name), source FROM pg_catalog.pg_settings WHERE name IN ('"
                    + String.join("', '", names) + "') ORDER BY 1";
            PgTool.Result r = PgTool.exec("psql", List.of("--no-psqlrc", "--quiet", "--tuples-only", "--no-align",
                    "--field-separator=\t", "--set=ON_ERROR_STOP=1", "--command=" + sql),
                    server.libpqEnv(server.connection().dbname()), ErrorCode.INTERNAL, "reading the server settings", out);
            if (r.exitCode() != 0) {
                throw new MigrationException(ErrorCode.INTERNAL, "reading the server settings with psql: " + r.stderr());
            }
            Map<String, Value> values = new LinkedHashMap<>();
            for (String line : Files.readAllLines(out)) {
                String[] f = line.split("\t", -1);
                if (f.length == 3) {
                    values.put(f[0], new Value(f[1], f[2]));
                }
            }
            return values;
        } catch (IOException e) {
            throw new MigrationException(ErrorCode.INTERNAL, "reading the server settings: " + e.getMessage());
        } finally {
            if (out != null) {
                try {
                    Files.deleteIfExists(out);
                } catch (IOException ignored) {
                    // holds no secret
                }
            }
        }
    }

    /** What {@link #differences} means for the user, for the status and {@code pgferry check}. */
    public static String describe(List<String> differences) {
        return "server setting(s) that applications see differ, and no migration copies a server's configuration: "
                + String.join("; ", differences) + ". Set them on the target (ALTER SYSTEM, or the service's"
                + " configuration) where applications rely on the source's";
    }
}
