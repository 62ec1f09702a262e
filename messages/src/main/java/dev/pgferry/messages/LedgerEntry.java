package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;
import java.util.Objects;

/**
 * pgferry's own bookkeeping of one step of a migration on the target, kept in the compacted topic
 * {@value Topics#LEDGER} instead of anywhere in the user's databases. Keys: {@code db:<migration>/<dbname>} for a
 * database's crash-safety marker, {@code roles:<migration>} for the migration's one roles step.
 *
 * <p>A database entry is written {@code running} with its attempt <em>before</em> the target database is created
 * or touched, and {@code done} (with the {@code final_state}, {@code done} or {@code syncing}) once it is finished:
 * a worker that finds {@code running} knows a previous attempt died halfway, drops what it left and starts the next
 * attempt, so rows are never duplicated; one that finds {@code done} never touches the database again, and only
 * writes the final status event when {@code published} says it may have been lost (a finished database is never
 * dropped because its last event could not be sent). {@code created} says whether pgferry created the target database (and so may
 * drop it again). A roles entry is {@code done} once the roles of the migration exist on the target; {@code missing}
 * lists the roles that could not be created, so that every database's restore can tolerate statements naming them;
 * {@code created_roles} those the step created.
 *
 * <p>A cut-over entry ({@code cutover:<migration>/<dbname>}) is written {@code running} before the source database's
 * writes are blocked, with {@code saved_setting}: the database's own {@code default_transaction_read_only} setting
 * before (null: none), so that whoever lifts the block restores it, even after a worker died mid-way; {@code done}
 * once the target has everything (from there on the cut-over only goes forward); {@code aborted} once the block is
 * lifted again.
 *
 * <p>{@code removed} on a database entry: its migration was removed; no later task of it touches the database.
 *
 * <p>A unit entry ({@code unit:<migration>/<dbname>/<attempt>/<index>}, see {@link CopyUnit}) is written by whoever
 * copies that unit, holding the unit's advisory lock on the target: {@code running} with the target transaction's
 * {@code xid} just before its COMMIT, {@code done} with the {@code rows} and {@code bytes} copied and the
 * {@code worker_id} once committed. A later holder of the lock that finds {@code running} asks the target whether
 * that transaction committed ({@code txid_status}) before copying the unit again, so no range is copied twice.
 *
 * <p>A made entry ({@code made:<migration>/<dbname>}, see {@link #made}) holds what both sides of a replicating
 * database had when pgferry last compared them.
 */
public record LedgerEntry(
        @JsonProperty("schema_version") Integer schemaVersion,
        @JsonProperty("state") State state,
        @JsonProperty("attempt") int attempt,
        @JsonProperty("created") boolean created,
        @JsonProperty("missing") List<String> missing,
        @JsonProperty("final_state") String finalState,
        @JsonProperty("published") boolean published,
        @JsonProperty("saved_setting") String savedSetting,
        @JsonProperty("xid") Long xid,
        @JsonProperty("rows") Long rows,
        @JsonProperty("bytes") Long bytes,
        @JsonProperty("worker_id") String workerId,
        @JsonProperty("created_roles") List<String> createdRoles,
        @JsonProperty("made") String made,
        @JsonProperty("made_tables") String madeTables) {

    public LedgerEntry {
        schemaVersion = schemaVersion == null ? MigrationRequest.SCHEMA_VERSION : schemaVersion;
        Objects.requireNonNull(state, "state is required");
        missing = List.copyOf(missing == null ? List.of() : missing);
        createdRoles = List.copyOf(createdRoles == null ? List.of() : createdRoles);
    }

    public static LedgerEntry running(int attempt, boolean created) {
        return new LedgerEntry(null, State.RUNNING, attempt, created, List.of(), null, false, null, null, null, null, null,
                List.of(), null, null);
    }

    /** Finished as {@code finalState} ({@code done} or {@code syncing}); its final status event not yet written. */
    public static LedgerEntry done(int attempt, boolean created, String finalState) {
        return new LedgerEntry(null, State.DONE, attempt, created, List.of(), finalState, false, null, null, null, null, null,
                List.of(), null, null);
    }

    /** The same entry once the final status event is written. */
    public LedgerEntry asPublished() {
        return new LedgerEntry(schemaVersion, state, attempt, created, missing, finalState, true, savedSetting, xid, rows,
                bytes, workerId, createdRoles, made, madeTables);
    }

    /**
     * The database's migration was removed: a task of it that runs later (one that waited in the queue, or was
     * queued again for a worker that went silent) must not migrate it again.
     */
    public static LedgerEntry removed(int attempt) {
        return new LedgerEntry(null, State.REMOVED, attempt, false, List.of(), null, true, null, null, null, null, null,
                List.of(), null, null);
    }

    /**
     * The migration's roles step is done: {@code missing}, the roles that could not be created; {@code createdRoles},
     * those it created (which a cut-over may bring up to date with the source; the others are the user's).
     */
    public static LedgerEntry rolesDone(List<String> missing, List<String> createdRoles) {
        return new LedgerEntry(null, State.DONE, 1, false, missing, null, true, null, null, null, null, null, createdRoles,
                null, null);
    }

    /** A cut-over entry in {@code state}, keeping the database's own read-only setting from before it. */
    public static LedgerEntry cutover(State state, String savedSetting) {
        return new LedgerEntry(null, state, 1, false, List.of(), null, true, savedSetting, null, null, null, null, List.of(),
                null, null);
    }

    /** A unit about to commit target transaction {@code xid}. */
    public static LedgerEntry unitCommitting(long xid, String workerId) {
        return new LedgerEntry(null, State.RUNNING, 1, false, List.of(), null, true, null, xid, null, null, workerId, List.of(),
                null, null);
    }

    /** A unit copied and committed ({@code rows} and {@code bytes} null: committed by a worker that died before it said so). */
    public static LedgerEntry unitDone(Long rows, Long bytes, String workerId) {
        return new LedgerEntry(null, State.DONE, 1, false, List.of(), null, true, null, null, rows, bytes, workerId, List.of(),
                null, null);
    }

    /**
     * What a replicating database's source and target both had whenever pgferry looked ({@code made}: digests of the
     * tables, columns and schema objects; see the worker's {@code MadeObjects}), so that a later refresh can tell
     * what the source dropped from what was made only on the target; and which table of the source (by OID) each
     * published table was when it last looked ({@code madeTables}: digests too, of that look alone).
     */
    public static LedgerEntry made(String made, String madeTables) {
        return new LedgerEntry(null, State.DONE, 1, false, List.of(), null, true, null, null, null, null, null, List.of(),
                Objects.requireNonNull(made), madeTables);
    }

    public static String madeKey(String migrationId, String dbname) {
        return "made:" + migrationId + "/" + dbname;
    }

    public static String unitKey(String migrationId, String dbname, int attempt, int index) {
        return "unit:" + migrationId + "/" + dbname + "/" + attempt + "/" + index;
    }

    public static String cutoverKey(String migrationId, String dbname) {
        return "cutover:" + migrationId + "/" + dbname;
    }

    public static String databaseKey(String migrationId, String dbname) {
        return "db:" + migrationId + "/" + dbname;
    }

    public static String rolesKey(String migrationId) {
        return "roles:" + migrationId;
    }

    /** Where a step stands. */
    public enum State {
        RUNNING, DONE, ABORTED, REMOVED;

        @com.fasterxml.jackson.annotation.JsonValue
        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        @com.fasterxml.jackson.annotation.JsonCreator
        public static State parse(String s) {
            return valueOf(s.toUpperCase(java.util.Locale.ROOT));
        }
    }
}
