package dev.pgferry.worker.schema;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.Sql;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The extensions of a source database, against what the target user may create. The schema's restore runs {@code
 * CREATE EXTENSION IF NOT EXISTS} and {@code COMMENT ON EXTENSION} for each, as pg_dump writes them. A user that is
 * not a superuser may create an extension only where its control file allows it ({@code superuser = false}, or from
 * PostgreSQL 13 {@code trusted = true}) or where the target's allow-list names it (pgextwlist's {@code
 * extwlist.extensions}, as managed services use; it also runs the comment as a superuser). Read before anything is
 * touched, so that a database that would fail in its restore fails first, saying what to do. An extension already in
 * a target database the user made is used as it is: its {@code CREATE} does nothing, and its comment is the target's
 * (only the extension's owner may set it, and the restore's would be refused). Stateless.
 */
public final class Extensions {
    private Extensions() {
    }

    /** The extensions of the connected database but plpgsql (every database has it), by name, with their comments. */
    public static Map<String, String> of(Connection c) throws SQLException {
        Map<String, String> out = new LinkedHashMap<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT e.extname,"
                + " pg_catalog.obj_description(e.oid, 'pg_extension') FROM pg_catalog.pg_extension e"
                + " WHERE e.extname <> 'plpgsql' ORDER BY 1")) {
            while (rs.next()) {
                out.put(rs.getString(1), rs.getString(2));
            }
        }
        return out;
    }

    /**
     * Of {@code names}, those the target server lacks ({@code missing}) and those only a superuser may create there
     * while the target user is none ({@code superuserOnly}). {@code target}: any session of the target server.
     */
    public record Refused(List<String> missing, List<String> superuserOnly) {
        public boolean none() {
            return missing.isEmpty() && superuserOnly.isEmpty();
        }
    }

    public static Refused refused(Connection target, List<String> names) throws SQLException {
        List<String> missing = new ArrayList<>();
        List<String> superuserOnly = new ArrayList<>();
        if (names.isEmpty()) {
            return new Refused(missing, superuserOnly);
        }
        boolean superuser = ServerCatalog.isSuperuser(target);
        String trusted = ServerCatalog.majorVersion(target) >= 13 ? "v.trusted" : "false";
        try (PreparedStatement ps = target.prepareStatement("SELECT w.name, a.name IS NOT NULL,"
                + " NOT coalesce(v.superuser, true) OR coalesce(" + trusted + ", false)"
                + " OR w.name = ANY (pg_catalog.string_to_array(pg_catalog.replace(coalesce(pg_catalog.current_setting("
                + "'extwlist.extensions', true), ''), ' ', ''), ','))"
                + " FROM pg_catalog.unnest(?::text[]) WITH ORDINALITY AS w(name, n)"
                + " LEFT JOIN pg_catalog.pg_available_extensions a ON a.name = w.name"
                + " LEFT JOIN pg_catalog.pg_available_extension_versions v ON v.name = a.name"
                + " AND v.version = a.default_version ORDER BY w.n")) {
            ps.setArray(1, target.createArrayOf("text", names.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (!rs.getBoolean(2)) {
                        missing.add(rs.getString(1));
                    } else if (!superuser && !rs.getBoolean(3)) {
                        superuserOnly.add(rs.getString(1));
                    }
                }
            }
        }
        return new Refused(missing, superuserOnly);
    }

    /**
     * Fails the migration of {@code db} before anything is touched when the target cannot create one of the source's
     * {@code extensions} that {@code inTarget} (those of a target database the user made; empty when pgferry creates
     * it) lacks.
     */
    public static void require(Connection target, String db, Map<String, String> extensions, Map<String, String> inTarget,
                               boolean databaseExists) throws SQLException {
        Refused refused = refused(target, extensions.keySet().stream().filter(e -> !inTarget.containsKey(e)).toList());
        if (!refused.missing().isEmpty()) {
            throw new MigrationException(ErrorCode.PRECONDITION_FAILED, missingMessage(db, refused.missing())
                    + "; nothing was changed on the target");
        }
        if (!refused.superuserOnly().isEmpty()) {
            throw new MigrationException(ErrorCode.PERMISSION_DENIED, superuserOnlyMessage(db, refused.superuserOnly(),
                    target.getMetaData().getUserName(), databaseExists) + "; nothing was changed on the target");
        }
    }

    /** Why a source database's extensions the target server lacks stop its migration, and what to do. */
    public static String missingMessage(String db, List<String> missing) {
        return "source database " + db + " uses extension(s) " + String.join(", ", missing) + ", which the target"
                + " server does not have: install them there (its packages, or the provider's list of extensions), or"
                + " leave the database out with --ignore-dbs";
    }

    /** Why extensions only a superuser may create stop the migration of {@code db}, and the ways around it. */
    public static String superuserOnlyMessage(String db, List<String> names, String user, boolean databaseExists) {
        String creates = names.stream().map(n -> "CREATE EXTENSION " + Sql.ident(n)).reduce((a, b) -> a + "; " + b)
                .orElseThrow();
        return "source database " + db + " uses extension(s) " + String.join(", ", names) + ", which only a superuser"
                + " may create on the target (not trusted extensions, nor on the target's extwlist.extensions), and the"
                + " target user " + user + " is not one: have a superuser of the target "
                + (databaseExists ? "run " + creates + " in database " + Sql.ident(db)
                : "run CREATE DATABASE " + Sql.ident(db) + " OWNER " + Sql.ident(user) + ", then " + creates + " in it")
                + " (pgferry migrates into an existing database that holds no tables, and uses its extensions), or"
                + " migrate as a superuser, or leave the database out with --ignore-dbs";
    }

    /**
     * What to say of the source's extensions that the user's target database already has: each keeps the target's
     * comment, and where that differs from the source's, a warning names both.
     */
    public static List<String> keptComments(Map<String, String> extensions, Map<String, String> inTarget) {
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, String> e : extensions.entrySet()) {
            if (inTarget.containsKey(e.getKey()) && !Objects.equals(e.getValue(), inTarget.get(e.getKey()))) {
                out.add("extension " + e.getKey() + " was already in the target database: it keeps its comment there ("
                        + (inTarget.get(e.getKey()) == null ? "none" : Sql.literal(inTarget.get(e.getKey())))
                        + "; on the source " + (e.getValue() == null ? "none" : Sql.literal(e.getValue()))
                        + "): only its owner may change it");
            }
        }
        return out;
    }
}
