package dev.pgferry.pg;

/**
 * SQL fragments shared by the catalog queries of several components, so that "a user's table" means the same
 * everywhere they are used. Each expects {@code pg_catalog.pg_class} as {@code c} and {@code pg_catalog.pg_namespace}
 * as {@code n}, and starts with a space.
 */
public final class CatalogSql {
    /** Not in a system schema: pg_catalog, information_schema, TOAST and temporary schemas. */
    public static final String NOT_SYSTEM = " n.nspname NOT IN ('pg_catalog', 'information_schema')"
            + " AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp'";
    /** Not a member of an extension ({@code CREATE EXTENSION} on the target provides those). */
    public static final String NOT_EXTENSION = " NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
            + " WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')";

    private CatalogSql() {
    }
}
