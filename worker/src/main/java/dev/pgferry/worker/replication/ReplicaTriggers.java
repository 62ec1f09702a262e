package dev.pgferry.worker.replication;

import dev.pgferry.pg.CatalogSql;
import dev.pgferry.pg.Sql;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Triggers enabled {@code ALWAYS} or {@code REPLICA} fire in a subscription's apply worker too, for every row it
 * applies. What they did on the source arrives with the source's rows, so on a replicating target they would do it a
 * second time: rows written twice, or a duplicate key that stops the replication. While pgferry replicates a
 * database, those triggers are held disabled on the target ({@link #hold}); when the replication ends (a cut-over, a
 * removal), each trigger the target has disabled that the source has enabled {@code ALWAYS} or {@code REPLICA} is
 * enabled so again ({@link #release}). Both are idempotent and read the triggers from both sides' catalogs, so nothing
 * is kept elsewhere; {@code pgferry verify} reads a held trigger as the source's while the replication runs
 * ({@code SchemaDiff}). Only a table's owner (or a member of its role, or a superuser) may alter its triggers: the
 * others are listed, with the statements to run. Stateless.
 */
public final class ReplicaTriggers {
    private static final String ALWAYS = "A";
    private static final String REPLICA = "R";

    /** Triggers held ({@code name on schema.table (ALWAYS)}), and those the target's user may not alter, as SQL. */
    public record Held(List<String> held, List<String> refused) {
        public Held {
            held = List.copyOf(held);
            refused = List.copyOf(refused);
        }
    }

    /**
     * A trigger of a table, its {@code pg_trigger.tgenabled}, whether the session's user may alter it, and whether it
     * is a partition's clone of its parent table's trigger (altered with it, so not named apart).
     */
    private record Trigger(String schema, String table, String name, String state, boolean mayAlter, boolean cloned) {
        String key() {
            return schema + '\0' + table + '\0' + name;
        }

        /** {@code name on schema.table (ALWAYS)}, with {@code state} the source's. */
        String display(String state) {
            return name + " on " + schema + "." + table + " (" + (ALWAYS.equals(state) ? "ALWAYS" : "REPLICA") + ")";
        }
    }

    /** What fires on a replica too. */
    private static final String FIRING = "t.tgenabled IN ('" + ALWAYS + "', '" + REPLICA + "')";

    private ReplicaTriggers() {
    }

    /**
     * Disables on {@code t} (the target database, before its subscription exists or while it replicates) each trigger
     * that the source database ({@code s}) enables {@code ALWAYS} or {@code REPLICA} and that the target has enabled,
     * in one transaction.
     */
    public static Held hold(Connection s, Connection t) throws SQLException {
        return change(s, t, FIRING, source -> "DISABLE");
    }

    /**
     * The triggers of the database {@code c} is connected to that fire on a replica too, as {@code name on
     * schema.table (ALWAYS)}; a partition's clones are not named apart from their parent's trigger.
     */
    public static List<String> firing(Connection c) throws SQLException {
        return read(c, FIRING).stream().filter(tg -> !tg.cloned()).map(tg -> tg.display(tg.state())).toList();
    }

    /** What becomes of the triggers {@link #firing} names, for {@code pgferry check}. */
    public static String checkNote(List<String> firing) {
        return "trigger(s) " + String.join(", ", firing) + " fire in a subscription's apply worker too: while the"
                + " database replicates, pgferry holds them disabled on the target (what they do on the source arrives"
                + " with its rows) and enables them as on the source at pgferry cutover (or remove). The target's user"
                + " must own their tables, be a member of the owner's role or be a superuser";
    }

    /**
     * Enables on {@code t} (the target database, its replication ended) as on the source ({@code s}) each trigger that
     * the target has disabled and the source enables {@code ALWAYS} or {@code REPLICA}, in one transaction. Returns the
     * triggers enabled and, as SQL, those the target's user may not alter.
     */
    public static Held release(Connection s, Connection t) throws SQLException {
        return change(s, t, "t.tgenabled = 'D'",
                source -> ALWAYS.equals(source.state()) ? "ENABLE ALWAYS" : "ENABLE REPLICA");
    }

    /**
     * Alters, in one transaction on {@code t}, each trigger whose state there meets {@code condition} and that the
     * source ({@code s}) enables {@code ALWAYS} or {@code REPLICA}, with {@code action} given the source's trigger.
     */
    private static Held change(Connection s, Connection t, String condition, Function<Trigger, String> action)
            throws SQLException {
        Map<String, Trigger> firing = new HashMap<>();
        for (Trigger tg : read(s, FIRING)) {
            firing.put(tg.key(), tg);
        }
        if (firing.isEmpty()) {
            return new Held(List.of(), List.of());
        }
        List<String> changed = new ArrayList<>();
        List<String> refused = new ArrayList<>();
        List<String> statements = new ArrayList<>();
        for (Trigger tg : read(t, condition)) {
            Trigger source = firing.get(tg.key());
            if (source == null) {
                continue;
            }
            String sql = "ALTER TABLE " + Sql.qualified(tg.schema(), tg.table()) + " " + action.apply(source)
                    + " TRIGGER " + Sql.ident(tg.name());
            // (a partition's clone is altered with its parent's trigger, so it is not named apart)
            if (!tg.mayAlter()) {
                if (!tg.cloned()) {
                    refused.add(sql);
                }
                continue;
            }
            statements.add(sql);
            if (!tg.cloned()) {
                changed.add(tg.display(source.state()));
            }
        }
        if (!statements.isEmpty()) {
            boolean auto = t.getAutoCommit();
            t.setAutoCommit(false);
            try (Statement st = t.createStatement()) {
                for (String sql : statements) {
                    st.execute(sql);
                }
                t.commit();
            } catch (SQLException | RuntimeException e) {
                t.rollback();
                throw e;
            } finally {
                t.setAutoCommit(auto);
            }
        }
        return new Held(changed, refused);
    }

    /** What becomes of the triggers {@link #hold} held, for the database's row. */
    public static String heldNote(List<String> held) {
        return "trigger(s) " + String.join(", ", held) + " fire in a subscription's apply worker too: they are held"
                + " disabled on the target while the database replicates, as what they do on the source arrives with"
                + " the source's rows; pgferry cutover (or remove) enables them again as on the source";
    }

    /** What becomes of the triggers {@link #hold} may not hold, and what to do. */
    public static String refusedNote(List<String> refused) {
        return "trigger(s) that fire in a subscription's apply worker too could not be held disabled on the target"
                + " (only their table's owner may): they fire for every row the replication applies, so rows they"
                + " write arrive a second time (or stop the replication on a duplicate key). Run on the target, as"
                + " the tables' owner: " + String.join("; ", refused) + "; and enable them as on the source at the"
                + " switch, or migrate this database with --method dump";
    }

    /** The user's triggers on tables (partitioned ones too) whose state meets {@code condition}, in name order. */
    private static List<Trigger> read(Connection c, String condition) throws SQLException {
        List<Trigger> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT n.nspname, c.relname, t.tgname, t.tgenabled::text,"
                + " pg_catalog.pg_has_role(c.relowner, 'USAGE'), c.relispartition AND EXISTS (SELECT 1"
                + " FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_trigger p ON p.tgrelid = i.inhparent"
                + " WHERE i.inhrelid = c.oid AND p.tgname = t.tgname)"
                + " FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid"
                + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                + " WHERE NOT t.tgisinternal AND c.relkind IN ('r', 'p') AND " + condition + " AND"
                + CatalogSql.NOT_SYSTEM + " AND" + CatalogSql.NOT_EXTENSION + " ORDER BY 1, 2, 3");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                out.add(new Trigger(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getBoolean(5),
                        rs.getBoolean(6)));
            }
        }
        return out;
    }
}
