package dev.pgferry.worker.schema;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.PgConnector;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Restores chosen objects of a source database's schema on the target as pg_dump writes them, with their owner,
 * privileges, comments and security labels: a schema-only dump in pg_dump's custom format, its table of contents
 * ({@code pg_restore --list}), and in it each object's entry, found by its catalog and object id, with the ACL,
 * COMMENT and SECURITY LABEL entries of that object; those are restored in the dump's order, in one transaction
 * ({@code pg_restore --use-list --single-transaction}). For objects pg_dump cannot select by itself (a function, a
 * type). Stateless.
 */
public final class DumpSelection {
    /** What a table-of-contents entry describes, for the objects chosen here; longest first. */
    private static final List<String> KINDS = List.of("MATERIALIZED VIEW", "PROCEDURE", "FUNCTION", "SEQUENCE", "DOMAIN",
            "VIEW", "TYPE");
    /** An entry of {@code pg_restore --list}: dump id, catalog id, object id, and the rest. */
    private static final Pattern ENTRY = Pattern.compile("^(\\d+); (\\d+) (\\d+) (.*)$");

    /**
     * One object to restore: its catalog's oid ({@code pg_proc}, {@code pg_class}, {@code pg_type}), its oid on the
     * source, its schema and owner as the source's catalog names them, and its name as its privileges and comments
     * are listed under ({@code quote_ident} of it; for a function with its arguments as
     * {@code pg_get_function_identity_arguments} prints them): the list names the object itself otherwise (unquoted,
     * a function with its argument types alone).
     */
    public record Wanted(long classId, long oid, String schema, String owner, String describedAs) {
    }

    private DumpSelection() {
    }

    /**
     * The lines of {@code toc} (a {@code pg_restore --list}) that restore {@code wanted}, in the list's order; a wanted
     * object missing from it is left out (it is gone from the source).
     */
    static List<String> choose(List<String> toc, List<Wanted> wanted) {
        List<String> tags = new ArrayList<>();
        List<String> out = new ArrayList<>();
        for (String line : toc) {
            Matcher m = ENTRY.matcher(line);
            if (!m.matches() || "0".equals(m.group(2))) {
                continue;
            }
            for (Wanted w : wanted) {
                if (w.classId() == Long.parseLong(m.group(2)) && w.oid() == Long.parseLong(m.group(3))) {
                    String tag = tag(m.group(4), w);
                    if (tag != null) {
                        tags.add(w.schema() + "\0" + tag + "\0" + w.owner());
                        tags.add(w.schema() + "\0" + w.describedAs() + "\0" + w.owner());
                        out.add(line);
                    }
                }
            }
        }
        if (out.isEmpty()) {
            return out;
        }
        List<String> chosen = new ArrayList<>();
        for (String line : toc) {
            Matcher m = ENTRY.matcher(line);
            if (!m.matches()) {
                continue;
            }
            if (out.contains(line) || ("0".equals(m.group(2)) && describes(m.group(4), tags))) {
                chosen.add(line);
            }
        }
        return chosen;
    }

    /** The entry's tag (its name as the list shows it) when {@code rest} is the entry of {@code w}, else null. */
    private static String tag(String rest, Wanted w) {
        for (String kind : KINDS) {
            String head = kind + " " + w.schema() + " ";
            String tail = " " + w.owner();
            if (rest.startsWith(head) && rest.endsWith(tail) && rest.length() > head.length() + tail.length()) {
                return rest.substring(head.length(), rest.length() - tail.length());
            }
        }
        return null;
    }

    /** Whether {@code rest} is an ACL, COMMENT or SECURITY LABEL entry of one of the objects {@code tags} names. */
    private static boolean describes(String rest, List<String> tags) {
        for (String desc : List.of("ACL ", "COMMENT ", "SECURITY LABEL ")) {
            if (!rest.startsWith(desc)) {
                continue;
            }
            for (String t : tags) {
                String[] parts = t.split("\0", -1);
                String head = desc + parts[0] + " ";
                String tail = " " + parts[1] + " " + parts[2];
                // between them, one word: what the object is (FUNCTION, TABLE for a view's privileges, ...)
                if (rest.startsWith(head) && rest.endsWith(tail) && rest.length() > head.length() + tail.length()
                        && !rest.substring(head.length(), rest.length() - tail.length()).contains(" ")) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Restores {@code wanted} from {@code source}'s database {@code dbname} into the target's, with {@code targetEnv}
     * as pg_restore's environment; returns the entries restored (none when the source has none of them any more).
     */
    public static List<String> restore(PgConnector source, String dbname, List<Wanted> wanted,
                                       Map<String, String> targetEnv) {
        Path dump = null;
        Path list = null;
        try {
            dump = Files.createTempFile("pgferry-objects-", ".dump");
            list = Files.createTempFile("pgferry-objects-", ".list");
            PgTool.run("pg_dump", List.of("--schema-only", "--format=custom", "--file=" + dump),
                    source.libpqEnv(dbname), ErrorCode.SCHEMA_DUMP_FAILED, "dumping the schema of source database " + dbname);
            PgTool.Result listed = PgTool.exec("pg_restore", List.of("--list", dump.toString()), Map.of(),
                    ErrorCode.SCHEMA_DUMP_FAILED, "listing the schema of source database " + dbname, list);
            if (listed.exitCode() != 0) {
                throw new MigrationException(ErrorCode.SCHEMA_DUMP_FAILED, "listing the schema of source database "
                        + dbname + " failed: " + PgTool.tail(listed.stderr()));
            }
            List<String> chosen = choose(Files.readAllLines(list, StandardCharsets.UTF_8), wanted);
            if (chosen.isEmpty()) {
                return chosen;
            }
            Files.write(list, chosen, StandardCharsets.UTF_8);
            PgTool.run("pg_restore", List.of("--dbname=" + SchemaCopier.conninfoDbname(dbname), "--exit-on-error",
                    "--single-transaction", "--use-list=" + list, dump.toString()), targetEnv,
                    ErrorCode.SCHEMA_RESTORE_FAILED, "creating objects of the source in target database " + dbname);
            return chosen;
        } catch (IOException e) {
            throw new MigrationException(ErrorCode.INTERNAL, null, "temporary file for objects of " + dbname + ": "
                    + e.getMessage(), false, e);
        } finally {
            for (Path p : new Path[] {dump, list}) {
                if (p != null) {
                    try {
                        Files.deleteIfExists(p);
                    } catch (IOException ignored) {
                        // a temp file
                    }
                }
            }
        }
    }
}
