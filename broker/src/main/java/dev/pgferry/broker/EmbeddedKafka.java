package dev.pgferry.broker;

import kafka.server.KafkaRaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;

/**
 * A real single-node Kafka broker (KRaft) inside this JVM, for tests. Ports are picked free on loopback and the
 * start is retried up to three times with new ports. {@link #close()} stops it. Not thread-safe: one owner.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);

    private final KafkaRaftServer server;
    private final String bootstrapServers;

    private EmbeddedKafka(KafkaRaftServer server, String bootstrapServers) {
        this.server = server;
        this.bootstrapServers = bootstrapServers;
    }

    /** Starts a broker with its data under {@code dataDir} on a free port. */
    public static EmbeddedKafka start(Path dataDir) {
        return start(dataDir, 0);
    }

    /** Starts a broker with its data under {@code dataDir} on {@code port} (0: a free port). */
    public static EmbeddedKafka start(Path dataDir, int port) {
        KafkaServerControl.neutralizeExit();
        RuntimeException last = null;
        for (int attempt = 1; attempt <= 3; attempt++) {
            BrokerConfig config = new BrokerConfig(dataDir, port > 0 ? port : BrokerConfig.freePort(), BrokerConfig.freePort());
            KafkaRaftServer server = null;
            try {
                server = KafkaServerControl.formatAndStart(config);
                LOG.info("embedded Kafka broker ready at {}", config.bootstrapServers());
                return new EmbeddedKafka(server, config.bootstrapServers());
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
        throw last;
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    @Override
    public void close() {
        server.shutdown();
        server.awaitShutdown();
    }
}
