package dev.pgferry.worker.copy;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.pg.CatalogSql;
import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyOut;
import org.postgresql.largeobject.LargeObject;
import org.postgresql.largeobject.LargeObjectManager;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Copies what is not table data: sequence positions, large-object contents, materialized-view population; and, at a
 * cut-over, what replication does not carry: the unlogged tables, the large objects, the user's rows of extension
 * configuration tables, and the materialized views the source refreshed.
 * Each method takes a source connection reading the copy's snapshot and a target connection, and commits the
 * target itself. Stateless.
 */
public final class ObjectCopier {
    private static final int LO_CHUNK = 256 * 1024;

    private ObjectCopier() {
    }

    /** Sets every target sequence to the source's position; returns how many. */
    public static int copySequences(List<SourceCatalog.Sequence> sequences, Connection target) throws SQLException {
        target.setAutoCommit(false);
        try (PreparedStatement ps = target.prepareStatement("SELECT pg_catalog.setval(?::pg_catalog.regclass, ?, ?)")) {
            for (SourceCatalog.Sequence s : sequences) {
                ps.setString(1, Sql.qualified(s.schema(), s.name()));
                ps.setLong(2, s.lastValue());
                ps.setBoolean(3, s.isCalled());
                ps.executeQuery().close();
            }
        }
        target.commit();
        return sequences.size();
    }

    /**
     * Moves each of the target's sequences forward to the source's next value where the source's is ahead, and never
     * back: a sequence the target's own writes have taken further (an application already moved there) keeps its
     * value, so no key it hands out later can collide. Compares the next value each would give, whatever the
     * direction of the sequence (its increment, read on the target). Returns how many were moved.
     */
    public static int advanceSequences(List<SourceCatalog.Sequence> sequences, Connection target) throws SQLException {
        target.setAutoCommit(false);
        int moved = 0;
        for (SourceCatalog.Sequence s : sequences) {
            String next = "CASE WHEN %s THEN %s::numeric + q.seqincrement ELSE %s::numeric END";
            try (PreparedStatement ps = target.prepareStatement("SELECT pg_catalog.setval(q.seqrelid, ?, ?)"
                    + " FROM pg_catalog.pg_sequence q, " + Sql.qualified(s.schema(), s.name()) + " t"
                    + " WHERE q.seqrelid = ?::pg_catalog.regclass AND sign(q.seqincrement) * ("
                    + next.formatted("?::bool", "?", "?") + " - " + next.formatted("t.is_called", "t.last_value", "t.last_value")
                    + ") > 0")) {
                ps.setLong(1, s.lastValue());
                ps.setBoolean(2, s.isCalled());
                ps.setString(3, Sql.qualified(s.schema(), s.name()));
                ps.setBoolean(4, s.isCalled());
                ps.setLong(5, s.lastValue());
                ps.setLong(6, s.lastValue());
                try (ResultSet rs = ps.executeQuery()) {
                    moved += rs.next() ? 1 : 0;
                }
            }
        }
        target.commit();
        return moved;
    }

    /**
     * Streams the contents of every large object; the objects themselves (oid, owner, grants) were created by the
     * pre-data restore. Memory is bounded by one chunk.
     */
    public static long copyLargeObjects(List<Long> oids, Connection source, Connection target) throws SQLException {
        target.setAutoCommit(false);
        for (long oid : oids) {
            ensureExists(target, oid);
        }
        long bytes = copyContents(oids, source, target);
        target.commit();
        return bytes;
    }

    /** Writes each object's content on the target (which has it) from the source's, in the callers' transactions. */
    private static long copyContents(List<Long> oids, Connection source, Connection target) throws SQLException {
        LargeObjectManager in = source.unwrap(PGConnection.class).getLargeObjectAPI();
        LargeObjectManager out = target.unwrap(PGConnection.class).getLargeObjectAPI();
        long bytes = 0;
        byte[] buf = new byte[LO_CHUNK];
        for (long oid : oids) {
            try (LargeObject src = in.open(oid, LargeObjectManager.READ);
                 LargeObject dst = out.open(oid, LargeObjectManager.WRITE)) {
                dst.truncate(0);
                int n;
                while ((n = src.read(buf, 0, buf.length)) > 0) {
                    dst.write(buf, 0, n);
                    bytes += n;
                }
            }
        }
        return bytes;
    }

    /** What {@link #resyncLargeObjects} changed on the target. */
    public record LargeObjectSync(int created, int removed, int rewritten, int metadata, long bytes) {
        public boolean none() {
            return created + removed + rewritten + metadata == 0;
        }
    }

    /**
     * One large object's owner, privileges (null: the default; else each grant as grantee, empty for PUBLIC, privilege
     * and grant option, in order) and content hash.
     */
    private record LargeObjectState(long oid, String owner, List<List<String>> acl, String hash) {
    }

    private static final String LARGE_OBJECT_STATES = "SELECT m.oid, pg_catalog.pg_get_userbyid(m.lomowner),"
            + " CASE WHEN m.lomacl IS NOT NULL THEN ARRAY(SELECT ARRAY[CASE WHEN a.grantee = 0 THEN ''"
            + "   ELSE pg_catalog.pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable::text]"
            + "   FROM pg_catalog.aclexplode(m.lomacl) a ORDER BY 1) END,"
            + " " + CatalogSql.largeObjectHash("m.oid")
            + " FROM pg_catalog.pg_largeobject_metadata m ORDER BY m.oid";

    /**
     * Makes the target's large objects the source's again, as a cut-over needs (replication does not carry them):
     * both sides' objects are read in oid order with their owner, privileges and a hash of their content (on the
     * servers), and only what differs is changed, in one target transaction: objects the source no longer has are
     * unlinked, new ones created with their owner and privileges, changed contents rewritten, changed owners and
     * privileges set (a role the target lacks is left out, as at the migration). {@code targetReader} reads the
     * target's side while {@code target} writes. Memory holds the differences only.
     */
    public static LargeObjectSync resyncLargeObjects(Connection source, Connection targetReader, Connection target)
            throws SQLException {
        List<Long> removed = new ArrayList<>();
        List<Long> rewritten = new ArrayList<>();
        List<LargeObjectState> created = new ArrayList<>();
        List<LargeObjectState[]> metadata = new ArrayList<>();
        boolean sourceAuto = source.getAutoCommit();
        boolean readerAuto = targetReader.getAutoCommit();
        source.setAutoCommit(false);
        targetReader.setAutoCommit(false);
        try (Statement ss = source.createStatement(); Statement ts = targetReader.createStatement()) {
            ss.setFetchSize(1000);
            ts.setFetchSize(1000);
            try (ResultSet src = ss.executeQuery(LARGE_OBJECT_STATES);
                 ResultSet dst = ts.executeQuery(LARGE_OBJECT_STATES)) {
                LargeObjectState a = next(src);
                LargeObjectState b = next(dst);
                while (a != null || b != null) {
                    if (b == null || (a != null && a.oid() < b.oid())) {
                        created.add(a);
                        a = next(src);
                    } else if (a == null || b.oid() < a.oid()) {
                        removed.add(b.oid());
                        b = next(dst);
                    } else {
                        if (!a.hash().equals(b.hash())) {
                            rewritten.add(a.oid());
                        }
                        if (!a.owner().equals(b.owner()) || !Objects.equals(a.acl(), b.acl())) {
                            metadata.add(new LargeObjectState[]{a, b});
                        }
                        a = next(src);
                        b = next(dst);
                    }
                }
            }
        } finally {
            source.rollback();
            targetReader.rollback();
            source.setAutoCommit(sourceAuto);
            targetReader.setAutoCommit(readerAuto);
        }
        LargeObjectSync sync = new LargeObjectSync(created.size(), removed.size(), rewritten.size(), metadata.size(), 0);
        if (sync.none()) {
            return sync;
        }
        target.setAutoCommit(false);
        try (PreparedStatement unlink = target.prepareStatement("SELECT pg_catalog.lo_unlink(?::pg_catalog.oid)");
             Statement st = target.createStatement()) {
            for (long oid : removed) {
                unlink.setLong(1, oid);
                unlink.executeQuery().close();
            }
            Set<String> roles = ServerCatalog.roleNames(target);
            List<Long> contents = new ArrayList<>(rewritten);
            for (LargeObjectState c : created) {
                ensureExists(target, c.oid());
                contents.add(c.oid());
                setMetadata(st, c, null, roles);
            }
            for (LargeObjectState[] m : metadata) {
                setMetadata(st, m[0], m[1], roles);
            }
            long bytes;
            // (the large-object API works inside a transaction only)
            source.setAutoCommit(false);
            try {
                bytes = copyContents(contents, source, target);
            } finally {
                source.rollback();
                source.setAutoCommit(sourceAuto);
            }
            target.commit();
            return new LargeObjectSync(sync.created(), sync.removed(), sync.rewritten(), sync.metadata(), bytes);
        } catch (SQLException | RuntimeException e) {
            target.rollback();
            throw e;
        } finally {
            target.setAutoCommit(true);
        }
    }

    private static LargeObjectState next(ResultSet rs) throws SQLException {
        if (!rs.next()) {
            return null;
        }
        java.sql.Array array = rs.getArray(3);
        List<List<String>> acl = null;
        if (array != null) {
            acl = new ArrayList<>();
            // a two-dimensional text array; an empty one comes back one-dimensional
            for (Object grant : (Object[]) array.getArray()) {
                if (grant instanceof String[] g) {
                    acl.add(List.of(g));
                }
            }
        }
        return new LargeObjectState(rs.getLong(1), rs.getString(2), acl, rs.getString(4));
    }

    /**
     * Gives a large object the source's owner and privileges ({@code want}); {@code had}: what the target had (null for
     * a new object, which has the default privileges). Roles the target lacks are left out.
     */
    private static void setMetadata(Statement st, LargeObjectState want, LargeObjectState had, Set<String> roles)
            throws SQLException {
        String object = "LARGE OBJECT " + want.oid();
        if ((had == null || !want.owner().equals(had.owner())) && roles.contains(want.owner())) {
            st.execute("ALTER " + object + " OWNER TO " + Sql.ident(want.owner()));
        }
        if (had != null ? Objects.equals(want.acl(), had.acl()) : want.acl() == null) {
            return;
        }
        if (had != null && had.acl() != null) {
            for (List<String> grant : had.acl()) {
                st.execute("REVOKE ALL ON " + object + " FROM " + grantee(grant.get(0)));
            }
        }
        if (want.acl() != null) {
            for (List<String> grant : want.acl()) {
                if (grant.get(0).isEmpty() || roles.contains(grant.get(0))) {
                    // privilege_type is one of the words GRANT takes (SELECT, UPDATE)
                    st.execute("GRANT " + grant.get(1) + " ON " + object + " TO " + grantee(grant.get(0))
                            + ("true".equals(grant.get(2)) ? " WITH GRANT OPTION" : ""));
                }
            }
        }
    }

    private static String grantee(String role) {
        return role.isEmpty() ? "PUBLIC" : Sql.ident(role);
    }

    private static void ensureExists(Connection target, long oid) throws SQLException {
        try (PreparedStatement ps = target.prepareStatement("SELECT pg_catalog.lo_create(?::pg_catalog.oid)"
                + " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_largeobject_metadata WHERE oid = ?::pg_catalog.oid)")) {
            ps.setLong(1, oid);
            ps.setLong(2, oid);
            ps.executeQuery().close();
        }
    }

    /** Refreshes materialized views that hold data on the source but not (yet) on the target. */
    public static int refreshMatViews(List<SourceCatalog.MatView> views, Connection target) throws SQLException {
        target.setAutoCommit(true);
        int refreshed = 0;
        for (SourceCatalog.MatView v : views) {
            if (!v.populated()) {
                continue;
            }
            boolean populated;
            try (PreparedStatement ps = target.prepareStatement("SELECT c.relispopulated FROM pg_catalog.pg_class c"
                    + " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relname = ?")) {
                ps.setString(1, v.schema());
                ps.setString(2, v.name());
                try (ResultSet rs = ps.executeQuery()) {
                    populated = rs.next() && rs.getBoolean(1);
                }
            }
            if (!populated) {
                try (Statement s = target.createStatement()) {
                    s.execute("REFRESH MATERIALIZED VIEW " + Sql.qualified(v.schema(), v.name()));
                }
                refreshed++;
            }
        }
        return refreshed;
    }

    /**
     * Refreshes, at a cut-over, each materialized view populated on the source whose target content differs (a
     * count and an order-free hash of its rows, computed on each server): a refresh on the source is not replicated.
     * Views that read other views come after them; a view the target lacks (created on the source since: schema
     * drift) is left to the verification. Returns the views refreshed.
     */
    public static List<String> refreshChangedMatViews(List<SourceCatalog.MatView> views, Connection source,
                                                      Connection target) throws SQLException {
        List<String> refreshed = new ArrayList<>();
        for (SourceCatalog.MatView v : dependenciesFirst(views, source)) {
            String name = Sql.qualified(v.schema(), v.name());
            String there = contentHash(target, name);
            if (!v.populated() || there == null || there.equals(contentHash(source, name))) {
                continue;
            }
            target.setAutoCommit(true);
            try (Statement st = target.createStatement()) {
                st.execute("REFRESH MATERIALIZED VIEW " + name);
            }
            refreshed.add(v.schema() + "." + v.name());
        }
        return refreshed;
    }

    /**
     * The rows of {@code relation}: their count and the sum of a 64-bit hash of each, in any order ("not populated"
     * for a view that is not; null when there is no such relation).
     */
    public static String contentHash(Connection c, String relation) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT c.relispopulated FROM pg_catalog.pg_class c"
                + " WHERE c.oid = pg_catalog.to_regclass(?)")) {
            ps.setString(1, relation);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                if (!rs.getBoolean(1)) {
                    return "not populated";
                }
            }
        }
        return rowsHash(c, relation);
    }

    /**
     * What the query of materialized view {@code view} gives now on {@code c}, as {@link #contentHash} shows rows (what
     * a {@code REFRESH} would fill it with); null when there is no such view.
     */
    public static String queryHash(Connection c, String view) throws SQLException {
        String query;
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_catalog.pg_get_viewdef(pg_catalog.to_regclass(?))")) {
            ps.setString(1, view);
            try (ResultSet rs = ps.executeQuery()) {
                query = rs.next() ? rs.getString(1) : null;
            }
        }
        if (query == null) {
            return null;
        }
        // (printed for this session's search_path, so it reads the same tables here)
        query = query.strip();
        return rowsHash(c, "(" + (query.endsWith(";") ? query.substring(0, query.length() - 1) : query) + ")");
    }

    /** The rows {@code from} gives (a relation, or a parenthesized query): their count and an order-free hash. */
    private static String rowsHash(Connection c, String from) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) || ':' || coalesce(sum(('x'"
                + " || substr(pg_catalog.md5(t::text), 1, 16))::bit(64)::bigint::numeric), 0) FROM " + from + " t")) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** {@code views} ordered so that a view comes after the materialized views it reads, else by name. */
    private static List<SourceCatalog.MatView> dependenciesFirst(List<SourceCatalog.MatView> views, Connection source)
            throws SQLException {
        Map<String, Set<String>> reads = new HashMap<>();
        try (Statement st = source.createStatement(); ResultSet rs = st.executeQuery("SELECT DISTINCT"
                + " vn.nspname || '.' || v.relname, dn.nspname || '.' || d.relname FROM pg_catalog.pg_rewrite r"
                + " JOIN pg_catalog.pg_class v ON v.oid = r.ev_class AND v.relkind = 'm'"
                + " JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace"
                + " JOIN pg_catalog.pg_depend p ON p.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass AND p.objid = r.oid"
                + " JOIN pg_catalog.pg_class d ON d.oid = p.refobjid AND d.relkind = 'm' AND d.oid <> v.oid"
                + " JOIN pg_catalog.pg_namespace dn ON dn.oid = d.relnamespace")) {
            while (rs.next()) {
                reads.computeIfAbsent(rs.getString(1), k -> new HashSet<>()).add(rs.getString(2));
            }
        }
        return afterTheirDependencies(views, v -> v.schema() + "." + v.name(), reads);
    }

    /**
     * Replaces, at a cut-over, the user's rows of each extension configuration table whose rows differ (count and
     * order-free hash, computed on each server) on the target with the source's: replication does not carry them.
     * Returns the tables replaced.
     */
    public static List<String> replaceChangedConfigRows(List<SourceCatalog.ConfigTable> tables, Connection source,
                                                        Connection target) throws SQLException {
        List<SourceCatalog.ConfigTable> changed = new ArrayList<>();
        for (SourceCatalog.ConfigTable t : tables) {
            if (!rowsHash(source, "(" + t.select() + ")").equals(rowsHash(target, "(" + t.select() + ")"))) {
                changed.add(t);
            }
        }
        if (!changed.isEmpty()) {
            replaceConfigRows(changed, source, target);
        }
        return changed.stream().map(SourceCatalog.ConfigTable::displayName).toList();
    }

    /**
     * Replaces the user's rows of each extension configuration table on the target with the source's, in one
     * transaction. Returns the rows copied.
     */
    private static long replaceConfigRows(List<SourceCatalog.ConfigTable> tables, Connection source, Connection target)
            throws SQLException {
        target.setAutoCommit(false);
        try (Statement st = target.createStatement()) {
            for (SourceCatalog.ConfigTable t : tables) {
                try {
                    st.execute("DELETE FROM " + t.qualifiedName() + (t.condition().isBlank() ? "" : " " + t.condition()));
                } catch (SQLException e) {
                    failIfRefused(t, source, target, e);
                    throw e;
                }
            }
            return copyConfigRows(tables, source, target);
        } catch (SQLException | RuntimeException e) {
            target.rollback();
            throw e;
        } finally {
            target.setAutoCommit(true);
        }
    }

    /**
     * Appends the user's rows of each extension configuration table (see {@link SourceCatalog.ConfigTable}) to the
     * rows {@code CREATE EXTENSION} gave the target, streaming one COPY into another in text form. The target
     * database is new for each attempt, so a retried copy never doubles them. Returns the rows copied.
     */
    public static long copyConfigRows(List<SourceCatalog.ConfigTable> tables, Connection source, Connection target)
            throws SQLException {
        target.setAutoCommit(false);
        long rows = 0;
        for (SourceCatalog.ConfigTable t : tables) {
            if (userRows(source, t) == 0) {
                // Nothing to add, and no COPY: it needs INSERT on the table, which belongs to the extension's owner (a
                // superuser where a trusted or allow-listed extension was created by a user that is none).
                continue;
            }
            try {
                rows += stream(source, "COPY (" + t.select() + ") TO STDOUT", target, "COPY " + t.qualifiedName() + " ("
                        + String.join(", ", t.columns().stream().map(Sql::ident).toList()) + ") FROM STDIN");
            } catch (SQLException e) {
                failIfRefused(t, source, target, e);
                throw e;
            }
        }
        target.commit();
        return rows;
    }

    /** The user's rows of {@code t} on {@code c}. */
    private static long userRows(Connection c, SourceCatalog.ConfigTable t) throws SQLException {
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT count(*) FROM (" + t.select() + ") r")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /**
     * When {@code e} says that the target user may not write to the extension's table {@code t}: a failure that says so
     * and how to allow it.
     */
    private static void failIfRefused(SourceCatalog.ConfigTable t, Connection source, Connection target, SQLException e)
            throws SQLException {
        if (!SqlStates.INSUFFICIENT_PRIVILEGE.equals(e.getSQLState())) {
            return;
        }
        String user = target.getMetaData().getUserName();
        throw new MigrationException(ErrorCode.PERMISSION_DENIED, e.getSQLState(), "the source's " + userRows(source, t)
                + " row(s) of extension table " + t.displayName() + " that are the user's (not the rows its extension"
                + " creates) cannot be written on the target: the target user " + user + " may not write to that table,"
                + " which belongs to the extension's owner (" + SqlStates.describe(e) + "); a superuser of the target can"
                + " run GRANT INSERT, DELETE ON " + t.qualifiedName() + " TO " + Sql.ident(user) + " in database "
                + Sql.ident(target.getCatalog()) + ", then migrate again", false, e);
    }

    /**
     * Replaces the target's rows of unlogged tables (which logical replication does not carry) with the source's, in
     * one target transaction: every table truncated, then each copied after the tables its foreign keys reference (a
     * cycle of keys copies in name order, and the first key it breaks fails the copy). The target's user triggers on
     * these tables are disabled meanwhile, as a subscription's apply worker does not fire them either, so that the
     * copy adds nothing elsewhere (an audit trigger's rows); each trigger gets back its own state (enabled, disabled,
     * replica, always) in the same transaction. Returns the rows copied. {@code source} reads them as they are: the
     * caller keeps writes away.
     */
    public static long copyUnloggedTables(List<SourceCatalog.Table> tables, Connection source, Connection target)
            throws SQLException {
        List<SourceCatalog.Table> ordered = referencedFirst(tables, source);
        target.setAutoCommit(false);
        try (Statement st = target.createStatement()) {
            List<String[]> triggers = new ArrayList<>();
            try (PreparedStatement ps = target.prepareStatement("SELECT tgrelid::pg_catalog.regclass::text, tgname,"
                    + " tgenabled::text FROM pg_catalog.pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'"
                    + " AND tgrelid = ANY (?::pg_catalog.regclass[])")) {
                ps.setArray(1, target.createArrayOf("text", tables.stream().map(SourceCatalog.Table::qualifiedName).toArray()));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        triggers.add(new String[]{rs.getString(1), rs.getString(2), rs.getString(3)});
                    }
                }
            }
            for (String[] tg : triggers) {
                st.execute("ALTER TABLE " + tg[0] + " DISABLE TRIGGER " + Sql.ident(tg[1]));
            }
            st.execute("TRUNCATE ONLY " + String.join(", ", ordered.stream().map(SourceCatalog.Table::qualifiedName).toList()));
            long rows = 0;
            for (SourceCatalog.Table t : ordered) {
                String columns = t.columns().isEmpty() ? ""
                        : " (" + String.join(", ", t.columns().stream().map(Sql::ident).toList()) + ")";
                rows += stream(source, "COPY " + t.qualifiedName() + columns + " TO STDOUT", target,
                        "COPY " + t.qualifiedName() + columns + " FROM STDIN");
            }
            for (String[] tg : triggers) {
                st.execute("ALTER TABLE " + tg[0] + " ENABLE " + switch (tg[2]) {
                    case "R" -> "REPLICA ";
                    case "A" -> "ALWAYS ";
                    default -> "";
                } + "TRIGGER " + Sql.ident(tg[1]));
            }
            target.commit();
            return rows;
        } catch (SQLException | RuntimeException e) {
            target.rollback();
            throw e;
        } finally {
            target.setAutoCommit(true);
        }
    }

    /** {@code tables} ordered so that each comes after the others its foreign keys reference, else by name. */
    private static List<SourceCatalog.Table> referencedFirst(List<SourceCatalog.Table> tables, Connection source)
            throws SQLException {
        Map<Long, Set<Long>> references = new HashMap<>();
        try (PreparedStatement ps = source.prepareStatement("SELECT conrelid, confrelid FROM pg_catalog.pg_constraint"
                + " WHERE contype = 'f' AND conrelid <> confrelid AND conrelid = ANY (?::pg_catalog.oid[])"
                + " AND confrelid = ANY (?::pg_catalog.oid[])")) {
            java.sql.Array array = source.createArrayOf("bigint", tables.stream().map(SourceCatalog.Table::oid).toArray());
            ps.setArray(1, array);
            ps.setArray(2, array);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    references.computeIfAbsent(rs.getLong(1), k -> new HashSet<>()).add(rs.getLong(2));
                }
            }
        }
        List<SourceCatalog.Table> byName = new ArrayList<>(tables);
        byName.sort(java.util.Comparator.comparing(SourceCatalog.Table::displayName));
        return afterTheirDependencies(byName, SourceCatalog.Table::oid, references);
    }

    /**
     * {@code items} in their order, except that each comes after the items whose keys it depends on ({@code needs});
     * an item of a cycle comes when no other can.
     */
    private static <T, K> List<T> afterTheirDependencies(List<T> items, java.util.function.Function<T, K> key,
                                                         Map<K, Set<K>> needs) {
        List<T> out = new ArrayList<>();
        Set<K> placed = new HashSet<>();
        List<T> left = new ArrayList<>(items);
        while (!left.isEmpty()) {
            T next = left.stream().filter(i -> placed.containsAll(needs.getOrDefault(key.apply(i), Set.of())))
                    .findFirst().orElse(left.get(0));
            out.add(next);
            placed.add(key.apply(next));
            left.remove(next);
        }
        return out;
    }

    /** Streams the rows of {@code copyOut} on {@code source} into {@code copyIn} on {@code target}; the rows written. */
    private static long stream(Connection source, String copyOut, Connection target, String copyIn) throws SQLException {
        CopyOut reader = source.unwrap(PGConnection.class).getCopyAPI().copyOut(copyOut);
        CopyIn writer = null;
        try {
            writer = target.unwrap(PGConnection.class).getCopyAPI().copyIn(copyIn);
            byte[] chunk;
            while ((chunk = reader.readFromCopy()) != null) {
                writer.writeToCopy(chunk, 0, chunk.length);
            }
            long rows = writer.endCopy();
            writer = null;
            return rows;
        } finally {
            if (reader.isActive()) {
                reader.cancelCopy();
            }
            if (writer != null && writer.isActive()) {
                writer.cancelCopy();
            }
        }
    }
}
