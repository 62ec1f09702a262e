package dev.pgferry.worker.runtime;

import dev.pgferry.bus.Bus;
import dev.pgferry.bus.Ledger;
import dev.pgferry.bus.Stopping;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.Topics;
import dev.pgferry.pg.Secrets;
import dev.pgferry.worker.task.DatabaseMigration;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * One stateless worker: a member of consumer group {@value Topics#WORKER_GROUP} that runs one task at a time.
 * While a task runs (which can take hours) the poll thread keeps polling with every partition paused, so the
 * worker keeps its partitions and its group membership; the task's offset is committed only after the task's
 * final status event is written, so a worker killed mid-task leaves the task to another worker, and a task whose
 * database finished while its final event could not be written runs again to write it. A task message
 * that cannot be read goes to the dead-letter topic. The poll loop owns the consumer; the task runs on a second
 * thread.
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
    private final ExecutorService runner;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile WorkerMetrics metrics;

    /** Pause before running again a task whose final status event could not be written. */
    private static final long RETRY_PAUSE_MS = 1_000;

    /** How long the group waits for a silent worker before giving its tasks to another, by default. */
    public static final int DEFAULT_SESSION_TIMEOUT_MS = 15_000;

    public Worker(Bus bus, String workerId, Clock clock, Secrets secrets, int jobs) {
        this(bus, workerId, clock, secrets, jobs, DEFAULT_SESSION_TIMEOUT_MS);
    }

    /**
     * {@code sessionTimeoutMs} bounds how long a task of a killed worker waits before another worker takes it
     * (the broker must allow it: group.min.session.timeout.ms, 6 s by default).
     */
    public Worker(Bus bus, String workerId, Clock clock, Secrets secrets, int jobs, int sessionTimeoutMs) {
        this(bus, workerId, clock, secrets, jobs, sessionTimeoutMs, 0);
    }

    /**
     * {@code splitTableBytes}: tables larger than this are copied in ranges, in parallel (0: automatic, see
     * {@code TableSlicer}).
     */
    public Worker(Bus bus, String workerId, Clock clock, Secrets secrets, int jobs, int sessionTimeoutMs,
                  long splitTableBytes) {
        this.bus = bus;
        this.splitTableBytes = splitTableBytes;
        this.workerId = workerId;
        this.clock = clock;
        this.secrets = secrets;
        // 0: one copy job per core (at least 2: while one job waits on the network, another works).
        this.jobs = jobs > 0 ? jobs : Math.max(2, Runtime.getRuntime().availableProcessors());
        Map<String, Object> props = bus.consumerProps(Topics.WORKER_GROUP, "pgferry-" + workerId);
        props.put("max.poll.records", 1);
        props.put("partition.assignment.strategy", CooperativeStickyAssignor.class.getName());
        props.put("session.timeout.ms", sessionTimeoutMs);
        props.put("heartbeat.interval.ms", Math.max(500, sessionTimeoutMs / 5));
        this.consumer = new KafkaConsumer<>(props);
        this.ledger = new Ledger(bus, "pgferry-" + workerId);
        this.runner = Executors.newSingleThreadExecutor(r -> new Thread(r, "task-" + workerId));
        this.thread = new Thread(this::pollLoop, "worker-" + workerId);
    }

    public static String newWorkerId() {
        return "worker-" + UUID.randomUUID().toString().substring(0, 8);
    }

    public String workerId() {
        return workerId;
    }

    /** Counts this worker's tasks and events in {@code m} (served by {@code worker --metrics-port}); before start. */
    public Worker withMetrics(WorkerMetrics m) {
        this.metrics = m;
        return this;
    }

    public Worker start() {
        thread.start();
        return this;
    }

    private void pollLoop() {
        Future<Boolean> current = null;
        ConsumerRecord<String, byte[]> currentRecord = null;
        MigrationTask currentTask = null;
        try {
            consumer.subscribe(List.of(Topics.TASKS), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    // A task is running: newly assigned partitions wait too.
                    if (!consumer.paused().isEmpty()) {
                        consumer.pause(partitions);
                    }
                }
            });
            while (running) {
                ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofMillis(200));
                if (current == null) {
                    for (ConsumerRecord<String, byte[]> record : records) {
                        MigrationTask task = readTask(record);
                        if (task == null) {
                            commit(record);
                            continue;
                        }
                        currentRecord = record;
                        currentTask = task;
                        consumer.pause(consumer.assignment());
                        java.util.function.Consumer<dev.pgferry.messages.StatusEvent> emit = bus::publish;
                        if (metrics != null) {
                            metrics.taskStarted(task);
                            emit = metrics.counting(emit);
                        }
                        DatabaseMigration migration = new DatabaseMigration(task, workerId, emit, clock, secrets, jobs,
                                splitTableBytes, ledger);
                        current = runner.submit(migration::run);
                        break;
                    }
                } else if (current.isDone()) {
                    if (current.get()) {
                        commit(currentRecord);
                    } else {
                        // A finished database whose final status event was not written: run the task again after a
                        // pause; the next run finds it done and only writes that event.
                        consumer.seek(new TopicPartition(currentRecord.topic(), currentRecord.partition()),
                                currentRecord.offset());
                        Thread.sleep(RETRY_PAUSE_MS);
                    }
                    if (metrics != null) {
                        metrics.taskFinished(currentTask);
                    }
                    current = null;
                    currentRecord = null;
                    currentTask = null;
                    consumer.resume(consumer.paused());
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (Exception e) {
            LOG.error("worker {} stopped", workerId, e);
        } finally {
            runner.shutdownNow();
            consumer.close();
            ledger.close();
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

    private void commit(ConsumerRecord<String, byte[]> record) {
        try {
            consumer.commitSync(Map.of(new TopicPartition(record.topic(), record.partition()),
                    new OffsetAndMetadata(record.offset() + 1)));
        } catch (RuntimeException e) {
            // The partition moved to another worker while the task ran; that worker will redo it as a new attempt.
            LOG.warn("could not commit task at {}-{}@{}: {}", record.topic(), record.partition(), record.offset(), e.toString());
        }
    }

    @Override
    public void close() {
        running = false;
        Stopping.pollLoop(consumer, thread, 30_000);
    }
}
