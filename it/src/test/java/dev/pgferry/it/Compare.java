package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.cli.local.Fingerprints;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Reads what tests compare between source and target: per-table row count and order-independent content hash. */
final class Compare {
    private Compare() {
    }

    /** schema.table -> "rows:hash" for every table holding rows (leaf partitions included). */
    static Map<String, String> tableFingerprints(LocalPostgres pg, String db) throws SQLException {
        return Fingerprints.of(pg, db);
    }

    static List<String[]> query(LocalPostgres pg, String db, String sql) throws SQLException {
        try (Connection c = SampleData.connect(pg, db)) {
            return query(c, sql);
        }
    }

    static String scalar(LocalPostgres pg, String db, String sql) throws SQLException {
        List<String[]> rows = query(pg, db, sql);
        return rows.isEmpty() ? null : rows.get(0)[0];
    }

    static List<String[]> query(Connection c, String sql) throws SQLException {
        List<String[]> rows = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                String[] row = new String[n];
                for (int i = 0; i < n; i++) {
                    row[i] = rs.getString(i + 1);
                }
                rows.add(row);
            }
        }
        return rows;
    }

    static List<String> column(LocalPostgres pg, String db, String sql) throws SQLException {
        return query(pg, db, sql).stream().map(r -> r[0]).toList();
    }
}
