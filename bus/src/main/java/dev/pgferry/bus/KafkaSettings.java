package dev.pgferry.bus;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * How a pgferry process reaches Kafka: the bootstrap servers and any Kafka client settings (producer, consumer and
 * admin alike: {@code security.protocol}, {@code ssl.*}, {@code sasl.*}, timeouts, ...). Settings come from a Java
 * properties file ({@code --kafka-config FILE}, or the file named by {@code PGFERRY_KAFKA_CONFIG}) and from
 * environment variables {@code PGFERRY_KAFKA_<NAME>}, where NAME is the setting in upper case with dots as
 * underscores ({@code PGFERRY_KAFKA_SASL_JAAS_CONFIG} is {@code sasl.jaas.config}); environment variables win over
 * the file. The settings pgferry relies on for correctness (serializers, acknowledgements, idempotence, isolation,
 * offsets, group and transactional ids) are its own and are not overridden. {@link #toString()} hides every value
 * that could hold a secret. Immutable.
 */
public record KafkaSettings(String bootstrapServers, Map<String, String> client, String topicPrefix) {
    /** Environment variables with this prefix are client settings (see the class comment). */
    public static final String ENV_PREFIX = "PGFERRY_KAFKA_";
    public static final String CONFIG_FILE_ENV = "PGFERRY_KAFKA_CONFIG";
    /** Names the topic prefix when {@code --topic-prefix} does not. */
    public static final String TOPIC_PREFIX_ENV = "PGFERRY_TOPIC_PREFIX";
    /** What Kafka allows in a topic name, kept short enough for pgferry's names after it. */
    private static final Pattern PREFIX = Pattern.compile("[A-Za-z0-9._-]{0,100}");
    private static final Pattern SECRET = Pattern.compile("(?i).*(password|jaas|secret|token|key(?!store\\.type|store\\.location|\\.deserializer|\\.serializer)).*");

    public KafkaSettings {
        client = Map.copyOf(client);
        topicPrefix = topicPrefix == null ? "" : topicPrefix;
        if (!PREFIX.matcher(topicPrefix).matches()) {
            throw new IllegalArgumentException("the topic prefix may hold only letters, digits, '.', '_' and '-' (at most"
                    + " 100), not '" + topicPrefix + "'");
        }
    }

    public KafkaSettings(String bootstrapServers, Map<String, String> client) {
        this(bootstrapServers, client, "");
    }

    public static KafkaSettings of(String bootstrapServers) {
        return new KafkaSettings(bootstrapServers, Map.of());
    }

    /**
     * The same settings for an installation whose topics, consumer groups and transactional ids all start with
     * {@code prefix} (several installations can then share one Kafka cluster without seeing each other).
     */
    public KafkaSettings withTopicPrefix(String prefix) {
        return new KafkaSettings(bootstrapServers, client, prefix);
    }

    /** The name of pgferry's topic, group or transactional id {@code name} in this installation. */
    public String name(String name) {
        return topicPrefix + name;
    }

    /**
     * The settings for {@code bootstrapServers} (which wins over a {@code bootstrap.servers} in the file or
     * environment; may be null when one of those gives it) from {@code configFile} (null: the file that
     * {@code PGFERRY_KAFKA_CONFIG} names, if any) and {@code env}.
     */
    public static KafkaSettings load(String bootstrapServers, Path configFile, Map<String, String> env) {
        Map<String, String> settings = new TreeMap<>();
        Path file = configFile != null ? configFile
                : env.get(CONFIG_FILE_ENV) != null ? Path.of(env.get(CONFIG_FILE_ENV)) : null;
        if (file != null) {
            Properties p = new Properties();
            try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                p.load(in);
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read the Kafka client settings in " + file + " ("
                        + e.getClass().getSimpleName() + (e.getMessage() != null ? ": " + e.getMessage() : "") + ")");
            }
            p.stringPropertyNames().forEach(k -> settings.put(k.trim(), p.getProperty(k).trim()));
        }
        env.forEach((k, v) -> {
            if (k.startsWith(ENV_PREFIX) && !k.equals(CONFIG_FILE_ENV) && k.length() > ENV_PREFIX.length()) {
                settings.put(k.substring(ENV_PREFIX.length()).toLowerCase(Locale.ROOT).replace('_', '.'), v);
            }
        });
        String servers = bootstrapServers != null ? bootstrapServers : settings.get("bootstrap.servers");
        if (servers == null || servers.isBlank()) {
            throw new IllegalArgumentException("no Kafka to talk to: give --bootstrap-servers HOST:PORT (or"
                    + " bootstrap.servers in --kafka-config)");
        }
        settings.remove("bootstrap.servers");
        return new KafkaSettings(servers, settings, env.getOrDefault(TOPIC_PREFIX_ENV, ""));
    }

    /** Whether a setting's value is shown by {@link #toString()}: not when its name suggests a secret. */
    static boolean secret(String name) {
        return SECRET.matcher(name).matches();
    }

    @Override
    public String toString() {
        Map<String, String> shown = new TreeMap<>();
        client.forEach((k, v) -> shown.put(k, secret(k) ? "***" : v));
        return "Kafka " + bootstrapServers + (shown.isEmpty() ? "" : " " + shown)
                + (topicPrefix.isEmpty() ? "" : " topics " + topicPrefix + "pgferry.*");
    }
}
