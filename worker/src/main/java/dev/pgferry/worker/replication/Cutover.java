package dev.pgferry.worker.replication;

import dev.pgferry.bus.Ledger;
import dev.pgferry.messages.CutoverRequest;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.Failure;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.Verification;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.SchemaDrift;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Cuts one replicating database over to the target, losing nothing the source committed:
 * <ol>
 * <li>checks that the database replicates (its subscription exists and is enabled), that the source's schema has
 *     not drifted from the target's ({@link SchemaDrift}; unless {@code ignore_drift}) and that the source holds no
 *     prepared transaction (one could commit after the fence);</li>
 * <li>while the source still takes writes, waits until the target lags by at most {@link #CATCH_UP_BYTES}, so that
 *     writes stay blocked only for the last stretch; then brings the roles, the database's
 *     properties and the user's rows of extension configuration tables up to date, which the block would not hold
 *     still anyway, or which the user hardly changes;</li>
 * <li>blocks writes: {@code ALTER DATABASE ... SET default_transaction_read_only = on} (every session that begins
 *     later is read-only by default), then ends every client session of the database that began before, except
 *     pgferry's own ({@code application_name} {@code pgferry/...}), and waits until they are gone: their open
 *     transactions roll back, and nothing commits on the source from here on;</li>
 * <li>reads the source's WAL insert position as the fence and waits until the subscription's slot has confirmed it
 *     ({@code confirmed_flush_lsn}: the target has applied and flushed every transaction committed before);</li>
 * <li>sets the target's sequences from the source, and makes what replication does not carry the source's: the
 *     unlogged tables, the large objects, and the materialized views whose rows differ, refreshed
 *     ({@link Uncarried}), each only where there is any; optionally verifies source and target, and goes on only
 *     when they match;</li>
 * <li>drops the replication (subscription, slot, publication), enables the target's triggers held disabled while it
 *     replicated ({@link ReplicaTriggers}) and, with {@code unblock_source}, restores the source database's own
 *     setting.</li>
 * </ol>
 * If the deadline passes or any step before the replication is dropped fails, the source database's setting is
 * restored and the replication goes on. The setting the database had before is kept in the ledger before it is
 * changed, so that a worker that finishes or undoes a cut-over another worker began restores the right value.
 * The block is a default, not a permission: a session that sets {@code default_transaction_read_only = off} itself
 * can still write, as can a prepared transaction committed by hand. Confined to the thread that runs it.
 */
public final class Cutover {
    private static final Logger LOG = LoggerFactory.getLogger(Cutover.class);

    /** Lag under which writes are blocked at once; with more, the target first catches up while the source writes. */
    public static final long CATCH_UP_BYTES = 16L << 20;
    private static final long POLL_MS = 100;
    /** The database setting that blocks writes. */
    public static final String SETTING = "default_transaction_read_only";

    /** Called at each step with its name and what it waits for. */
    public interface Steps {
        void step(String step, String detail);
    }

    /** How a cut-over ended. */
    public sealed interface Outcome {
    }

    /** Cut over: see {@code StatusEvent.TaskCutOver}. */
    public record Done(long writesBlockedMs, String fenceLsn, int sessionsEnded, boolean sourceWritable) implements Outcome {
    }

    /** Not cut over; the replication goes on. {@code sourceWritable} is false only when the block could not be lifted. */
    public record Aborted(Failure failure, boolean sourceWritable) implements Outcome {
    }

    private final PgConnector source;
    private final PgConnector target;
    private final String dbname;
    private final String name;
    private final CutoverRequest options;
    private final MigrationRequest request;
    private final Ledger ledger;
    private final String ledgerKey;
    private final Function<LedgerEntry, Verification> verify;
    private java.util.function.Consumer<String> warn = w -> LOG.warn("{}", w);

    /**
     * {@code verify} compares the database's source and target, given the cut-over's ledger entry (the source's
     * setting before the block); it is called only when the request asks for it.
     */
    public Cutover(PgConnector source, PgConnector target, String dbname, String name, MigrationRequest request,
                   CutoverRequest options, Ledger ledger, Function<LedgerEntry, Verification> verify) {
        this.request = request;
        this.source = source;
        this.target = target;
        this.dbname = dbname;
        this.name = name;
        this.options = options;
        this.ledger = ledger;
        this.ledgerKey = LedgerEntry.cutoverKey(request.migrationId(), dbname);
        this.verify = verify;
    }

    /** Where the cut-over's warnings go (the database's row); by default, the log. */
    public Cutover withWarnings(java.util.function.Consumer<String> warnings) {
        this.warn = warnings;
        return this;
    }

    /** Runs the cut-over; a failure becomes an {@link Aborted} outcome, never an exception. */
    public Outcome run(Steps steps) {
        long deadline = System.nanoTime() + options.deadlineSeconds() * 1_000_000_000L;
        String saved;
        LedgerEntry running;
        Optional<LedgerEntry> prior = Optional.empty();
        try {
            prior = ledger.read(ledgerKey);
            if (prior.isPresent() && prior.get().state() == LedgerEntry.State.DONE) {
                // A worker died after the target had everything: only the last steps are left.
                return finish(steps, prior.get().savedSetting(), 0, null, 0);
            }
            try (Connection s = source.open(dbname); Connection t = target.open(dbname)) {
                s.setAutoCommit(true);
                checkReplicating(s, t);
                checkDrift(s, t, deadline);
                checkPreparedTransactions(s);
                steps.step("catching_up", "waiting until the target lags by at most " + CATCH_UP_BYTES + " bytes before"
                        + " blocking writes on the source");
                awaitLag(s, deadline, steps);
                // A block left by a worker that died mid-way keeps the setting that worker saved: ours would be its "on".
                saved = prior.isPresent() && prior.get().state() == LedgerEntry.State.RUNNING
                        ? prior.get().savedSetting() : Uncarried.ownSetting(s);
                // Roles and the database's properties are not held still by the block (roles are the server's), so
                // they are brought over before it, which keeps the block short.
                uncarried().settings(s, t, saved, steps);
            }
            running = LedgerEntry.cutover(LedgerEntry.State.RUNNING, saved);
            ledger.write(ledgerKey, running);
        } catch (SQLException | RuntimeException e) {
            if (prior.isPresent() && prior.get().state() == LedgerEntry.State.RUNNING) {
                // A worker died with the source blocked: lift the block it left, with the setting it saved.
                return abort(e, prior.get().savedSetting());
            }
            return new Aborted(failure(e, "writes were not blocked; the replication goes on"), true);
        }
        long blockedAt = System.nanoTime();
        String fence;
        int ended;
        try (Connection s = source.open(dbname); Connection t = target.open(dbname)) {
            s.setAutoCommit(true);
            steps.step("blocking_writes", "setting " + SETTING + " on source database " + dbname
                    + " and ending the sessions that began before");
            String blockedSince = block(s);
            ended = endSessions(s, blockedSince, deadline);
            fence = insertLsn(s);
            awaitFence(s, fence, deadline, steps);
            uncarried().rows(s, t, "writes blocked; ", steps);
            if (options.verify()) {
                steps.step("verifying", "writes blocked; comparing source and target");
                Verification v = verify.apply(running);
                if (v.result() != Verification.Result.MATCH) {
                    throw new MigrationException(ErrorCode.CUTOVER_ABORTED, "verification found "
                            + (v.result() == Verification.Result.ERROR ? "an error: " + v.error() : "differences: "
                            + differences(v)) + "; see the database's verification in the status");
                }
            }
            // From here on the cut-over only goes forward: the target has everything.
            ledger.write(ledgerKey, LedgerEntry.cutover(LedgerEntry.State.DONE, saved));
        } catch (SQLException | RuntimeException e) {
            return abort(e, saved);
        }
        return finish(steps, saved, (System.nanoTime() - blockedAt) / 1_000_000, fence, ended);
    }

    /**
     * Drops the replication and, when asked, lifts the block. A failure here leaves the source blocked: the target has
     * everything, and a repeated request finishes these steps.
     */
    private Outcome finish(Steps steps, String saved, long blockedMs, String fence, int ended) {
        steps.step("dropping_replication", "dropping subscription, slot and publication " + name
                + ", and enabling the target's triggers held disabled while it replicated");
        try {
            Removal.remove(source, target, dbname, name);
        } catch (RuntimeException e) {
            return new Aborted(failure(e, "the target has every change, but the replication could not be dropped;"
                    + " the source database stays read-only: cut over again to finish"), false);
        }
        boolean writable = false;
        if (options.unblockSource()) {
            try {
                restore(saved);
            } catch (RuntimeException e) {
                LOG.warn("database {} was cut over, but its source could not be made writable again: {}", dbname,
                        e.getMessage());
            }
            writable = true;
        }
        LOG.info("database {} cut over: writes blocked {} ms, fence {}, {} session(s) ended", dbname, blockedMs, fence, ended);
        return new Done(blockedMs, fence, ended, writable);
    }

    /** Lifts the block after a failure; the replication stays. */
    private Outcome abort(Exception cause, String saved) {
        // Whatever interrupted the cut-over (its worker stopping, the command that runs it interrupted) must not keep
        // the source blocked: the block is lifted, and the outcome written, with the interrupt cleared.
        Thread.interrupted();
        try {
            restore(saved);
            ledger.write(ledgerKey, LedgerEntry.cutover(LedgerEntry.State.ABORTED, saved));
            LOG.warn("cut-over of {} aborted, source writable again: {}", dbname, cause.getMessage());
            return new Aborted(failure(cause, "the source takes writes again and the replication goes on"), true);
        } catch (RuntimeException r) {
            LOG.error("cut-over of {} aborted, and the source's write block could not be lifted", dbname, r);
            return new Aborted(failure(cause, "the source database still refuses writes, because lifting the block"
                    + " failed (" + r.getMessage() + "): run 'ALTER DATABASE " + Sql.ident(dbname) + (saved == null
                    ? " RESET " + SETTING : " SET " + SETTING + " = " + Sql.literal(saved)) + "' on the source, or cut"
                    + " over again; the replication goes on"), false);
        }
    }

    /** The wire form of a cut-over that did not finish: what failed, then {@code after}, what that leaves. */
    private Failure failure(Exception cause, String after) {
        MigrationException e = cause instanceof MigrationException m ? m
                : cause instanceof SQLException q ? SqlStates.wrap(ErrorCode.CUTOVER_ABORTED, "cutting over " + dbname, q)
                : new MigrationException(ErrorCode.CUTOVER_ABORTED, null, "cutting over " + dbname + ": " + cause, false, cause);
        if (e.code() == ErrorCode.NOT_REPLICATING) {
            return new Failure(ErrorCode.NOT_REPLICATING, e.sqlstate(), e.getMessage(), false);
        }
        return new Failure(ErrorCode.CUTOVER_ABORTED, e.sqlstate(), "cut-over aborted: " + e.getMessage() + "; " + after, false);
    }

    private Uncarried uncarried() {
        return new Uncarried(source, target, dbname, request, ledger, warn);
    }

    private void checkReplicating(Connection s, Connection t) throws SQLException {
        try (PreparedStatement ps = t.prepareStatement("SELECT subenabled FROM pg_catalog.pg_subscription WHERE subname = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new MigrationException(ErrorCode.NOT_REPLICATING, "database " + dbname + " is not replicating"
                            + " (no subscription " + name + " on the target): nothing to cut over");
                }
                if (!rs.getBoolean(1)) {
                    throw new MigrationException(ErrorCode.CUTOVER_ABORTED, "subscription " + name + " in target database "
                            + dbname + " is disabled, so the target would never catch up: enable it (ALTER SUBSCRIPTION "
                            + Sql.ident(name) + " ENABLE) and cut over again");
                }
            }
        }
        if (slotConfirmed(s) == null) {
            throw new MigrationException(ErrorCode.NOT_REPLICATING, "replication slot " + name + " of database " + dbname
                    + " is missing on the source: nothing to cut over");
        }
    }

    /** Refuses while the source's schema has changed in a way the target lacks, unless the request ignores it. */
    private void checkDrift(Connection s, Connection t, long deadline) throws SQLException {
        if (options.ignoreDrift()) {
            return;
        }
        SchemaDrift drift;
        try {
            drift = SchemaDrift.of(s, t, name, name, (schema, table) -> request.copiesTable(dbname, schema, table),
                    request.options().includeExtensionTables(), (deadline - System.nanoTime()) / 1_000_000);
        } catch (SQLException e) {
            if (!SqlStates.LOCK_NOT_AVAILABLE.equals(e.getSQLState())) {
                throw e;
            }
            throw new MigrationException(ErrorCode.CUTOVER_ABORTED, "the deadline passed: comparing the schemas waited"
                    + " for a lock another session holds on a table (" + SqlStates.describe(e) + ")");
        }
        // A table whose name now belongs to another table of the source (a swap that exchanged two tables' names)
        // shows no drift by names and columns, but its copy on the target took the other table's changes since
        List<String> lines = new ArrayList<>();
        Optional<MadeObjects> made = MadeObjects.read(ledger, request.migrationId(), dbname);
        if (made.isPresent()) {
            drift = Refresh.exactRenames(drift, made.get());
            Refresh.reused(drift, made.get()).forEach(table -> lines.add("table " + table + " is another table of the"
                    + " source than when pgferry last compared the sides (it was dropped and made again, or another was"
                    + " renamed to its name): the subscription follows tables by name, so its copy on the target took the"
                    + " new table's changes into the old one's rows; pgferry refresh makes it anew and copies it"));
        }
        lines.addAll(0, drift.describe());
        if (!lines.isEmpty()) {
            throw new MigrationException(ErrorCode.CUTOVER_ABORTED, "the source's schema changed since replication began: "
                    + String.join("; ", lines) + ". Run pgferry refresh " + request.migrationId()
                    + " first (it repairs what it can, and the rest says what to do), or cut over with --ignore-drift");
        }
    }

    private void checkPreparedTransactions(Connection s) throws SQLException {
        List<String> gids = new ArrayList<>();
        try (Statement st = s.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT gid FROM pg_catalog.pg_prepared_xacts WHERE database = current_database() ORDER BY prepared")) {
            while (rs.next()) {
                gids.add(rs.getString(1));
            }
        }
        if (!gids.isEmpty()) {
            throw new MigrationException(ErrorCode.CUTOVER_ABORTED, gids.size() + " prepared transaction(s) ("
                    + String.join(", ", gids) + ") are open in source database " + dbname + " and could commit after"
                    + " the cut-over: COMMIT PREPARED or ROLLBACK PREPARED them, then cut over again");
        }
    }

    /** Waits while the source still writes until the slot lags by at most {@link #CATCH_UP_BYTES}. */
    private void awaitLag(Connection s, long deadline, Steps steps) throws SQLException {
        long lastShown = -1;
        while (true) {
            long lag;
            try (PreparedStatement ps = s.prepareStatement("SELECT pg_catalog.pg_wal_lsn_diff("
                    + "pg_catalog.pg_current_wal_insert_lsn(), confirmed_flush_lsn)::bigint"
                    + " FROM pg_catalog.pg_replication_slots WHERE slot_name = ?")) {
                ps.setString(1, name);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        throw new MigrationException(ErrorCode.NOT_REPLICATING, "replication slot " + name
                                + " disappeared from the source");
                    }
                    lag = rs.getLong(1);
                }
            }
            if (lag <= CATCH_UP_BYTES) {
                return;
            }
            if (lastShown < 0 || Math.abs(lag - lastShown) > CATCH_UP_BYTES) {
                steps.step("catching_up", "the target lags by " + lag + " bytes; writes are blocked once it lags by at"
                        + " most " + CATCH_UP_BYTES);
                lastShown = lag;
            }
            sleepUntil(deadline, "the target still lagged by " + lag + " bytes");
        }
    }

    /**
     * Sets the database's read-only default; returns the server time (as text) from which every new session is
     * read-only.
     */
    private String block(Connection s) throws SQLException {
        try (Statement st = s.createStatement()) {
            st.execute("ALTER DATABASE " + Sql.ident(dbname) + " SET " + SETTING + " = on");
            try (ResultSet rs = st.executeQuery("SELECT pg_catalog.clock_timestamp()::text")) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    /**
     * Ends every client session of the database that began before {@code since}, except pgferry's own, and waits
     * until they are gone. A session that cannot be ended (a superuser's, for a user that is not one) aborts the
     * cut-over with its pid and user.
     */
    private int endSessions(Connection s, String since, long deadline) throws SQLException {
        List<Long> pids = new ArrayList<>();
        try (PreparedStatement ps = s.prepareStatement("SELECT pid, usename, application_name, state"
                + " FROM pg_catalog.pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'"
                + " AND pid <> pg_catalog.pg_backend_pid() AND application_name NOT LIKE 'pgferry/%' AND backend_start < ?::timestamptz")) {
            ps.setString(1, since);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    long pid = rs.getLong(1);
                    try (PreparedStatement kill = s.prepareStatement("SELECT pg_catalog.pg_terminate_backend(?)")) {
                        kill.setInt(1, (int) pid);
                        kill.executeQuery().close();
                    } catch (SQLException e) {
                        throw SqlStates.wrap(ErrorCode.CUTOVER_ABORTED, "ending session " + pid + " (user "
                                + rs.getString(2) + ", application '" + rs.getString(3) + "', " + rs.getString(4)
                                + ") on the source, which could still write; end it yourself or cut over as a user that"
                                + " may (a superuser, or a member of pg_signal_backend for sessions of non-superusers)", e);
                    }
                    pids.add(pid);
                }
            }
        }
        while (!pids.isEmpty()) {
            try (PreparedStatement ps = s.prepareStatement(
                    "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE pid = ANY (?)")) {
                ps.setArray(1, s.createArrayOf("int4", pids.stream().map(Long::intValue).toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (rs.getLong(1) == 0) {
                        break;
                    }
                }
            }
            sleepUntil(deadline, "sessions " + pids + " on the source were told to end and had not yet");
        }
        return pids.size();
    }

    /** Waits until the slot has confirmed {@code fence}: the target has every transaction committed before it. */
    private void awaitFence(Connection s, String fence, long deadline, Steps steps) throws SQLException {
        String last = null;
        while (true) {
            String confirmed = slotConfirmed(s);
            if (confirmed == null) {
                throw new MigrationException(ErrorCode.NOT_REPLICATING, "replication slot " + name
                        + " disappeared from the source");
            }
            try (PreparedStatement ps = s.prepareStatement("SELECT ?::pg_lsn >= ?::pg_lsn")) {
                ps.setString(1, confirmed);
                ps.setString(2, fence);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (rs.getBoolean(1)) {
                        return;
                    }
                }
            }
            if (!confirmed.equals(last)) {
                steps.step("awaiting_fence", "writes blocked; waiting until the target confirms source WAL position "
                        + fence + " (confirmed so far: " + confirmed + ")");
                last = confirmed;
            }
            sleepUntil(deadline, "the target had confirmed source WAL position " + confirmed + " of " + fence
                    + " (is its apply worker running? see pg_stat_subscription and the target's log)");
        }
    }

    private String slotConfirmed(Connection s) throws SQLException {
        try (PreparedStatement ps = s.prepareStatement(
                "SELECT confirmed_flush_lsn::text FROM pg_catalog.pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    private static String insertLsn(Connection s) throws SQLException {
        try (Statement st = s.createStatement();
             ResultSet rs = st.executeQuery("SELECT pg_catalog.pg_current_wal_insert_lsn()::text")) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** Gives the source database back its own setting: the block is lifted. */
    private void restore(String saved) {
        restore(source, dbname, saved);
    }

    /**
     * Gives source database {@code dbname} back its own read-only setting {@code saved} (null: none), lifting a
     * cut-over's write block.
     */
    static void restore(PgConnector source, String dbname, String saved) {
        try (Connection s = source.open(dbname); Statement st = s.createStatement()) {
            s.setAutoCommit(true);
            st.execute("ALTER DATABASE " + Sql.ident(dbname) + (saved == null ? " RESET " + SETTING
                    : " SET " + SETTING + " = " + Sql.literal(saved)));
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SOURCE_UNREACHABLE, "lifting the write block of source database " + dbname, e);
        }
    }

    private static String differences(Verification v) {
        List<String> items = new ArrayList<>();
        v.checks().stream().filter(c -> c.result() == Verification.Result.DIFFERS).forEach(c -> items.add(c.name()));
        v.tables().stream().filter(t -> t.result() == Verification.Result.DIFFERS).forEach(t -> items.add(t.table()));
        return items.isEmpty() ? "see the report" : String.join(", ", items.subList(0, Math.min(10, items.size())))
                + (items.size() > 10 ? " and " + (items.size() - 10) + " more" : "");
    }

    private static void sleepUntil(long deadline, String otherwise) {
        if (System.nanoTime() + POLL_MS * 1_000_000 > deadline) {
            throw new MigrationException(ErrorCode.CUTOVER_ABORTED, "the deadline passed: " + otherwise);
        }
        try {
            Thread.sleep(POLL_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MigrationException(ErrorCode.CUTOVER_ABORTED, "interrupted: " + otherwise);
        }
    }
}
