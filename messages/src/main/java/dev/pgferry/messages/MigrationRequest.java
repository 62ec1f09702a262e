package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * A user's request to migrate every database of {@code source} (less {@code ignore_dbs}, template0 and template1) to
 * {@code target}. {@code skip_tables} / {@code with_tables} restrict which tables' data is copied; the schema of
 * every table is always copied. {@code migration_id} is generated when absent and names the migration everywhere.
 */
public record MigrationRequest(
        @JsonProperty("schema_version") Integer schemaVersion,
        @JsonProperty("migration_id") String migrationId,
        @JsonProperty("source") Connection source,
        @JsonProperty("target") Connection target,
        @JsonProperty("method") Method method,
        @JsonProperty("ignore_dbs") List<String> ignoreDbs,
        @JsonProperty("skip_tables") List<String> skipTables,
        @JsonProperty("with_tables") List<String> withTables,
        @JsonProperty("options") MigrationOptions options) implements Request {

    public static final int SCHEMA_VERSION = 1;
    /** Databases that are never migrated, whatever the request says. */
    public static final Set<String> ALWAYS_IGNORED = Set.of("template0", "template1");
    private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,62}");

    public MigrationRequest {
        schemaVersion = schemaVersion == null ? SCHEMA_VERSION : schemaVersion;
        if (schemaVersion != SCHEMA_VERSION) {
            throw new IllegalArgumentException("unknown schema_version " + schemaVersion
                    + " (this pgferry reads version " + SCHEMA_VERSION + ")");
        }
        migrationId = migrationId == null || migrationId.isBlank() ? newId() : migrationId;
        if (!ID.matcher(migrationId).matches()) {
            throw new IllegalArgumentException("migration_id must be 1-63 letters, digits, '_' or '-', got '"
                    + migrationId + "'");
        }
        Objects.requireNonNull(source, "source is required");
        Objects.requireNonNull(target, "target is required");
        method = method == null ? Method.AUTO : method;
        ignoreDbs = List.copyOf(ignoreDbs == null ? List.of() : ignoreDbs);
        skipTables = List.copyOf(skipTables == null ? List.of() : skipTables);
        withTables = List.copyOf(withTables == null ? List.of() : withTables);
        skipTables.forEach(TablePattern::parse);
        withTables.forEach(TablePattern::parse);
        options = options == null ? MigrationOptions.DEFAULTS : options;
    }

    /** A request with a generated id. */
    public static MigrationRequest of(Connection source, Connection target, Method method, List<String> ignoreDbs,
                                      List<String> skipTables, List<String> withTables) {
        return new MigrationRequest(SCHEMA_VERSION, null, source, target, method, ignoreDbs, skipTables, withTables, null);
    }

    /** The same request with other source and target connections. */
    public MigrationRequest withConnections(Connection newSource, Connection newTarget) {
        return new MigrationRequest(schemaVersion, migrationId, newSource, newTarget, method, ignoreDbs, skipTables, withTables, options);
    }

    /** The same request under another id (a check of it gets an id of its own). */
    public MigrationRequest withMigrationId(String id) {
        return new MigrationRequest(schemaVersion, id, source, target, method, ignoreDbs, skipTables, withTables, options);
    }

    /** The same request with other options. */
    public MigrationRequest withOptions(MigrationOptions other) {
        return new MigrationRequest(schemaVersion, migrationId, source, target, method, ignoreDbs, skipTables, withTables, other);
    }

    /** Whether source and target name the same server (host, loopback spelled any way, and port). */
    public boolean onOneServer() {
        return canonicalHost(source.host()).equals(canonicalHost(target.host())) && source.port().equals(target.port());
    }

    private static String canonicalHost(String host) {
        String h = host.toLowerCase(java.util.Locale.ROOT);
        return h.equals("localhost") || h.equals("::1") || h.equals("[::1]") || h.startsWith("127.") ? "loopback" : h;
    }

    /** Whether the database is left out of the migration. */
    public boolean ignores(String dbname) {
        return ALWAYS_IGNORED.contains(dbname) || ignoreDbs.contains(dbname);
    }

    /** Whether the data of this table is copied: not skipped, and named by with_tables when that list is given. */
    public boolean copiesTable(String dbname, String schema, String table) {
        if (skipTables.stream().map(TablePattern::parse).anyMatch(p -> p.matches(dbname, schema, table))) {
            return false;
        }
        return withTables.isEmpty()
                || withTables.stream().map(TablePattern::parse).anyMatch(p -> p.matches(dbname, schema, table));
    }

    private static String newId() {
        return "m-" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    }
}
