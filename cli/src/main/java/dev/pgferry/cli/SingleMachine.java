package dev.pgferry.cli;

import dev.pgferry.broker.ChildBroker;
import dev.pgferry.bus.Bus;
import dev.pgferry.bus.Ledger;
import dev.pgferry.bus.Stopping;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.EventSource;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.Topics;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Secrets;
import dev.pgferry.pg.Side;
import dev.pgferry.worker.roles.RoleRemoval;
import dev.pgferry.worker.runtime.Worker;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.function.Predicate;

/**
 * The single-machine default: a real Kafka broker in a child JVM (data under {@code dataDir/kafka}; started as the
 * JVM started when the command always needs it, see {@link EarlyBroker}), a coordinator and {@code workers} workers
 * in this JVM, all over loopback. {@link #close()} stops them all, the broker without waiting for its JVM to exit.
 * Not thread-safe.
 */
final class SingleMachine implements AutoCloseable {
    /** Where the single-machine default keeps its broker's data and logs, unless --data-dir says otherwise. */
    static final String DATA_DIR = "./.pgferry";

    private final ChildBroker broker;
    private final Coordinator coordinator;
    private final Bus bus;
    private final List<Worker> workers = new ArrayList<>();
    private final Secrets secrets;
    /**
     * A file in the data directory that says the last command with workers there left nothing pending or running
     * ({@link #close}). A command that finds it skips the look for what a killed command left ({@link #unfinished}),
     * which waits for the whole status topic to be read (about 0.25 s of every {@code ./pgferry migrate}); it removes
     * the file as it starts, so a command killed in its turn leaves none. A data directory without it (a command
     * killed, or one of a pgferry before the file) is looked at.
     */
    static final String CLEAN_SIGN = "nothing-unfinished";

    private final Path cleanSign;
    private final boolean withWorkers;
    /** Set as {@link #close} begins: the broker's stop that follows is no loss. */
    private volatile boolean closing;
    /** The migrations a killed command left unfinished here, once the coordinator has read the status. */
    private final CompletableFuture<Set<String>> abandoned = new CompletableFuture<>();

    /**
     * The key that seals passwords in this data directory's Kafka: PGFERRY_SECRET_KEY when set, else a key made
     * once and kept in {@code dataDir/secret.key} (readable by its owner only).
     */
    static Secrets secrets(Path dataDir) throws java.io.IOException {
        Secrets system = Secrets.system();
        if (system.canSeal()) {
            return system;
        }
        Path file = dataDir.resolve("secret.key");
        if (!java.nio.file.Files.exists(file)) {
            java.nio.file.Files.createDirectories(dataDir);
            java.nio.file.Files.writeString(file, Secrets.newKey());
            java.nio.file.Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        }
        return system.withKey(java.util.Base64.getDecoder().decode(java.nio.file.Files.readString(file).trim()));
    }

    /**
     * Whether nothing was ever migrated with {@code dataDir}: it holds no broker data (a mistyped --data-dir, or a
     * command run in another directory than migrate was). Commands about a migration then answer at once, without
     * starting a broker or creating anything there.
     */
    static boolean neverUsed(Path dataDir) {
        return !java.nio.file.Files.isDirectory(dataDir.resolve("kafka").resolve("data"));
    }

    /** Says that {@code migrationId} is unknown because {@code dataDir} was never used; the exit code for that. */
    static int unknownIn(Path dataDir, String migrationId) {
        System.err.println("pgferry: no migration " + migrationId + ": nothing was ever migrated with --data-dir "
                + dataDir + " (give the one migrate used, or --bootstrap-servers for a running pgferry)");
        return Exits.UNKNOWN;
    }

    /**
     * {@code workers}: the settings of each worker (each gets an id of its own and this data directory's key). The
     * coordinator starts on a thread of its own while this one starts the workers: its start is a chain of round
     * trips to the broker (the topics, its consumers, the request intake's transactional producer: about 0.35 s on a
     * fresh JVM) and the workers' first join of their group another (about 0.3 s), neither needing the other. Before,
     * one followed the other, and a task published by a coordinator that was just up waited for the workers' join.
     */
    SingleMachine(Path dataDir, int workerCount, Worker.Settings workers, int httpPort) throws Exception {
        Warmup.inBackground();
        this.cleanSign = dataDir.resolve(CLEAN_SIGN);
        this.withWorkers = workerCount > 0;
        this.secrets = secrets(dataDir);
        ChildBroker early = EarlyBroker.take(dataDir.resolve("kafka"));
        this.broker = early != null ? early : ChildBroker.start(dataDir.resolve("kafka"), 0);
        // Read (and taken away) once the broker holds the data directory's lock, before any worker takes a task.
        boolean cleanBefore = workerCount > 0 && Files.deleteIfExists(cleanSign);
        if (workerCount > 0 && !cleanBefore) {
            // Any member of pgferry's groups is then a command's that did not end cleanly (killed, or its machine
            // went down): one command uses a data directory at a time (its lock), and one that ends cleanly has
            // left its groups. This command's intake and workers would wait for those members' sessions to expire
            // before their groups formed: 6 s for the intake, 15 s for an idle worker (the next migrate after a
            // kill -9 took 17 s instead of 2.5-3 s).
            Bus.removeAllMembers(broker.bootstrapServers(), Topics.COORDINATOR_GROUP, Topics.WORKER_GROUP);
        }
        FutureTask<Coordinator> starting = new FutureTask<>(() ->
                // Lag is measured often here: migrate --stop-replication-at-lag waits on it.
                Coordinator.start(broker.bootstrapServers(),
                        Coordinator.Settings.of("127.0.0.1", httpPort).withLagPeriod(2_000).withSecrets(secrets, false)
                                .withSoleUser()));
        Thread starter = new Thread(starting, "coordinator-start");
        starter.setDaemon(true);
        starter.start();
        Bus b = null;
        try {
            b = new Bus(broker.bootstrapServers(), "pgferry-cli");
            // The topics must exist before a worker subscribes (the broker creates none on its own); the coordinator
            // makes sure of them too, and whichever comes second finds them there.
            b.ensureTopics();
            if (workerCount > 0 && cleanBefore) {
                // A command that ended cleanly can still leave its workers' group stored with members: one of its
                // workers, its last task over, was joining the group again as the command stopped it, and the
                // broker, the group's rebalance left half done, kept the group as it was before. This command's
                // workers then waited out those members' sessions (15 s) before they got a task (1 command in about
                // 25; 1 in 4 once workers let their ending tasks end). Removed here, beside the coordinator's start,
                // before this command's workers join.
                Bus.removeAllMembers(broker.bootstrapServers(), Topics.WORKER_GROUP);
            }
            for (int i = 0; i < workerCount; i++) {
                this.workers.add(new Worker(b, workers.withWorkerId(Worker.newWorkerId()).withSecrets(secrets))
                        .abandoning(this::abandoned).start());
            }
            // While the coordinator starts: the request's send is then one round trip (it was 60-80 ms after it).
            b.prepare(Topics.REQUESTS);
            this.bus = b;
            this.coordinator = started(starting);
            Set<String> left = workerCount == 0 || cleanBefore ? Set.of() : unfinished(coordinator);
            abandoned.complete(left);
            for (String id : left) {
                awaitStopped(id);
                dropCreatedRoles(id).ifPresent(m -> System.err.println("pgferry: " + m));
            }
        } catch (Exception | Error e) {
            abandoned.complete(Set.of());
            List<Runnable> stops = new ArrayList<>();
            this.workers.forEach(w -> stops.add(w::close));
            stops.add(() -> closeWhenStarted(starting));
            Stopping.all(stops);
            if (b != null) {
                b.close();
            }
            broker.close();
            throw e;
        }
    }

    /**
     * The migrations with databases still pending or running: in a data directory only one command uses at a time
     * (its broker holds the directory's lock), nothing runs them, so a command that ran them ended without stopping
     * them (killed, or its machine went down). This command's workers end their tasks (removing what the last
     * attempt made) instead of taking them up in the background; the user is told.
     */
    private static Set<String> unfinished(Coordinator coordinator) throws InterruptedException {
        coordinator.follower().awaitCaughtUp(Duration.ofMinutes(1));
        Map<String, List<String>> found = coordinator.fold().unfinished();
        found.forEach((id, dbs) -> System.err.println("pgferry: migration " + id + " in this data directory had not"
                + " finished (the command running it ended without stopping it: killed, or its machine went down): its"
                + " unfinished database(s) " + String.join(", ", dbs) + " are stopped first, and what they made on both"
                + " servers is removed"));
        return new TreeSet<>(found.keySet());
    }

    /**
     * Waits (at most 2 min) until this command's workers have stopped every unfinished database of the abandoned
     * migration {@code migrationId}, before the command's own work begins: its databases may be the same ones, and a
     * new attempt would find the half-copied database of the killed one. (Their tasks reach the workers once the
     * dead command's members have left the consumer groups, up to their session timeout.)
     */
    private void awaitStopped(String migrationId) throws InterruptedException {
        try {
            watch(migrationId, null, s -> s.migrationDetail().stream().noneMatch(d ->
                    d.status() == MigrationStatus.State.PENDING || d.status() == MigrationStatus.State.RUNNING),
                    Duration.ofMinutes(2));
        } catch (MigrationWatcher.TimedOut e) {
            // (what is still unfinished, and where: a task that never came back, or one held on the way)
            String rows = e.last == null ? "" : " (" + String.join("; ", e.last.migrationDetail().stream()
                    .filter(d -> d.status() == MigrationStatus.State.PENDING
                            || d.status() == MigrationStatus.State.RUNNING)
                    .map(d -> d.dbname() + ": " + d.status().wireName()
                            + (d.phase() == null ? "" : ", " + d.phase().wireName()) + ", attempt " + d.attempt()
                            + (d.workerId() == null ? "" : ", worker " + d.workerId()))
                    .toList()) + ")";
            System.err.println("pgferry: migration " + migrationId + " was not stopped within 2 min" + rows
                    + "; this command goes on (see pgferry status " + migrationId + ")");
        }
    }

    /** Whether {@code migrationId} is one {@link #unfinished} found; waits until that is known. */
    private boolean abandoned(String migrationId) {
        try {
            return abandoned.get().contains(migrationId);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (ExecutionException e) {
            return false;
        }
    }

    /** The coordinator {@code starting} started, once it is up; its start's failure as it was thrown. */
    private static Coordinator started(FutureTask<Coordinator> starting) throws Exception {
        try {
            return starting.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw (Error) e.getCause();
        }
    }

    /** Closes the coordinator of {@code starting} once its start ends (nothing when it failed). */
    private static void closeWhenStarted(FutureTask<Coordinator> starting) {
        try {
            started(starting).close();
        } catch (Exception e) {
            // its start failed: nothing of it runs
        }
    }

    /** Submits the request and waits for its final status, printing progress to {@code progress}. */
    MigrationStatus migrate(MigrationRequest request, PrintStream progress) throws InterruptedException {
        MigrationRequest sealed = secrets.protect(request, false);
        bus.send(Topics.REQUESTS, sealed.migrationId(), Json.write(sealed));
        MigrationStatus status = watch(request.migrationId(), progress, MigrationStatus::isFinal, null);
        if (status == null
                || status.migrationDetail().stream().noneMatch(d -> d.status() == MigrationStatus.State.SYNCING)) {
            return status;
        }
        // The lag of a database is measured every 2 s once it syncs: the final status, printed as the last database
        // begins to sync, showed none for those that had just begun. Measured now, as status does.
        try {
            coordinator.measureNow(request.migrationId());
            coordinator.follower().awaitCurrent(Duration.ofSeconds(30));
            return coordinator.fold().view(request.migrationId()).orElse(status);
        } catch (RuntimeException e) {
            // the lag stays unmeasured (pgferry status measures it again); the migration's own outcome stands
            return status;
        }
    }

    /**
     * Requests removal of the migration's replication ({@code finalCopy}: see {@code RemovalRequest}) and waits until
     * it is removed (or failed, or the timeout).
     */
    MigrationStatus remove(String migrationId, boolean finalCopy, PrintStream progress, Duration timeout)
            throws InterruptedException {
        Removals.request(bus, migrationId, finalCopy);
        return watch(migrationId, progress, Removals::removalEnded, timeout);
    }

    /**
     * Requests a verification of the migration and waits until every database has its result; null when the
     * migration is unknown here.
     */
    MigrationStatus verify(String migrationId, int jobs, Duration timeout, PrintStream progress) throws InterruptedException {
        Optional<MigrationStatus> before = MigrationWatcher.current(coordinator, migrationId);
        if (before.isEmpty()) {
            return null;
        }
        Verifications.request(bus, migrationId, jobs);
        return watch(migrationId, progress, Verifications.ended(before), timeout);
    }

    /**
     * Measures the lag of the migration's syncing databases and looks for their schema drift now: no coordinator runs
     * between single-machine commands to do it every period.
     */
    void measureNow(String migrationId) throws InterruptedException {
        coordinator.measureNow(migrationId);
    }

    /** The migration as this machine's coordinator sees it, once the status topic is read. */
    Optional<MigrationStatus> current(String migrationId) throws InterruptedException {
        return MigrationWatcher.current(coordinator, migrationId);
    }

    /** Requests the cut-over and waits until it ended for every database (or {@code timeout}, null: none, passed). */
    MigrationStatus cutover(dev.pgferry.messages.CutoverRequest request, MigrationStatus before, Duration timeout,
                            PrintStream progress) throws InterruptedException {
        Cutovers.request(bus, request);
        return watch(request.migrationId(), progress, Cutovers.ended(before), timeout);
    }

    /** Requests a refresh and waits until {@code ended} holds (or {@code timeout}, null: none, passed). */
    MigrationStatus refresh(dev.pgferry.messages.RefreshRequest request,
                            Predicate<MigrationStatus> ended, Duration timeout,
                            PrintStream progress) throws InterruptedException {
        RefreshCommand.send(bus, request);
        return watch(request.migrationId(), progress, ended, timeout);
    }

    /** Waits until every syncing database of the migration lags by at most {@code maxLagBytes}. */
    MigrationStatus awaitLag(String migrationId, long maxLagBytes, PrintStream progress) throws InterruptedException {
        return watch(migrationId, progress, s -> s.migrationDetail().stream()
                .filter(d -> d.status() == MigrationStatus.State.SYNCING)
                .allMatch(d -> d.lagBytes() != null && d.lagBytes() <= maxLagBytes), null);
    }

    /**
     * Waits until {@code until} holds for the migration's view ({@link MigrationWatcher}), at most {@code timeout}
     * (null: no limit), printing progress to {@code progress} (null: nothing); ends with {@link BrokerLost} as soon as
     * this command's broker is gone, which no wait would survive.
     */
    private MigrationStatus watch(String migrationId, PrintStream progress, Predicate<MigrationStatus> until,
                                  Duration timeout) throws InterruptedException {
        return MigrationWatcher.await(coordinator, migrationId, progress, until, timeout, () -> {
            if (!closing && !broker.alive()) {
                throw new BrokerLost(broker.log());
            }
        });
    }

    /** This command's broker ended while the command needed it: nothing the command waits for can arrive. */
    static final class BrokerLost extends IllegalStateException {
        BrokerLost(Path log) {
            super("the Kafka broker this command started has ended unexpectedly (see " + log + "); without it this"
                    + " command can neither follow nor finish its work. Run it again with the same --data-dir: the next"
                    + " command stops what this one left unfinished and removes what that made on both servers before"
                    + " it starts over");
        }
    }

    /**
     * Stops the migration's running tasks for good, as an interrupted command must ({@link Worker#cancel}: a copy
     * removes what its attempt made on both servers and ends {@code STOPPED}, a cut-over gives the source its writes
     * back and ends aborted), then waits up to {@code wait} more until {@code ended} holds for the migration's view;
     * returns that view (the latest, when {@code ended} does not hold by then). Once only; the workers are not
     * closed again.
     */
    synchronized Optional<MigrationStatus> cancel(String migrationId, Predicate<MigrationStatus> ended,
                                                  Duration wait) {
        List<Runnable> stops = new ArrayList<>();
        workers.forEach(w -> stops.add(() -> w.cancel(wait)));
        Stopping.all(stops);
        workers.clear();
        stopQueued(migrationId);
        try {
            return Optional.of(watch(migrationId, null, ended, wait));
        } catch (MigrationWatcher.TimedOut e) {
            return Optional.ofNullable(e.last);
        } catch (BrokerLost e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    /**
     * For a migration this command stopped (or found abandoned and stopped) with every database failed, none done,
     * syncing or removed: drops the roles its roles step created on the target ({@link RoleRemoval}), and forgets the
     * step, so that the same migration run again creates them again. What to tell the user; empty when the migration
     * created none, or still has a database that uses them.
     */
    Optional<String> dropCreatedRoles(String migrationId) {
        try {
            Optional<MigrationStatus> view = MigrationWatcher.current(coordinator, migrationId);
            Optional<MigrationRequest> request = coordinator.request(migrationId);
            if (view.isEmpty() || request.isEmpty() || view.get().migrationDetail().stream()
                    .anyMatch(d -> d.status() != MigrationStatus.State.FAILED)) {
                return Optional.empty();
            }
            try (Ledger ledger = new Ledger(bus, "pgferry-cli")) {
                String key = LedgerEntry.rolesKey(migrationId);
                List<String> created = ledger.read(key).map(LedgerEntry::createdRoles).orElse(List.of());
                if (created.isEmpty()) {
                    return Optional.empty();
                }
                RoleRemoval.Result r = RoleRemoval.dropCreated(new PgConnector(request.get().target(),
                        Side.TARGET, "cli", secrets), created);
                ledger.delete(key);
                return Optional.of("the role(s) migration " + migrationId + " created on the target, which none of its"
                        + " databases uses now, were dropped: " + (r.dropped().isEmpty() ? "none"
                        : String.join(", ", r.dropped())) + (r.kept().isEmpty() ? ""
                        : "; kept: " + String.join(", ", r.kept())));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        } catch (RuntimeException e) {
            return Optional.of("the role(s) migration " + migrationId + " created on the target were not dropped: "
                    + e.getMessage());
        }
    }

    /**
     * Stops the migration's databases whose task no worker took (still queued): each gets a {@code STOPPED} failure in
     * the status, and a ledger entry that says removed, so that a later delivery of its task (to the workers of the
     * next command on this data directory) skips it instead of migrating it behind that command's back.
     */
    private void stopQueued(String migrationId) {
        Optional<MigrationStatus> view;
        try {
            view = MigrationWatcher.current(coordinator, migrationId);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        List<String> queued = view.stream().flatMap(v -> v.migrationDetail().stream())
                .filter(d -> d.status() == MigrationStatus.State.PENDING).map(MigrationStatus.DatabaseStatus::dbname)
                .toList();
        if (queued.isEmpty()) {
            return;
        }
        try (Ledger ledger = new Ledger(bus, "pgferry-cli")) {
            for (String db : queued) {
                ledger.write(LedgerEntry.databaseKey(migrationId, db), LedgerEntry.removed(1));
                bus.publish(new EventSource(migrationId, db, "pgferry-cli", 1, Clock.systemUTC()).failed(
                        new MigrationException(ErrorCode.STOPPED, null, "stopped before it started: the pgferry command"
                                + " running the migration was interrupted (Ctrl-C or SIGTERM); nothing was made for it."
                                + " Migrate the database again with a new request", false, null).toFailure()));
            }
        }
    }

    String bootstrapServers() {
        return broker.bootstrapServers();
    }

    @Override
    public synchronized void close() {
        closing = true;
        if (!broker.alive()) {
            // Every close below would wait out its Kafka timeouts (a minute and more) for a broker that is gone; the
            // JVM ends next, as a killed command's would, and the next command cleans up after it.
            return;
        }
        List<Runnable> stops = new ArrayList<>();
        workers.forEach(w -> stops.add(w::close));
        if (coordinator != null) {
            stops.add(coordinator::close);
        }
        Stopping.all(stops);
        // The workers write on this bus until they have stopped (the claims of their tasks, deleted as they end):
        // closed beside them, it left a finished task's claim, and the next command queued that task again.
        if (bus != null) {
            bus.close();
        }
        leaveCleanSign();
        // The command's work is over: it exits while the broker shuts down (the next start waits for it).
        broker.stopInBackground();
    }

    /**
     * Writes {@link #CLEAN_SIGN} when this command ran workers and leaves nothing pending or running as far as its
     * coordinator has read the status (a database in a task handed back, or whose stop was not seen, keeps it away).
     */
    private void leaveCleanSign() {
        if (!withWorkers || !coordinator.follower().caughtUp() || !coordinator.fold().unfinished().isEmpty()) {
            return;
        }
        try {
            Files.writeString(cleanSign, "the last pgferry command with workers in this data directory"
                    + " left no database pending or running\n");
        } catch (IOException e) {
            // the next command looks, as it would after a kill
        }
    }
}
