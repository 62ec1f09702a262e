package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Where and as whom to connect to one PostgreSQL server. {@code dbname} is the bootstrap database used to list
 * databases and create new ones. The password is given either inline ({@code password}) or as a reference
 * ({@code password_ref}: {@code env:NAME} or {@code file:PATH}) that is resolved only where a connection is opened.
 * {@link #toString()} and {@link #describe()} never show the password.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Connection(
        @JsonProperty("host") String host,
        @JsonProperty("port") Integer port,
        @JsonProperty("dbname") String dbname,
        @JsonProperty("user") String user,
        @JsonProperty("password") String password,
        @JsonProperty("password_ref") String passwordRef,
        @JsonProperty("sslmode") String sslmode) {

    /** A password sealed with the pgferry secret key: it travels through Kafka encrypted. */
    public static final String SEALED_PREFIX = "sealed:v1:";
    private static final Set<String> SSL_MODES = Set.of("disable", "allow", "prefer", "require", "verify-ca", "verify-full");

    public Connection {
        require(host != null && !host.isBlank(), "host is required");
        port = port == null ? 5432 : port;
        require(port > 0 && port < 65536, "port must be between 1 and 65535, got " + port);
        dbname = dbname == null || dbname.isBlank() ? "postgres" : dbname;
        require(user != null && !user.isBlank(), "user is required");
        require(password == null || passwordRef == null, "give either password or password_ref, not both");
        require(passwordRef == null || passwordRef.startsWith("env:") || passwordRef.startsWith("file:")
                        || passwordRef.startsWith(SEALED_PREFIX),
                "password_ref must be env:NAME, file:PATH or a sealed password");
        sslmode = sslmode == null || sslmode.isBlank() ? "prefer" : sslmode;
        require(SSL_MODES.contains(sslmode), "sslmode must be one of " + SSL_MODES + ", got '" + sslmode + "'");
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException("connection: " + message);
        }
    }

    /** The same server and credentials, another database. */
    public Connection withDbname(String otherDbname) {
        return new Connection(host, port, otherDbname, user, password, passwordRef, sslmode);
    }

    /** The same connection with its inline password replaced by a reference (e.g. a sealed password). */
    public Connection withPasswordRef(String ref) {
        return new Connection(host, port, dbname, user, null, ref, sslmode);
    }

    /** {@code user@host:port/dbname}: safe for logs, status events and error messages. */
    public String describe() {
        return user + "@" + host + ":" + port + "/" + dbname;
    }

    @Override
    public String toString() {
        return "Connection[" + describe() + ", sslmode=" + sslmode
                + (password != null ? ", password=***" : "")
                + (passwordRef != null ? ", password_ref=" + (passwordRef.startsWith(SEALED_PREFIX) ? "sealed" : passwordRef) : "") + "]";
    }

    /**
     * Parses {@code postgres://user[:password]@host[:port][/dbname][?sslmode=..&password_ref=..]}
     * (also {@code postgresql://}). Errors never repeat the password.
     */
    public static Connection fromUri(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("connection URI is empty");
        }
        URI uri;
        try {
            uri = new URI(text.trim());
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("invalid connection URI " + redactUri(text) + ": " + e.getReason());
        }
        if (!"postgres".equals(uri.getScheme()) && !"postgresql".equals(uri.getScheme())) {
            throw new IllegalArgumentException("invalid connection URI " + redactUri(text)
                    + ": it must start with postgres:// or postgresql://");
        }
        if (uri.getHost() == null) {
            throw new IllegalArgumentException("invalid connection URI " + redactUri(text) + ": no host");
        }
        String userInfo = uri.getRawUserInfo();
        String user = null;
        String password = null;
        if (userInfo != null) {
            int colon = userInfo.indexOf(':');
            user = decode(colon < 0 ? userInfo : userInfo.substring(0, colon));
            password = colon < 0 ? null : decode(userInfo.substring(colon + 1));
        }
        String path = uri.getPath();
        String dbname = path == null || path.length() <= 1 ? null : path.substring(1);
        Map<String, String> query = new LinkedHashMap<>();
        if (uri.getRawQuery() != null) {
            for (String pair : uri.getRawQuery().split("&")) {
                int eq = pair.indexOf('=');
                if (eq > 0) {
                    query.put(decode(pair.substring(0, eq)), decode(pair.substring(eq + 1)));
                }
            }
        }
        for (String key : query.keySet()) {
            if (!Set.of("sslmode", "password_ref").contains(key)) {
                throw new IllegalArgumentException("invalid connection URI " + redactUri(text)
                        + ": unknown parameter '" + key + "' (known: sslmode, password_ref)");
            }
        }
        try {
            return new Connection(uri.getHost(), uri.getPort() < 0 ? null : uri.getPort(), dbname,
                    user, password, query.get("password_ref"), query.get("sslmode"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid connection URI " + redactUri(text) + ": " + e.getMessage());
        }
    }

    private static String decode(String s) {
        return URLDecoder.decode(s, StandardCharsets.UTF_8);
    }

    /** The URI with any password replaced by ***, for error messages. */
    public static String redactUri(String text) {
        return text.replaceAll("(://[^:/@]*:)[^@]*@", "$1***@");
    }
}
