package dev.pgferry.it;

import dev.pgferry.broker.EmbeddedKafka;
import dev.pgferry.cli.local.LocalPostgres;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The real components the integration tests share in one JVM: one Kafka broker (KRaft, in-process), started on
 * first use and stopped at JVM exit, and a factory for throw-away PostgreSQL clusters. An external broker can be
 * used instead through KAFKA_BOOTSTRAP_SERVERS.
 */
final class Infra {
    /** The superuser password of every test cluster: recognisable, so tests can search logs and topics for it. */
    static final String PASSWORD = "Pw-sentinel-7f3a9c";

    private static String bootstrap;
    private static Path work;

    private Infra() {
    }

    static synchronized String kafka() {
        if (bootstrap == null) {
            String external = System.getenv("KAFKA_BOOTSTRAP_SERVERS");
            if (external != null && !external.isBlank()) {
                bootstrap = external;
            } else {
                EmbeddedKafka kafka = EmbeddedKafka.start(work().resolve("kafka"));
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    kafka.close();
                    // Each run's broker data and server logs (about 150 MB) go with it; PGFERRY_KEEP_IT_WORK=1 keeps them.
                    if (!"1".equals(System.getenv("PGFERRY_KEEP_IT_WORK"))) {
                        try (var files = java.nio.file.Files.walk(work())) {
                            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                        } catch (java.io.IOException e) {
                            // a leftover temp directory holds nothing of value
                        }
                    }
                }));
                bootstrap = kafka.bootstrapServers();
            }
        }
        return bootstrap;
    }

    static synchronized Path work() {
        if (work == null) {
            try {
                work = Files.createTempDirectory("pgferry-it-");
                // Named for SecretHuntIT, which searches every test JVM's work directory after the others ended.
                Path dirs = Path.of("target", "it-work-dirs");
                Files.createDirectories(dirs);
                Files.writeString(dirs.resolve(Long.toString(ProcessHandle.current().pid())), work.toAbsolutePath().toString());
            } catch (java.io.IOException e) {
                throw new IllegalStateException(e);
            }
        }
        return work;
    }

    /**
     * Settings of every test cluster beyond LocalPostgres' own: no autovacuum (what pgferry must do itself, such as
     * ANALYZE on the target, is then proven by the tests; and a suite of short-lived clusters spends no CPU on
     * vacuuming tables it drops minutes later), and no full-page images in a WAL that is never fsynced anyway.
     */
    static final java.util.Map<String, String> TEST_SETTINGS = java.util.Map.of("autovacuum", "off",
            "full_page_writes", "off");

    static LocalPostgres postgres() throws Exception {
        return postgres(java.util.Map.of());
    }

    private static LocalPostgres sharedTarget;

    /** A reachable cluster for tests that only need a target to pass the reachability check; never written to. */
    static synchronized LocalPostgres sharedTarget() throws Exception {
        if (sharedTarget == null) {
            sharedTarget = postgres();
            LocalPostgres t = sharedTarget;
            Runtime.getRuntime().addShutdownHook(new Thread(t::close));
        }
        return sharedTarget;
    }

    static LocalPostgres postgres(java.util.Map<String, String> settings) throws Exception {
        java.util.Map<String, String> all = new java.util.HashMap<>(TEST_SETTINGS);
        all.putAll(settings);
        return LocalPostgres.start(LocalPostgres.defaultBinDir(), work().resolve("pg"), PASSWORD, all);
    }
}
