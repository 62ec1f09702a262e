package dev.pgferry.broker;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * The configuration of a single-node combined broker+controller (KRaft) on loopback, with the settings a small
 * machine needs (see shared/notes/embedded-kafka.md §3). {@code extra} adds broker settings: its
 * {@code listeners}, {@code advertised.listeners} and {@code listener.security.protocol.map} are appended to the
 * PLAINTEXT and CONTROLLER ones (a TLS/SASL listener beside them), any other key replaces the default. Immutable.
 */
record BrokerConfig(Path dataDir, int brokerPort, int controllerPort, Map<String, String> extra) {
    private static final Set<String> APPENDED = Set.of("listeners", "advertised.listeners", "listener.security.protocol.map");

    BrokerConfig(Path dataDir, int brokerPort, int controllerPort) {
        this(dataDir, brokerPort, controllerPort, Map.of());
    }

    Path logDir() {
        return dataDir.resolve("data");
    }

    Path propertiesFile() {
        return dataDir.resolve("server.properties");
    }

    String bootstrapServers() {
        return "127.0.0.1:" + brokerPort;
    }

    Properties properties() {
        Properties p = new Properties();
        p.setProperty("process.roles", "broker,controller");
        p.setProperty("node.id", "1");
        p.setProperty("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.setProperty("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
        p.setProperty("controller.listener.names", "CONTROLLER");
        p.setProperty("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.setProperty("controller.quorum.bootstrap.servers", "127.0.0.1:" + controllerPort);
        p.setProperty("log.dirs", logDir().toString());
        p.setProperty("offsets.topic.replication.factor", "1");
        p.setProperty("offsets.topic.num.partitions", "1");
        p.setProperty("transaction.state.log.replication.factor", "1");
        p.setProperty("transaction.state.log.min.isr", "1");
        p.setProperty("transaction.state.log.num.partitions", "1");
        p.setProperty("share.coordinator.state.topic.replication.factor", "1");
        p.setProperty("share.coordinator.state.topic.min.isr", "1");
        // Default 3000: every new consumer group's first join would wait 3 s.
        p.setProperty("group.initial.rebalance.delay.ms", "0");
        // Default 128 MiB is allocated eagerly: OOM and a JVM halt with small heaps.
        p.setProperty("log.cleaner.dedupe.buffer.size", "2097152");
        p.setProperty("num.io.threads", "2");
        p.setProperty("num.network.threads", "2");
        p.setProperty("num.partitions", "1");
        p.setProperty("auto.create.topics.enable", "false");
        // A restart after kill -9 waits for the old registration to expire; keep that short.
        p.setProperty("broker.session.timeout.ms", "3000");
        p.setProperty("broker.heartbeat.interval.ms", "500");
        extra.forEach((k, v) -> p.setProperty(k, APPENDED.contains(k) ? p.getProperty(k) + "," + v : v));
        if (!extra.isEmpty()) {
            // Brokers talk to each other (here: to itself) on the plain listener whatever else is added.
            p.putIfAbsent("inter.broker.listener.name", "PLAINTEXT");
        }
        return p;
    }

    void write() throws IOException {
        Files.createDirectories(dataDir);
        try (OutputStream out = Files.newOutputStream(propertiesFile())) {
            properties().store(out, "pgferry embedded Kafka broker");
        }
    }

    /** A free loopback port (the OS may hand it to someone else before we bind it: callers retry). */
    static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException("cannot find a free port", e);
        }
    }
}
