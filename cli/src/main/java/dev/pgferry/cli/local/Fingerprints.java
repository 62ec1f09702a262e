package dev.pgferry.cli.local;

import dev.pgferry.pg.Sql;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Row count and an order-independent content hash of every table holding rows (leaf partitions included):
 * {@code schema.table -> "rows:md5"}. Equal maps on source and target mean the same rows arrived. Stateless.
 */
public final class Fingerprints {
    private Fingerprints() {
    }

    public static Map<String, String> of(LocalPostgres pg, String db) throws SQLException {
        Map<String, String> out = new LinkedHashMap<>();
        try (Connection c = SampleData.connect(pg, db)) {
            List<String[]> tables = new ArrayList<>();
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT n.nspname, c.relname"
                    + " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r'"
                    + " AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2")) {
                while (rs.next()) {
                    tables.add(new String[]{rs.getString(1), rs.getString(2)});
                }
            }
            for (String[] t : tables) {
                try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                        "SELECT count(*) || ':' || md5(coalesce(string_agg(h, '' ORDER BY h), '')) FROM"
                                + " (SELECT md5(t::text) h FROM ONLY " + Sql.qualified(t[0], t[1]) + " t) s")) {
                    rs.next();
                    out.put(t[0] + "." + t[1], rs.getString(1));
                }
            }
        }
        return out;
    }
}
