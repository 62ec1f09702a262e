package dev.pgferry.broker;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

/**
 * Formats storage (once per data directory) and starts a {@link KafkaRaftServer}: the part shared by the
 * in-process broker and the child-JVM launcher.
 */
final class KafkaServerControl {
    private KafkaServerControl() {
    }

    static KafkaRaftServer formatAndStart(BrokerConfig config) throws Exception {
        config.write();
        // Reformatting with a new cluster id fails on a persisted directory, so format only once.
        if (!Files.exists(config.logDir().resolve("meta.properties"))) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int rc = StorageTool.execute(new String[]{"format", "-c", config.propertiesFile().toString(),
                    "-t", Uuid.randomUuid().toString(), "--standalone"}, new PrintStream(out, true, StandardCharsets.UTF_8));
            if (rc != 0) {
                throw new IllegalStateException("formatting Kafka storage failed: " + out.toString(StandardCharsets.UTF_8));
            }
        }
        KafkaRaftServer server = new KafkaRaftServer(KafkaConfig.fromProps(config.properties(), false), Time.SYSTEM);
        // startup() returns once the broker is registered, unfenced and accepting connections.
        server.startup();
        return server;
    }

    /**
     * Makes Kafka's fatal-fault handler throw instead of halting the JVM, so that a broker fault inside a test
     * or CLI process cannot kill it silently. The Exit class moved package in Kafka 4.4: try both names.
     */
    static void neutralizeExit() {
        for (String name : new String[]{"org.apache.kafka.common.utils.internals.Exit", "org.apache.kafka.common.utils.Exit"}) {
            try {
                Class<?> exit = Class.forName(name);
                Class<?> procedure = Class.forName(name + "$Procedure");
                Object thrower = Proxy.newProxyInstance(procedure.getClassLoader(), new Class<?>[]{procedure},
                        (proxy, method, args) -> {
                            if (method.getDeclaringClass() == Object.class) {
                                return method.getName().equals("toString") ? "pgferry-exit" : method.invoke(proxy, args);
                            }
                            throw new IllegalStateException("Kafka asked to exit with status " + args[0] + ": " + args[1]);
                        });
                for (String setter : new String[]{"setExitProcedure", "setHaltProcedure"}) {
                    Method m = exit.getMethod(setter, procedure);
                    m.invoke(null, thrower);
                }
                return;
            } catch (ReflectiveOperationException e) {
                // try the other name
            }
        }
    }
}
