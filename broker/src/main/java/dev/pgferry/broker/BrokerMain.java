package dev.pgferry.broker;

import kafka.server.KafkaRaftServer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Entry point of the child broker JVM: {@code BrokerMain DATA_DIR BROKER_PORT CONTROLLER_PORT READY_FILE}. Formats
 * storage if needed, starts the broker, then writes the bootstrap address to READY_FILE (atomically). SIGTERM
 * stops the broker cleanly through a shutdown hook.
 */
public final class BrokerMain {
    private BrokerMain() {
    }

    public static void main(String[] args) throws Exception {
        BrokerConfig config = new BrokerConfig(Path.of(args[0]), Integer.parseInt(args[1]), Integer.parseInt(args[2]));
        Path ready = Path.of(args[3]);
        KafkaRaftServer server;
        try {
            server = KafkaServerControl.formatAndStart(config);
        } catch (Throwable t) {
            t.printStackTrace();
            // Kafka's non-daemon threads would keep a failed JVM alive.
            Runtime.getRuntime().halt(2);
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdown, "broker-shutdown"));
        Path tmp = ready.resolveSibling(ready.getFileName() + ".tmp");
        Files.writeString(tmp, config.bootstrapServers());
        Files.move(tmp, ready, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        server.awaitShutdown();
    }
}
