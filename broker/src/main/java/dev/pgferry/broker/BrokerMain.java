package dev.pgferry.broker;

import kafka.server.KafkaRaftServer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Entry point of the child broker JVM: {@code BrokerMain DATA_DIR BROKER_PORT CONTROLLER_PORT READY_FILE [PARENT_PID]}.
 * Locks DATA_DIR ({@link DataDirLock}), formats storage if needed, starts the broker, then writes the bootstrap address
 * to READY_FILE (atomically).
 * SIGTERM stops the broker cleanly through a shutdown hook; so does the death of PARENT_PID, so that a killed
 * pgferry never leaves an orphan broker holding its data directory. A shutdown that outlasts
 * {@link ChildBroker#STOP_TIMEOUT_MS} halts the JVM.
 */
public final class BrokerMain {
    /** Held until this JVM ends (a lock whose channel became unreachable would be released with it). */
    private static DataDirLock lock;

    private BrokerMain() {
    }

    public static void main(String[] args) throws Exception {
        BrokerConfig config = new BrokerConfig(Path.of(args[0]), Integer.parseInt(args[1]), Integer.parseInt(args[2]));
        Path ready = Path.of(args[3]);
        KafkaRaftServer server;
        try {
            lock = DataDirLock.take(config.dataDir(),
                    args.length > 4 ? Long.parseLong(args[4]) : ProcessHandle.current().pid());
            server = KafkaServerControl.formatAndStart(config);
        } catch (Throwable t) {
            t.printStackTrace();
            // Kafka's non-daemon threads would keep a failed JVM alive.
            Runtime.getRuntime().halt(2);
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            // Nobody may be waiting for this JVM (ChildBroker.stopInBackground): it must end by itself, as the
            // owner's SIGKILL would end it.
            Thread watchdog = new Thread(() -> {
                try {
                    Thread.sleep(ChildBroker.STOP_TIMEOUT_MS);
                } catch (InterruptedException e) {
                    return;
                }
                Runtime.getRuntime().halt(3);
            }, "broker-stop-watchdog");
            watchdog.setDaemon(true);
            watchdog.start();
            server.shutdown();
            // Kafka has closed every file of the data directory: the next broker may have it while this JVM goes on
            // to write its class archive as it exits (seconds, the first time: ChildBroker.stopInBackground)
            lock.close();
            System.out.println("pgferry: the broker stopped cleanly");
        }, "broker-shutdown"));
        if (args.length > 4) {
            watchParent(Long.parseLong(args[4]));
        }
        Path tmp = ready.resolveSibling(ready.getFileName() + ".tmp");
        Files.writeString(tmp, config.bootstrapServers());
        Files.move(tmp, ready, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        server.awaitShutdown();
    }

    private static void watchParent(long pid) {
        Thread watcher = new Thread(() -> {
            while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                try {
                    Thread.sleep(500);
                } catch (InterruptedException e) {
                    return;
                }
            }
            System.exit(0);
        }, "parent-watcher");
        watcher.setDaemon(true);
        watcher.start();
    }
}
