package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;
import dev.pgferry.messages.MigrationStatus.State;
import dev.pgferry.worker.copy.CommitOutcome;
import dev.pgferry.worker.copy.SourceCatalog;
import dev.pgferry.worker.copy.TableSlicer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tables larger than the split threshold are copied in ranges, in parallel: spans of heap pages (ctid) on
 * PostgreSQL 14 and later, integer primary key ranges on older sources. Together the ranges hold every row exactly
 * once; a range whose backend dies mid-copy is copied again without doubling rows; and a range whose COMMIT got no
 * answer is resolved from the target's record of the transaction, never copied twice.
 */
class TableSplitIT {
    static final long SPLIT_BYTES = 1L << 20;
    static LocalPostgres source;

    @BeforeAll
    static void start() throws Exception {
        source = Infra.postgres();
        createSplitDatabase(source);
    }

    @AfterAll
    static void stop() {
        source.close();
    }

    static void createSplitDatabase(LocalPostgres pg) throws Exception {
        ReplicationIT.exec(pg, "postgres", "CREATE DATABASE split");
        ReplicationIT.exec(pg, "split", """
                CREATE TABLE public.big (id int PRIMARY KEY, payload text);
                INSERT INTO public.big SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 150000) g;
                DELETE FROM public.big WHERE id % 7 = 0;
                CREATE TABLE public.nokey (n int, payload text);
                INSERT INTO public.nokey SELECT g % 1000, md5(g::text) FROM generate_series(1, 60000) g;
                CREATE TABLE public.tiny (id int PRIMARY KEY);
                INSERT INTO public.tiny SELECT generate_series(1, 10);
                ANALYZE;
                """);
    }

    /** table -> where clauses of its slices, planned as a worker plans them (jobs 2, 1 MB threshold). */
    static Map<String, List<String>> plan(LocalPostgres pg) throws Exception {
        try (Connection c = SampleData.connect(pg, "split")) {
            List<SourceCatalog.Table> tables = SourceCatalog.tables(c);
            return TableSlicer.plan(c, tables, 2, SPLIT_BYTES).stream().collect(Collectors.groupingBy(
                    s -> s.table().name(), Collectors.mapping(s -> s.whole() ? "whole" : s.where(), Collectors.toList())));
        }
    }

    /** Rows each range selects, summed, and the distinct keys over all ranges: both must equal the table's rows. */
    static void assertRangesCoverEachRowOnce(LocalPostgres pg, String table, String key, List<String> ranges) throws Exception {
        String union = ranges.stream().map(w -> "SELECT " + key + " AS k FROM public." + table + " WHERE " + w)
                .collect(Collectors.joining(" UNION ALL "));
        String total = Compare.scalar(pg, "split", "SELECT count(*) FROM public." + table);
        assertThat(Compare.scalar(pg, "split", "SELECT count(*) FROM (" + union + ") u")).isEqualTo(total);
        assertThat(Compare.scalar(pg, "split", "SELECT count(DISTINCT k) FROM (" + union + ") u")).isEqualTo(total);
    }

    @Test
    void onPostgres14AndLaterLargeTablesSplitIntoPageRangesThatCoverEveryRowOnce() throws Exception {
        Map<String, List<String>> plan = plan(source);

        assertThat(plan.get("big")).hasSizeGreaterThanOrEqualTo(5).allSatisfy(w -> assertThat(w).contains("ctid"));
        assertThat(plan.get("nokey")).hasSizeGreaterThanOrEqualTo(2).allSatisfy(w -> assertThat(w).contains("ctid"));
        assertThat(plan.get("tiny")).containsExactly("whole");
        assertRangesCoverEachRowOnce(source, "big", "id", plan.get("big"));
        assertRangesCoverEachRowOnce(source, "nokey", "ctid", plan.get("nokey"));
    }

    @Test
    void onPostgres12TablesSplitByTheirIntegerPrimaryKeyOnly() throws Exception {
        try (LocalPostgres pg12 = LocalPostgres.start(ZonkyBinaries.bin(), Infra.work().resolve("pg"), Infra.PASSWORD)) {
            createSplitDatabase(pg12);
            Map<String, List<String>> plan = plan(pg12);

            assertThat(plan.get("big")).hasSizeGreaterThanOrEqualTo(5).allSatisfy(w -> assertThat(w).contains("\"id\" "));
            // No integer key and no TID range scan before PostgreSQL 14: copied whole rather than read once per range.
            assertThat(plan.get("nokey")).containsExactly("whole");
            assertRangesCoverEachRowOnce(pg12, "big", "id", plan.get("big"));
        }
    }

    @Test
    void aSplitTableWhoseRangeBackendDiesMidCopyArrivesWhole() throws Exception {
        try (LocalPostgres target = Infra.postgres(); Pgferry pgferry = new Pgferry(1, SPLIT_BYTES)) {
            MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of("postgres"), List.of(), List.of());
            pgferry.submit(r);

            // When the backend streaming one range of the big table is terminated while it copies
            String terminated = null;
            long deadline = System.currentTimeMillis() + 60_000;
            while (terminated == null && System.currentTimeMillis() < deadline) {
                terminated = Compare.scalar(source, "postgres", "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity"
                        + " WHERE application_name LIKE 'pgferry/worker%' AND query LIKE 'COPY (SELECT % FROM \"public\".\"big\" WHERE%'"
                        + " LIMIT 1");
                Thread.sleep(2);
            }
            assertThat(terminated).as("a range's COPY backend was found and terminated").isEqualTo("true");
            MigrationStatus s = pgferry.awaitFinal(r.migrationId());

            // Then that range was copied again, and the table holds every row once
            DatabaseStatus split = s.migrationDetail().get(0);
            assertThat(split.status()).as(split.toString()).isEqualTo(State.DONE);
            assertThat(split.warnings()).anySatisfy(w -> assertThat(w).containsPattern("table public.big \\(part \\d+ of \\d+\\): copy attempt 1 failed"));
            assertThat(split.tablesDone()).isEqualTo(3);
            assertThat(split.tablesTotal()).isEqualTo(3);
            assertThat(split.rowsCopied()).isEqualTo(150000 - 150000 / 7 + 60000 + 10);
            var expected = Compare.tableFingerprints(source, "split");
            var actual = Compare.tableFingerprints(target, "split");
            Reliability.record("source backend of one range of a split table terminated mid-COPY",
                    split.status() == State.DONE ? "survived: that range copied again in a new target transaction, database done"
                            : "FAILED", Reliability.rows(expected), Reliability.rows(actual));
            assertThat(actual).isEqualTo(expected);
            assertThat(Compare.scalar(target, "split", "SELECT count(*) FROM pg_indexes WHERE tablename = 'big'")).isEqualTo("1");
        }
    }

    @Test
    void aCommitWhoseAnswerWasLostIsReadBackFromTheTarget() throws Exception {
        ReplicationIT.exec(source, "postgres", "CREATE TABLE public.ledger (id int)");
        try (Connection committed = SampleData.connect(source, "postgres"); Connection rolledBack = SampleData.connect(source, "postgres");
             Connection open = SampleData.connect(source, "postgres"); Connection checker = SampleData.connect(source, "postgres")) {
            long[] c = writeInTransaction(committed);
            committed.commit();
            long[] a = writeInTransaction(rolledBack);
            rolledBack.rollback();
            long[] o = writeInTransaction(open);

            assertThat(CommitOutcome.resolve(checker, c[0], (int) c[1])).isEqualTo(CommitOutcome.COMMITTED);
            assertThat(CommitOutcome.resolve(checker, a[0], (int) a[1])).isEqualTo(CommitOutcome.ABORTED);
            // A transaction still open (its backend has not noticed the client is gone) is ended, then reported aborted.
            assertThat(CommitOutcome.resolve(checker, o[0], (int) o[1])).isEqualTo(CommitOutcome.ABORTED);
            assertThat(open.isValid(2)).isFalse();
            assertThat(Compare.scalar(source, "postgres", "SELECT count(*) FROM public.ledger")).isEqualTo("1");
        }
    }

    /** Inserts a row in a new transaction; returns {xid, backend pid}. */
    private static long[] writeInTransaction(Connection c) throws Exception {
        c.setAutoCommit(false);
        try (Statement s = c.createStatement()) {
            s.execute("INSERT INTO public.ledger VALUES (1)");
            try (ResultSet rs = s.executeQuery("SELECT txid_current(), pg_backend_pid()")) {
                rs.next();
                return new long[]{rs.getLong(1), rs.getLong(2)};
            }
        }
    }
}
