package dev.pgferry.it;

import dev.pgferry.broker.EmbeddedKafka;
import dev.pgferry.bus.Bus;
import dev.pgferry.bus.KafkaSettings;
import dev.pgferry.cli.Main;
import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.coordinator.Coordinator;
import dev.pgferry.worker.runtime.Worker;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * pgferry through a Kafka that requires TLS and SASL, as every managed Kafka does: a broker with a SASL_SSL
 * listener (SCRAM-SHA-512, a certificate this test makes with keytool), a coordinator and a worker configured by a
 * client properties file, a migration submitted with {@code submit --kafka-config}; and wrong credentials refused
 * with a clear error that names what to check and never the password.
 */
class SecuredKafkaIT {
    private static final String STORE_PASSWORD = "Store-Pw-3317";
    private static final String KAFKA_PASSWORD = "Scram-Pw-8842";

    @Test
    void aMigrationRunsThroughSaslSslAndWrongCredentialsAreRefusedClearly() throws Exception {
        Path dir = Files.createTempDirectory(Infra.work(), "secured-kafka");
        Path keystore = dir.resolve("broker.p12");
        Path truststore = dir.resolve("trust.p12");
        keytool("-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
                "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-keystore", keystore.toString(),
                "-storetype", "PKCS12", "-storepass", STORE_PASSWORD, "-keypass", STORE_PASSWORD);
        keytool("-exportcert", "-alias", "broker", "-keystore", keystore.toString(), "-storepass", STORE_PASSWORD,
                "-rfc", "-file", dir.resolve("broker.pem").toString());
        keytool("-importcert", "-noprompt", "-alias", "broker", "-file", dir.resolve("broker.pem").toString(),
                "-keystore", truststore.toString(), "-storetype", "PKCS12", "-storepass", STORE_PASSWORD);
        int securePort = freePort();
        Map<String, String> listener = Map.of(
                "listeners", "SASL_SSL://127.0.0.1:" + securePort,
                "advertised.listeners", "SASL_SSL://127.0.0.1:" + securePort,
                "listener.security.protocol.map", "SASL_SSL:SASL_SSL",
                "listener.name.sasl_ssl.sasl.enabled.mechanisms", "SCRAM-SHA-512",
                "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config",
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                "listener.name.sasl_ssl.ssl.keystore.location", keystore.toString(),
                "listener.name.sasl_ssl.ssl.keystore.type", "PKCS12",
                "listener.name.sasl_ssl.ssl.keystore.password", STORE_PASSWORD,
                "listener.name.sasl_ssl.ssl.key.password", STORE_PASSWORD);

        try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("broker"), 0, listener);
             LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres()) {
            // The user the operator gives pgferry, created over the broker's plain (operator-only) listener
            try (Admin admin = Admin.create(Map.of("bootstrap.servers", kafka.bootstrapServers()))) {
                admin.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion("pgferry",
                        new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), KAFKA_PASSWORD))).all().get();
            }
            Path config = clientConfig(dir.resolve("kafka.properties"), securePort, truststore, KAFKA_PASSWORD);
            KafkaSettings settings = KafkaSettings.load(null, config, Map.of());
            awaitLogin(settings);

            SampleData.create(source, 500);
            try (Coordinator coordinator = Coordinator.start(settings, Coordinator.Settings.of("127.0.0.1", -1));
                 Bus bus = new Bus(settings, "it-secured-worker");
                 Worker worker = new Worker(bus, Worker.Settings.defaults().withWorkerId("it-secured-worker").withJobs(2)).start()) {
                Run submit = pgferry("submit", "--kafka-config", config.toString(), "--source", source.uri("postgres"),
                        "--target", target.uri("postgres"), "--ignore-dbs", "postgres,shop,Analytics; Ünï \"q\"",
                        "--migration-id", "secured-kafka-1", "--method", "dump", "--wait");
                assertThat(submit.rc()).as(submit.out()).isEqualTo(0);
                assertThat(submit.out()).startsWith("secured-kafka-1\n").contains("inventory").contains("done");
                assertThat(Compare.tableFingerprints(target, "inventory")).isEqualTo(Compare.tableFingerprints(source, "inventory"));
                assertThat(coordinator.fold().view("secured-kafka-1")).hasValueSatisfying(s ->
                        assertThat(s.migration().status().name()).isEqualTo("DONE"));
            }

            // Wrong credentials: refused at once, with what to check, without the password given
            Path wrong = clientConfig(dir.resolve("wrong.properties"), securePort, truststore, "Wrong-Pw-5521");
            Run refused = pgferry("submit", "--kafka-config", wrong.toString(), "--source", source.uri("postgres"),
                    "--target", target.uri("postgres"), "--migration-id", "secured-kafka-2");
            assertThat(refused.rc()).isEqualTo(1);
            assertThat(refused.err()).contains("refused pgferry's credentials", "sasl.jaas.config", "--kafka-config",
                    "127.0.0.1:" + securePort).doesNotContain("Wrong-Pw-5521", KAFKA_PASSWORD);
        }
    }

    private static Path clientConfig(Path file, int port, Path truststore, String password) throws Exception {
        Files.writeString(file, String.join("\n",
                "bootstrap.servers=127.0.0.1:" + port,
                "security.protocol=SASL_SSL",
                "sasl.mechanism=SCRAM-SHA-512",
                "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"pgferry\" password=\""
                        + password + "\";",
                "ssl.truststore.location=" + truststore,
                "ssl.truststore.type=PKCS12",
                "ssl.truststore.password=" + STORE_PASSWORD,
                // The first connections fail fast rather than after the default minute
                "default.api.timeout.ms=20000",
                "request.timeout.ms=10000"), StandardCharsets.UTF_8);
        return file;
    }

    /** SCRAM credentials reach the broker's metadata shortly after the admin call returns. */
    private static void awaitLogin(KafkaSettings settings) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 30_000;
        while (true) {
            try (Bus bus = new Bus(settings, "it-secured-probe")) {
                bus.ensureTopics();
                return;
            } catch (RuntimeException e) {
                if (System.currentTimeMillis() > deadline) {
                    throw e;
                }
                Thread.sleep(500);
            }
        }
    }

    record Run(int rc, String out, String err) {
    }

    private static synchronized Run pgferry(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
        try {
            int rc = Main.run(args);
            return new Run(rc, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    private static void keytool(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
