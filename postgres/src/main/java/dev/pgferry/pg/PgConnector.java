package dev.pgferry.pg;

import dev.pgferry.messages.Connection;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import org.postgresql.PGProperty;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

/**
 * Opens connections to one side of a migration. Every connection gets {@code application_name = pgferry/<role>},
 * a fixed {@code search_path} of {@code pg_catalog} (all our SQL names schemas explicitly), no statement, lock
 * or idle-in-transaction timeout (as pg_dump and pg_restore set for themselves) and read-write transactions by
 * default, and the password
 * is resolved only here. Connection failures become {@link MigrationException}s that name the server but never
 * the password. Thread-safe.
 */
public final class PgConnector {
    private static final int CONNECT_TIMEOUT_SECONDS = 10;
    /**
     * Startup options that switch off what a server, database or role may set for applications: timeouts (pg_dump
     * and pg_restore switch them off too, but only after their first queries, which a 1 ms timeout still cancels)
     * and {@code default_transaction_read_only} (a default, not a permission: pg_dumpall's output turns it off the
     * same way; a source database with it on refused pgferry's CREATE PUBLICATION).
     */
    private static final String NO_TIMEOUTS = "-c statement_timeout=0 -c lock_timeout=0 -c idle_in_transaction_session_timeout=0"
            + " -c default_transaction_read_only=off";

    private final Connection conn;
    private final Side side;
    private final String applicationName;
    private final Secrets secrets;

    public PgConnector(Connection conn, Side side, String role, Secrets secrets) {
        this.conn = conn;
        this.side = side;
        this.applicationName = "pgferry/" + role;
        this.secrets = secrets;
    }

    public Connection connection() {
        return conn;
    }

    /** Opens a connection to the bootstrap database. */
    public java.sql.Connection open() {
        return open(conn.dbname());
    }

    /** Opens a connection to {@code dbname} on this server. */
    public java.sql.Connection open(String dbname) {
        return open(dbname, false);
    }

    /**
     * Opens a logical replication connection to {@code dbname} (replication protocol commands such as
     * {@code CREATE_REPLICATION_SLOT}, run as simple queries). Needs the REPLICATION attribute or a superuser.
     */
    public java.sql.Connection openReplication(String dbname) {
        return open(dbname, true);
    }

    private java.sql.Connection open(String dbname, boolean replication) {
        Connection target = conn.withDbname(dbname);
        Properties props = new Properties();
        if (replication) {
            PGProperty.REPLICATION.set(props, "database");
            PGProperty.PREFER_QUERY_MODE.set(props, "simple");
            PGProperty.ASSUME_MIN_SERVER_VERSION.set(props, "10");
        }
        PGProperty.USER.set(props, conn.user());
        String password = secrets.password(conn);
        if (password != null) {
            PGProperty.PASSWORD.set(props, password);
        }
        PGProperty.APPLICATION_NAME.set(props, applicationName);
        PGProperty.SSL_MODE.set(props, conn.sslmode());
        PGProperty.CONNECT_TIMEOUT.set(props, CONNECT_TIMEOUT_SECONDS);
        PGProperty.TCP_KEEP_ALIVE.set(props, true);
        // As pg_dump and pg_restore do: a long COPY or index build must not be cancelled by a timeout the server,
        // database or role sets for applications (startup options override those).
        PGProperty.OPTIONS.set(props, "-c search_path=pg_catalog " + NO_TIMEOUTS);
        String url = "jdbc:postgresql://" + hostForUrl(conn.host()) + ":" + conn.port() + "/"
                + URLEncoder.encode(dbname, StandardCharsets.UTF_8).replace("+", "%20");
        try {
            return DriverManager.getConnection(url, props);
        } catch (SQLException e) {
            String state = e.getSQLState();
            ErrorCode code = SqlStates.codeFor(state, side.unreachable());
            String hint = switch (code) {
                case AUTH_FAILED -> "; check the user name and password";
                case DATABASE_MISSING -> "; check the database name";
                default -> state == null || state.startsWith("08") ? "; check host, port and that the server accepts connections" : "";
            };
            throw new MigrationException(code, state, "cannot connect to " + side.label() + " " + target.describe()
                    + ": " + SqlStates.firstLine(e.getMessage()) + (state != null ? " (SQLSTATE " + state + ")" : "") + hint,
                    SqlStates.retriable(state) && code != ErrorCode.AUTH_FAILED, null);
        }
    }

    /** The {@code application_name} of every session this connector opens (and of the programs it runs). */
    public String applicationName() {
        return applicationName;
    }

    private static String hostForUrl(String host) {
        return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    }

    /**
     * A libpq connection string for {@code dbname}, password included: only for the one place that needs it,
     * a subscription on the target (PostgreSQL stores it in {@code pg_subscription}, readable by superusers only).
     * Never log it.
     */
    public String conninfoWithPassword(String dbname) {
        StringBuilder sb = new StringBuilder();
        appendParam(sb, "host", conn.host());
        appendParam(sb, "port", Integer.toString(conn.port()));
        appendParam(sb, "dbname", dbname);
        appendParam(sb, "user", conn.user());
        appendParam(sb, "sslmode", conn.sslmode());
        appendParam(sb, "application_name", applicationName);
        String password = secrets.password(conn);
        if (password != null) {
            appendParam(sb, "password", password);
        }
        return sb.toString().trim();
    }

    private static void appendParam(StringBuilder sb, String key, String value) {
        sb.append(key).append("='").append(value.replace("\\", "\\\\").replace("'", "\\'")).append("' ");
    }

    /**
     * The environment and arguments for {@code pg_dump}/{@code pg_restore} against {@code dbname}: the password
     * goes in {@code PGPASSWORD} of the child's environment only, never on its command line.
     */
    public Map<String, String> libpqEnv(String dbname) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PGHOST", conn.host());
        env.put("PGPORT", Integer.toString(conn.port()));
        env.put("PGUSER", conn.user());
        env.put("PGDATABASE", dbname);
        env.put("PGSSLMODE", conn.sslmode());
        env.put("PGAPPNAME", applicationName);
        env.put("PGCONNECT_TIMEOUT", Integer.toString(CONNECT_TIMEOUT_SECONDS));
        env.put("PGOPTIONS", NO_TIMEOUTS);
        String password = secrets.password(conn);
        if (password != null) {
            env.put("PGPASSWORD", password);
        }
        return env;
    }

    /** Closes a session pgferry no longer needs (none: nothing), ignoring a failure: it is gone either way. */
    public static void closeQuietly(java.sql.Connection c) {
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // the session is of no more use, closed or not
            }
        }
    }
}
