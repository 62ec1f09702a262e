package dev.pgferry.worker.copy;

import dev.pgferry.bus.Ledger;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.ServerCatalog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The ranges of one attempt's large tables, and its mid-sized tables copied whole, that any worker may copy: the
 * worker migrating the database (the owner) offers them to the others (as {@code copy_unit} tasks) and copies them
 * itself too, so that a big database uses every free worker while none is ever needed.
 *
 * <p>Whoever copies a unit does it in one target transaction that first takes the unit's transaction-level advisory
 * lock ({@code pg_try_advisory_xact_lock(<attempt key>, <index>)}, so the lock ends exactly when the transaction
 * does), then reads the unit's ledger entry: {@code done} means copied already; {@code running} with an xid means an
 * earlier holder was about to commit, and the target says whether it did ({@code txid_status}). Just before COMMIT the
 * holder writes {@code running} with its xid, after it {@code done}. So a unit is copied by one worker at a time, and
 * a unit committed by a worker that died at any point is never copied again; one it did not commit is copied by the
 * next (the owner copies every unit nobody else finished). Thread-safe.
 */
public final class SharedUnits {
    private static final Logger LOG = LoggerFactory.getLogger(SharedUnits.class);

    /** What the holder of a unit's transaction found. */
    public enum Outcome {
        /** The lock is ours and the unit is not copied: copy it. */
        COPY,
        /** Another worker holds the unit's lock: it is copying it. */
        BUSY,
        /** Copied and committed already, by {@code by} (rows and bytes 0 when it died before it said how many). */
        DONE
    }

    /** A claim's outcome; for {@link Outcome#DONE}, who copied the unit and how much. */
    public record Claim(Outcome outcome, long rows, long bytes, String by) {
        static final Claim COPY = new Claim(Outcome.COPY, 0, 0, null);
        static final Claim BUSY = new Claim(Outcome.BUSY, 0, 0, null);

        static Claim done(LedgerEntry e) {
            return new Claim(Outcome.DONE, e.rows() == null ? 0 : e.rows(), e.bytes() == null ? 0 : e.bytes(), e.workerId());
        }
    }

    /** A unit offered: its number among the database's offered units and its slice (a range, or a whole table). */
    public record Offered(int index, int count, TableSlicer.Slice slice) {
    }

    private final Ledger ledger;
    private final String migrationId;
    private final String dbname;
    private final int attempt;
    private final String workerId;
    private final Consumer<List<Offered>> offer;
    private Long targetDatabaseOid;

    /**
     * {@code offer} publishes the units for other workers (null: none, as on a worker that copies a unit someone
     * else offered).
     */
    public SharedUnits(Ledger ledger, String migrationId, String dbname, int attempt, String workerId,
                       Consumer<List<Offered>> offer) {
        this.ledger = ledger;
        this.migrationId = migrationId;
        this.dbname = dbname;
        this.attempt = attempt;
        this.workerId = workerId;
        this.offer = offer;
    }

    /**
     * Copies only into the target database with this OID, the one the unit was offered for: a database of the same
     * name that a later attempt made again is not the offering attempt's.
     */
    public SharedUnits onlyInto(long databaseOid) {
        this.targetDatabaseOid = databaseOid;
        return this;
    }

    void offer(List<Offered> units) {
        if (offer != null && !units.isEmpty()) {
            offer.accept(units);
        }
    }

    /** The worker this is run by. */
    String workerId() {
        return workerId;
    }

    String key(int index) {
        return LedgerEntry.unitKey(migrationId, dbname, attempt, index);
    }

    /**
     * In {@code out}'s open transaction: takes unit {@code index}'s lock if it is free, then tells whether the unit
     * is copied already. The lock is held until that transaction ends.
     */
    public Claim claim(Connection out, int index) throws SQLException {
        if (targetDatabaseOid != null) {
            // Checked on the unit's own session: a later attempt drops the database (ending this session) before it
            // makes it again, so a session that sees the offered OID writes into the offering attempt's database.
            if (ServerCatalog.currentDatabaseOid(out) != targetDatabaseOid) {
                throw new MigrationException(ErrorCode.COPY_FAILED, "target database " + dbname + " was made again"
                        + " since unit " + key(index) + " was offered: it belongs to a later attempt");
            }
        }
        try (PreparedStatement ps = out.prepareStatement("SELECT pg_catalog.pg_try_advisory_xact_lock(?, ?)")) {
            ps.setInt(1, (migrationId + "/" + dbname + "/" + attempt).hashCode());
            ps.setInt(2, index);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    return Claim.BUSY;
                }
            }
        }
        Optional<LedgerEntry> entry = kafka("reading", () -> ledger.read(key(index)));
        if (entry.isEmpty()) {
            return Claim.COPY;
        }
        if (entry.get().state() == LedgerEntry.State.DONE) {
            return Claim.done(entry.get());
        }
        if (entry.get().xid() == null) {
            return Claim.COPY;
        }
        // Its holder wrote this just before its COMMIT and has ended since (its lock is ours now).
        if (!"committed".equals(CommitOutcome.status(out, entry.get().xid()))) {
            return Claim.COPY;
        }
        LOG.info("unit {} was committed by {}, which did not say so: not copied again", key(index), entry.get().workerId());
        LedgerEntry done = LedgerEntry.unitDone(null, null, entry.get().workerId());
        kafka("writing", () -> {
            ledger.write(key(index), done);
            return null;
        });
        return Claim.done(done);
    }

    /** Written just before the COMMIT of the unit's transaction {@code xid}; a failure fails the unit's copy. */
    public void committing(int index, long xid) {
        kafka("writing", () -> {
            ledger.write(key(index), LedgerEntry.unitCommitting(xid, workerId));
            return null;
        });
    }

    /** A ledger step; Kafka away fails the unit's copy in a way worth retrying (its transaction rolls back). */
    private <T> T kafka(String doing, java.util.function.Supplier<T> step) {
        try {
            return step.get();
        } catch (MigrationException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new MigrationException(ErrorCode.INTERNAL, null, doing + " the ledger entry of a copy unit: " + e,
                    true, e);
        }
    }

    /** Written once the unit's transaction committed; if it cannot be, the next holder asks the target. */
    public void done(int index, long rows, long bytes) {
        try {
            ledger.write(key(index), LedgerEntry.unitDone(rows, bytes, workerId));
        } catch (RuntimeException e) {
            LOG.warn("unit {} committed, but its ledger entry could not say so: {}", key(index), e.toString());
        }
    }
}
