package dev.pgferry.worker.schema;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.SqlStates;
import dev.pgferry.worker.log.LogContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The pre-data section (types, tables, functions) restored beside the copy: the rows of a table can go in as soon as
 * its table is committed, while later tables are still created, instead of after the whole section. The section is
 * rendered by pg_restore ({@code --verbose} names each entry, its catalog OID and its dependencies), run on one
 * session of the target database in order, and committed every {@link #CHUNK_ENTRIES} entries; {@link #ready} is
 * the moment a table may be copied: when the entry that creates it and every entry that depends on it, directly or
 * not (its defaults, comments, privileges, the sequences it owns, the views over it), are committed. No later
 * statement of the restore then touches the table, so the copy never waits for the restore's locks, nor the restore
 * for the copy's, and no two transactions update the table's catalog row at once.
 * <p>
 * pg_dump writes every table before the column defaults, and pg_restore every privilege last, so a table with a
 * {@code serial} column or a grant would be ready only at the end: the entries that only complete one object
 * ({@link #COMPLETING}: a default, a sequence's owner, a comment, a privilege, a security label) are moved to just
 * after the last entry they depend on. That is an order pg_restore could have used too: every dependency pg_dump
 * records still comes first, and none of them changes what a later entry creates (default privileges, which do,
 * stay where they are).
 * <p>
 * {@link #blocking} is the fallback (the whole section first, every table ready at its end) where the section is not
 * run by pgferry's session (missing roles, a dump not in UTF-8). Thread-safe: the restore runs on a thread of its
 * own; {@link #ready}, {@link #order} and {@link #await} may be called from any thread; {@link #close} stops a
 * restore still running and waits for it.
 */
public final class PreDataRestore implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PreDataRestore.class);
    /** Entries in the first transaction: small, so that the first tables are ready soon. */
    static final int FIRST_CHUNK_ENTRIES = 16;
    /**
     * Entries in each later transaction: a commit costs about a millisecond, and each transaction's locks stay far
     * below what the target's lock table holds ({@link SchemaCopier}'s limit, 1,000 entries).
     */
    static final int CHUNK_ENTRIES = 64;
    /** The kinds of entries that only complete objects made before them (see the class comment). */
    static final Set<String> COMPLETING = Set.of("DEFAULT", "SEQUENCE OWNED BY", "COMMENT", "ACL", "SECURITY LABEL");
    /** pg_class: the catalog of the relations an entry may create. */
    private static final long PG_CLASS = 1259;
    private static final Pattern TOC_ENTRY = Pattern.compile("^-- TOC entry (\\d+) \\(class (\\d+) OID (\\d+)\\)");
    private static final Pattern DEPENDENCIES = Pattern.compile("^-- Dependencies: ([\\d ]+)");
    private static final Pattern TYPE = Pattern.compile("; Type: ([A-Z][A-Z ]*); Schema: ");

    /** One entry of the rendered section: its dump id, catalog OID (class and object), kind, dependencies, statements. */
    record Entry(int id, long classOid, long oid, String type, List<Integer> dependencies, List<String> statements) {
        boolean completing() {
            // a session setting before the entry is pg_restore's for the next one (a tablespace, a table access
            // method); and an entry that creates anything is not moved, whatever its kind reads
            return COMPLETING.contains(type) && statements.stream().noneMatch(s -> s.regionMatches(true, 0, "SET ", 0, 4)
                    || s.regionMatches(true, 0, "CREATE ", 0, 7));
        }
    }

    /** The rendered section: the session settings of its header, then its entries in pg_restore's order. */
    record Script(List<String> header, List<Entry> entries) {
    }

    /** The plan: entries in the order they run, the transaction of each, and the transaction after which each relation is ready. */
    record Plan(List<Entry> entries, int[] transactionOf, Map<Long, Integer> readyAfter, int transactions) {
    }

    private final String dbname;
    private final CompletableFuture<List<String>> done = new CompletableFuture<>();
    private final Map<Long, CompletableFuture<Void>> ready;
    private final Map<Long, Integer> readyAfter;
    private final Thread thread;
    private volatile Statement running;
    private volatile boolean closing;

    private PreDataRestore(String dbname, Plan plan, Supplier<List<String>> blockingRestore, PgConnector target,
                           List<String> header) {
        this.dbname = dbname;
        this.readyAfter = plan == null ? Map.of() : plan.readyAfter();
        this.ready = new HashMap<>();
        List<List<CompletableFuture<Void>>> byTransaction = new ArrayList<>();
        if (plan != null) {
            for (int i = 0; i < plan.transactions(); i++) {
                byTransaction.add(new ArrayList<>());
            }
            plan.readyAfter().forEach((oid, tx) -> {
                CompletableFuture<Void> f = new CompletableFuture<>();
                ready.put(oid, f);
                byTransaction.get(tx).add(f);
            });
        }
        Runnable body = plan == null ? () -> done.complete(blockingRestore.get())
                : () -> run(target, header, plan, byTransaction);
        this.thread = new Thread(LogContext.carried(() -> {
            try {
                body.run();
            } catch (Throwable e) {
                MigrationException failure = closing
                        ? new MigrationException(ErrorCode.INTERNAL, "pre-data restore of " + dbname + " stopped")
                        : e instanceof MigrationException m ? m
                        : new MigrationException(ErrorCode.SCHEMA_RESTORE_FAILED, null, "restoring the pre-data schema"
                        + " into target database " + dbname + ": " + e, false, e);
                ready.values().forEach(f -> f.completeExceptionally(failure));
                done.completeExceptionally(failure);
            }
        }), "pre-data-" + dbname);
        thread.setDaemon(true);
    }

    /** Runs {@code restore} (the whole section, returning its tolerated failures) on a thread; every table is ready at its end. */
    static PreDataRestore blocking(String dbname, Supplier<List<String>> restore) {
        PreDataRestore r = new PreDataRestore(dbname, null, restore, null, null);
        r.thread.start();
        return r;
    }

    /** Runs the rendered section {@code script} on a new session of {@code target}'s database {@code dbname}, in transactions. */
    static PreDataRestore start(PgConnector target, String dbname, Script script) {
        PreDataRestore r = new PreDataRestore(dbname, plan(script.entries()), null, target, script.header());
        r.thread.start();
        return r;
    }

    /**
     * Completes when the relation of source OID {@code oid} may be copied into (see the class comment); for a
     * relation the section does not create itself (an extension's table), when the whole section is in.
     */
    public CompletableFuture<Void> ready(long oid) {
        CompletableFuture<Void> f = ready.get(oid);
        return f != null ? f : done.thenApply(x -> null);
    }

    /** The transaction after which the relation of source OID {@code oid} is ready: an order to copy tables in. */
    public int order(long oid) {
        return readyAfter.getOrDefault(oid, Integer.MAX_VALUE);
    }

    /** Waits until the whole section is in; returns the statements tolerated (missing roles), or throws why it failed. */
    public List<String> await() {
        try {
            return done.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r
                    : new MigrationException(ErrorCode.SCHEMA_RESTORE_FAILED, null, "restoring the pre-data schema into"
                    + " target database " + dbname + ": " + e.getCause(), false, e.getCause());
        }
    }

    /** Stops a restore still running (its statement cancelled, its transaction rolled back) and waits for its thread. */
    @Override
    public void close() {
        if (!done.isDone()) {
            closing = true;
            Statement st = running;
            if (st != null) {
                try {
                    st.cancel();
                } catch (SQLException ignored) {
                    // the session is closed by its thread either way
                }
            }
        }
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run(PgConnector target, List<String> header, Plan plan, List<List<CompletableFuture<Void>>> byTransaction) {
        String what = "restoring the pre-data schema into target database " + dbname;
        long started = System.nanoTime();
        try (Connection c = target.open(dbname); Statement st = c.createStatement()) {
            running = st;
            // the dump's text goes to the server as written: no JDBC escapes ({fn ...}) rewritten in it
            st.setEscapeProcessing(false);
            for (String statement : header) {
                execute(st, statement, what);
            }
            c.setAutoCommit(false);
            List<Entry> entries = plan.entries();
            for (int i = 0; i < entries.size(); i++) {
                for (String statement : entries.get(i).statements()) {
                    if (closing) {
                        throw new MigrationException(ErrorCode.INTERNAL, "pre-data restore of " + dbname + " stopped");
                    }
                    execute(st, statement, what);
                }
                if (i == entries.size() - 1 || plan.transactionOf()[i + 1] != plan.transactionOf()[i]) {
                    c.commit();
                    byTransaction.get(plan.transactionOf()[i]).forEach(f -> f.complete(null));
                }
            }
            running = null;
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, what, e);
        }
        LOG.info("pre-data schema of {} restored: {} entries in {} transactions, {} ms", dbname, plan.entries().size(),
                plan.transactions(), (System.nanoTime() - started) / 1_000_000);
        done.complete(List.of());
    }

    private static void execute(Statement st, String statement, String what) {
        try {
            st.execute(statement);
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.SCHEMA_RESTORE_FAILED, what + " (statement: " + statement + ")", e);
        }
    }

    /**
     * Reads pg_restore's verbose rendering of a section: the statements before its first entry (session settings),
     * then each entry with the statements up to the next one. Null when the script is not in UTF-8 (the session that
     * runs it speaks UTF-8 only). The client encoding setting is left out for the same reason.
     */
    static Script parse(String text) {
        if (!text.contains("SET client_encoding = 'UTF8';")) {
            return null;
        }
        List<String> header = new ArrayList<>();
        List<Entry> entries = new ArrayList<>();
        Entry building = null;
        List<String> statements = header;
        SqlScript.Splitter splitter = new SqlScript.Splitter();
        SqlScript.Scanner s = new SqlScript.Scanner(text);
        while (s.hasNext()) {
            boolean between = splitter.between();
            if (between && s.atLineStart() && s.peek() == '\\') {
                s.skipLine();
                continue;
            }
            SqlScript.Token t = s.next();
            if (between && t.kind() == SqlScript.Kind.COMMENT) {
                String line = t.text().strip();
                Matcher toc = TOC_ENTRY.matcher(line);
                Matcher deps = DEPENDENCIES.matcher(line);
                Matcher type = TYPE.matcher(line);
                if (toc.find()) {
                    if (building != null) {
                        entries.add(building);
                    }
                    statements = new ArrayList<>();
                    building = new Entry(Integer.parseInt(toc.group(1)), Long.parseLong(toc.group(2)),
                            Long.parseLong(toc.group(3)), "", new ArrayList<>(), statements);
                } else if (building != null && deps.find()) {
                    for (String d : deps.group(1).trim().split(" +")) {
                        building.dependencies().add(Integer.parseInt(d));
                    }
                } else if (building != null && building.type().isEmpty() && line.startsWith("-- Name: ")) {
                    String kind = "?";
                    while (type.find()) {
                        kind = type.group(1);
                    }
                    building = new Entry(building.id(), building.classOid(), building.oid(), kind,
                            building.dependencies(), statements);
                }
            }
            String statement = splitter.take(t);
            if (statement != null && !statement.toUpperCase(Locale.ROOT).startsWith("SET CLIENT_ENCODING")) {
                statements.add(statement);
            }
        }
        String rest = splitter.rest();
        if (rest != null) {
            statements.add(rest);
        }
        if (building != null) {
            entries.add(building);
        }
        return new Script(header, entries);
    }

    /**
     * Orders the entries (each {@link Entry#completing} one just after the last entry it depends on, every other in
     * pg_restore's order), groups them into transactions, and finds after which one each relation is ready: that of
     * its own entry or of the last entry that depends on it, directly or not. Should an entry come before one it
     * depends on (pg_dump never writes them so), every relation is ready only at the end.
     */
    static Plan plan(List<Entry> given) {
        Map<Integer, Entry> byId = new HashMap<>();
        given.forEach(e -> byId.put(e.id(), e));
        Map<Integer, List<Entry>> waiting = new HashMap<>();
        Map<Integer, Integer> unmet = new HashMap<>();
        for (Entry e : given) {
            if (e.completing()) {
                Set<Integer> deps = new HashSet<>();
                e.dependencies().stream().filter(byId::containsKey).forEach(deps::add);
                unmet.put(e.id(), deps.size());
                deps.forEach(d -> waiting.computeIfAbsent(d, k -> new ArrayList<>()).add(e));
            }
        }
        List<Entry> ordered = new ArrayList<>(given.size());
        Set<Integer> placed = new HashSet<>();
        for (Entry e : given) {
            place(e, ordered, placed, waiting, unmet);
        }
        int[] transactionOf = new int[ordered.size()];
        int tx = 0;
        int inTx = 0;
        for (int i = 0; i < ordered.size(); i++) {
            if (inTx == (tx == 0 ? FIRST_CHUNK_ENTRIES : CHUNK_ENTRIES)) {
                tx++;
                inTx = 0;
            }
            transactionOf[i] = tx;
            inTx++;
        }
        int transactions = ordered.isEmpty() ? 0 : tx + 1;
        // Latest transaction of an entry and of everything after it that depends on it: dependents come later, so
        // one pass from the end computes it.
        Map<Integer, Integer> position = new HashMap<>();
        for (int i = 0; i < ordered.size(); i++) {
            position.put(ordered.get(i).id(), i);
        }
        Map<Integer, Integer> latest = new HashMap<>();
        boolean inOrder = true;
        for (int i = ordered.size() - 1; i >= 0; i--) {
            Entry e = ordered.get(i);
            latest.merge(e.id(), transactionOf[i], Math::max);
            for (int d : e.dependencies()) {
                Integer at = position.get(d);
                if (at == null) {
                    continue;
                }
                if (at > i) {
                    inOrder = false;
                }
                latest.merge(d, latest.get(e.id()), Math::max);
            }
        }
        Map<Long, Integer> readyAfter = new HashMap<>();
        for (Entry e : ordered) {
            if (e.classOid() == PG_CLASS) {
                readyAfter.put(e.oid(), inOrder ? latest.get(e.id()) : transactions - 1);
            }
        }
        return new Plan(List.copyOf(ordered), transactionOf, Map.copyOf(readyAfter), transactions);
    }

    private static void place(Entry e, List<Entry> ordered, Set<Integer> placed, Map<Integer, List<Entry>> waiting,
                              Map<Integer, Integer> unmet) {
        if (!placed.add(e.id())) {
            return;
        }
        ordered.add(e);
        for (Entry next : waiting.getOrDefault(e.id(), List.of())) {
            if (unmet.merge(next.id(), -1, Integer::sum) == 0) {
                place(next, ordered, placed, waiting, unmet);
            }
        }
    }
}
