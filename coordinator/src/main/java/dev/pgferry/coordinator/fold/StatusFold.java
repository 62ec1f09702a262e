package dev.pgferry.coordinator.fold;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.JsonAutoDetect.Visibility;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.pgferry.messages.Failure;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.pg.SchemaDrift;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.MigrationStatus.Overall;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.messages.Phase;
import dev.pgferry.messages.StatusEvent;
import dev.pgferry.messages.Verification;

import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The status view: a pure fold over status events, so that replaying the status topic from the beginning
 * rebuilds exactly the same view; {@link #checkpoint()} and {@link #restore} let a reader start from snapshots
 * instead of the beginning. Events from an attempt older than the newest seen for a database are ignored
 * (a worker thought dead must not overwrite its successor's status). After a removal request, removal
 * events apply whatever their attempt. Thread-safe: all methods synchronize.
 */
public final class StatusFold {
    /** The version of {@link #checkpoint()}'s format; snapshots of another version are not restored. */
    public static final int SNAPSHOT_VERSION = 1;
    private static final ObjectMapper SNAPSHOTS = Json.mapper().copy()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private final Map<String, MigrationState> migrations = new LinkedHashMap<>();
    /**
     * The newest validate-only checks ({@code POST /checks}), at most {@value #CHECKS_KEPT}; not in the snapshots:
     * a restarted coordinator knows the checks whose events came after its snapshots only.
     */
    private final Map<String, CheckView> checks = new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, CheckView> eldest) {
            return size() > CHECKS_KEPT;
        }
    };
    static final int CHECKS_KEPT = 1000;
    /** By first event time, then id: the same order after a replay. */
    private static final java.util.Comparator<MigrationState> OLDEST_FIRST =
            java.util.Comparator.comparing((MigrationState m) -> m.firstSeen).thenComparing(m -> m.id);
    /** The next offset to apply, per partition of the status topic, when events come with their position. */
    private final Map<Integer, Long> applied = new HashMap<>();
    /** Counts the fold's changes; waiters of {@link #awaitChange} wait on this object. */
    private long changes;

    /** Applies one event. */
    public synchronized void apply(StatusEvent event) {
        if (!applyCheck(event)) {
            applyEvent(event);
        }
        changed();
    }

    /** How many times this fold has changed: a watcher's mark for {@link #awaitChange}. */
    public synchronized long changes() {
        return changes;
    }

    /**
     * Waits until the fold changes after {@code seen} (a value of {@link #changes()}), at most {@code timeoutMs}; the
     * changes now. A watcher sees an event as soon as it is applied instead of at its next look.
     */
    public synchronized long awaitChange(long seen, long timeoutMs) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000;
        for (long left = timeoutMs; changes == seen && left > 0; left = (deadline - System.nanoTime()) / 1_000_000) {
            wait(left);
        }
        return changes;
    }

    private void changed() {
        changes++;
        notifyAll();
    }

    /** The check {@code id}, if this fold has seen it. */
    public synchronized java.util.Optional<CheckView> check(String id) {
        return java.util.Optional.ofNullable(checks.get(id));
    }

    /** Folds a check's event into {@link #checks}; false for any other event. */
    private boolean applyCheck(StatusEvent event) {
        if (event instanceof StatusEvent.CheckRequested r) {
            checks.putIfAbsent(r.migrationId(), new CheckView(r.migrationId(), "pending", r.source(), r.target(),
                    r.timestamp(), null, null, null, null));
            return true;
        }
        if (event instanceof StatusEvent.CheckReported r) {
            CheckView asked = checks.get(r.migrationId());
            checks.put(r.migrationId(), new CheckView(r.migrationId(), r.report() != null ? "done" : "failed",
                    asked == null ? null : asked.source(), asked == null ? null : asked.target(),
                    asked == null ? null : asked.requestedAt(), r.timestamp(), r.workerId(), r.report(), r.error()));
            return true;
        }
        return false;
    }

    /**
     * Applies the event found at {@code offset} of status topic partition {@code partition}; an event that the
     * migration's restored snapshot already holds is skipped.
     */
    public synchronized void apply(StatusEvent event, int partition, long offset) {
        applied.merge(partition, offset + 1, Math::max);
        if (applyCheck(event)) {
            changed();
            return;
        }
        MigrationState m = migrations.get(event.migrationId());
        if (m != null && offset < m.positions.getOrDefault(partition, 0L)) {
            return;
        }
        m = applyEvent(event);
        m.positions.put(partition, offset + 1);
        m.dirty = true;
        changed();
    }

    /** What a checkpoint writes: the migrations changed since the previous one, and where the fold stands. */
    public record Checkpoint(Map<String, byte[]> changed, Map<Integer, Long> positions) {
    }

    /**
     * The state of every migration changed since the last call (serialized, with the positions its events came
     * from), and the next offset to apply per partition: every event before those offsets is in this checkpoint's
     * snapshots or an earlier one's. Restore with {@link #restore}.
     */
    public synchronized Checkpoint checkpoint() {
        Map<String, byte[]> changed = new LinkedHashMap<>();
        for (MigrationState m : migrations.values()) {
            if (m.dirty) {
                try {
                    changed.put(m.id, SNAPSHOTS.writeValueAsBytes(m));
                } catch (JsonProcessingException e) {
                    throw new IllegalStateException("cannot write the snapshot of migration " + m.id, e);
                }
                m.dirty = false;
            }
        }
        return new Checkpoint(changed, Map.copyOf(applied));
    }

    /**
     * Starts the fold from snapshots written by {@link #checkpoint()}: the latest of each migration, and the
     * positions of the latest checkpoint, from which the status topic is read on. Events of a restored migration
     * found before its own snapshot's position are skipped.
     */
    public synchronized void restore(Map<String, byte[]> snapshots, Map<Integer, Long> positions) {
        List<MigrationState> read = new ArrayList<>();
        for (Map.Entry<String, byte[]> e : snapshots.entrySet()) {
            try {
                read.add(SNAPSHOTS.readValue(e.getValue(), MigrationState.class));
            } catch (java.io.IOException ex) {
                throw new IllegalStateException("cannot read the snapshot of migration " + e.getKey() + ": " + ex.getMessage(), ex);
            }
        }
        // all or nothing: a reader that cannot use every snapshot reads the status topic from the beginning instead
        read.forEach(m -> migrations.put(m.id, m));
        applied.putAll(positions);
        changed();
    }

    /** Marks migrations as changed, so that the next checkpoint writes them (their last write failed). */
    public synchronized void markChanged(java.util.Collection<String> ids) {
        ids.forEach(id -> {
            MigrationState m = migrations.get(id);
            if (m != null) {
                m.dirty = true;
            }
        });
    }

    private MigrationState applyEvent(StatusEvent event) {
        MigrationState m = migrations.computeIfAbsent(event.migrationId(), MigrationState::new);
        m.updatedAt = max(m.updatedAt, event.timestamp());
        m.firstSeen = m.firstSeen == null || event.timestamp().isBefore(m.firstSeen) ? event.timestamp() : m.firstSeen;
        if (event instanceof StatusEvent.MigrationAccepted a) {
            m.source = a.source();
            m.target = a.target();
        } else if (event instanceof StatusEvent.MigrationPlanned p) {
            m.planned = true;
            p.databases().forEach(db -> m.rows.computeIfAbsent(db, Row::new));
        } else if (event instanceof StatusEvent.MigrationFailed f) {
            m.error = f.error();
        } else if (event instanceof StatusEvent.VerifyRequested v) {
            m.verifyRequestedAt = v.timestamp();
            m.rows.values().forEach(r -> {
                r.verification = null;
                r.verifiedAt = null;
            });
        } else if (event instanceof StatusEvent.TaskVerified v) {
            // A verification describes the database as it is, whichever attempt made it: it changes nothing else.
            Row row = m.rows.computeIfAbsent(v.dbname(), Row::new);
            row.verification = v.verification();
            row.verifiedAt = v.timestamp();
        } else if (event instanceof StatusEvent.RefreshRequested rr) {
            m.refreshRequestedAt = rr.timestamp();
            for (String db : rr.databases()) {
                m.rows.computeIfAbsent(db, Row::new).refresh = new MigrationStatus.Refresh(rr.timestamp(), null, null, null);
            }
        } else if (event instanceof StatusEvent.CutoverRequested c) {
            m.cutoverRequestedAt = c.timestamp();
            for (String db : c.databases()) {
                Row row = m.rows.computeIfAbsent(db, Row::new);
                row.cutover = new CutoverState(c.timestamp());
                row.state = State.CUTTING_OVER;
            }
        } else if (event instanceof StatusEvent.RemovalRequested) {
            m.removalRequested = true;
            m.rows.values().forEach(r -> r.state = r.state == State.REMOVED ? State.REMOVED : State.REMOVING);
        } else {
            applyToDatabase(m, event);
        }
        return m;
    }

    private static void applyToDatabase(MigrationState m, StatusEvent event) {
        if (event.dbname() == null) {
            return;
        }
        Row row = m.rows.computeIfAbsent(event.dbname(), Row::new);
        // Removal tasks run after the migration's attempts, whichever attempt they find.
        boolean removal = m.removalRequested && (event instanceof StatusEvent.TaskRemoved || event instanceof StatusEvent.TaskFailed);
        if (removal) {
            if (event instanceof StatusEvent.TaskRemoved) {
                row.state = State.REMOVED;
                row.lagBytes = null;
                row.lagMeasuredAt = null;
            } else {
                row.state = State.FAILED;
                row.error = ((StatusEvent.TaskFailed) event).error();
            }
            return;
        }
        if (applyToReplicating(row, event)) {
            return;
        }
        if (event.attempt() < row.attempt) {
            return;
        }
        if (event.attempt() > row.attempt) {
            row.startAttempt(event.attempt());
        }
        row.workerId = event.workerId();
        if (event instanceof StatusEvent.TaskStarted s) {
            // A second one in an attempt changes its method (replication ending as a one-time copy), not its start.
            if (row.startedAt == null) {
                row.startedAt = s.timestamp();
            }
            row.state = State.RUNNING;
            row.method = s.method();
            row.methodReason = s.reason();
        } else if (event instanceof StatusEvent.TaskSyncing) {
            row.closePhase(event.timestamp());
            row.finishedAt = event.timestamp();
            row.state = State.SYNCING;
            row.error = null;
        } else if (event instanceof StatusEvent.ReplicationLag l) {
            row.lagBytes = l.lagBytes();
            row.lagMeasuredAt = l.timestamp();
            row.walStatus = l.walStatus();
            row.safeWalBytes = l.safeWalBytes();
            row.walWarning = l.walWarning();
        } else if (event instanceof StatusEvent.PhaseChanged p) {
            row.state = State.RUNNING;
            row.closePhase(p.timestamp());
            row.phase = p.phase();
            row.phaseStartedAt = p.timestamp();
        } else if (event instanceof StatusEvent.TaskProgress p) {
            row.tablesDone = p.tablesDone();
            row.tablesTotal = p.tablesTotal();
            row.rowsCopied = p.rowsCopied();
            row.bytesCopied = p.bytesCopied();
            row.rowsEstimate = p.rowsEstimate();
            row.bytesEstimate = p.bytesEstimate();
            row.etaSeconds = p.etaSeconds();
            row.copiedBy = p.copiedBy();
        } else if (event instanceof StatusEvent.TaskWarning w) {
            row.warnings.add(w.message());
        } else if (event instanceof StatusEvent.TaskWaiting w) {
            row.waitingFor = w.waitingFor();
        } else if (event instanceof StatusEvent.TaskDone d) {
            row.closePhase(d.timestamp());
            row.finishedAt = d.timestamp();
            row.state = State.DONE;
            row.etaSeconds = null;
            row.method = d.method();
            row.error = null;
        } else if (event instanceof StatusEvent.TaskFailed f) {
            row.closePhase(f.timestamp());
            row.finishedAt = f.timestamp();
            row.state = State.FAILED;
            row.error = f.error();
        }
    }

    /**
     * Applies an event about a replicating database (cut-over, schema drift, refresh), whatever its attempt (these
     * run after the migration's attempts, as a removal does); false for any other event.
     */
    private static boolean applyToReplicating(Row row, StatusEvent event) {
        if (event instanceof StatusEvent.CutoverStep step) {
            CutoverState c = row.cutover(step.timestamp());
            c.state = "cutting_over";
            c.step = step.step();
            c.detail = step.detail();
            row.state = State.CUTTING_OVER;
        } else if (event instanceof StatusEvent.TaskCutOver done) {
            CutoverState c = row.cutover(done.timestamp());
            c.state = "done";
            c.step = null;
            c.detail = null;
            c.finishedAt = done.timestamp();
            c.writesBlockedMs = done.writesBlockedMs();
            c.fenceLsn = done.fenceLsn();
            c.sessionsEnded = done.sessionsEnded();
            c.sourceWritable = done.sourceWritable();
            row.state = State.DONE;
            row.lagBytes = null;
            row.lagMeasuredAt = null;
        } else if (event instanceof StatusEvent.SchemaDriftSeen d) {
            // The coordinator's look has no record: what the last refresh said was made on the target alone stays
            // said so, whichever of the two was written last (a look that read before the refresh's event may land
            // after it).
            List<String> drift = SchemaDrift.keepingKept(d.drift(), row.drift == null ? List.of() : row.drift);
            row.drift = drift.isEmpty() ? null : drift;
            return true;
        } else if (event instanceof StatusEvent.TaskRefreshed r) {
            Instant requested = row.refresh == null ? r.timestamp() : row.refresh.requestedAt();
            row.refresh = new MigrationStatus.Refresh(requested, r.timestamp(), r.applied(), r.error());
            row.drift = r.remaining().isEmpty() ? null : r.remaining();
        } else if (event instanceof StatusEvent.CutoverFailed failed) {
            CutoverState c = row.cutover(failed.timestamp());
            c.state = "failed";
            c.finishedAt = failed.timestamp();
            c.sourceWritable = failed.sourceWritable();
            c.error = failed.error();
            // The replication goes on: the row follows the source again.
            row.state = row.state == State.CUTTING_OVER ? State.SYNCING : row.state;
        } else {
            return false;
        }
        row.workerId = event.workerId();
        return true;
    }

    /** The view of one migration, if any event of it was seen. */
    public synchronized Optional<MigrationStatus> view(String migrationId) {
        return Optional.ofNullable(migrations.get(migrationId)).map(MigrationState::toStatus);
    }

    /**
     * The databases still pending or running, by migration (oldest first, as {@link #all()} orders them): without
     * building every migration's view.
     */
    public synchronized Map<String, List<String>> unfinished() {
        Map<String, List<String>> found = new LinkedHashMap<>();
        migrations.values().stream().sorted(OLDEST_FIRST).forEach(m -> {
            List<String> dbs = m.rows.values().stream().filter(r -> r.state == State.PENDING || r.state == State.RUNNING)
                    .map(r -> r.dbname).toList();
            if (!dbs.isEmpty()) {
                found.put(m.id, dbs);
            }
        });
        return found;
    }

    /** Every migration, oldest first ({@link #OLDEST_FIRST}). */
    public synchronized List<MigrationStatus> all() {
        return migrations.values().stream().sorted(OLDEST_FIRST).map(MigrationState::toStatus).toList();
    }

    private static Instant max(Instant a, Instant b) {
        return a == null || (b != null && b.isAfter(a)) ? b : a;
    }

    /** Mutable state of one migration; guarded by the fold's lock. Its fields are its snapshot's. */
    @JsonAutoDetect(fieldVisibility = Visibility.ANY, getterVisibility = Visibility.NONE, isGetterVisibility = Visibility.NONE)
    private static final class MigrationState {
        final String id;
        final Map<String, Row> rows = new LinkedHashMap<>();
        /** The next offset of each status partition its events came from (one, as events are keyed by migration). */
        final Map<Integer, Long> positions = new HashMap<>();
        /** Changed since the last checkpoint. */
        @JsonIgnore
        boolean dirty;
        String source;
        String target;
        boolean planned;
        boolean removalRequested;
        Failure error;
        Instant updatedAt;
        Instant firstSeen;
        Instant verifyRequestedAt;
        Instant cutoverRequestedAt;
        Instant refreshRequestedAt;

        MigrationState(String id) {
            this.id = id;
        }

        @SuppressWarnings("unused") // for snapshots
        private MigrationState() {
            this(null);
        }

        MigrationStatus toStatus() {
            List<DatabaseStatus> detail = rows.values().stream().map(Row::toStatus).toList();
            return new MigrationStatus(id, overall(detail), detail, source, target, updatedAt, removalRequested, firstSeen,
                    verifySummary(), cutoverRequestedAt, refreshRequestedAt);
        }

        private MigrationStatus.VerifySummary verifySummary() {
            if (verifyRequestedAt == null) {
                return null;
            }
            List<Verification> done = rows.values().stream().map(r -> r.verification).filter(v -> v != null).toList();
            int matching = (int) done.stream().filter(v -> v.result() == Verification.Result.MATCH).count();
            String result = done.size() < rows.size() ? "running"
                    : done.stream().anyMatch(v -> v.result() == Verification.Result.ERROR) ? "error"
                    : matching == rows.size() ? "match" : "differs";
            return new MigrationStatus.VerifySummary(result, verifyRequestedAt, done.size(), matching, rows.size());
        }

        private Overall overall(List<DatabaseStatus> detail) {
            List<String> methods = detail.stream().map(DatabaseStatus::method).filter(s -> s != null).distinct().toList();
            String method = methods.size() == 1 ? methods.get(0) : "";
            if (error != null) {
                return new Overall(State.FAILED, method, error.message());
            }
            if (removalRequested && detail.stream().anyMatch(d -> d.status() == State.REMOVING)) {
                return new Overall(State.REMOVING, method, null);
            }
            if (removalRequested && detail.stream().allMatch(d -> d.status() == State.REMOVED)) {
                return new Overall(State.REMOVED, method, null);
            }
            if (detail.stream().anyMatch(d -> d.status() == State.CUTTING_OVER)) {
                return new Overall(State.CUTTING_OVER, method, null);
            }
            if (!planned || detail.stream().anyMatch(d -> d.status() == State.PENDING || d.status() == State.RUNNING)) {
                return new Overall(State.RUNNING, method, null);
            }
            List<DatabaseStatus> failed = detail.stream().filter(d -> d.status() == State.FAILED).toList();
            if (failed.isEmpty()) {
                return new Overall(State.DONE, method, null);
            }
            String summary = failed.size() + " of " + detail.size() + " databases failed: "
                    + failed.stream().map(d -> d.dbname() + ": " + d.error()).collect(Collectors.joining("; "));
            return new Overall(State.FAILED, method, summary);
        }
    }

    /** Mutable state of one database row; guarded by the fold's lock. */
    @JsonAutoDetect(fieldVisibility = Visibility.ANY, getterVisibility = Visibility.NONE, isGetterVisibility = Visibility.NONE)
    private static final class Row {
        final String dbname;
        int attempt;
        State state = State.PENDING;
        Method method;
        Failure error;
        Phase phase;
        String workerId;
        int tablesDone;
        int tablesTotal;
        long rowsCopied;
        long bytesCopied;
        List<String> warnings = new ArrayList<>();
        String methodReason;
        Long lagBytes;
        Instant lagMeasuredAt;
        long rowsEstimate;
        long bytesEstimate;
        Long etaSeconds;
        Instant phaseStartedAt;
        Map<String, Double> phaseSeconds = new LinkedHashMap<>();
        Instant startedAt;
        Instant finishedAt;
        Verification verification;
        Instant verifiedAt;
        CutoverState cutover;
        String waitingFor;
        String walStatus;
        Long safeWalBytes;
        String walWarning;
        List<String> drift;
        MigrationStatus.Refresh refresh;
        Map<String, MigrationStatus.WorkerShare> copiedBy;

        Row(String dbname) {
            this.dbname = dbname;
        }

        @SuppressWarnings("unused") // for snapshots
        private Row() {
            this(null);
        }

        void startAttempt(int newAttempt) {
            attempt = newAttempt;
            state = State.RUNNING;
            error = null;
            phase = null;
            tablesDone = 0;
            rowsCopied = 0;
            bytesCopied = 0;
            warnings = new ArrayList<>();
            methodReason = null;
            lagBytes = null;
            lagMeasuredAt = null;
            walStatus = null;
            safeWalBytes = null;
            walWarning = null;
            rowsEstimate = 0;
            bytesEstimate = 0;
            etaSeconds = null;
            phaseStartedAt = null;
            phaseSeconds = new LinkedHashMap<>();
            startedAt = null;
            finishedAt = null;
            waitingFor = null;
            copiedBy = null;
        }

        /** The current cut-over's state, begun at {@code at} when no request for it was seen. */
        CutoverState cutover(Instant at) {
            if (cutover == null) {
                cutover = new CutoverState(at);
            }
            return cutover;
        }

        /** Adds the time since the current phase began to that phase's total (where the time went). */
        void closePhase(Instant at) {
            if (phase != null && phaseStartedAt != null && at != null) {
                phaseSeconds.merge(phase.wireName(), java.time.Duration.between(phaseStartedAt, at).toMillis() / 1000.0,
                        Double::sum);
            }
            phaseStartedAt = null;
        }

        DatabaseStatus toStatus() {
            return new DatabaseStatus(dbname, method == null ? null : method.wireName(), state,
                    error == null ? null : error.message(), error == null ? null : error.code(), phase, attempt,
                    workerId, tablesDone, tablesTotal, rowsCopied, bytesCopied, warnings, methodReason, lagBytes,
                    lagMeasuredAt, rowsEstimate, bytesEstimate, state == State.RUNNING ? etaSeconds : null, phaseSeconds,
                    startedAt, finishedAt, verification, verifiedAt, cutover == null ? null : cutover.toStatus(),
                    state == State.RUNNING ? waitingFor : null, replicating() ? walStatus : null,
                    replicating() ? safeWalBytes : null, replicating() ? walWarning : null,
                    state == State.SYNCING || state == State.CUTTING_OVER ? drift : null, refresh, copiedBy);
        }

        /** Whether the slot's WAL figures describe the database now (the last ones stay with a lost slot). */
        private boolean replicating() {
            return state == State.SYNCING || state == State.CUTTING_OVER
                    || (state == State.FAILED && error != null && error.code() == dev.pgferry.messages.ErrorCode.SLOT_LOST);
        }
    }

    /** Mutable state of one database's latest cut-over; guarded by the fold's lock. */
    @JsonAutoDetect(fieldVisibility = Visibility.ANY, getterVisibility = Visibility.NONE, isGetterVisibility = Visibility.NONE)
    private static final class CutoverState {
        final Instant requestedAt;
        String state = "cutting_over";
        String step = "queued";
        String detail;
        Instant finishedAt;
        Long writesBlockedMs;
        String fenceLsn;
        Integer sessionsEnded;
        Boolean sourceWritable;
        Failure error;

        CutoverState(Instant requestedAt) {
            this.requestedAt = requestedAt;
        }

        @SuppressWarnings("unused") // for snapshots
        private CutoverState() {
            this(null);
        }

        MigrationStatus.Cutover toStatus() {
            return new MigrationStatus.Cutover(state, step, detail, requestedAt, finishedAt, writesBlockedMs, fenceLsn,
                    sessionsEnded, sourceWritable, error == null ? null : error.message(), error == null ? null : error.code());
        }
    }
}
