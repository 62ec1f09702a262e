package dev.pgferry.it;

import dev.pgferry.bus.Bus;
import dev.pgferry.bus.KafkaSettings;
import dev.pgferry.bus.Ledger;
import dev.pgferry.cli.local.LocalPostgres;
import dev.pgferry.cli.local.SampleData;
import dev.pgferry.messages.CopyUnit;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.Method;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.messages.MigrationTask;
import dev.pgferry.messages.StatusEvent;
import dev.pgferry.messages.Topics;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Secrets;
import dev.pgferry.pg.Side;
import dev.pgferry.worker.copy.SharedUnits;
import dev.pgferry.worker.copy.SourceSnapshot;
import dev.pgferry.worker.task.DatabaseMigration;
import dev.pgferry.worker.task.UnitCopy;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * One big database over two workers: the worker migrating it (the owner) offers the ranges of its split table as
 * {@code copy_unit} tasks, and another worker process copies some of them under the owner's snapshot. That worker is
 * killed with SIGKILL in the middle of a unit; the owner copies that unit and every other one nobody finished, and
 * no row is copied twice. Deterministic: the owner waits (in its status hook) until the other worker has committed
 * a unit, and the other worker's next unit is held on the target by a table lock of the test's while it is killed.
 */
class UnitsIT {

    @Test
    void anotherWorkerCopiesRangesOfABigDatabaseAndOneKilledMidRangeIsCopiedAgainOnce() throws Exception {
        String prefix = "it-units-" + UUID.randomUUID().toString().substring(0, 6) + ".";
        KafkaSettings kafka = KafkaSettings.of(Infra.kafka()).withTopicPrefix(prefix);
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres();
             Bus bus = new Bus(kafka, "it-units"); Ledger ledger = new Ledger(bus, "it-units-owner")) {
            bus.ensureTopics();
            // Given a database with a table of about 40 MB, copied in ranges of 4 MB
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE big");
            ReplicationIT.exec(source, "big", "CREATE TABLE public.rows (id bigint PRIMARY KEY, payload text NOT NULL);"
                    + " INSERT INTO public.rows SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 300000) g;"
                    + " CREATE TABLE public.small (id int PRIMARY KEY); INSERT INTO public.small SELECT generate_series(1, 100);"
                    + " ANALYZE");
            // and a second worker, a process of its own
            Process helper = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                    "dev.pgferry.cli.Main", "worker", "--bootstrap-servers", Infra.kafka(), "--topic-prefix", prefix,
                    "--jobs", "1").redirectErrorStream(true)
                    .redirectOutput(Infra.work().resolve("units-helper-worker.log").toFile()).start();
            AtomicInteger killedUnit = new AtomicInteger(-1);
            List<StatusEvent> events = Collections.synchronizedList(new ArrayList<>());
            try {
                MigrationRequest r = MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                        List.of(), List.of(), List.of());
                MigrationTask task = MigrationTask.of(Pgferry.sealed(r), "big");
                AtomicBoolean held = new AtomicBoolean();
                Consumer<StatusEvent> emit = e -> {
                    events.add(e);
                    // The first progress event comes once the ranges are offered
                    if (e instanceof StatusEvent.TaskProgress && held.compareAndSet(false, true)) {
                        killedUnit.set(killMidUnit(target, helper));
                    }
                };

                // When the owner migrates it with one copy job, offering its ranges to other workers
                boolean handled = new DatabaseMigration(task, "owner", emit, Clock.systemUTC(), Secrets.system(), 1,
                        4L << 20, ledger).withUnitOffers(u -> bus.send(Topics.TASKS, u.key(), Json.write(u))).run();

                // Then the database is done, with every row once
                assertThat(handled).isTrue();
                assertThat(events).as(events.toString()).anyMatch(e -> e instanceof StatusEvent.TaskDone);
            } finally {
                helper.destroyForcibly();
            }
            assertThat(Compare.scalar(target, "big", "SELECT count(*) FROM public.rows")).isEqualTo("300000");
            assertThat(Compare.scalar(target, "big", "SELECT count(DISTINCT id) FROM public.rows")).isEqualTo("300000");
            var expected = Compare.tableFingerprints(source, "big");
            var actual = Compare.tableFingerprints(target, "big");
            assertThat(actual).isEqualTo(expected);
            // and each range is done in the ledger: some by the other worker, the one it was killed in by the owner
            String migrationId = events.get(0).migrationId();
            List<LedgerEntry> units = new ArrayList<>();
            for (int i = 0; ; i++) {
                Optional<LedgerEntry> e = ledger.read(LedgerEntry.unitKey(migrationId, "big", 1, i));
                if (e.isEmpty()) {
                    break;
                }
                units.add(e.get());
            }
            assertThat(units.size()).isGreaterThanOrEqualTo(8);
            assertThat(units).allSatisfy(u -> assertThat(u.state()).isEqualTo(LedgerEntry.State.DONE));
            assertThat(units).anySatisfy(u -> assertThat(u.workerId()).isNotEqualTo("owner"));
            assertThat(killedUnit.get()).isBetween(0, units.size() - 1);
            assertThat(units.get(killedUnit.get()).workerId()).isEqualTo("owner");
            assertThat(units.stream().mapToLong(u -> u.rows() == null ? 0 : u.rows()).sum()).isLessThanOrEqualTo(300000);
            // and the database's last progress says who copied what: the other worker its ranges, as the ledger
            // says, the owner the rest (the small table included); every row once
            StatusEvent.TaskProgress last = null;
            for (StatusEvent e : events) {
                if (e instanceof StatusEvent.TaskProgress p) {
                    last = p;
                }
            }
            assertThat(last).isNotNull();
            Map<String, MigrationStatus.WorkerShare> copiedBy = last.copiedBy();
            assertThat(copiedBy).as(String.valueOf(copiedBy)).containsKey("owner").hasSize(2);
            String other = copiedBy.keySet().stream().filter(w -> !w.equals("owner")).findFirst().orElseThrow();
            List<LedgerEntry> byOther = units.stream().filter(u -> other.equals(u.workerId())).toList();
            assertThat(copiedBy.get(other)).isEqualTo(new MigrationStatus.WorkerShare(byOther.size(),
                    byOther.stream().mapToLong(LedgerEntry::rows).sum(), byOther.stream().mapToLong(LedgerEntry::bytes).sum()));
            assertThat(copiedBy.values().stream().mapToLong(MigrationStatus.WorkerShare::rows).sum()).isEqualTo(300100);
            assertThat(copiedBy.get("owner").units()).isEqualTo(units.size() - byOther.size() + 1);
            Reliability.record("a worker copying a range of another worker's database killed with SIGKILL mid-range",
                    "survived: the owner copied that range again, once; " + units.stream()
                            .filter(u -> !"owner".equals(u.workerId())).count() + " of " + units.size()
                            + " ranges were copied by the other worker", Reliability.rows(expected), Reliability.rows(actual));
        }
    }

    @Test
    void aUnitIsHeldByOneWorkerAtATimeAndOneCommittedByAWorkerThatDiedBeforeSayingSoIsNotCopiedAgain() throws Exception {
        try (LocalPostgres target = Infra.postgres(); Bus bus = new Bus(Infra.kafka(), "it-shared-units");
             Ledger ledger = new Ledger(bus, "it-shared-units")) {
            bus.ensureTopics();
            ReplicationIT.exec(target, "postgres", "CREATE DATABASE units");
            ReplicationIT.exec(target, "units", "CREATE TABLE public.t (id int)");
            String migration = "m-" + UUID.randomUUID().toString().substring(0, 8);
            SharedUnits a = new SharedUnits(ledger, migration, "units", 1, "worker-a", null);
            SharedUnits b = new SharedUnits(ledger, migration, "units", 1, "worker-b", null);
            try (Connection ca = SampleData.connect(target, "units"); Connection cb = SampleData.connect(target, "units")) {
                ca.setAutoCommit(false);
                cb.setAutoCommit(false);
                // When worker a holds unit 0, worker b finds it busy, and unit 1 free
                assertThat(a.claim(ca, 0).outcome()).isEqualTo(SharedUnits.Outcome.COPY);
                assertThat(b.claim(cb, 0).outcome()).isEqualTo(SharedUnits.Outcome.BUSY);
                assertThat(b.claim(cb, 1).outcome()).isEqualTo(SharedUnits.Outcome.COPY);
                cb.rollback();
                // When a writes its rows, says it is committing and commits, but dies before saying it is done
                long xid = xid(ca);
                exec(ca, "INSERT INTO public.t SELECT generate_series(1, 10)");
                a.committing(0, xid);
                ca.commit();
                // Then b, taking unit 0, finds it done (by a) and does not copy it again
                SharedUnits.Claim claim = b.claim(cb, 0);
                assertThat(claim.outcome()).isEqualTo(SharedUnits.Outcome.DONE);
                assertThat(claim.by()).isEqualTo("worker-a");
                cb.rollback();
                // When a says it is committing unit 1 and its transaction rolls back (it died before COMMIT)
                assertThat(a.claim(ca, 1).outcome()).isEqualTo(SharedUnits.Outcome.COPY);
                a.committing(1, xid(ca));
                ca.rollback();
                // Then b copies unit 1; once it is done, a finds it done with b's rows
                assertThat(b.claim(cb, 1).outcome()).isEqualTo(SharedUnits.Outcome.COPY);
                b.committing(1, xid(cb));
                cb.commit();
                b.done(1, 42, 4200);
                SharedUnits.Claim again = a.claim(ca, 1);
                assertThat(again).isEqualTo(new SharedUnits.Claim(SharedUnits.Outcome.DONE, 42, 4200, "worker-b"));
                ca.rollback();
                // and a unit offered for a database made again since (another OID) is refused there
                SharedUnits stale = new SharedUnits(ledger, migration, "units", 1, "worker-c", null).onlyInto(1);
                assertThatThrownBy(() -> stale.claim(cb, 2)).isInstanceOf(MigrationException.class)
                        .hasMessageContaining("was made again");
                cb.rollback();
            }
            assertThat(Compare.scalar(target, "units", "SELECT count(*) FROM public.t")).isEqualTo("10");
        }
    }

    @Test
    void aMidSizedTableOfferedWholeIsCopiedByAnotherWorkerOnceUnderTheOwnersSnapshot() throws Exception {
        try (LocalPostgres source = Infra.postgres(); LocalPostgres target = Infra.postgres();
             Bus bus = new Bus(Infra.kafka(), "it-whole-unit"); Ledger ledger = new Ledger(bus, "it-whole-unit")) {
            bus.ensureTopics();
            ReplicationIT.exec(source, "postgres", "CREATE DATABASE whole");
            ReplicationIT.exec(source, "whole", "CREATE TABLE public.w (id int PRIMARY KEY, v text);"
                    + " INSERT INTO public.w SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
            ReplicationIT.exec(target, "postgres", "CREATE DATABASE whole");
            ReplicationIT.exec(target, "whole", "CREATE TABLE public.w (id int, v text)");
            long targetOid = Long.parseLong(Compare.scalar(target, "whole",
                    "SELECT oid FROM pg_database WHERE datname = current_database()"));
            MigrationRequest r = Pgferry.sealed(MigrationRequest.of(Pgferry.conn(source), Pgferry.conn(target), Method.DUMP,
                    List.of(), List.of(), List.of()));
            // Given the owner's exported snapshot, and rows written on the source after it
            try (SourceSnapshot snapshot = SourceSnapshot.export(new PgConnector(r.source(), Side.SOURCE, "it-owner",
                    Secrets.system()), "whole")) {
                ReplicationIT.exec(source, "whole", "INSERT INTO public.w VALUES (5001, 'after the snapshot')");
                CopyUnit unit = new CopyUnit(snapshot.id(), 1, 0, 1, "public", "w", List.of("id", "v"), null, null, null,
                        0, 1, "owner", targetOid);
                // (as it crosses the wire: no bounds at all)
                byte[] wire = Json.write(MigrationTask.copyUnit(r, "whole", unit));
                assertThat(Json.mapper().readTree(wire).get("unit").has("lower")).isFalse();
                MigrationTask task = Json.read(wire, MigrationTask.class);

                // When another worker runs the unit offered as the whole table, twice
                UnitCopy.run(task, "helper", Secrets.system(), ledger);
                UnitCopy.run(task, "helper-2", Secrets.system(), ledger);
            }

            // Then the table holds the snapshot's rows once, and the ledger says the first worker copied them
            assertThat(Compare.scalar(target, "whole", "SELECT count(*) || '/' || count(DISTINCT id) || '/' || max(id)"
                    + " FROM public.w")).isEqualTo("5000/5000/5000");
            assertThat(Compare.scalar(target, "whole", "SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM public.w"))
                    .isEqualTo(Compare.scalar(source, "whole",
                            "SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM public.w WHERE id <= 5000"));
            LedgerEntry entry = ledger.read(LedgerEntry.unitKey(r.migrationId(), "whole", 1, 0)).orElseThrow();
            assertThat(entry.state()).isEqualTo(LedgerEntry.State.DONE);
            assertThat(entry.workerId()).isEqualTo("helper");
            assertThat(entry.rows()).isEqualTo(5000L);
            // and a unit without bounds is only ever a whole table
            assertThatThrownBy(() -> new CopyUnit("s", 1, 0, 2, "public", "w", List.of("id"), null, null, null, 0, 2,
                    "owner", targetOid)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("whole table");
        }
    }

    private static long xid(Connection c) throws Exception {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_catalog.txid_current()")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static void exec(Connection c, String sql) throws Exception {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    /**
     * Waits until the other worker has committed a unit (the owner, blocked here, copies nothing), then holds the
     * target table with a SHARE lock until that worker's next unit waits for it, kills the worker, and lets go.
     * Returns the index of the unit it was killed in (its advisory lock's second key).
     */
    private static int killMidUnit(LocalPostgres target, Process helper) {
        try {
            ReplicationIT.eventually(() -> Long.parseLong(Compare.scalar(target, "big", "SELECT count(*) FROM public.rows")) > 0,
                    true);
            try (Connection hold = SampleData.connect(target, "big"); Statement s = hold.createStatement()) {
                hold.setAutoCommit(false);
                s.execute("LOCK TABLE public.rows IN SHARE MODE");
                int unit = -1;
                long deadline = System.currentTimeMillis() + 60_000;
                while (unit < 0 && System.currentTimeMillis() < deadline) {
                    try (Connection look = SampleData.connect(target, "big"); Statement q = look.createStatement();
                         ResultSet rs = q.executeQuery("SELECT a.objid FROM pg_catalog.pg_locks w"
                                 + " JOIN pg_catalog.pg_locks a ON a.pid = w.pid AND a.locktype = 'advisory' AND a.granted"
                                 + " WHERE w.relation = 'public.rows'::regclass AND NOT w.granted")) {
                        if (rs.next()) {
                            unit = rs.getInt(1);
                        }
                    }
                    Thread.sleep(20);
                }
                assertThat(unit).as("the other worker's next unit waits for the table").isGreaterThanOrEqualTo(0);
                helper.destroyForcibly().waitFor();
                hold.rollback();
                return unit;
            }
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
