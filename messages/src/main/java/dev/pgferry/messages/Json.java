package dev.pgferry.messages;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;

import java.io.IOException;
import java.util.stream.Collectors;

/**
 * The JSON form of every message. Reading is strict: unknown fields, wrong types and invalid values are rejected
 * with a {@link MigrationException} of code {@link ErrorCode#INVALID_REQUEST} whose message names the field but
 * never quotes the input (which may hold a password). Thread-safe.
 */
public final class Json {
    /** Messages larger than this are rejected unread. */
    public static final int MAX_MESSAGE_BYTES = 1024 * 1024;

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .addModule(new JavaTimeModule())
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .disable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION)
            .build();

    private Json() {
    }

    public static ObjectMapper mapper() {
        return MAPPER;
    }

    public static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new MigrationException(ErrorCode.INTERNAL, "cannot write JSON for " + value.getClass().getSimpleName());
        }
    }

    public static String writePretty(Object value) {
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new MigrationException(ErrorCode.INTERNAL, "cannot write JSON for " + value.getClass().getSimpleName());
        }
    }

    public static MigrationRequest readRequest(byte[] bytes) {
        return read(bytes, MigrationRequest.class);
    }

    public static MigrationTask readTask(byte[] bytes) {
        return read(bytes, MigrationTask.class);
    }

    public static StatusEvent readEvent(byte[] bytes) {
        return read(bytes, StatusEvent.class);
    }

    /** Reads one message of the given type, checking size and {@code schema_version} first. */
    public static <T> T read(byte[] bytes, Class<T> type) {
        return convert(tree(bytes), type);
    }

    /**
     * Reads a message of the requests topic: a {@link RemovalRequest} when {@code action} is {@code remove}, a
     * {@link VerifyRequest} when it is {@code verify}, a {@link CutoverRequest} when it is {@code cutover}, a {@link RefreshRequest} when it is
     * {@code refresh}, else
     * a {@link MigrationRequest} ({@code action} absent or {@code migrate}).
     */
    public static Request readRequestMessage(byte[] bytes) {
        ObjectNode tree = tree(bytes);
        JsonNode action = tree.get("action");
        if (action != null && RemovalRequest.ACTION.equals(action.asText())) {
            return convert(tree, RemovalRequest.class);
        }
        if (action != null && VerifyRequest.ACTION.equals(action.asText())) {
            return convert(tree, VerifyRequest.class);
        }
        if (action != null && CutoverRequest.ACTION.equals(action.asText())) {
            return convert(tree, CutoverRequest.class);
        }
        if (action != null && RefreshRequest.ACTION.equals(action.asText())) {
            return convert(tree, RefreshRequest.class);
        }
        if (action != null && !"migrate".equals(action.asText())) {
            throw invalid("field 'action': must be migrate, remove, verify, cutover or refresh");
        }
        tree.remove("action");
        return convert(tree, MigrationRequest.class);
    }

    private static ObjectNode tree(byte[] bytes) {
        if (bytes == null || bytes.length == 0) {
            throw invalid("empty message");
        }
        if (bytes.length > MAX_MESSAGE_BYTES) {
            throw invalid("message of " + bytes.length + " bytes exceeds the limit of " + MAX_MESSAGE_BYTES);
        }
        JsonNode tree;
        try {
            tree = MAPPER.readTree(bytes);
        } catch (IOException e) {
            throw invalid("malformed JSON");
        }
        if (!(tree instanceof ObjectNode object)) {
            throw invalid("message must be a JSON object");
        }
        JsonNode version = object.get("schema_version");
        if (version != null && (!version.canConvertToInt() || version.asInt() != MigrationRequest.SCHEMA_VERSION)) {
            throw invalid("unknown schema_version " + version + " (this pgferry reads version "
                    + MigrationRequest.SCHEMA_VERSION + ")");
        }
        return object;
    }

    private static <T> T convert(ObjectNode tree, Class<T> type) {
        try {
            return MAPPER.treeToValue(tree, type);
        } catch (ValueInstantiationException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw invalid(path(e) + cause.getMessage());
        } catch (JsonMappingException e) {
            throw invalid(path(e) + e.getOriginalMessage().replaceAll("\\s*\\(.*", "").replaceAll("String \".*?\"", "a string"));
        } catch (IOException e) {
            throw invalid("malformed JSON");
        }
    }

    /** Reads the migration id of a message that could not be read as a whole, or null. */
    public static String peekMigrationId(byte[] bytes) {
        try {
            JsonNode id = MAPPER.readTree(bytes).get("migration_id");
            return id != null && id.isTextual() && id.asText().matches("[A-Za-z0-9][A-Za-z0-9_-]{0,62}") ? id.asText() : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static String path(JsonMappingException e) {
        String p = e.getPath().stream()
                .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining("."));
        return p.isEmpty() ? "" : "field '" + p + "': ";
    }

    private static MigrationException invalid(String message) {
        return new MigrationException(ErrorCode.INVALID_REQUEST, "invalid message: " + message);
    }
}
