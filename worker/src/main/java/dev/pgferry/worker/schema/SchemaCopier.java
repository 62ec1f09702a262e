package dev.pgferry.worker.schema;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.SessionPool;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Copies one database's schema in two halves around the data: {@link #dump} takes a custom-format schema dump
 * (with large-object metadata) under the copy's snapshot; {@link #restorePreData} creates types, tables and
 * functions before the data; {@link #restorePostData} creates indexes, constraints, triggers and refreshes
 * materialized views after it, {@link #restorePublications} the user's publications, and {@link #render} gives the
 * statements of what runs later still (event triggers). The dump file is deleted by {@link #close()}. The dump is
 * written by one thread and handed over through a future; after that, a restore and a listing
 * ({@link #planPostData}) may read it at the same time, on two threads (each runs a pg_restore process that only
 * reads the file).
 */
public final class SchemaCopier implements AutoCloseable {
    /**
     * At most this many dump entries (or rendered statements) per transaction where a section is restored in
     * transactions: an object created or altered keeps its lock until the transaction ends, and the target's lock
     * table holds about {@code max_locks_per_transaction} (64) locks per possible backend ({@code max_connections}
     * and background processes) for all sessions together. A schema of 7,000 tables with a sequence each, restored
     * in one transaction into a server with {@code max_connections = 100}, ran out of it (SQLSTATE 53200,
     * {@code out of shared memory}) at about the 4,800th table; 1,000 entries take at most a few thousand locks, and
     * a schema of a few hundred tables still goes in one transaction.
     */
    private static final int ENTRIES_PER_TRANSACTION = 1000;
    /** A custom-format dump takes at least about 160 bytes per entry: one this small holds fewer entries than that. */
    private static final long FEWER_ENTRIES_THAN_A_TRANSACTION_BYTES = 100L * ENTRIES_PER_TRANSACTION;

    private final PgConnector source;
    private final PgConnector target;
    private final String dbname;
    private final Path dumpFile;
    /** Extensions the user's target database already has: their comments are not restored. */
    private Set<String> keptExtensions = Set.of();

    public SchemaCopier(PgConnector source, PgConnector target, String dbname) throws IOException {
        this.source = source;
        this.target = target;
        this.dbname = dbname;
        this.dumpFile = Files.createTempFile("pgferry-schema-", ".dump");
    }

    /**
     * Dumps the schema as seen by {@code snapshotId} (the exporting transaction must still be open), publications
     * included (the user's are restored apart, {@link #restorePublications}; pgferry's own never); subscriptions are
     * not (the caller warns of the user's).
     */
    public void dump(String snapshotId) {
        PgTool.run("pg_dump", List.of("--schema-only", "--blobs", "--format=custom",
                        "--snapshot=" + snapshotId, "--file=" + dumpFile, "--no-subscriptions"),
                source.libpqEnv(dbname), ErrorCode.SCHEMA_DUMP_FAILED, "dumping the schema of source database " + dbname);
    }

    /**
     * See {@link #restore}. With no missing roles, in transactions of at most {@link #ENTRIES_PER_TRANSACTION}
     * entries each, in the dump's order (each one's objects need only those of earlier entries): one transaction for
     * all but the largest schemas. A failed database is dropped anyway, so the section need not be one transaction.
     */
    public List<String> restorePreData(Set<String> missingRoles) throws IOException {
        if (!missingRoles.isEmpty() || Files.size(dumpFile) <= FEWER_ENTRIES_THAN_A_TRANSACTION_BYTES) {
            return restorePreDataAtOnce(missingRoles, null);
        }
        List<String> entries = preDataEntries();
        if (entries.size() <= ENTRIES_PER_TRANSACTION) {
            return restorePreDataAtOnce(missingRoles, entries);
        }
        List<String> tolerated = new ArrayList<>();
        for (int from = 0; from < entries.size(); from += ENTRIES_PER_TRANSACTION) {
            // a list restores exactly its entries, each in the section the whole section's restore gives it
            Path list = PostDataPlan.writeList(entries.subList(from, Math.min(entries.size(), from + ENTRIES_PER_TRANSACTION)));
            try {
                tolerated.addAll(restore("pre-data", missingRoles, 1, list));
            } finally {
                Files.deleteIfExists(list);
            }
        }
        return tolerated;
    }

    /**
     * The whole pre-data section in one restore, but for the comments of the extensions kept; {@code entries}: its
     * {@link #preDataEntries} when already listed (null: listed here if needed).
     */
    private List<String> restorePreDataAtOnce(Set<String> missingRoles, List<String> entries) throws IOException {
        if (keptExtensions.isEmpty()) {
            return restore("pre-data", missingRoles, 1, null);
        }
        Path list = PostDataPlan.writeList(entries != null ? entries : preDataEntries());
        try {
            return restore("pre-data", missingRoles, 1, list);
        } finally {
            Files.deleteIfExists(list);
        }
    }

    /**
     * Leaves the comments of extensions {@code names} out of the pre-data restore: the user's target database has
     * them already, and only an extension's owner may comment on it ({@link Extensions}). Called before the restore.
     */
    public void keepTargetExtensions(Set<String> names) {
        keptExtensions = Set.copyOf(names);
    }

    /** The pre-data section's entries to restore: the comments of the extensions kept left out. */
    private List<String> preDataEntries() throws IOException {
        return list("pre-data").stream().filter(l -> !l.isBlank() && !l.startsWith(";")
                && !isCommentOn(l, keptExtensions)).toList();
    }

    /** An extension's comment in a table of contents: {@code 4346; 0 0 COMMENT - EXTENSION "uuid-ossp" }. */
    private static final Pattern EXTENSION_COMMENT =
            Pattern.compile("^\\d+; \\d+ \\d+ COMMENT - EXTENSION (\"(?:[^\"]|\"\")+\"|\\S+)( .*)?$");

    /** Whether {@code entry} (a line of {@code pg_restore --list}) is the comment of one of {@code extensions}. */
    static boolean isCommentOn(String entry, Set<String> extensions) {
        if (extensions.isEmpty()) {
            return false;
        }
        Matcher m = EXTENSION_COMMENT.matcher(entry);
        if (!m.matches()) {
            return false;
        }
        String tag = m.group(1);
        String name = tag.startsWith("\"") ? tag.substring(1, tag.length() - 1).replace("\"\"", "\"") : tag;
        return extensions.contains(name);
    }

    /**
     * Starts the pre-data section's restore on a thread of its own, in transactions that let each table be copied
     * once it is committed ({@link PreDataRestore}); with missing roles, or a dump not in UTF-8, as
     * {@link #restorePreData}, every table ready at its end.
     */
    public PreDataRestore startPreData(Set<String> missingRoles) throws IOException {
        PreDataRestore.Script script = missingRoles.isEmpty() ? renderSection("pre-data") : null;
        if (script == null) {
            return PreDataRestore.blocking(dbname, () -> {
                try {
                    return restorePreData(missingRoles);
                } catch (IOException e) {
                    throw new MigrationException(ErrorCode.INTERNAL, null, "temporary file for the schema of " + dbname
                            + ": " + e.getMessage(), false, e);
                }
            });
        }
        return PreDataRestore.start(target, dbname, script);
    }

    /** A whole section rendered by pg_restore with each entry named ({@link PreDataRestore#parse}); null if not UTF-8. */
    private PreDataRestore.Script renderSection(String section) throws IOException {
        String what = "rendering the " + section + " schema of " + dbname;
        Path script = Files.createTempFile("pgferry-" + section + "-", ".sql");
        // (as in restore: with a list, no --section, which would move a comment into its neighbour's section)
        Path list = keptExtensions.isEmpty() || !section.equals("pre-data") ? null
                : PostDataPlan.writeList(preDataEntries());
        try {
            String which = list == null ? "--section=" + section : "--use-list=" + list;
            PgTool.Result r = PgTool.exec("pg_restore", List.of(which, "--verbose", "--file=" + script,
                    dumpFile.toString()), Map.of(), ErrorCode.SCHEMA_RESTORE_FAILED, what, null);
            if (r.exitCode() != 0) {
                throw new MigrationException(ErrorCode.SCHEMA_RESTORE_FAILED, what + " failed (pg_restore exit code "
                        + r.exitCode() + "): " + PgTool.tail(r.stderr()));
            }
            return PreDataRestore.parse(new String(Files.readAllBytes(script), java.nio.charset.StandardCharsets.UTF_8));
        } finally {
            deleteQuietly(script);
            if (list != null) {
                deleteQuietly(list);
            }
        }
    }

    /** The post-data section's entries ({@code pg_restore --list}), to split ({@link PostDataPlan.Deferred}). */
    public List<String> postDataEntries() throws IOException {
        return list("post-data");
    }

    /**
     * Plans the post-data entries {@code toc} (the section without its {@link PostDataPlan.Deferred} entries) so that the indexes of each of
     * {@code earlyTables} (plain tables and leaf partitions) can be built as soon as its rows are in.
     * {@code source} must read the dump's snapshot.
     */
    public PostDataPlan planPostData(List<String> toc, Connection source, Set<Long> earlyTables) throws SQLException {
        return PostDataPlan.of(toc, source, earlyTables);
    }

    /**
     * Creates the user's publications ({@code entries}, {@link PostDataPlan.Deferred#publications}) after the rest of
     * the schema, one statement at a time ({@link #runSkipping}): a publication {@code FOR ALL TABLES} or {@code FOR
     * TABLES IN SCHEMA} needs a superuser on the target, its owner may be a role not created. A publication is no
     * data, and verify names the difference.
     */
    public List<String> restorePublications(List<String> entries, Set<String> missingRoles) throws IOException {
        if (entries.isEmpty()) {
            return List.of();
        }
        List<String> statements = render(entries);
        return statements == null ? restorePostData(missingRoles, 1, entries) : runSkipping(statements, "publication");
    }

    /**
     * Runs statements {@link #render}ed from the dump one at a time (autocommit) on a new session of the target
     * database. A statement the target refuses for good is skipped and returned as a warning about a {@code kind}
     * (a publication, an event trigger) to create by hand; a lost connection still fails.
     */
    public List<String> runSkipping(List<String> statements, String kind) {
        return runSkipping(target, dbname, statements, kind);
    }

    /** As {@link #runSkipping(List, String)}, on {@code target}'s database {@code dbname}: also once the dump is gone. */
    public static List<String> runSkipping(PgConnector target, String dbname, List<String> statements, String kind) {
        if (statements.isEmpty()) {
            return List.of();
        }
        String what = "creating the " + kind + "s of target database " + dbname;
        List<String> skipped = new ArrayList<>();
        try (Connection c = target.open(dbname); Statement st = c.createStatement()) {
            for (String statement : statements) {
                try {
                    st.execute(statement);
                } catch (SQLException e) {
                    if (SqlStates.retriable(e.getSQLState())) {
                        throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, what, e);
                    }
                    skipped.add(kind + " statement not applied: " + statement + " (" + SqlStates.describe(e)
                            + "); create it on the target yourself");
                }
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, what, e);
        }
        return skipped;
    }

    /** The dump's table of contents for {@code section}, as {@code pg_restore --list} writes it. */
    private List<String> list(String section) throws IOException {
        Path listing = Files.createTempFile("pgferry-toc-", ".txt");
        try {
            PgTool.Result r = PgTool.exec("pg_restore", List.of("--list", "--section=" + section, dumpFile.toString()), Map.of(),
                    ErrorCode.SCHEMA_RESTORE_FAILED, "listing the schema dump of " + dbname, listing);
            if (r.exitCode() != 0) {
                throw new MigrationException(ErrorCode.SCHEMA_RESTORE_FAILED, "listing the schema dump of " + dbname
                        + " failed: " + PgTool.tail(r.stderr()));
            }
            return Files.readAllLines(listing);
        } finally {
            Files.deleteIfExists(listing);
        }
    }

    /** Restores the given post-data entries of the dump (see {@link #restore}); an empty list does nothing. */
    public List<String> restorePostData(Set<String> missingRoles, int jobs, List<String> entries) throws IOException {
        if (entries.isEmpty()) {
            return List.of();
        }
        Path list = PostDataPlan.writeList(entries);
        try {
            return restore("post-data", missingRoles, jobs, list);
        } finally {
            Files.deleteIfExists(list);
        }
    }

    /**
     * The statements pg_restore would send for {@code entries} of the dump, rendered without a server
     * ({@code pg_restore --file}), in order and with the session settings of its header; to run with
     * {@link #runScript}. Null when the dump is not in UTF-8: the script is in the dump's encoding, and the session
     * pgferry runs it on speaks UTF-8 only, so such a dump is restored by pg_restore itself.
     */
    public List<String> render(List<String> entries) throws IOException {
        if (entries.isEmpty()) {
            return List.of();
        }
        String what = "rendering the post-data schema of " + dbname;
        Path list = PostDataPlan.writeList(entries);
        Path script = Files.createTempFile("pgferry-post-data-", ".sql");
        try {
            PgTool.Result r = PgTool.exec("pg_restore", List.of("--file=" + script, "--use-list=" + list,
                    dumpFile.toString()), Map.of(), ErrorCode.SCHEMA_RESTORE_FAILED, what, null);
            if (r.exitCode() != 0) {
                throw new MigrationException(ErrorCode.SCHEMA_RESTORE_FAILED, what + " failed (pg_restore exit code "
                        + r.exitCode() + "): " + PgTool.tail(r.stderr()));
            }
            // The header names the dump's encoding in ASCII, whatever the rest is in.
            String text = new String(Files.readAllBytes(script), java.nio.charset.StandardCharsets.UTF_8);
            if (!text.contains("SET client_encoding = 'UTF8';")) {
                return null;
            }
            return SqlScript.statements(text).stream().filter(st -> !st.startsWith("SET client_encoding")).toList();
        } finally {
            deleteQuietly(list);
            deleteQuietly(script);
        }
    }

    /**
     * Runs statements {@link #render}ed from the dump on one new session of the target database, as pg_restore
     * would have. With no missing roles, in transactions of at most {@link #ENTRIES_PER_TRANSACTION} statements,
     * the first error failing the rest (as {@code --single-transaction --exit-on-error}); otherwise one statement at
     * a time, a statement that fails with {@code undefined_object} or {@code insufficient_privilege} while naming a
     * missing role being reported and skipped. Returns the skipped statements.
     */
    public List<String> runScript(List<String> statements, Set<String> missingRoles) {
        if (statements.isEmpty()) {
            return List.of();
        }
        String what = "restoring the post-data schema into target database " + dbname;
        try (Connection c = target.open(dbname)) {
            if (missingRoles.isEmpty()) {
                c.setAutoCommit(false);
                try (Statement st = c.createStatement()) {
                    int inTransaction = 0;
                    for (String statement : statements) {
                        try {
                            st.execute(statement);
                        } catch (SQLException e) {
                            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, what + " (statement: " + statement + ")", e);
                        }
                        if (++inTransaction == ENTRIES_PER_TRANSACTION) {
                            c.commit();
                            inTransaction = 0;
                        }
                    }
                }
                c.commit();
                return List.of();
            }
            return applyTolerating(c, statements, missingRoles, what);
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, what, e);
        }
    }

    /**
     * Runs each statement on its own (autocommit); one that fails with {@code undefined_object} (a role not created)
     * or {@code insufficient_privilege} (one the target user cannot act as) while naming a missing role is reported
     * and skipped; any other failure fails the database.
     */
    private static List<String> applyTolerating(Connection c, List<String> statements, Set<String> missingRoles,
                                                String what) throws SQLException {
        List<String> tolerated = new ArrayList<>();
        try (Statement st = c.createStatement()) {
            for (String statement : statements) {
                try {
                    st.execute(statement);
                } catch (SQLException e) {
                    Set<String> named = SqlScript.namedRoles(statement, missingRoles);
                    boolean aboutRole = SqlStates.UNDEFINED_OBJECT.equals(e.getSQLState())
                            || SqlStates.INSUFFICIENT_PRIVILEGE.equals(e.getSQLState());
                    if (!aboutRole || named.isEmpty()) {
                        throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, what + " (statement: " + statement + ")", e);
                    }
                    tolerated.add(notApplied(statement, named, "SQLSTATE " + e.getSQLState()));
                }
            }
        }
        return tolerated;
    }

    /**
     * Gathers planner statistics for every table, partitioned table and materialized view of the target database
     * except {@code analyzed} (qualified names of tables already analyzed), {@code jobs} relations at a time on
     * {@code executor}'s threads, each on a session of {@code sessions} (the copy's, on the target database).
     */
    public void analyzeExcept(Set<String> analyzed, int jobs, Executor executor, SessionPool sessions) {
        String what = "analyzing target database " + dbname;
        Queue<String> todo = new ConcurrentLinkedQueue<>();
        try (SessionPool.Lease lease = sessions.lease(); Statement s = lease.connection().createStatement();
             ResultSet rs = s.executeQuery("SELECT n.nspname, c.relname FROM pg_catalog.pg_class c"
                     + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'm')"
                     + " AND c.relpersistence <> 't' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                     + " AND n.nspname !~ '^pg_toast' ORDER BY pg_catalog.pg_table_size(c.oid) DESC")) {
            while (rs.next()) {
                String name = Sql.qualified(rs.getString(1), rs.getString(2));
                if (!analyzed.contains(name)) {
                    todo.add(name);
                }
            }
            lease.release();
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, what, e);
        }
        List<CompletableFuture<Void>> workers = new ArrayList<>();
        for (int i = 0; i < Math.min(Math.max(1, jobs), todo.size()); i++) {
            workers.add(CompletableFuture.runAsync(() -> {
                try (SessionPool.Lease lease = sessions.lease(); Statement s = lease.connection().createStatement()) {
                    for (String name = todo.poll(); name != null; name = todo.poll()) {
                        s.execute("ANALYZE " + name);
                    }
                    lease.release();
                } catch (SQLException e) {
                    throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, what, e);
                }
            }, executor));
        }
        try {
            CompletableFuture.allOf(workers.toArray(CompletableFuture[]::new)).join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof MigrationException m ? m
                    : new MigrationException(ErrorCode.SCHEMA_RESTORE_FAILED, null, what + ": " + e.getCause(), false, e.getCause());
        }
    }

    /**
     * Restores one section, or the entries of {@code list}. With no missing roles the restore is strict: one
     * transaction (with one job), stopping at the first error. When some roles could not be created on the target,
     * statements naming them (ownership, policies, user mappings) must fail without stopping the rest: the restore
     * then goes on past errors, and a failed statement that does not name a missing role where a role goes still
     * fails the database (the statement is read from pg_restore's report, never the server's error text, which
     * depends on its locale). Privileges are then left out of the restore and granted one statement at a time
     * ({@link #grantPrivileges}), so that a grant to a missing role does not take the other grants of its object
     * down with it. Returns the tolerated failures.
     */
    private List<String> restore(String section, Set<String> missingRoles, int jobs, Path list) {
        String what = "restoring the " + section + " schema into target database " + dbname;
        List<String> args = new ArrayList<>(List.of("--dbname=" + conninfoDbname(dbname)));
        if (list == null) {
            args.add("--section=" + section);
        }
        // else the list says exactly what to restore: with --section as well, pg_restore would give a comment the
        // section of the entry listed before it, and drop a comment whose constraint was built early.
        if (missingRoles.isEmpty()) {
            args.add("--exit-on-error");
        } else {
            args.add("--no-privileges");
        }
        if (jobs > 1) {
            args.add("--jobs=" + jobs);
        } else if (missingRoles.isEmpty()) {
            args.add("--single-transaction");
        }
        if (list != null) {
            args.add("--use-list=" + list);
        }
        args.add(dumpFile.toString());
        PgTool.Result r = PgTool.exec("pg_restore", args, target.libpqEnv(dbname), ErrorCode.SCHEMA_RESTORE_FAILED, what);
        List<String> tolerated = new ArrayList<>();
        if (r.exitCode() != 0) {
            if (missingRoles.isEmpty()) {
                throw new MigrationException(ErrorCode.SCHEMA_RESTORE_FAILED, what + " failed (pg_restore exit code "
                        + r.exitCode() + "): " + PgTool.tail(r.stderr()));
            }
            List<String> fatal = new ArrayList<>();
            List<RestoreFailure> failures = RestoreFailure.parse(r.stderr());
            for (RestoreFailure f : failures) {
                Set<String> named = f.command() == null ? Set.of() : SqlScript.namedRoles(f.command(), missingRoles);
                if (named.isEmpty()) {
                    fatal.add(f.message() + (f.command() == null ? "" : " (statement: " + f.command() + ")"));
                } else {
                    tolerated.add(notApplied(f.command(), named, f.message()));
                }
            }
            if (!fatal.isEmpty() || failures.isEmpty()) {
                throw new MigrationException(ErrorCode.SCHEMA_RESTORE_FAILED, what + " failed (pg_restore exit code "
                        + r.exitCode() + "): " + PgTool.tail(fatal.isEmpty() ? r.stderr() : String.join("\n", fatal)));
            }
        }
        if (!missingRoles.isEmpty() && section.equals("pre-data")) {
            tolerated.addAll(grantPrivileges(missingRoles));
        }
        return tolerated;
    }

    private static String notApplied(String statement, Set<String> roles, String why) {
        return "not applied: it names " + (roles.size() == 1 ? "role " : "roles ") + String.join(", ", roles)
                + ", which is not on the target or which the target user cannot act as (see the roles warnings): " + statement
                + " (" + why + ")";
    }

    /** The dump's entries of privileges (on objects, columns and large objects, and default privileges). */
    private static final Pattern PRIVILEGE_ENTRY = Pattern.compile("^\\d+; \\d+ \\d+ (ACL|DEFAULT ACL) ");

    /**
     * Grants the dump's privileges one statement at a time, as pg_restore would have in the pre-data section. A
     * statement that fails with {@code undefined_object} or {@code insufficient_privilege} while naming a missing
     * role is reported and skipped (a grant made by a missing grantor is then made by the target user); any other
     * failure fails the database.
     */
    private List<String> grantPrivileges(Set<String> missingRoles) {
        String what = "granting privileges in target database " + dbname;
        Path listing = null;
        Path script = null;
        try {
            listing = Files.createTempFile("pgferry-acl-", ".list");
            PgTool.Result r = PgTool.exec("pg_restore", List.of("--list", dumpFile.toString()), Map.of(),
                    ErrorCode.SCHEMA_RESTORE_FAILED, what, listing);
            if (r.exitCode() != 0) {
                throw new MigrationException(ErrorCode.SCHEMA_RESTORE_FAILED, what + ": listing the schema dump failed: "
                        + PgTool.tail(r.stderr()));
            }
            List<String> entries = Files.readAllLines(listing).stream().filter(l -> PRIVILEGE_ENTRY.matcher(l).find()).toList();
            if (entries.isEmpty()) {
                return List.of();
            }
            Files.write(listing, entries);
            script = Files.createTempFile("pgferry-acl-", ".sql");
            r = PgTool.exec("pg_restore", List.of("--file=" + script, "--use-list=" + listing, dumpFile.toString()),
                    Map.of(), ErrorCode.SCHEMA_RESTORE_FAILED, what, null);
            if (r.exitCode() != 0) {
                throw new MigrationException(ErrorCode.SCHEMA_RESTORE_FAILED, what + ": writing the privileges of the"
                        + " schema dump failed: " + PgTool.tail(r.stderr()));
            }
            try (Connection c = target.open(dbname)) {
                // insufficient_privilege: SET SESSION AUTHORIZATION to a grantor the target user cannot act as
                return applyTolerating(c, SqlScript.statements(Files.readString(script)), missingRoles, what);
            } catch (SQLException e) {
                throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, what, e);
            }
        } catch (IOException e) {
            throw new MigrationException(ErrorCode.INTERNAL, null, what + ": " + e.getMessage(), false, e);
        } finally {
            deleteQuietly(listing);
            deleteQuietly(script);
        }
    }

    private static void deleteQuietly(Path file) {
        if (file != null) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // a temporary file with schema text, no secret
            }
        }
    }

    /** A libpq conninfo naming only the database, so that a name containing '=' is not read as conninfo. */
    public static String conninfoDbname(String name) {
        return "dbname='" + name.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    @Override
    public void close() throws IOException {
        Files.deleteIfExists(dumpFile);
    }
}
