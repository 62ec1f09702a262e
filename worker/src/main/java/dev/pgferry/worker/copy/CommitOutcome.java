package dev.pgferry.worker.copy;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * What became of a target transaction whose COMMIT got no answer: PostgreSQL keeps the status of recent
 * transactions ({@code txid_status}, PostgreSQL 10 and later), which is exactly what a client needs after losing
 * its connection during COMMIT.
 */
public enum CommitOutcome {
    COMMITTED, ABORTED;

    private static final long POLL_MS = 200;
    private static final int POLLS_BEFORE_TERMINATE = 25;

    /**
     * Reads the outcome of transaction {@code xid} (as {@code txid_current()} gave it) on a new connection. A
     * transaction still in progress belongs to a backend that has not noticed its client is gone: it is given a
     * few seconds, then backend {@code pid} is terminated, which aborts it, so that the answer is final.
     */
    /** {@code txid_status(xid)} once: committed, aborted, in progress, or null (too old to tell). */
    static String status(Connection c, long xid) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.txid_status(?)")) {
            ps.setLong(1, xid);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    public static CommitOutcome resolve(Connection c, long xid, int pid) throws SQLException {
        for (int poll = 0; ; poll++) {
            String status = status(c, xid);
            if ("committed".equals(status)) {
                return COMMITTED;
            }
            if (!"in progress".equals(status)) {
                // aborted, or too old to tell (which cannot happen seconds after the transaction ran)
                return ABORTED;
            }
            if (poll == POLLS_BEFORE_TERMINATE) {
                try (PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.pg_terminate_backend(?)")) {
                    ps.setInt(1, pid);
                    ps.execute();
                }
            }
            try {
                Thread.sleep(POLL_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SQLException("interrupted while reading the outcome of transaction " + xid, "57014");
            }
        }
    }
}
