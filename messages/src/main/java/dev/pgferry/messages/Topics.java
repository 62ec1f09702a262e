package dev.pgferry.messages;

/**
 * The Kafka protocol of pgferry: topic names, keys, writers, and what a crash between two steps leaves behind.
 *
 * <table>
 * <caption>Topics</caption>
 * <tr><th>topic</th><th>key</th><th>value</th><th>writer</th><th>reader</th></tr>
 * <tr><td>{@value #REQUESTS}</td><td>migration id</td><td>{@link MigrationRequest}</td><td>users: CLI
 *     {@code submit}, the coordinator's {@code POST /migrations}, any producer</td><td>coordinator (group
 *     {@value #COORDINATOR_GROUP})</td></tr>
 * <tr><td>{@value #TASKS}</td><td>{@code migration_id/dbname} ({@link MigrationTask#key()})</td>
 *     <td>{@link MigrationTask}</td><td>coordinator</td><td>workers (group {@value #WORKER_GROUP})</td></tr>
 * <tr><td>{@value #STATUS}</td><td>migration id, so that all events of one migration (and so of each of its
 *     databases) stay ordered</td><td>{@link StatusEvent}</td><td>coordinator (migration-level events) and workers
 *     (database events)</td><td>coordinator, CLI: each folds the topic from the latest snapshot's position on
 *     (from the beginning when there is none)</td></tr>
 * <tr><td>{@value #STATUS_SNAPSHOTS}</td><td>migration id; {@code ~position} for the marker</td><td>the folded state of
 *     one migration with the status offsets it covers; the marker: the status offsets every snapshot written before
 *     it covers</td><td>coordinator, every {@value #STATUS_SNAPSHOT_MS} ms: the migrations whose status changed, then
 *     the marker</td><td>coordinator, CLI: at start, before reading {@value #STATUS}; compacted, so one snapshot per
 *     migration is kept</td></tr>
 * <tr><td>{@value #CLAIMS}</td><td>{@code <task key>@<partition>:<offset>} of the task record</td><td>{@link TaskClaim}
 *     (null: the task is finished)</td><td>the worker running the task, every {@value #CLAIM_HEARTBEAT_MS} ms</td>
 *     <td>coordinator: queues the task again when its claim is silent for the claim timeout; compacted</td></tr>
 * <tr><td>{@value #LEDGER}</td><td>{@code db:<migration>/<dbname>}, {@code roles:<migration>}</td>
 *     <td>{@link LedgerEntry}</td><td>workers (the holder of the task's target lock)</td><td>workers: the
 *     latest entry of a key, read after taking that lock; compacted, so one entry per key is kept</td></tr>
 * <tr><td>{@value #DEAD_LETTERS}</td><td>the original key</td><td>the original bytes, unchanged; headers
 *     {@code pgferry.reason} and {@code pgferry.source.topic}</td><td>coordinator, workers</td><td>operators</td></tr>
 * </table>
 *
 * <p>Names. These are the names of one installation with no topic prefix; with one ({@code --topic-prefix}), every
 * topic, group and transactional id is the prefix followed by the name here ({@code Bus.topic}).
 *
 * <p>Task distribution. Workers are a consumer group on {@value #TASKS}, but only a worker with a free task slot
 * is a member: on taking a task it writes the task's claim, commits the task's offset at once and, with no slot
 * left, leaves the group, so every partition always belongs to workers that can start a task now and no task waits
 * behind a running one. The running worker renews its claim every {@value #CLAIM_HEARTBEAT_MS} ms and deletes it
 * once the task's final status event is written; the coordinator queues again the task of a claim that fell silent
 * (the worker died or lost Kafka). A task can therefore run twice (its claim written but its offset not committed,
 * or a slow worker declared dead): the task's lock on the target and its ledger entry make the second run wait,
 * then find the work done; a removed database is marked so in the ledger, and no later task of it touches it.
 *
 * <p>Crash cases. The coordinator writes a request's accepted and planned events and all its tasks in one Kafka
 * transaction together with the request's offset: a crash in between aborts the transaction (nothing of it is
 * visible to read_committed readers) and the next coordinator handles the request once. A worker killed mid-task
 * stops renewing its claim: the coordinator queues the task again, and the next worker finds the half-copied
 * database by its ledger entry ({@code running} with the attempt, written before the target database was touched),
 * drops it and starts a new attempt, so no row is duplicated. The ledger lives in Kafka, not in the target: nothing
 * of pgferry's bookkeeping is written into the user's databases (their comments and settings end as on the source).
 * An advisory lock held on the target for a task's life makes a second run of it wait, then find the database
 * done. Removal requests
 * ({@code "action": "remove"}) travel on the requests topic and become removal tasks on the tasks topic.
 *
 * <p>Units. The worker migrating a database may offer the ranges of its large tables as {@code copy_unit} tasks on
 * {@value #TASKS} ({@link CopyUnit}, keyed {@code migration_id/dbname#attempt.index}); any worker copies one under the
 * offering worker's snapshot, fenced by the range's advisory lock on the target and its ledger entry
 * ({@code unit:...}, see {@link LedgerEntry}); the offering worker copies every range nobody else finished.
 */
public final class Topics {
    public static final String REQUESTS = "pgferry.requests";
    public static final String TASKS = "pgferry.tasks";
    public static final String STATUS = "pgferry.status";
    public static final String DEAD_LETTERS = "pgferry.dead-letters";
    public static final String LEDGER = "pgferry.ledger";
    public static final String CLAIMS = "pgferry.claims";
    public static final String STATUS_SNAPSHOTS = "pgferry.status-snapshots";
    /** How often the coordinator writes the snapshots of the migrations whose status changed. */
    public static final long STATUS_SNAPSHOT_MS = 5_000;
    /** How often a running task's claim is renewed. */
    public static final long CLAIM_HEARTBEAT_MS = 2_000;
    /** How long a claim may be silent before its task is queued again, by default. */
    public static final long CLAIM_TIMEOUT_MS = 20_000;
    /** Partitions of the ledger topic: a reader scans only the partition of its key. */
    public static final int LEDGER_PARTITIONS = 12;
    public static final String COORDINATOR_GROUP = "pgferry-coordinator";
    public static final String WORKER_GROUP = "pgferry-workers";
    /** Partitions of the tasks topic: the most workers that can wait for a task at once (running ones leave the group). */
    public static final int TASK_PARTITIONS = 12;
    public static final String REASON_HEADER = "pgferry.reason";
    public static final String SOURCE_TOPIC_HEADER = "pgferry.source.topic";

    private Topics() {
    }
}
