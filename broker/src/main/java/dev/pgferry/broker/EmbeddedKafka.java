package dev.pgferry.broker;

import kafka.server.KafkaRaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * A real single-node Kafka broker (KRaft) inside this JVM, for tests. Ports are picked free on loopback and the
 * start is retried up to three times with new ports. {@link #close()} stops it. Not thread-safe: one owner.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);

    private final KafkaRaftServer server;
    private final String bootstrapServers;
    private final DataDirLock lock;

    private EmbeddedKafka(KafkaRaftServer server, String bootstrapServers, DataDirLock lock) {
        this.server = server;
        this.bootstrapServers = bootstrapServers;
        this.lock = lock;
    }

    /** Starts a broker with its data under {@code dataDir} on a free port. */
    public static EmbeddedKafka start(Path dataDir) {
        return start(dataDir, 0);
    }

    /** Starts a broker with its data under {@code dataDir} on {@code port} (0: a free port). */
    public static EmbeddedKafka start(Path dataDir, int port) {
        return start(dataDir, port, Map.of());
    }

    /**
     * As {@link #start(Path, int)}, with more broker settings; {@code listeners}, {@code advertised.listeners} and
     * {@code listener.security.protocol.map} add to the plain listener, e.g. a {@code SASL_SSL} one on a port of
     * the caller's. {@link #bootstrapServers()} stays the plain listener.
     */
    public static EmbeddedKafka start(Path dataDir, int port, Map<String, String> extra) {
        KafkaServerControl.neutralizeExit();
        DataDirLock lock;
        try {
            lock = DataDirLock.take(dataDir, ProcessHandle.current().pid());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lock the broker's data directory " + dataDir, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while locking the broker's data directory " + dataDir, e);
        }
        RuntimeException last = null;
        for (int attempt = 1; attempt <= 3; attempt++) {
            BrokerConfig config = new BrokerConfig(dataDir, port > 0 ? port : BrokerConfig.freePort(), BrokerConfig.freePort(), extra);
            KafkaRaftServer server = null;
            try {
                server = KafkaServerControl.formatAndStart(config);
                LOG.info("embedded Kafka broker ready at {}", config.bootstrapServers());
                return new EmbeddedKafka(server, config.bootstrapServers(), lock);
            } catch (Exception e) {
                last = new IllegalStateException("Kafka broker did not start (attempt " + attempt + ")", e);
                LOG.warn("embedded Kafka start attempt {} failed: {}", attempt, e.toString());
                if (server != null) {
                    try {
                        server.shutdown();
                        server.awaitShutdown();
                    } catch (RuntimeException ignored) {
                        // the half-started server is abandoned; the next attempt uses new ports
                    }
                }
            }
        }
        lock.close();
        throw last;
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    @Override
    public void close() {
        server.shutdown();
        server.awaitShutdown();
        lock.close();
    }
}
