package dev.pgferry.pg;

/**
 * SQL fragments shared by the catalog queries of several components, so that "a user's table" (or a large object's
 * hash) means the same everywhere they are used. The table conditions expect {@code pg_catalog.pg_class} as
 * {@code c} and {@code pg_catalog.pg_namespace} as {@code n}, and start with a space.
 */
public final class CatalogSql {
    /** Not in a system schema: pg_catalog, information_schema, TOAST and temporary schemas. */
    public static final String NOT_SYSTEM = " n.nspname NOT IN ('pg_catalog', 'information_schema')"
            + " AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp'";
    /** Not a member of an extension ({@code CREATE EXTENSION} on the target provides those). */
    public static final String NOT_EXTENSION = notExtension("pg_class", "c.oid");

    /**
     * The object {@code oid} (a column or expression) of the system catalog {@code catalog} ({@code pg_class},
     * {@code pg_proc}, {@code pg_type}, ...) is not a member of an extension; starts with a space.
     */
    public static String notExtension(String catalog, String oid) {
        return " NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog." + catalog
                + "'::pg_catalog.regclass AND d.objid = " + oid + " AND d.deptype = 'e')";
    }

    /** Bytes of a large object read at once by {@link #largeObjectHash}. */
    static final int LARGE_OBJECT_CHUNK = 16 << 20;

    /**
     * A hash of the content of the large object {@code oid} (a column or expression), computed by the server: the md5
     * of an object up to {@value #LARGE_OBJECT_CHUNK} bytes, else the md5 of the md5s of its chunks of that size.
     * {@code lo_get} of a whole object fails past 1 GB (SQLSTATE 54000) and holds it in the server's memory; a
     * chunk at a time does neither. The same object gives the same hash on any server.
     */
    public static String largeObjectHash(String oid) {
        String chunk = String.valueOf(LARGE_OBJECT_CHUNK);
        return "CASE WHEN pg_catalog.length(pg_catalog.lo_get(" + oid + ", " + chunk + ", 1)) = 0"
                + " THEN pg_catalog.md5(pg_catalog.lo_get(" + oid + ")) ELSE (WITH RECURSIVE c(i, h, n) AS ("
                + " SELECT 0::bigint, pg_catalog.md5(f.d), pg_catalog.length(f.d)"
                + " FROM (SELECT pg_catalog.lo_get(" + oid + ", 0, " + chunk + ") AS d) f"
                + " UNION ALL SELECT c.i + 1, pg_catalog.md5(f.d), pg_catalog.length(f.d) FROM c,"
                + " LATERAL (SELECT pg_catalog.lo_get(" + oid + ", (c.i + 1) * " + chunk + ", " + chunk + ") AS d) f"
                + " WHERE c.n = " + chunk + ")"
                + " SELECT 'chunked:' || pg_catalog.md5(pg_catalog.string_agg(c.h, '' ORDER BY c.i)) FROM c) END";
    }

    private CatalogSql() {
    }
}
