package dev.pgferry.coordinator.intake;

import dev.pgferry.bus.Bus;
import dev.pgferry.bus.Stopping;
import dev.pgferry.messages.CutoverRequest;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.RefreshRequest;
import dev.pgferry.messages.RemovalRequest;
import dev.pgferry.messages.VerifyRequest;
import dev.pgferry.messages.Request;
import dev.pgferry.messages.Topics;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * Turns each request on {@value Topics#REQUESTS} into an accepted event, a planned event and one task per
 * database, then commits the request's offset; a removal request into a removal-requested event and one removal
 * task per database of that migration; a verify request likewise; a cut-over request into one cut-over task per
 * named database that is syncing; a refresh request into one refresh task per named syncing database. Requests about a migration are planned from the status view as of the moment
 * they are handled (every event written before them applied, also right after a coordinator restart). A request that cannot be read goes to the dead-letter topic (with a
 * failed event when its migration id can be read); a request whose servers cannot be reached ends as a failed
 * migration. Either way the intake goes on with the next request. Runs on its own thread.
 */
public final class RequestIntake implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RequestIntake.class);
    static final String WORKER_ID = "coordinator";
    /** One per cluster: a second coordinator's intake fences the first (only one turns requests into tasks). */
    static final String TRANSACTIONAL_ID = "pgferry-coordinator-intake";
    /** Fault injection for the test suite: halt the process after the planned event, before the tasks. */
    private static final boolean HALT_AFTER_PLANNED = Boolean.getBoolean("pgferry.fault.intake.haltAfterPlanned");

    /** The transactional writer, starting on a thread of its own ({@link #awaitReady}). */
    private final CompletableFuture<Bus> transactional = new CompletableFuture<>();
    /** {@link #transactional} once it is ready; the intake's thread's only. */
    private Bus bus;
    private final String requestsTopic;
    private final SourceCatalog catalog;
    private final Clock clock;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Thread thread;
    private volatile boolean running = true;

    private final RequestStore store;
    private final Function<String, Optional<MigrationStatus>> viewOf;
    private final UnaryOperator<MigrationRequest> protect;

    /**
     * {@code viewOf} gives the status view of a known migration, current as of the call (for removal, verification
     * and cut-over);
     * {@code protect} turns a request into what a task may carry (inline passwords sealed) or refuses it with a
     * {@link MigrationException}, so that no task holds a clear password unless the operator allowed it.
     */
    public RequestIntake(Bus bus, SourceCatalog catalog, RequestStore store, Function<String, Optional<MigrationStatus>> viewOf,
                         Clock clock, UnaryOperator<MigrationRequest> protect) {
        this.protect = protect;
        // Everything one request causes is written in one transaction with the request's offset: exactly once. Its
        // producer's start (finding the transaction coordinator, a producer id: about 0.1 s) runs beside the
        // consumer's first join of its group, instead of before it.
        Thread starting = new Thread(() -> {
            try {
                transactional.complete(new Bus(bus.settings(), "pgferry-coordinator-intake", TRANSACTIONAL_ID));
            } catch (RuntimeException | Error e) {
                transactional.completeExceptionally(e);
            }
        }, "request-intake-producer");
        starting.setDaemon(true);
        starting.start();
        this.catalog = catalog;
        this.store = store;
        this.viewOf = viewOf;
        this.clock = clock;
        this.requestsTopic = bus.topic(Topics.REQUESTS);
        Map<String, Object> props = bus.consumerProps(Topics.COORDINATOR_GROUP, "pgferry-coordinator-intake");
        props.put("max.poll.records", 1);
        // A dead coordinator's requests move to the next one within seconds: the least session a broker allows by
        // default (group.min.session.timeout.ms), three heartbeats long.
        props.put("session.timeout.ms", 6_000);
        props.put("heartbeat.interval.ms", 2_000);
        this.consumer = new KafkaConsumer<>(props);
        this.thread = new Thread(this::run, "request-intake");
    }

    public RequestIntake start() {
        thread.start();
        return this;
    }

    /**
     * Waits until the intake can write (its transactional producer has started); throws what that start threw (a
     * transactional id the cluster refuses, say).
     */
    public void awaitReady() {
        try {
            transactional.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
    }

    private void run() {
        try {
            consumer.subscribe(List.of(requestsTopic));
            while (running) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    if (bus == null) {
                        bus = transactional.join();
                    }
                    TopicPartition tp = new TopicPartition(record.topic(), record.partition());
                    bus.begin();
                    try {
                        handle(record);
                        bus.commit(Map.of(tp, new OffsetAndMetadata(record.offset() + 1)), consumer.groupMetadata());
                    } catch (ProducerFencedException e) {
                        throw e;
                    } catch (RuntimeException e) {
                        // Nothing of this request became visible: read it again after a pause.
                        LOG.warn("request at {}@{} not handled, retrying: {}", tp, record.offset(), e.toString());
                        bus.abort();
                        consumer.seek(tp, record.offset());
                        Thread.sleep(1_000);
                        break;
                    }
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.error("request intake stopped", e);
        } finally {
            // Every offset is committed with its request's transaction: the close only leaves the group (with the
            // default timeout, up to half a second more for every command that stops a coordinator).
            consumer.close(CloseOptions.timeout(Stopping.LEAVE_GROUP_TIMEOUT));
            // (one still starting is closed as its start ends)
            transactional.thenAccept(Bus::close);
        }
    }

    /** Handles one request message; never throws for a bad request. */
    void handle(ConsumerRecord<String, byte[]> record) {
        Request message;
        try {
            message = Json.readRequestMessage(record.value());
        } catch (MigrationException e) {
            bus.deadLetter(record, e.getMessage());
            String id = Json.peekMigrationId(record.value());
            if (id != null) {
                bus.publish(new EventSource(id, null, WORKER_ID, 1, clock).migrationFailed(e.toFailure()));
            }
            return;
        }
        if (message instanceof RemovalRequest removal) {
            remove(record, removal);
            return;
        }
        if (message instanceof VerifyRequest verify) {
            verify(record, verify);
            return;
        }
        if (message instanceof CutoverRequest cutover) {
            cutover(record, cutover);
            return;
        }
        if (message instanceof RefreshRequest refresh) {
            refresh(record, refresh);
            return;
        }
        MigrationRequest request = (MigrationRequest) message;
        MDC.put("migration", request.migrationId());
        try {
            EventSource events = new EventSource(request.migrationId(), null, WORKER_ID, 1, clock);
            bus.publish(events.accepted(request));
            try {
                request = protect.apply(request);
            } catch (MigrationException e) {
                LOG.warn("migration {} refused: {}", request.migrationId(), e.getMessage());
                bus.publish(events.migrationFailed(e.toFailure()));
                return;
            }
            List<String> databases;
            try {
                databases = catalog.plan(request);
            } catch (MigrationException e) {
                LOG.warn("migration {} failed before planning: {}", request.migrationId(), e.getMessage());
                bus.publish(events.migrationFailed(e.toFailure()));
                return;
            }
            // Listed by name; queued largest first (see SourceCatalog.plan).
            bus.publish(events.planned(databases.stream().sorted().toList()));
            if (HALT_AFTER_PLANNED) {
                Runtime.getRuntime().halt(137);
            }
            for (String db : databases) {
                MigrationTask task = MigrationTask.of(request, db);
                bus.send(Topics.TASKS, task.key(), Json.write(task));
            }
            LOG.info("migration {}: published {} tasks", request.migrationId(), databases.size());
        } finally {
            MDC.remove("migration");
        }
    }

    /** Publishes a removal task for every database of a known migration. */
    private void remove(ConsumerRecord<String, byte[]> record, RemovalRequest removal) {
        Optional<MigrationRequest> original = original(record, removal.migrationId(), "remove");
        if (original.isEmpty()) {
            return;
        }
        List<String> databases = databasesOf(removal.migrationId());
        bus.publish(new EventSource(removal.migrationId(), null, WORKER_ID, 1, clock).removalRequested());
        for (String db : databases) {
            MigrationTask task = MigrationTask.removal(original.get(), db, removal.finalCopy());
            bus.send(Topics.TASKS, task.key(), Json.write(task));
        }
        LOG.info("migration {}: published {} removal tasks", removal.migrationId(), databases.size());
    }

    /** Publishes a verification task for every database of a known migration. */
    private void verify(ConsumerRecord<String, byte[]> record, VerifyRequest verify) {
        Optional<MigrationRequest> original = original(record, verify.migrationId(), "verify");
        if (original.isEmpty()) {
            return;
        }
        List<String> databases = databasesOf(verify.migrationId());
        bus.publish(new EventSource(verify.migrationId(), null, WORKER_ID, 1, clock).verifyRequested());
        for (String db : databases) {
            MigrationTask task = MigrationTask.verification(original.get(), db, verify.jobs());
            bus.send(Topics.TASKS, task.key(), Json.write(task));
        }
        LOG.info("migration {}: published {} verification tasks", verify.migrationId(), databases.size());
    }

    /**
     * Publishes a cut-over task for every named database that is syncing (or whose cut-over is under way: a repeated
     * request finishes it); other databases are left as they are, and the log says why.
     */
    private void cutover(ConsumerRecord<String, byte[]> record, CutoverRequest cutover) {
        Optional<MigrationRequest> original = original(record, cutover.migrationId(), "cut over");
        if (original.isEmpty()) {
            return;
        }
        List<MigrationStatus.DatabaseStatus> rows = viewOf.apply(cutover.migrationId())
                .map(MigrationStatus::migrationDetail).orElse(List.of());
        List<String> databases = rows.stream().filter(d -> cutover.names(d.dbname()))
                .filter(d -> d.status() == MigrationStatus.State.SYNCING || d.status() == MigrationStatus.State.CUTTING_OVER)
                .map(MigrationStatus.DatabaseStatus::dbname).toList();
        rows.stream().filter(d -> cutover.names(d.dbname()) && !databases.contains(d.dbname())).forEach(d ->
                LOG.info("migration {}: database {} is {}, not syncing: no cut-over", cutover.migrationId(), d.dbname(),
                        d.status().wireName()));
        bus.publish(new EventSource(cutover.migrationId(), null, WORKER_ID, 1, clock).cutoverRequested(databases));
        for (String db : databases) {
            MigrationTask task = MigrationTask.cutover(original.get(), db, cutover);
            bus.send(Topics.TASKS, task.key(), Json.write(task));
        }
        LOG.info("migration {}: published {} cut-over tasks", cutover.migrationId(), databases.size());
    }

    /** Publishes a refresh task for every named database that is syncing. */
    private void refresh(ConsumerRecord<String, byte[]> record, RefreshRequest refresh) {
        Optional<MigrationRequest> original = original(record, refresh.migrationId(), "refresh");
        if (original.isEmpty()) {
            return;
        }
        List<String> databases = viewOf.apply(refresh.migrationId()).map(MigrationStatus::migrationDetail).orElse(List.of())
                .stream().filter(d -> refresh.names(d.dbname()) && d.status() == MigrationStatus.State.SYNCING)
                .map(MigrationStatus.DatabaseStatus::dbname).toList();
        bus.publish(new EventSource(refresh.migrationId(), null, WORKER_ID, 1, clock).refreshRequested(databases));
        for (String db : databases) {
            MigrationTask task = MigrationTask.refresh(original.get(), db);
            bus.send(Topics.TASKS, task.key(), Json.write(task));
        }
        LOG.info("migration {}: published {} refresh tasks", refresh.migrationId(), databases.size());
    }

    private List<String> databasesOf(String migrationId) {
        return viewOf.apply(migrationId).map(v -> v.migrationDetail().stream().map(MigrationStatus.DatabaseStatus::dbname)
                .toList()).orElse(List.of());
    }

    /** The original request of a migration a control request names; dead-letters the control request if unknown. */
    private Optional<MigrationRequest> original(ConsumerRecord<String, byte[]> record, String migrationId, String what) {
        Optional<MigrationRequest> original;
        try {
            original = store.await(migrationId, Duration.ofSeconds(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
        if (original.isEmpty()) {
            bus.deadLetter(record, "no migration " + migrationId + " to " + what);
            return original;
        }
        try {
            return Optional.of(protect.apply(original.get()));
        } catch (MigrationException e) {
            bus.deadLetter(record, "cannot " + what + " migration " + migrationId + ": " + e.getMessage());
            return Optional.empty();
        }
    }

    @Override
    public void close() {
        running = false;
        Stopping.pollLoop(consumer, thread, 10_000);
    }
}
