package dev.pgferry.worker.copy;

import dev.pgferry.pg.Sql;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyOut;
import org.postgresql.largeobject.LargeObject;
import org.postgresql.largeobject.LargeObjectManager;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * Copies what is not table data: sequence positions, large-object contents, materialized-view population.
 * Each method takes a source connection reading the copy's snapshot and a target connection, and commits the
 * target itself. Stateless.
 */
public final class ObjectCopier {
    private static final int LO_CHUNK = 256 * 1024;

    private ObjectCopier() {
    }

    /** Sets every target sequence to the source's position; returns how many. */
    public static int copySequences(List<SourceCatalog.Sequence> sequences, Connection target) throws SQLException {
        target.setAutoCommit(false);
        try (PreparedStatement ps = target.prepareStatement("SELECT pg_catalog.setval(?::pg_catalog.regclass, ?, ?)")) {
            for (SourceCatalog.Sequence s : sequences) {
                ps.setString(1, Sql.qualified(s.schema(), s.name()));
                ps.setLong(2, s.lastValue());
                ps.setBoolean(3, s.isCalled());
                ps.executeQuery().close();
            }
        }
        target.commit();
        return sequences.size();
    }

    /**
     * Streams the contents of every large object; the objects themselves (oid, owner, grants) were created by the
     * pre-data restore. Memory is bounded by one chunk.
     */
    public static long copyLargeObjects(List<Long> oids, Connection source, Connection target) throws SQLException {
        target.setAutoCommit(false);
        LargeObjectManager in = source.unwrap(PGConnection.class).getLargeObjectAPI();
        LargeObjectManager out = target.unwrap(PGConnection.class).getLargeObjectAPI();
        long bytes = 0;
        byte[] buf = new byte[LO_CHUNK];
        for (long oid : oids) {
            ensureExists(target, oid);
            try (LargeObject src = in.open(oid, LargeObjectManager.READ);
                 LargeObject dst = out.open(oid, LargeObjectManager.WRITE)) {
                dst.truncate(0);
                int n;
                while ((n = src.read(buf, 0, buf.length)) > 0) {
                    dst.write(buf, 0, n);
                    bytes += n;
                }
            }
        }
        target.commit();
        return bytes;
    }

    private static void ensureExists(Connection target, long oid) throws SQLException {
        try (PreparedStatement ps = target.prepareStatement("SELECT pg_catalog.lo_create(?::pg_catalog.oid)"
                + " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata WHERE oid = ?::pg_catalog.oid)")) {
            ps.setLong(1, oid);
            ps.setLong(2, oid);
            ps.executeQuery().close();
        }
    }

    /** Refreshes materialized views that hold data on the source but not (yet) on the target. */
    public static int refreshMatViews(List<SourceCatalog.MatView> views, Connection target) throws SQLException {
        target.setAutoCommit(true);
        int refreshed = 0;
        for (SourceCatalog.MatView v : views) {
            if (!v.populated()) {
                continue;
            }
            boolean populated;
            try (PreparedStatement ps = target.prepareStatement("SELECT c.relispopulated FROM pg_catalog.pg_class c"
                    + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relname = ?")) {
                ps.setString(1, v.schema());
                ps.setString(2, v.name());
                try (ResultSet rs = ps.executeQuery()) {
                    populated = rs.next() && rs.getBoolean(1);
                }
            }
            if (!populated) {
                try (Statement s = target.createStatement()) {
                    s.execute("REFRESH MATERIALIZED VIEW " + Sql.qualified(v.schema(), v.name()));
                }
                refreshed++;
            }
        }
        return refreshed;
    }

    /**
     * Appends the user's rows of each extension configuration table (see {@link SourceCatalog.ConfigTable}) to the
     * rows {@code CREATE EXTENSION} gave the target, streaming one COPY into another in text form. The target
     * database is new for each attempt, so a retried copy never doubles them. Returns the rows copied.
     */
    public static long copyConfigRows(List<SourceCatalog.ConfigTable> tables, Connection source, Connection target)
            throws SQLException {
        target.setAutoCommit(false);
        long rows = 0;
        for (SourceCatalog.ConfigTable t : tables) {
            CopyOut reader = source.unwrap(PGConnection.class).getCopyAPI().copyOut("COPY (" + t.select() + ") TO STDOUT");
            CopyIn writer = null;
            try {
                writer = target.unwrap(PGConnection.class).getCopyAPI().copyIn("COPY " + t.qualifiedName() + " ("
                        + String.join(", ", t.columns().stream().map(Sql::ident).toList()) + ") FROM STDIN");
                byte[] chunk;
                while ((chunk = reader.readFromCopy()) != null) {
                    writer.writeToCopy(chunk, 0, chunk.length);
                }
                rows += writer.endCopy();
                writer = null;
            } finally {
                if (reader.isActive()) {
                    reader.cancelCopy();
                }
                if (writer != null && writer.isActive()) {
                    writer.cancelCopy();
                }
            }
        }
        target.commit();
        return rows;
    }
}
