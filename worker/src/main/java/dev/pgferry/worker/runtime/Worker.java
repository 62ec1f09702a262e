package dev.pgferry.worker.runtime;

import dev.pgferry.bus.Bus;
import dev.pgferry.bus.Ledger;
import dev.pgferry.bus.Stopping;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.TaskClaim;
import dev.pgferry.messages.Topics;
import dev.pgferry.pg.Secrets;
import dev.pgferry.worker.task.DatabaseMigration;
import dev.pgferry.worker.task.UnitCopy;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * One stateless worker: runs up to {@code slots} tasks at once (one by default), each on a thread of its own. It is
 * a member of consumer group {@value Topics#WORKER_GROUP} only while a slot is free: on taking a task it writes the
 * task's claim ({@link TaskClaim}), commits the task's offset at once and, with no slot left, leaves the group, so
 * that the partitions go to workers that can start a task now and no task waits behind a running one. While a task
 * runs its claim is renewed every {@value Topics#CLAIM_HEARTBEAT_MS} ms; once the task's final status event is
 * written the claim is deleted. A worker killed mid-task leaves a claim that falls silent, and the coordinator
 * queues that task again (see {@link Topics}). A task whose database finished while its final event could not be
 * written runs again, in the same slot, after a pause, and so does one whose attempt failed in a way worth retrying
 * ({@value #MAX_RETRIES} times at most, the pause doubling from 1 s). A task message that cannot be read goes to
 * the dead-letter topic. A {@code copy_unit} task (a range of a table another worker offers, see {@code UnitCopy})
 * runs once in a slot and never again; one of an attempt that has ended is dropped without taking a slot. A task
 * that only waits for a server (a subscription's apply worker to start) is parked: its slot counts as free, for up
 * to {@value #MAX_PARKED} parked tasks. The poll loop owns the consumer and the claims.
 */
public final class Worker implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Worker.class);

    private final Bus bus;
    private final String workerId;
    private final Clock clock;
    private final Secrets secrets;
    private final int jobs;
    private final long splitTableBytes;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Ledger ledger;
    private final StatusPublisher status;
    private final Thread thread;
    private volatile boolean running = true;
    /** Set by {@link #cancel}: the tasks running are stopped for good, not handed back. */
    private volatile boolean cancelling;
    /** How long {@link #cancel} gives the running tasks to clean up and write their final event. */
    private volatile long cancelWaitMs;
    /** Whether a migration is one to end rather than run ({@link #abandoning}); none by default. */
    private volatile Predicate<String> abandoned = id -> false;
    private volatile WorkerMetrics metrics;
    private final int slots;
    /** Released once each task run's future is done (see {@link #run}): wakes the poll loop. */
    private final Semaphore ended = new Semaphore(0);
    /** The claim keys of deliveries that gave up for the first delivery of the same record (see {@link #finished}). */
    private final java.util.Set<String> duplicates = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /**
     * Offsets of tasks taken whose commit met a rebalance in progress: committed once it is complete, before the
     * worker leaves the group (see {@link #commit}). Poll loop only.
     */
    private final Map<TopicPartition, OffsetAndMetadata> uncommitted = new HashMap<>();
    private ExecutorService runner;

    /** How long a stopping worker lets its runs end on their own before it interrupts them and hands them back. */
    static final long ENDING_GRACE_MS = 1_000;
    /** How long a worker completes a rebalance to commit a taken task's offset ({@link #settle}) before it leaves. */
    private static final long SETTLE_MS = 5_000;
    /** Stopping: the same, shorter (the task is handed back or done either way; a second delivery finds it so). */
    private static final long SETTLE_ON_STOP_MS = 1_000;
    /**
     * Fault hook for tests: before committing a task's offset the worker starts a rebalance and does not wait for it,
     * as when its poll returned the task while joining a group another worker had just joined.
     */
    private static final boolean REBALANCE_BEFORE_COMMIT =
            Boolean.getBoolean("pgferry.fault.worker.rebalanceBeforeCommit");
    /** Pause before running a task again, doubled on each run again of the same task up to {@link #MAX_RETRY_PAUSE_MS}. */
    private static final long RETRY_PAUSE_MS = 1_000;
    private static final long MAX_RETRY_PAUSE_MS = 30_000;
    /** New attempts after failures worth retrying (see {@code Retry}), per task. */
    static final int MAX_RETRIES = 4;

    /** How long the group waits for a silent worker before its partitions go to another, by default. */
    public static final int DEFAULT_SESSION_TIMEOUT_MS = 15_000;
    /** Jobs per task by default: 0, one per core (at least 2). */
    public static final int DEFAULT_JOBS = 0;
    /** Tasks (databases) a worker runs at once by default. */
    public static final int DEFAULT_SLOTS = 1;

    /**
     * How a worker runs, each setting defined once here with its default ({@link #defaults()}); the CLI options of
     * {@code pgferry worker} and {@code migrate} fill it.
     *
     * @param workerId         this worker's name in claims, logs and metrics
     * @param jobs             tables (or ranges) copied and indexes built at once per task; 0: one per core, at least 2
     * @param slots            tasks (databases) run at once, each with its own jobs
     * @param sessionTimeoutMs how long the group waits for a silent idle worker before its partitions go to another,
     *                         in ms (the broker must allow it: group.min.session.timeout.ms, 6 s by default)
     * @param splitTableBytes  tables larger than this are copied in ranges, in parallel; 0: automatic (see
     *                         {@code TableSlicer})
     */
    public record Settings(String workerId, Clock clock, Secrets secrets, int jobs, int slots, int sessionTimeoutMs,
                           long splitTableBytes) {
        public Settings {
            if (jobs < 0) {
                throw new IllegalArgumentException("--jobs must be 0 (one per core) or more, not " + jobs);
            }
            if (slots < 1) {
                throw new IllegalArgumentException("a worker needs at least one task slot, not " + slots);
            }
            if (sessionTimeoutMs < 1_000) {
                throw new IllegalArgumentException("the session timeout must be at least 1000 ms, not " + sessionTimeoutMs);
            }
            if (splitTableBytes < 0) {
                throw new IllegalArgumentException("the split size must be 0 (automatic) or more, not " + splitTableBytes);
            }
        }

        /** A new worker id, the system clock and secret key, automatic jobs, one slot, the default timeout. */
        public static Settings defaults() {
            return new Settings(newWorkerId(), Clock.systemUTC(), Secrets.system(), DEFAULT_JOBS, DEFAULT_SLOTS,
                    DEFAULT_SESSION_TIMEOUT_MS, 0);
        }

        public Settings withWorkerId(String id) {
            return new Settings(id, clock, secrets, jobs, slots, sessionTimeoutMs, splitTableBytes);
        }

        public Settings withSecrets(Secrets s) {
            return new Settings(workerId, clock, s, jobs, slots, sessionTimeoutMs, splitTableBytes);
        }

        public Settings withJobs(int n) {
            return new Settings(workerId, clock, secrets, n, slots, sessionTimeoutMs, splitTableBytes);
        }

        public Settings withSlots(int n) {
            return new Settings(workerId, clock, secrets, jobs, n, sessionTimeoutMs, splitTableBytes);
        }

        public Settings withSessionTimeout(int ms) {
            return new Settings(workerId, clock, secrets, jobs, slots, ms, splitTableBytes);
        }

        public Settings withSplitTableBytes(long bytes) {
            return new Settings(workerId, clock, secrets, jobs, slots, sessionTimeoutMs, bytes);
        }

        /** The jobs a task runs: {@link #jobs}, or one per core (at least 2: while one waits on the network, another works). */
        int effectiveJobs() {
            return jobs > 0 ? jobs : Math.max(2, Runtime.getRuntime().availableProcessors());
        }
    }

    public Worker(Bus bus, Settings settings) {
        this.bus = bus;
        this.splitTableBytes = settings.splitTableBytes();
        this.workerId = settings.workerId();
        this.clock = settings.clock();
        this.secrets = settings.secrets();
        this.jobs = settings.effectiveJobs();
        this.slots = settings.slots();
        Map<String, Object> props = bus.consumerProps(Topics.WORKER_GROUP, "pgferry-" + workerId);
        props.put("max.poll.records", 1);
        props.put("partition.assignment.strategy", CooperativeStickyAssignor.class.getName());
        props.put("session.timeout.ms", settings.sessionTimeoutMs());
        props.put("heartbeat.interval.ms", heartbeatMs(settings.sessionTimeoutMs()));
        this.consumer = new KafkaConsumer<>(props);
        this.ledger = new Ledger(bus, "pgferry-" + workerId);
        this.status = new StatusPublisher(bus, workerId);
        this.thread = new Thread(this::pollLoop, "worker-" + workerId);
    }

    /**
     * How often the worker's consumer tells the group it is alive, and so how soon it hears that the group must be
     * rebalanced: every worker that takes a task leaves the group and every worker whose slot frees up rejoins it, and
     * until the other members have heard and rejoined, the partitions of the one that left are nobody's, so a task
     * published to them waits. With Kafka's default (3 s) a task waited up to that long (the single-machine default's
     * two workers needed 0.8 s to form their group, BENCHMARKS.md); a heartbeat every 500 ms (a third of the session
     * timeout when that is shorter) costs each worker two small requests a second.
     */
    static int heartbeatMs(int sessionTimeoutMs) {
        return Math.min(500, sessionTimeoutMs / 3);
    }

    public static String newWorkerId() {
        return "worker-" + UUID.randomUUID().toString().substring(0, 8);
    }

    public String workerId() {
        return workerId;
    }

    /**
     * Ends the tasks of the migrations {@code abandoned} names instead of running them (see
     * {@link DatabaseMigration#abandoned}): for a single-machine command, the migrations a killed command left
     * unfinished in its data directory. The predicate may block until it knows. Before start.
     */
    public Worker abandoning(Predicate<String> abandoned) {
        this.abandoned = abandoned;
        return this;
    }

    /** Counts this worker's tasks and events in {@code m} (served by {@code worker --metrics-port}); before start. */
    public Worker withMetrics(WorkerMetrics m) {
        this.metrics = m;
        return this;
    }

    public Worker start() {
        AtomicInteger n = new AtomicInteger();
        this.runner = Executors.newFixedThreadPool(slots + MAX_PARKED,
                r -> new Thread(r, "task-" + workerId + "-" + n.incrementAndGet()));
        thread.start();
        return this;
    }

    /**
     * A task this worker runs: its record, its claim and the run in progress, and whether that run is parked (it only
     * waits for a server: its slot may take another task meanwhile).
     */
    private record Running(ConsumerRecord<String, byte[]> record, MigrationTask task, TaskClaim claim,
                           Future<Boolean> run, int reruns, AtomicBoolean parked) {
    }

    /**
     * How many parked tasks a worker keeps beside its {@code slots} working ones: each holds a session or two on the
     * target while it waits (for a subscription's apply worker, a few seconds at most).
     */
    static final int MAX_PARKED = 8;

    private void pollLoop() {
        List<Running> tasks = new ArrayList<>();
        boolean member = false;
        long nextHeartbeat = System.nanoTime();
        try {
            while (running) {
                for (Running r : List.copyOf(tasks)) {
                    if (r.run().isDone()) {
                        tasks.remove(r);
                        finished(r).ifPresent(tasks::add);
                    }
                }
                if (!tasks.isEmpty() && System.nanoTime() - nextHeartbeat >= 0) {
                    for (Running r : tasks) {
                        bus.claim(r.claim().key(), r.claim());
                    }
                    nextHeartbeat = System.nanoTime() + Topics.CLAIM_HEARTBEAT_MS * 1_000_000;
                }
                long working = tasks.stream().filter(r -> !r.parked().get()).count();
                boolean free = working < slots && tasks.size() < slots + MAX_PARKED;
                if (free != member) {
                    if (free) {
                        consumer.subscribe(List.of(bus.topic(Topics.TASKS)), committing);
                    } else {
                        // No slot left: the partitions go to workers that can start a task now, from the offset after
                        // the task taken (left mid-rebalance, they would be lost instead of revoked, uncommitted).
                        settle(SETTLE_MS);
                        consumer.unsubscribe();
                    }
                    member = free;
                }
                if (!member) {
                    // Woken as soon as a task ends, so that its slot takes the next task without delay.
                    ended.tryAcquire(200, TimeUnit.MILLISECONDS);
                    continue;
                }
                ConsumerRecords<String, byte[]> polled = consumer.poll(Duration.ofMillis(200));
                commitUncommitted();
                for (ConsumerRecord<String, byte[]> record : polled) {
                    MigrationTask task = readTask(record);
                    if (task != null && task.action() == MigrationTask.Action.COPY_UNIT
                            && (abandoned.test(task.migrationId()) || !UnitCopy.wanted(task, ledger))) {
                        // A unit of an attempt that has ended (or of an abandoned migration): dropped here, without
                        // taking a slot (and so without leaving and rejoining the group), as every unit offered by a
                        // database that finished is.
                        task = null;
                    }
                    if (task != null) {
                        TaskClaim claim = TaskClaim.of(workerId, task.key(), record.partition(), record.offset());
                        // Claimed before the offset moves on: from here on a silent claim brings the task back.
                        bus.claim(claim.key(), claim);
                        if (tasks.isEmpty()) {
                            // Written just now: renewed a period from now, not on the loop's next turn.
                            nextHeartbeat = System.nanoTime() + Topics.CLAIM_HEARTBEAT_MS * 1_000_000;
                        }
                        AtomicBoolean parked = new AtomicBoolean();
                        tasks.add(new Running(record, task, claim, submit(record, task, 0, parked), 0, parked));
                    }
                    commit(record);
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            LOG.error("worker {} stopped", workerId, e);
        } finally {
            if (!cancelling) {
                // A run whose final status event is written still notes that in the ledger and lets go of its lock
                // and sessions: a command that saw that event stops its workers at once, and that run, interrupted
                // there, was handed back to the queue (or, with the command's producer closing beside it, kept its
                // claim) and taken up by the next command for nothing. A run in the middle of its copy is interrupted
                // after this grace.
                runner.shutdown();
                try {
                    runner.awaitTermination(ENDING_GRACE_MS, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            runner.shutdownNow();
            if (cancelling) {
                try {
                    // Each run, interrupted, removes what its attempt made and writes its final event (STOPPED).
                    if (!runner.awaitTermination(cancelWaitMs, TimeUnit.MILLISECONDS)) {
                        LOG.warn("worker {}: {} task(s) did not stop within {} ms; they are handed back to the queue",
                                workerId, tasks.stream().filter(r -> !r.run().isDone()).count(), cancelWaitMs);
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            for (Running r : tasks) {
                handBack(r);
            }
            try {
                settle(SETTLE_ON_STOP_MS);
            } catch (RuntimeException e) {
                LOG.warn("worker {} stopping: could not commit the offsets of its last tasks: {}", workerId,
                        e.toString());
            }
            // Nothing else is left to commit (a task's offset is committed as it is taken): the close only leaves the
            // group.
            consumer.close(CloseOptions.timeout(Stopping.LEAVE_GROUP_TIMEOUT));
            ledger.close();
            status.close();
        }
    }

    /**
     * A task still running when the worker stops (and {@link #ENDING_GRACE_MS} later) goes back to the queue (its run
     * is interrupted; the next worker waits for the task's target lock, then starts a new attempt). If that fails, its
     * claim falls silent and the coordinator queues it again.
     */
    private void handBack(Running r) {
        boolean ended;
        try {
            ended = r.run().isDone() && Boolean.TRUE.equals(r.run().get());
        } catch (Exception e) {
            ended = false;   // interrupted or failed: hand it back
        }
        if (ended) {
            releaseClaim(r);
            return;
        }
        try {
            bus.send(Topics.TASKS, r.record().key(), r.record().value());
            bus.claim(r.claim().key(), null);
            LOG.info("worker {} stopping: handed task {} back to the queue", workerId, r.task().key());
        } catch (RuntimeException e) {
            LOG.warn("could not hand task {} back: {} (the coordinator queues it again once its claim is silent)",
                    r.task().key(), e.toString());
        }
    }

    /** Runs the task on a slot's thread; its {@code reruns}-th run again waits first (on that thread). */
    private Future<Boolean> submit(ConsumerRecord<String, byte[]> record, MigrationTask task, int reruns,
                                   AtomicBoolean parked) {
        java.util.function.Consumer<dev.pgferry.messages.StatusEvent> emit = status;
        if (metrics != null) {
            metrics.taskStarted(task);
            emit = metrics.counting(emit);
        }
        if (task.action() == MigrationTask.Action.COPY_UNIT) {
            // A range of another worker's database: it only helps, and never runs again (that worker copies what
            // is left).
            return run(() -> {
                UnitCopy.run(task, workerId, secrets, ledger);
                return true;
            });
        }
        DatabaseMigration migration = new DatabaseMigration(task, workerId, emit, clock, secrets, jobs,
                splitTableBytes, ledger, Math.max(0, MAX_RETRIES - reruns))
                .withDelivery(record.partition() + ":" + record.offset())
                .onDuplicate(() -> duplicates.add(TaskClaim.of(workerId, task.key(), record.partition(),
                        record.offset()).key()))
                .withUnitOffers(unit -> bus.send(Topics.TASKS, unit.key(), Json.write(unit)))
                .withStop(() -> cancelling)
                .withParking(p -> {
                    parked.set(p);
                    if (p) {
                        ended.release();   // its slot may take the next task now
                    }
                })
                .abandoned(task.action() == MigrationTask.Action.MIGRATE && abandoned.test(task.migrationId()));
        long pause = reruns == 0 ? 0 : Math.min(MAX_RETRY_PAUSE_MS, RETRY_PAUSE_MS << Math.min(reruns - 1, 5));
        return run(() -> {
            Thread.sleep(pause);
            return migration.run();
        });
    }

    /**
     * Runs {@code work} in a slot and wakes the poll loop once its future is done. Woken from inside the work (a
     * {@code finally} in it), the loop could look before the future was done, find nothing ended and sleep its
     * 200 ms: the next task then started that much later (2 of 12 small databases in a probe).
     */
    private Future<Boolean> run(Callable<Boolean> work) {
        FutureTask<Boolean> run = new FutureTask<>(work) {
            @Override
            protected void done() {
                ended.release();
            }
        };
        runner.execute(run);
        return run;
    }

    /**
     * Ends a finished run: deletes its claim, or, when the run asks to run again (a finished database whose final
     * status event was not written, or an attempt that failed in a way worth retrying), runs the task again after a
     * growing pause and returns that run.
     */
    private Optional<Running> finished(Running r) throws Exception {
        if (metrics != null) {
            metrics.taskFinished(r.task());
        }
        if (!r.run().get()) {
            int reruns = r.reruns() + 1;
            return Optional.of(new Running(r.record(), r.task(), r.claim(), submit(r.record(), r.task(), reruns,
                    r.parked()), reruns, r.parked()));
        }
        releaseClaim(r);
        return Optional.empty();
    }

    /**
     * Deletes the claim of a run that ended, unless the run was a second delivery of a record the first still runs:
     * the claim (one key for both) is then the first one's, renewed by it. Deleted, it was gone until that worker's
     * next renewal, and a worker that died meanwhile left a task nobody would queue again (seen in CliIT's kill test).
     */
    private void releaseClaim(Running r) {
        if (duplicates.remove(r.claim().key())) {
            return;
        }
        try {
            bus.claim(r.claim().key(), null);
        } catch (RuntimeException e) {
            // The claim falls silent and the task is queued again: its next run finds the work done.
            LOG.warn("could not delete the claim {}: {}", r.claim().key(), e.toString());
        }
    }

    private MigrationTask readTask(ConsumerRecord<String, byte[]> record) {
        try {
            return Json.readTask(record.value());
        } catch (MigrationException e) {
            bus.deadLetter(record, e.getMessage());
            return null;
        }
    }

    /**
     * Commits the offset after a task just taken, so that the task's record is delivered to no other worker. A commit
     * fails while the consumer is rejoining its group (its poll hands out records meanwhile): another worker joined
     * or left. Such an offset is kept and committed after a later poll, in the revocation of its partition, or, before
     * this worker leaves the group, once {@link #settle} has completed the rebalance; left uncommitted, the partition
     * went to another worker from the offset before, which ran the task a second time (8 such failed commits in one
     * run of the integration tests; the task's target lock made that run give up, at the cost of a run, a claim, a
     * rebalance).
     */
    private void commit(ConsumerRecord<String, byte[]> record) {
        if (REBALANCE_BEFORE_COMMIT) {
            consumer.enforceRebalance("fault hook pgferry.fault.worker.rebalanceBeforeCommit");
            Collection<TopicPartition> assigned = consumer.assignment();
            consumer.pause(assigned);
            consumer.poll(Duration.ZERO);
            consumer.resume(assigned);
        }
        uncommitted.put(new TopicPartition(record.topic(), record.partition()),
                new OffsetAndMetadata(record.offset() + 1));
        commitUncommitted();
    }

    /** Commits the offsets {@link #commit} could not yet; false if a rebalance is still in progress. */
    private boolean commitUncommitted() {
        if (uncommitted.isEmpty()) {
            return true;
        }
        try {
            consumer.commitSync(uncommitted);
            uncommitted.clear();
            return true;
        } catch (RebalanceInProgressException e) {
            LOG.debug("worker {}: commit of {} waits for the rebalance in progress", workerId, uncommitted);
            return false;
        } catch (WakeupException e) {
            throw e;
        } catch (RuntimeException e) {
            // Out of the group (its session expired): the partitions went to another worker, which runs these tasks
            // too; the task's target lock and ledger entry make one of the two runs find the work done.
            LOG.warn("could not commit tasks at {}: {}", uncommitted, e.toString());
            uncommitted.clear();
            return true;
        }
    }

    /**
     * Completes a rebalance in progress, up to {@code waitMs}, to commit the offsets of tasks taken during it: polls
     * with every partition paused so that no task is taken meanwhile, and a record fetched anyway (from a partition
     * assigned by this rebalance) is left for the next poll.
     */
    private void settle(long waitMs) {
        long deadline = System.nanoTime() + waitMs * 1_000_000;
        while (!commitUncommitted() && System.nanoTime() - deadline < 0) {
            consumer.pause(consumer.assignment());
            ConsumerRecords<String, byte[]> fetched = consumer.poll(Duration.ofMillis(50));
            for (TopicPartition p : fetched.partitions()) {
                consumer.seek(p, fetched.records(p).get(0).offset());
            }
        }
        consumer.resume(consumer.paused());
        if (!uncommitted.isEmpty()) {
            LOG.warn("worker {}: the rebalance in progress did not complete within {} ms; tasks at {} may be delivered "
                    + "again (their target lock makes a second run find the work done)", workerId, waitMs, uncommitted);
            uncommitted.clear();
        }
    }

    /** Commits a revoked partition's uncommitted offset while this worker still owns it. */
    private final ConsumerRebalanceListener committing = new ConsumerRebalanceListener() {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            if (partitions.stream().anyMatch(uncommitted::containsKey)) {
                commitUncommitted();
            }
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            // Not ours any more, nor can they be committed: a second delivery finds the work done.
            partitions.forEach(uncommitted::remove);
        }
    };

    /**
     * Stops the worker and, unlike {@link #close}, its running tasks for good (the command that runs them was
     * interrupted and nobody is to finish them): each is interrupted and, given {@code wait} for it, a database's copy
     * removes what its attempt made on both servers (the half-copied target database, the replication objects) and
     * ends with a {@code STOPPED} failure, a cut-over gives the source its writes back and ends aborted. A task still running after that is handed back to the queue, as {@link #close} does.
     */
    public void cancel(Duration wait) {
        cancelWaitMs = wait.toMillis();
        cancelling = true;
        stop(cancelWaitMs + 30_000);
    }

    @Override
    public void close() {
        stop(30_000);
    }

    /** Ends the poll loop, waiting for it up to {@code waitMs} (its tasks handed back or, when cancelling, stopped). */
    private void stop(long waitMs) {
        running = false;
        // A loop with no free slot waits on this, not in a poll that wakeup() ends
        ended.release();
        if (runner == null) {
            consumer.close();
            ledger.close();
            status.close();
            return;
        }
        Stopping.pollLoop(consumer, thread, waitMs);
    }
}
