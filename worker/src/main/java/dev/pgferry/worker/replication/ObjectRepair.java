package dev.pgferry.worker.replication;

import dev.pgferry.pg.SchemaObjects.Difference;
import dev.pgferry.pg.SchemaObjects.Drifted;
import dev.pgferry.pg.SchemaObjects.Kind;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;
import dev.pgferry.worker.copy.SourceCatalog;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Makes the schema objects of a replicating database that {@code pgferry refresh} can repair as on the source
 * ({@link Drifted#repairable()}), from the source's own definitions ({@code pg_get_indexdef}, {@code
 * pg_get_constraintdef}, {@code pg_get_triggerdef}, {@code pg_get_functiondef}, {@code pg_get_viewdef}, an enum's
 * labels): a missing index, constraint or trigger is created; one defined otherwise is made again (a function or
 * view replaced, which keeps its owner and privileges); an enum gets the values the source added, each in its place.
 * A trigger made on a replicating target takes the source's state, held disabled when it would fire in the apply
 * worker ({@link ReplicaTriggers}). Each object is made in its own transaction, so one that fails (reported with its
 * SQLSTATE) does not keep the others back. Objects of partitions come after those of their parents, which bring
 * their clones along. Confined to the thread that runs it.
 */
final class ObjectRepair {
    private final Connection s;
    private final Connection t;
    private final List<String> applied;
    private final List<String> failures = new ArrayList<>();

    /** {@code s} and {@code t}: sessions of the source and target database; {@code applied}: what was done goes there. */
    ObjectRepair(Connection s, Connection t, List<String> applied) {
        this.s = s;
        this.t = t;
        this.applied = applied;
    }

    /** Repairs what it can of {@code drifted}; returns why the others could not be, one line each. */
    List<String> run(List<Drifted> drifted) throws SQLException {
        List<Drifted> todo = new ArrayList<>();
        for (Drifted d : drifted) {
            if (d.repairable()) {
                todo.add(d);
            }
        }
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
                failures.add(d.kind().word() + " " + d.name() + " could not be made as on the source: "
                        + SqlStates.describe(e));
            } finally {
                t.setAutoCommit(true);
            }
        }
        return failures;
    }

    private static int order(Kind k) {
        return switch (k) {
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
                return addEnumValues(d, st);
            }
            default -> throw new IllegalStateException("not repairable: " + d.describe());
        }
        return (again ? "made " : "created ") + d.kind().word() + " " + d.name() + " on the target"
                + (again ? " as on the source" : "");
    }

    /** An enum the source added values to gets them, each after the value it follows there (or before the first). */
    private String addEnumValues(Drifted d, Statement st) throws SQLException {
        String labels = "SELECT e.enumlabel FROM pg_catalog.pg_enum e WHERE e.enumtypid = ?::pg_catalog.regtype"
                + " ORDER BY e.enumsortorder";
        List<String> want = SourceCatalog.column(s, labels, d.name());
        List<String> have = SourceCatalog.column(t, labels, d.name());
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
            default -> false;
        };
    }

    private String one(String sql, String... params) throws SQLException {
        return row(sql, params)[0];
    }

    /** The first row of {@code sql} on the source; the object is gone there when it has none. */
    private String[] row(String sql, String... params) throws SQLException {
        try (PreparedStatement ps = s.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                ps.setString(i + 1, params[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("it is no longer on the source", SqlStates.UNDEFINED_OBJECT);
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
