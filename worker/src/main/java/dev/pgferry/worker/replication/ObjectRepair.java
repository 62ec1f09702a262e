package dev.pgferry.worker.replication;

import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.SchemaObjects;
import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.SchemaObjects.Difference;
import dev.pgferry.pg.SchemaObjects.Drifted;
import dev.pgferry.pg.SchemaObjects.Kind;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;
import dev.pgferry.worker.copy.SourceCatalog;
import dev.pgferry.worker.schema.DumpSelection;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Makes the schema objects of a replicating database that {@code pgferry refresh} can repair as on the source
 * ({@link Drifted#repairable()}). A missing function, procedure, view, materialized view, sequence or type is
 * restored from the source's schema dump with its owner, privileges and comments ({@link DumpSelection}; a
 * materialized view unpopulated, until the cut-over refreshes it). The others are made from the source's own
 * definitions ({@code pg_get_indexdef}, {@code pg_get_constraintdef}, {@code pg_get_triggerdef}, {@code
 * pg_get_functiondef}, {@code pg_get_viewdef}, {@code pg_sequence}, an enum's labels): a missing index, constraint or
 * trigger is created; one defined otherwise is made again (a function or view replaced, which keeps its owner and
 * privileges; a sequence altered; a view whose columns changed, and a materialized view, dropped and restored from the
 * dump, see {@link #remake}); an enum gets the values the source added, each in its place. A trigger made on a
 * replicating target takes the source's state, held disabled when it would fire in the apply worker ({@link
 * ReplicaTriggers}). Types, sequences and functions come {@link #early} (a new table or column may need them), the rest
 * {@link #late}, with a new sequence then owned by its column as on the source. Each object is made in its own
 * transaction (those from the dump in one), so one that fails (reported with its SQLSTATE) does not keep the others
 * back. Objects of partitions come after those of their parents, which bring their clones along. Confined to the
 * thread that runs it.
 */
final class ObjectRepair {
    private static final Set<Kind> EARLY = Set.of(Kind.EXTENSION, Kind.TYPE, Kind.SEQUENCE, Kind.FUNCTION, Kind.PROCEDURE);
    private static final Set<Kind> FROM_DUMP = Set.of(Kind.FUNCTION, Kind.PROCEDURE, Kind.VIEW, Kind.MATERIALIZED_VIEW,
            Kind.SEQUENCE, Kind.TYPE);

    private final PgConnector source;
    private final String dbname;
    private final Map<String, String> restoreEnv;
    private final Connection s;
    private final Connection t;
    private final List<String> applied;
    /** Whether both sides had a privilege when pgferry last compared them ({@link SchemaObjects#grantKey}). */
    private final java.util.function.Predicate<String> shared;
    private final List<String> failures = new ArrayList<>();
    /** Sequences restored {@link #early}, given their owning column {@link #late}. */
    private final List<String> newSequences = new ArrayList<>();

    /**
     * {@code s} and {@code t}: sessions of the source and target database {@code dbname}; {@code restoreEnv}:
     * pg_restore's environment for the target database; {@code applied}: what was done goes there.
     */
    ObjectRepair(PgConnector source, String dbname, Map<String, String> restoreEnv, Connection s, Connection t,
                 List<String> applied, java.util.function.Predicate<String> shared) {
        this.shared = shared;
        this.source = source;
        this.dbname = dbname;
        this.restoreEnv = restoreEnv;
        this.s = s;
        this.t = t;
        this.applied = applied;
    }

    /** Types, sequences and functions, before new tables and columns are made. */
    void early(List<Drifted> drifted) throws SQLException {
        run(drifted.stream().filter(d -> EARLY.contains(d.kind())).toList());
    }

    /** Everything else, after; returns why any object of either phase could not be made, one line each. */
    List<String> late(List<Drifted> drifted) throws SQLException {
        run(drifted.stream().filter(d -> !EARLY.contains(d.kind())).toList());
        ownSequences();
        return failures;
    }

    private void run(List<Drifted> drifted) throws SQLException {
        List<Drifted> todo = new ArrayList<>();
        List<Drifted> fromDump = new ArrayList<>();
        List<Drifted> remake = new ArrayList<>();
        for (Drifted d : drifted) {
            if (d.repairable()) {
                (d.kind() == Kind.MATERIALIZED_VIEW && d.difference() == Difference.DIFFERS ? remake
                        : d.difference() == Difference.MISSING && FROM_DUMP.contains(d.kind()) ? fromDump : todo).add(d);
            }
        }
        restoreFromDump(fromDump, "created");
        // types and functions before what uses them; a partition's objects after its parent's
        Set<String> partitions = new HashSet<>(SourceCatalog.column(s,
                "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname)"
                + " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE c.relispartition"));
        todo.sort(Comparator.comparingInt((Drifted d) -> order(d.kind()))
                .thenComparing(d -> partitions.contains(d.table())).thenComparing(Drifted::name));
        t.setAutoCommit(true);
        for (Drifted d : todo) {
            if (d.difference() == Difference.MISSING && existsOnTarget(d)) {
                continue;  // (a clone its parent's object brought along)
            }
            // (before PostgreSQL 12 an enum's new value cannot be added in a transaction block)
            t.setAutoCommit(d.kind() == Kind.TYPE);
            try (Statement st = t.createStatement()) {
                String done = repair(d, st);
                if (!t.getAutoCommit()) {
                    t.commit();
                }
                applied.add(done);
            } catch (SQLException e) {
                if (!t.getAutoCommit()) {
                    t.rollback();
                }
                if (d.kind() == Kind.VIEW && SqlStates.INVALID_TABLE_DEFINITION.equals(e.getSQLState())) {
                    remake.add(d);  // (its columns changed: CREATE OR REPLACE cannot drop or retype them)
                } else {
                    failures.add(d.kind().word() + " " + d.name() + " could not be made as on the source: "
                            + SqlStates.describe(e));
                }
            } finally {
                t.setAutoCommit(true);
            }
        }
        remake(remake);
    }

    /**
     * Views whose columns changed and materialized views defined otherwise, made again: each dropped on the target
     * (without CASCADE: one that other views use stays, named with its SQLSTATE), then restored from the source's
     * schema dump with owner, privileges and comment, and a materialized view's indexes made as on the source (it is
     * unpopulated until the cut-over refreshes it, as a new one is).
     */
    private void remake(List<Drifted> views) throws SQLException {
        List<Drifted> dropped = new ArrayList<>();
        for (Drifted d : views) {
            try (Statement st = t.createStatement()) {
                st.execute("DROP " + (d.kind() == Kind.VIEW ? "VIEW " : "MATERIALIZED VIEW ") + d.name());
                dropped.add(d);
            } catch (SQLException e) {
                failures.add(d.kind().word() + " " + d.name() + " could not be made again as on the source: "
                        + SqlStates.describe(e));
            }
        }
        restoreFromDump(dropped, "made again");
        for (Drifted d : dropped) {
            if (d.kind() != Kind.MATERIALIZED_VIEW) {
                continue;
            }
            for (String index : SourceCatalog.column(s, "SELECT pg_catalog.pg_get_indexdef(i.indexrelid)"
                    + " FROM pg_catalog.pg_index i WHERE i.indrelid = ?::pg_catalog.regclass ORDER BY i.indexrelid", d.name())) {
                try (Statement st = t.createStatement()) {
                    st.execute(index);
                } catch (SQLException e) {
                    failures.add("an index of " + d.kind().word() + " " + d.name() + " could not be made as on the"
                            + " source: " + SqlStates.describe(e));
                }
            }
        }
    }

    /**
     * The objects pg_dump has whole that the target lacks, restored together from the source's schema dump; {@code
     * verb} says what that did ({@code created}, or {@code made again}).
     */
    private void restoreFromDump(List<Drifted> missing, String verb) throws SQLException {
        if (missing.isEmpty()) {
            return;
        }
        List<DumpSelection.Wanted> wanted = new ArrayList<>();
        for (Drifted d : missing) {
            String sql = switch (d.kind()) {
                case FUNCTION, PROCEDURE -> "SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass::oid, p.oid, n.nspname,"
                        + " pg_catalog.pg_get_userbyid(p.proowner), pg_catalog.quote_ident(p.proname) || '('"
                        + " || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')'"
                        + " FROM pg_catalog.pg_proc p"
                        + " JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE pg_catalog.format('%I.%I(%s)',"
                        + " n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) = ?";
                case TYPE -> "SELECT 'pg_catalog.pg_type'::pg_catalog.regclass::oid, y.oid, n.nspname,"
                        + " pg_catalog.pg_get_userbyid(y.typowner), pg_catalog.quote_ident(y.typname)"
                        + " FROM pg_catalog.pg_type y"
                        + " JOIN pg_catalog.pg_namespace n ON n.oid = y.typnamespace WHERE y.oid = ?::pg_catalog.regtype";
                default -> "SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::oid, c.oid, n.nspname,"
                        + " pg_catalog.pg_get_userbyid(c.relowner), pg_catalog.quote_ident(c.relname)"
                        + " FROM pg_catalog.pg_class c"
                        + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ?::pg_catalog.regclass";
            };
            try {
                String[] r = row(sql, d.name());
                wanted.add(new DumpSelection.Wanted(Long.parseLong(r[0]), Long.parseLong(r[1]), r[2], r[3], r[4]));
            } catch (SQLException e) {
                failures.add(d.kind().word() + " " + d.name() + " could not be made as on the source: "
                        + SqlStates.describe(e));
            }
        }
        if (wanted.isEmpty()) {
            return;
        }
        String names = String.join(", ", missing.stream().map(d -> d.kind().word() + " " + d.name()).toList());
        try {
            if (!DumpSelection.restore(source, dbname, wanted, restoreEnv).isEmpty()) {
                applied.add(verb + " " + names + " on the target (from the source's schema dump, with owner and"
                        + " privileges)");
                missing.stream().filter(d -> d.kind() == Kind.SEQUENCE).forEach(d -> newSequences.add(d.name()));
            }
        } catch (MigrationException e) {
            failures.add(names + " could not be made as on the source: " + e.getMessage());
        }
    }

    /** Each sequence made {@link #early} owned by its column, as on the source (the column may be new). */
    private void ownSequences() throws SQLException {
        for (String seq : newSequences) {
            List<String> owner = SourceCatalog.column(s, "SELECT pg_catalog.format('%s.%I', d.refobjid::pg_catalog.regclass,"
                    + " a.attname) FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid"
                    + " AND a.attnum = d.refobjsubid WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
                    + " AND d.objid = ?::pg_catalog.regclass AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
                    + " AND d.deptype = 'a'", seq);
            if (owner.isEmpty()) {
                continue;
            }
            try (Statement st = t.createStatement()) {
                st.execute("ALTER SEQUENCE " + seq + " OWNED BY " + owner.get(0));
            } catch (SQLException e) {
                failures.add("sequence " + seq + " could not be owned by " + owner.get(0) + " as on the source: "
                        + SqlStates.describe(e));
            }
        }
        newSequences.clear();
    }

    private static int order(Kind k) {
        return switch (k) {
            case EXTENSION -> -1;
            case TYPE -> 0;
            case FUNCTION, PROCEDURE -> 1;
            case VIEW -> 2;
            case CONSTRAINT -> 3;
            case INDEX -> 4;
            default -> 5;
        };
    }

    /** Makes one object as on the source, in the open transaction of {@code st}; returns what was done. */
    private String repair(Drifted d, Statement st) throws SQLException {
        boolean again = d.difference() == Difference.DIFFERS;
        switch (d.kind()) {
            case INDEX -> {
                String def = one("SELECT pg_catalog.pg_get_indexdef(?::pg_catalog.regclass)", d.name());
                if (again) {
                    st.execute("DROP INDEX " + d.name());
                }
                st.execute(def);
            }
            case CONSTRAINT -> {
                String def = one("SELECT pg_catalog.pg_get_constraintdef(k.oid) FROM pg_catalog.pg_constraint k"
                        + " WHERE k.conrelid = ?::pg_catalog.regclass AND k.conname = ?", d.table(), d.own());
                st.execute("ALTER TABLE " + d.table() + (again ? " DROP CONSTRAINT " + Sql.ident(d.own()) + "," : "")
                        + " ADD CONSTRAINT " + Sql.ident(d.own()) + " " + def);
            }
            case TRIGGER -> {
                String[] def = row("SELECT pg_catalog.pg_get_triggerdef(g.oid), g.tgenabled::text FROM pg_catalog.pg_trigger g"
                        + " WHERE g.tgrelid = ?::pg_catalog.regclass AND g.tgname = ?", d.table(), d.own());
                if (again) {
                    st.execute("DROP TRIGGER " + Sql.ident(d.own()) + " ON " + d.table());
                }
                st.execute(def[0]);
                // disabled as on the source, or held while the database replicates (ReplicaTriggers)
                if (!"O".equals(def[1])) {
                    st.execute("ALTER TABLE " + d.table() + " DISABLE TRIGGER " + Sql.ident(d.own()));
                }
                if ("A".equals(def[1]) || "R".equals(def[1])) {
                    return "created trigger " + d.name() + " on the target, held disabled while the database"
                            + " replicates (it fires in a subscription's apply worker too)";
                }
            }
            case FUNCTION, PROCEDURE -> {
                String def = one("SELECT pg_catalog.pg_get_functiondef(p.oid) FROM pg_catalog.pg_proc p"
                        + " JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE pg_catalog.format('%I.%I(%s)',"
                        + " n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) = ?", d.name());
                // (its body names objects as the application's search_path finds them, not as this session's would:
                // not checked now, as pg_dump's output does not have it checked either)
                st.execute("SET LOCAL check_function_bodies = false");
                st.execute(def);
            }
            case VIEW -> {
                String[] def = row("SELECT pg_catalog.pg_get_viewdef(c.oid), pg_catalog.array_to_string(c.reloptions, ', ')"
                        + " FROM pg_catalog.pg_class c WHERE c.oid = ?::pg_catalog.regclass", d.name());
                st.execute("CREATE OR REPLACE VIEW " + d.name() + (def[1] == null || def[1].isEmpty() ? ""
                        : " WITH (" + def[1] + ")") + " AS " + def[0]);
            }
            case TYPE -> {
                String kind = one("SELECT t.typtype::text FROM pg_catalog.pg_type t WHERE t.oid = ?::pg_catalog.regtype",
                        d.name());
                // (a domain's or composite type's statements all or none; an enum's new values each on its own)
                t.setAutoCommit(!kind.equals("d") && !kind.equals("c"));
                return switch (kind) {
                    case "d" -> alterDomain(d, st);
                    case "c" -> alterComposite(d, st);
                    default -> addEnumValues(d, st);
                };
            }
            case PRIVILEGES -> {
                return alignPrivileges(d, st);
            }
            case COMMENT -> {
                String text = one("SELECT q.description FROM (" + SchemaObjects.COMMENTS + ") q WHERE q.own = ?", d.own());
                st.execute("COMMENT ON " + d.own() + " IS " + Sql.literal(text));
                return "made the " + d.kind().word() + " " + d.name() + " on the target as on the source";
            }
            case POLICY -> {
                String[] p = row("SELECT permissive, cmd, pg_catalog.array_to_string(ARRAY(SELECT CASE WHEN r = 'public'"
                        + " THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r) END FROM pg_catalog.unnest(roles) r), ', '), qual,"
                        + " with_check FROM pg_catalog.pg_policies WHERE pg_catalog.format('%I.%I', schemaname, tablename) = ?"
                        + " AND policyname = ?", d.table(), d.own());
                if (again) {
                    st.execute("DROP POLICY " + Sql.ident(d.own()) + " ON " + d.table());
                }
                st.execute("CREATE POLICY " + Sql.ident(d.own()) + " ON " + d.table() + " AS " + p[0] + " FOR " + p[1]
                        + " TO " + p[2] + (p[3] == null ? "" : " USING (" + p[3] + ")")
                        + (p[4] == null ? "" : " WITH CHECK (" + p[4] + ")"));
            }
            case ROW_SECURITY -> {
                String[] f = row("SELECT c.relrowsecurity::text, c.relforcerowsecurity::text FROM pg_catalog.pg_class c"
                        + " WHERE c.oid = ?::pg_catalog.regclass", d.table());
                st.execute("ALTER TABLE " + d.table() + ("true".equals(f[0]) ? " ENABLE" : " DISABLE") + " ROW LEVEL SECURITY, "
                        + ("true".equals(f[1]) ? "FORCE" : "NO FORCE") + " ROW LEVEL SECURITY");
                return "set row-level security of table " + d.table() + " on the target as on the source ("
                        + ("true".equals(f[0]) ? "enabled" : "disabled") + ("true".equals(f[1]) ? ", forced" : "") + ")";
            }
            case EXTENSION -> {
                // in the source's schema (made when the target lacks it), in the version the target installs by default
                String[] ext = row("SELECT n.nspname, pg_catalog.pg_get_userbyid(n.nspowner) FROM pg_catalog.pg_extension e"
                        + " JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = ?", d.own());
                if (SourceCatalog.column(t, "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = ?", ext[0]).isEmpty()) {
                    boolean owner = !SourceCatalog.column(t, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ?", ext[1])
                            .isEmpty();
                    st.execute("CREATE SCHEMA " + Sql.ident(ext[0]) + (owner ? " AUTHORIZATION " + Sql.ident(ext[1]) : ""));
                }
                st.execute("CREATE EXTENSION IF NOT EXISTS " + Sql.ident(d.own()) + " WITH SCHEMA " + Sql.ident(ext[0])
                        + " CASCADE");
                String version = SourceCatalog.column(t, "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = ?",
                        d.own()).get(0);
                return "created extension " + d.own() + " (version " + version + ") in schema " + ext[0] + " on the target";
            }
            case SEQUENCE -> {
                String[] seq = row("SELECT pg_catalog.format_type(q.seqtypid, NULL), q.seqincrement::text, q.seqmin::text,"
                        + " q.seqmax::text, q.seqcycle::text FROM pg_catalog.pg_sequence q"
                        + " WHERE q.seqrelid = ?::pg_catalog.regclass", d.name());
                st.execute("ALTER SEQUENCE " + d.name() + " AS " + seq[0] + " INCREMENT BY " + Long.parseLong(seq[1])
                        + " MINVALUE " + Long.parseLong(seq[2]) + " MAXVALUE " + Long.parseLong(seq[3])
                        + ("true".equals(seq[4]) || "t".equals(seq[4]) ? " CYCLE" : " NO CYCLE"));
            }
            default -> throw new IllegalStateException("not repairable: " + d.describe());
        }
        return (again ? "made " : "created ") + d.kind().word() + " " + d.name() + " on the target"
                + (again ? " as on the source" : "");
    }

    /**
     * An enum the source added values to gets them, each after the value it follows there (or before the first); one
     * whose values the source renamed (as many values, some named otherwise in their places: a value can be added or
     * renamed but never removed, so those are renamed) gets the same names.
     */
    private String addEnumValues(Drifted d, Statement st) throws SQLException {
        String labels = "SELECT e.enumlabel FROM pg_catalog.pg_enum e WHERE e.enumtypid = ?::pg_catalog.regtype"
                + " ORDER BY e.enumsortorder";
        List<String> want = SourceCatalog.column(s, labels, d.name());
        List<String> have = SourceCatalog.column(t, labels, d.name());
        if (!want.isEmpty() && want.size() == have.size() && !want.equals(have)) {
            List<String> renamed = new ArrayList<>();
            t.setAutoCommit(false);  // (all or none)
            // (through names of their own first, so that two values that swapped names can)
            for (int i = 0; i < want.size(); i++) {
                if (!want.get(i).equals(have.get(i))) {
                    st.execute("ALTER TYPE " + d.name() + " RENAME VALUE " + Sql.literal(have.get(i)) + " TO "
                            + Sql.literal("~pgferry " + i));
                }
            }
            for (int i = 0; i < want.size(); i++) {
                if (!want.get(i).equals(have.get(i))) {
                    st.execute("ALTER TYPE " + d.name() + " RENAME VALUE " + Sql.literal("~pgferry " + i)
                            + " TO " + Sql.literal(want.get(i)));
                    renamed.add(have.get(i) + " to " + want.get(i));
                }
            }
            return "renamed value(s) " + String.join(", ", renamed) + " of type " + d.name() + " on the target, as on the"
                    + " source";
        }
        if (want.isEmpty() || !inOrder(have, want)) {
            throw new SQLException("type " + d.name() + " is not an enum whose values the source only added to: change"
                    + " it on the target by hand", org.postgresql.util.PSQLState.NOT_IMPLEMENTED.getState());
        }
        List<String> added = new ArrayList<>();
        for (int i = 0; i < want.size(); i++) {
            if (!have.contains(want.get(i))) {
                st.execute("ALTER TYPE " + d.name() + " ADD VALUE " + Sql.literal(want.get(i)) + (i == 0
                        ? " BEFORE " + Sql.literal(have.get(0)) : " AFTER " + Sql.literal(want.get(i - 1))));
                added.add(want.get(i));
            }
        }
        return "added value(s) " + String.join(", ", added) + " to type " + d.name() + " on the target";
    }

    /**
     * A domain gets the source's constraints (those it lacks or has otherwise added, as the source has them, {@code NOT
     * VALID} included; those the source no longer has dropped), {@code NOT NULL} and default; a base type changed
     * cannot be (by hand).
     */
    private String alterDomain(Drifted d, Statement st) throws SQLException {
        String shape = "SELECT pg_catalog.format_type(t.typbasetype, t.typtypmod), t.typnotnull::text,"
                + " pg_catalog.pg_get_expr(t.typdefaultbin, 0) FROM pg_catalog.pg_type t WHERE t.oid = ?::pg_catalog.regtype";
        String checks = "SELECT k.conname || ' ' || pg_catalog.pg_get_constraintdef(k.oid) FROM pg_catalog.pg_constraint k"
                + " WHERE k.contypid = ?::pg_catalog.regtype AND k.contype = 'c' ORDER BY k.conname";
        String[] want = row(shape, d.name());
        String[] have = targetRow(shape, d.name());
        if (!want[0].equals(have[0])) {
            throw new SQLException("domain " + d.name() + " is over " + want[0] + " on the source but " + have[0]
                    + " on the target: change it on the target by hand", org.postgresql.util.PSQLState.NOT_IMPLEMENTED.getState());
        }
        List<String> wanted = SourceCatalog.column(s, checks, d.name());
        List<String> had = SourceCatalog.column(t, checks, d.name());
        List<String> done = new ArrayList<>();
        for (String k : had) {
            if (!wanted.contains(k)) {
                String name = k.substring(0, k.indexOf(' '));
                st.execute("ALTER DOMAIN " + d.name() + " DROP CONSTRAINT " + Sql.ident(name));
                done.add("dropped constraint " + name);
            }
        }
        for (String k : wanted) {
            if (!had.contains(k)) {
                String name = k.substring(0, k.indexOf(' '));
                st.execute("ALTER DOMAIN " + d.name() + " ADD CONSTRAINT " + Sql.ident(name) + k.substring(name.length()));
                done.add("added constraint " + name);
            }
        }
        if (!want[1].equals(have[1])) {
            st.execute("ALTER DOMAIN " + d.name() + ("true".equals(want[1]) ? " SET NOT NULL" : " DROP NOT NULL"));
            done.add("true".equals(want[1]) ? "set NOT NULL" : "dropped NOT NULL");
        }
        if (!java.util.Objects.equals(want[2], have[2])) {
            st.execute("ALTER DOMAIN " + d.name() + (want[2] == null ? " DROP DEFAULT" : " SET DEFAULT " + want[2]));
            done.add(want[2] == null ? "dropped its default" : "set its default");
        }
        return "altered domain " + d.name() + " on the target as on the source (" + String.join(", ", done) + ")";
    }

    /**
     * A composite type gets the source's attributes: those it no longer has dropped, those it lacks added, those of
     * another type altered (a renamed one is dropped and added: a column of this type keeps no values in it).
     */
    private String alterComposite(Drifted d, Statement st) throws SQLException {
        String attributes = "SELECT a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)"
                + " FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.typrelid = a.attrelid"
                + " WHERE t.oid = ?::pg_catalog.regtype AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
        Map<String, String> want = new LinkedHashMap<>();
        Map<String, String> have = new LinkedHashMap<>();
        SourceCatalog.column(s, attributes, d.name()).forEach(a -> want.put(a.substring(0, a.indexOf(' ')),
                a.substring(a.indexOf(' ') + 1)));
        SourceCatalog.column(t, attributes, d.name()).forEach(a -> have.put(a.substring(0, a.indexOf(' ')),
                a.substring(a.indexOf(' ') + 1)));
        List<String> clauses = new ArrayList<>();
        have.keySet().stream().filter(a -> !want.containsKey(a)).forEach(a -> clauses.add("DROP ATTRIBUTE " + Sql.ident(a)));
        want.forEach((a, type) -> {
            if (!have.containsKey(a)) {
                clauses.add("ADD ATTRIBUTE " + Sql.ident(a) + " " + type);
            } else if (!have.get(a).equals(type)) {
                clauses.add("ALTER ATTRIBUTE " + Sql.ident(a) + " TYPE " + type);
            }
        });
        if (!clauses.isEmpty()) {
            st.execute("ALTER TYPE " + d.name() + " " + String.join(", ", clauses));
        }
        return "altered type " + d.name() + " on the target as on the source (" + String.join(", ", clauses) + ")";
    }

    /**
     * The privileges on a relation granted to roles other than its owner, as on the source: those it lacks granted
     * (with grant option where the source has it), those the source revoked since pgferry last compared the sides
     * revoked; one granted on the target alone (never on the source while pgferry looked) stays.
     */
    private String alignPrivileges(Drifted d, Statement st) throws SQLException {
        Map<String, Grant> want = grants(s, d.name());
        Map<String, Grant> have = grants(t, d.name());
        List<String> done = new ArrayList<>();
        for (Map.Entry<String, Grant> g : have.entrySet()) {
            if (!want.containsKey(g.getKey()) && shared.test(SchemaObjects.grantKey(d.name(), g.getKey()))) {
                st.execute(g.getValue().revoke(d.name()));
                done.add("revoked " + g.getKey());
            }
        }
        Set<String> roles = ServerCatalog.roleNames(t);
        for (Map.Entry<String, Grant> g : want.entrySet()) {
            // (one to a role the target lacks is skipped, as pgferry skips it when it cannot create the role)
            Grant grant = g.getValue();
            if (!have.containsKey(g.getKey()) && (grant.role() == null || roles.contains(grant.role()))) {
                st.execute(grant.grant(d.name(), g.getKey().endsWith("*")));
                done.add("granted " + g.getKey());
            }
        }
        return "made the privileges on " + d.name() + " as on the source (" + (done.isEmpty() ? "those granted on the"
                + " target alone stay" : String.join(", ", done)) + ")";
    }

    /**
     * A privilege granted on a relation: to {@code grantee} (quoted; PUBLIC as such), the role {@code role} (null for
     * PUBLIC), {@code on} the relation as GRANT and REVOKE name its kind ({@code " ON TABLE "}, {@code " ON SEQUENCE "}).
     */
    record Grant(String grantee, String role, String privilege, String on) {
        String grant(String relation, boolean withGrantOption) {
            return "GRANT " + privilege + on + relation + " TO " + grantee + (withGrantOption ? " WITH GRANT OPTION" : "");
        }

        String revoke(String relation) {
            return "REVOKE " + privilege + on + relation + " FROM " + grantee;
        }
    }

    /** The privileges on {@code relation} granted on {@code c} to roles other than its owner, by {@link SchemaObjects#GRANT}. */
    static Map<String, Grant> grants(Connection c, String relation) throws SQLException {
        Map<String, Grant> out = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT " + SchemaObjects.GRANT + ", CASE WHEN a.grantee = 0"
                + " THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)) END, a.privilege_type,"
                + " c.relkind = 'S', CASE WHEN a.grantee <> 0 THEN pg_catalog.pg_get_userbyid(a.grantee)::text END FROM pg_catalog.pg_class c CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a"
                + " WHERE c.oid = ?::pg_catalog.regclass AND a.grantee <> c.relowner")) {
            ps.setString(1, relation);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getString(1), new Grant(rs.getString(2), rs.getString(5), rs.getString(3),
                            rs.getBoolean(4) ? " ON SEQUENCE " : " ON TABLE "));
                }
            }
        }
        return out;
    }

    /** The first row of {@code sql} on the target. */
    private String[] targetRow(String sql, String... params) throws SQLException {
        return firstRow(t, "it is not on the target", sql, params);
    }

    /** Whether {@code part} appears in {@code whole} in the same order (and is not empty). */
    private static boolean inOrder(List<String> part, List<String> whole) {
        int at = 0;
        for (String p : part) {
            int i = whole.subList(at, whole.size()).indexOf(p);
            if (i < 0) {
                return false;
            }
            at += i + 1;
        }
        return !part.isEmpty();
    }

    private boolean existsOnTarget(Drifted d) throws SQLException {
        return switch (d.kind()) {
            case INDEX -> !SourceCatalog.column(t, "SELECT 1 FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass(?)",
                    d.name()).isEmpty();
            case CONSTRAINT -> !SourceCatalog.column(t, "SELECT 1 FROM pg_catalog.pg_constraint"
                    + " WHERE conrelid = ?::pg_catalog.regclass"
                    + " AND conname = ?", d.table(), d.own()).isEmpty();
            case TRIGGER -> !SourceCatalog.column(t, "SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = ?::pg_catalog.regclass"
                    + " AND tgname = ?", d.table(), d.own()).isEmpty();
            case EXTENSION -> !SourceCatalog.column(t, "SELECT 1 FROM pg_catalog.pg_extension WHERE extname = ?", d.own())
                    .isEmpty();
            default -> false;
        };
    }

    private String one(String sql, String... params) throws SQLException {
        return row(sql, params)[0];
    }

    /** The first row of {@code sql} on the source; the object is gone there when it has none. */
    private String[] row(String sql, String... params) throws SQLException {
        return firstRow(s, "it is no longer on the source", sql, params);
    }

    /** The first row of {@code sql} on {@code c}; {@code none} says why when it has none (SQLSTATE 42704). */
    private static String[] firstRow(Connection c, String none, String sql, String... params) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                ps.setString(i + 1, params[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException(none, SqlStates.UNDEFINED_OBJECT);
                }
                String[] out = new String[rs.getMetaData().getColumnCount()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = rs.getString(i + 1);
                }
                return out;
            }
        }
    }
}
