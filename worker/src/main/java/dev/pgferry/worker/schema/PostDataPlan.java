package dev.pgferry.worker.schema;

import dev.pgferry.messages.ReplicationNames;
import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.Sql;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Splits the post-data part of a schema dump so that index builds overlap the data copy. The indexes and
 * (non-foreign-key) constraints of each table holding rows (a plain table or a leaf partition) are built as soon as
 * that table's rows are in, each index on its own connection so that a table's indexes build side by side: a
 * primary key or unique constraint becomes {@code CREATE UNIQUE INDEX} (which, unlike {@code ADD CONSTRAINT}, lets
 * other index builds on the table run at the same time) and then {@code ADD CONSTRAINT ... USING INDEX}, which only
 * takes the finished index. The DDL is what pg_dump itself writes for these entries ({@code pg_get_indexdef} under
 * the dump's snapshot, plus the statistics targets, {@code CLUSTER ON} and {@code REPLICA IDENTITY} it appends);
 * what this cannot express exactly (a constraint index with INCLUDE columns, a non-default operator class,
 * collation or ordering, a deferrable constraint, an index in another tablespace, exclusion and check constraints)
 * is restored from the dump entry itself. A foreign key between two such tables is added as soon as both hold their
 * rows and indexes ({@link ForeignKey}). Everything else (foreign keys of other tables and of partitioned tables,
 * triggers, rules, the indexes and constraints of partitioned tables and the attachments of their partitions'
 * indexes, ...) runs after all tables: a partitioned table's index is created {@code ON ONLY} the table, and each
 * partition's index, built early like any other, is attached to it there. Entries come from {@code pg_restore -l}
 * and are tied to their table through the source catalog OIDs the listing carries (names are never parsed).
 * Immutable.
 */
public final class PostDataPlan {
    private static final long PG_CLASS = 1259;
    private static final long PG_CONSTRAINT = 2606;

    /** One index build: a {@code CREATE [UNIQUE] INDEX} statement and the source index's size. */
    public record IndexBuild(String sql, long bytes) {
    }

    /**
     * What to do once a table holds its rows: {@code builds} run side by side, then {@code restoreEntries}
     * (table-of-contents lines pg_restore runs as they are) alongside; {@code finish} runs after all of them, in
     * order, on one connection. {@code analyze} is false when the table's statistics must wait until the end
     * (extended statistics are created after all tables).
     */
    public record TableWork(String table, List<IndexBuild> builds, List<String> restoreEntries, List<String> finish,
                            boolean analyze) {
        static TableWork empty(String table) {
            return new TableWork(table, new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), true);
        }
    }

    /**
     * A foreign key between two early tables ({@code table}, of {@code bytes}, references {@code refTable}, possibly
     * itself): {@code sql} is the statement pg_dump writes for it. It can be added as soon as both tables hold their
     * rows and their indexes, instead of after every table. {@code validated}: the source's key is validated (not
     * {@code NOT VALID}).
     */
    public record ForeignKey(long table, long refTable, long bytes, String qualifiedTable, String name, String sql,
                             boolean validated) {
        /** A validated key added without checking the rows: a brief lock, no scan ({@link #validateSql} checks them). */
        public String notValidSql() {
            return sql + " NOT VALID";
        }

        /** Checks the rows of a key added NOT VALID; takes only locks that let other validations run beside it. */
        public String validateSql() {
            return "ALTER TABLE ONLY " + qualifiedTable + " VALIDATE CONSTRAINT " + Sql.ident(name);
        }
    }

    private final Map<Long, TableWork> perTable;
    private final List<ForeignKey> foreignKeys;
    private final List<String> rest;

    private PostDataPlan(Map<Long, TableWork> perTable, List<ForeignKey> foreignKeys, List<String> rest) {
        this.perTable = perTable;
        this.foreignKeys = foreignKeys;
        this.rest = rest;
    }

    /** The foreign keys between early tables, to add as their tables are done (see {@link ForeignKey}). */
    public List<ForeignKey> foreignKeys() {
        return foreignKeys;
    }

    /** What to build once table {@code tableOid} holds its rows; null when it is not one of the early tables. */
    public TableWork forTable(long tableOid) {
        return perTable.get(tableOid);
    }

    /** The lines to restore after every table (for the tables in {@code plan} minus what {@link #forTable} gave). */
    public List<String> rest() {
        return rest;
    }

    /**
     * Kinds of entries that build nothing and read no rows (catalog changes only): a statement of each takes a few
     * milliseconds on one session, so parallel restore jobs would cost more (their processes and sessions) than
     * they save.
     */
    private static final List<String> LIGHT = List.of("TRIGGER ", "RULE ", "POLICY ", "ROW SECURITY ", "COMMENT ",
            "EVENT TRIGGER ", "STATISTICS ", "ACL ", "DEFAULT ACL ");

    /**
     * Whether every entry of {@link #rest} is light (triggers, rules, policies, comments, privileges...), so that
     * they can run one after another on one session ({@link SchemaCopier#render}); false when one of them builds an
     * index or checks rows (a foreign key of a table copied late, a partition index...), which parallel jobs speed up.
     */
    public boolean restIsLight() {
        return light(rest);
    }

    static boolean light(List<String> toc) {
        return toc.stream().allMatch(line -> {
            String desc = desc(line);
            return desc != null && LIGHT.stream().anyMatch(desc::startsWith);
        });
    }

    /** Whether a table-of-contents line is a privilege entry ({@code ACL}, {@code DEFAULT ACL}). */
    public static boolean isPrivilege(String line) {
        String desc = desc(line);
        return desc != null && (desc.startsWith("ACL ") || desc.startsWith("DEFAULT ACL "));
    }

    /** What follows the catalog ids of a table-of-contents line ("TRIGGER app audit audit_touch owner"), or null. */
    private static String desc(String line) {
        String[] t = line.split("\\s+", 4);
        return t.length == 4 ? t[3] : null;
    }

    /**
     * The post-data entries of a dump that are restored after everything else, apart from the others: the user's
     * publications with their tables, schemas, comments and security labels ({@code publications}), and the event
     * triggers with theirs ({@code eventTriggers}, last of all, as pg_restore does: one that refuses DDL would refuse
     * pgferry's own), each in the dump's order; {@code others} is every other entry. The publications of pgferry's
     * own replications ({@link ReplicationNames}) are in none: they belong to the source. Entries are told apart by
     * their catalog ids, a comment or security label by the kind of object it describes.
     */
    public record Deferred(List<String> publications, List<String> eventTriggers, List<String> others) {
        private static final Set<Long> PUBLICATION_CATALOGS = Set.of(6104L, 6106L, 6237L);  // pg_publication, _rel, _namespace
        private static final long PG_EVENT_TRIGGER = 3466;

        /** {@code source} reads the dump's snapshot. */
        public static Deferred of(List<String> toc, Connection source) throws SQLException {
            List<String> publications = new ArrayList<>();
            List<String> eventTriggers = new ArrayList<>();
            List<String> others = new ArrayList<>();
            Set<Long> ours = null;
            for (String line : toc) {
                String[] t = line.split("\\s+", 4);
                long classId;
                try {
                    classId = t.length == 4 ? Long.parseLong(t[1]) : 0;
                } catch (NumberFormatException e) {
                    classId = 0;
                }
                String desc = t.length == 4 ? t[3] : "";
                if (classId == PG_EVENT_TRIGGER || describes(desc, "EVENT TRIGGER ")) {
                    eventTriggers.add(line);
                } else if (describes(desc, "PUBLICATION ")) {
                    publications.add(line);
                } else if (!PUBLICATION_CATALOGS.contains(classId)) {
                    others.add(line);
                } else {
                    if (ours == null) {
                        ours = pgferrysPublicationEntries(source);
                    }
                    if (!ours.contains(Long.parseLong(t[2]))) {
                        publications.add(line);
                    }
                }
            }
            return new Deferred(List.copyOf(publications), List.copyOf(eventTriggers), List.copyOf(others));
        }

        /** Whether an entry is a comment or security label on an object of {@code kind} ("PUBLICATION "...). */
        private static boolean describes(String desc, String kind) {
            return desc.startsWith("COMMENT - " + kind) || desc.startsWith("SECURITY LABEL - " + kind);
        }

        /** The object ids of the catalog rows of pgferry's publications (publications, their tables and schemas). */
        private static Set<Long> pgferrysPublicationEntries(Connection source) throws SQLException {
            Set<Long> out = new HashSet<>();
            boolean schemas = ServerCatalog.majorVersion(source) >= 15;  // publications of whole schemas
            try (PreparedStatement ps = source.prepareStatement("SELECT p.oid FROM pg_catalog.pg_publication p"
                    + " WHERE p.pubname ~ ? UNION ALL SELECT r.oid FROM pg_catalog.pg_publication_rel r"
                    + " JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid WHERE p.pubname ~ ?"
                    + (schemas ? " UNION ALL SELECT n.oid FROM pg_catalog.pg_publication_namespace n"
                    + " JOIN pg_catalog.pg_publication p ON p.oid = n.pnpubid WHERE p.pubname ~ ?" : ""))) {
                for (int i = 1; i <= (schemas ? 3 : 2); i++) {
                    ps.setString(i, ReplicationNames.PATTERN);
                }
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(rs.getLong(1));
                    }
                }
            }
            return out;
        }
    }

    /**
     * @param toc         the output of {@code pg_restore -l}
     * @param source      a connection reading the same snapshot as the dump
     * @param earlyTables OIDs of the tables (plain tables and leaf partitions) whose indexes may be built early
     */
    static PostDataPlan of(List<String> toc, Connection source, Set<Long> earlyTables) throws SQLException {
        record Entry(String line, long classId, long objId, String desc) {
        }
        List<Entry> entries = new ArrayList<>();
        for (String line : toc) {
            if (line.isBlank() || line.startsWith(";")) {
                continue;
            }
            String[] t = line.split("\\s+", 4);
            if (t.length < 4) {
                continue;
            }
            try {
                entries.add(new Entry(line, Long.parseLong(t[1]), Long.parseLong(t[2]), t[3]));
            } catch (NumberFormatException e) {
                // not an entry line
            }
        }
        Map<Long, TableWork> perTable = new LinkedHashMap<>();
        for (Map.Entry<Long, String> t : tableNames(source, earlyTables).entrySet()) {
            perTable.put(t.getKey(), TableWork.empty(t.getValue()));
        }
        Set<Long> withExtendedStats = withExtendedStatistics(source, earlyTables);
        Map<Long, IndexInfo> indexes = indexes(source, entries.stream()
                .filter(e -> e.classId() == PG_CLASS && e.desc().startsWith("INDEX ") && !e.desc().startsWith("INDEX ATTACH"))
                .map(Entry::objId).toList(), false);
        Map<Long, IndexInfo> constraints = indexes(source, entries.stream()
                .filter(e -> e.classId() == PG_CONSTRAINT && e.desc().startsWith("CONSTRAINT ")).map(Entry::objId).toList(), true);
        Map<Long, ForeignKey> early = foreignKeys(source, entries.stream()
                .filter(e -> e.classId() == PG_CONSTRAINT && e.desc().startsWith("FK CONSTRAINT ")).map(Entry::objId).toList(),
                perTable.keySet());
        List<ForeignKey> foreignKeys = new ArrayList<>();
        List<String> rest = new ArrayList<>();
        for (Entry e : entries) {
            ForeignKey fk = e.classId() == PG_CONSTRAINT ? early.get(e.objId()) : null;
            if (fk != null) {
                foreignKeys.add(fk);
                continue;
            }
            IndexInfo info = e.classId() == PG_CLASS ? indexes.get(e.objId())
                    : e.classId() == PG_CONSTRAINT ? constraints.get(e.objId()) : null;
            TableWork work = info == null ? null : perTable.get(info.table());
            if (work == null) {
                rest.add(e.line());
            } else if (!info.ownDdl()) {
                work.restoreEntries().add(e.line());
            } else {
                info.addTo(work);
            }
        }
        for (Map.Entry<Long, TableWork> t : perTable.entrySet()) {
            TableWork w = t.getValue();
            w.builds().sort(Comparator.comparingLong(IndexBuild::bytes).reversed());
            t.setValue(new TableWork(w.table(), List.copyOf(w.builds()), List.copyOf(w.restoreEntries()),
                    List.copyOf(w.finish()), !withExtendedStats.contains(t.getKey())));
        }
        return new PostDataPlan(Map.copyOf(perTable), List.copyOf(foreignKeys), List.copyOf(rest));
    }

    /**
     * An index, or the index of a constraint, as the catalog describes it. {@code contype} is null for a plain
     * index; {@code ownDdl} is false when the dump entry must be restored as it is.
     */
    private record IndexInfo(long table, String schema, String tableName, String indexName, String constraintName,
                             String contype, String indexDef, long bytes, boolean ownDdl, boolean clustered,
                             boolean replicaIdentity, List<String> statistics) {
        void addTo(TableWork work) {
            work.builds().add(new IndexBuild(indexDef, bytes));
            String table = Sql.qualified(schema, tableName);
            String index = Sql.ident(indexName);
            if (contype != null) {
                work.finish().add("ALTER TABLE ONLY " + table + " ADD CONSTRAINT " + Sql.ident(constraintName)
                        + ("p".equals(contype) ? " PRIMARY KEY" : " UNIQUE") + " USING INDEX " + index);
            }
            for (String s : statistics) {
                String[] columnAndTarget = s.split("=", 2);
                work.finish().add("ALTER INDEX " + Sql.qualified(schema, indexName) + " ALTER COLUMN "
                        + Integer.parseInt(columnAndTarget[0]) + " SET STATISTICS " + Integer.parseInt(columnAndTarget[1]));
            }
            if (clustered) {
                work.finish().add("ALTER TABLE " + table + " CLUSTER ON " + index);
            }
            if (replicaIdentity) {
                work.finish().add("ALTER TABLE ONLY " + table + " REPLICA IDENTITY USING INDEX " + index);
            }
        }
    }

    private static final String INDEX_COLUMNS = "t.oid, tn.nspname, t.relname, ci.relname, con.conname, con.contype,"
            + " pg_catalog.pg_get_indexdef(i.indexrelid), pg_catalog.pg_relation_size(i.indexrelid),"
            // ADD CONSTRAINT ... USING INDEX insists on a unique b-tree over plain columns with default operator
            // classes, collations and ordering, and no predicate; INCLUDE columns are left to the dump entry too.
            // The index must be in the default tablespace: pg_get_indexdef names none.
            + " i.indexrelid IS NOT NULL AND ci.reltablespace = 0 AND NOT coalesce(con.condeferrable, false)"
            + "   AND (con.contype IS NULL OR (am.amname = 'btree' AND i.indisunique AND i.indexprs IS NULL"
            + "     AND i.indpred IS NULL AND %s"
            + "     AND NOT EXISTS (SELECT 1 FROM ROWS FROM (pg_catalog.unnest(i.indkey::pg_catalog.int2[]),"
            + "         pg_catalog.unnest(i.indclass::pg_catalog.oid[]), pg_catalog.unnest(i.indcollation::pg_catalog.oid[]),"
            + "         pg_catalog.unnest(i.indoption::pg_catalog.int2[])) AS k(att, cls, coll, opt)"
            + "       LEFT JOIN pg_catalog.pg_opclass oc ON oc.oid = k.cls"
            + "       LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.att"
            + "       WHERE k.att IS NULL OR k.att <= 0 OR oc.oid IS NULL OR NOT oc.opcdefault OR k.opt IS DISTINCT FROM 0"
            + "         OR k.coll IS DISTINCT FROM a.attcollation))),"
            + " coalesce(i.indisclustered, false), coalesce(i.indisreplident, false),"
            + " ARRAY(SELECT ia.attnum || '=' || ia.attstattarget FROM pg_catalog.pg_attribute ia"
            + "   WHERE ia.attrelid = i.indexrelid AND ia.attstattarget >= 0 ORDER BY ia.attnum)::text[]";
    private static final String INDEX_JOINS = " JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace"
            + " LEFT JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid LEFT JOIN pg_catalog.pg_am am ON am.oid = ci.relam";

    /**
     * Reads indexes by index OID, or (with {@code byConstraint}) primary key, unique, exclusion and check
     * constraints by constraint OID; the map is keyed by the OID asked for. A check or exclusion constraint, or
     * anything {@code ADD CONSTRAINT ... USING INDEX} would refuse or change, is marked for the dump entry.
     */
    private static Map<Long, IndexInfo> indexes(Connection c, List<Long> ids, boolean byConstraint) throws SQLException {
        Map<Long, IndexInfo> out = new HashMap<>();
        if (ids.isEmpty()) {
            return out;
        }
        String columns = String.format(INDEX_COLUMNS,
                c.getMetaData().getDatabaseMajorVersion() >= 11 ? "i.indnkeyatts = i.indnatts" : "true");
        String sql = byConstraint
                ? "SELECT con.oid, " + columns + " FROM pg_catalog.pg_constraint con"
                + " JOIN pg_catalog.pg_class t ON t.oid = con.conrelid"
                + " LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = con.conindid AND con.contype IN ('p', 'u')" + INDEX_JOINS
                + " WHERE con.oid = ANY(?::pg_catalog.oid[]) AND con.contype IN ('p', 'u', 'x', 'c')"
                : "SELECT i.indexrelid, " + columns + " FROM pg_catalog.pg_index i"
                + " JOIN pg_catalog.pg_class t ON t.oid = i.indrelid"
                + " LEFT JOIN (SELECT NULL::pg_catalog.name AS conname, NULL::pg_catalog.\"char\" AS contype,"
                + "   false AS condeferrable) con ON false" + INDEX_JOINS
                + " WHERE i.indexrelid = ANY(?::pg_catalog.oid[])";
        forOids(c, sql, ids, rs -> out.put(rs.getLong(1), new IndexInfo(rs.getLong(2), rs.getString(3), rs.getString(4),
                rs.getString(5), rs.getString(6), rs.getString(7), rs.getString(8), rs.getLong(9), rs.getBoolean(10),
                rs.getBoolean(11), rs.getBoolean(12), List.of((String[]) rs.getArray(13).getArray()))));
        return out;
    }

    /**
     * The foreign keys among {@code ids} (constraint OIDs) whose table and referenced table are both in
     * {@code tables}, keyed by constraint OID, with the statement pg_dump writes for each: {@code ALTER TABLE ONLY
     * ... ADD CONSTRAINT ...} and {@code pg_get_constraintdef} (NOT VALID included when the source has it so).
     */
    private static Map<Long, ForeignKey> foreignKeys(Connection c, List<Long> ids, Set<Long> tables) throws SQLException {
        Map<Long, ForeignKey> out = new HashMap<>();
        forOids(c, "SELECT con.oid, con.conrelid, con.confrelid, n.nspname, t.relname, con.conname,"
                + " pg_catalog.pg_get_constraintdef(con.oid), pg_catalog.pg_relation_size(t.oid), con.convalidated"
                + " FROM pg_catalog.pg_constraint con"
                + " JOIN pg_catalog.pg_class t ON t.oid = con.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace"
                + " WHERE con.oid = ANY(?::pg_catalog.oid[]) AND con.contype = 'f' AND t.relkind = 'r'", ids, rs -> {
                    if (tables.contains(rs.getLong(2)) && tables.contains(rs.getLong(3))) {
                        String table = Sql.qualified(rs.getString(4), rs.getString(5));
                        out.put(rs.getLong(1), new ForeignKey(rs.getLong(2), rs.getLong(3), rs.getLong(8), table,
                                rs.getString(6), "ALTER TABLE ONLY " + table + " ADD CONSTRAINT " + Sql.ident(rs.getString(6))
                                + " " + rs.getString(7), rs.getBoolean(9)));
                    }
                });
        return out;
    }

    private static Map<Long, String> tableNames(Connection c, Set<Long> oids) throws SQLException {
        Map<Long, String> out = new LinkedHashMap<>();
        forOids(c, "SELECT t.oid, n.nspname, t.relname FROM pg_catalog.pg_class t JOIN pg_catalog.pg_namespace n"
                + " ON n.oid = t.relnamespace WHERE t.oid = ANY(?::pg_catalog.oid[])", oids,
                rs -> out.put(rs.getLong(1), Sql.qualified(rs.getString(2), rs.getString(3))));
        return out;
    }

    private static Set<Long> withExtendedStatistics(Connection c, Set<Long> oids) throws SQLException {
        Set<Long> out = new HashSet<>();
        if (c.getMetaData().getDatabaseMajorVersion() >= 10) {
            forOids(c, "SELECT DISTINCT stxrelid FROM pg_catalog.pg_statistic_ext WHERE stxrelid = ANY(?::pg_catalog.oid[])",
                    oids, rs -> out.add(rs.getLong(1)));
        }
        return out;
    }

    private interface Row {
        void accept(ResultSet rs) throws SQLException;
    }

    /** Runs {@code sql} with {@code oids} as its one array parameter, passing each row to {@code each}. */
    private static void forOids(Connection c, String sql, Collection<Long> oids, Row each) throws SQLException {
        if (oids.isEmpty()) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setArray(1, c.createArrayOf("int8", oids.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    each.accept(rs);
                }
            }
        }
    }

    static Path writeList(List<String> lines) throws IOException {
        Path f = Files.createTempFile("pgferry-toc-", ".list");
        Files.write(f, lines);
        return f;
    }
}
