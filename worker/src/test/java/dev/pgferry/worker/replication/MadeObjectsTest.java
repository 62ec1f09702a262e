package dev.pgferry.worker.replication;

import dev.pgferry.messages.Json;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.pg.SchemaDrift;
import dev.pgferry.pg.SchemaObjects;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

class MadeObjectsTest {

    @Test
    void keepsWhatBothSidesHadAcrossRecordsAndTheLedgerEntry() {
        String table = SchemaDrift.tableKey("public", "legacy_log");
        String column = SchemaDrift.columnKey("public", "legacy", "flag");
        String check = new SchemaObjects.Drifted(SchemaObjects.Kind.CONSTRAINT, "c on public.legacy",
                SchemaObjects.Difference.EXTRA, "public.legacy", "c").key();
        MadeObjects first = MadeObjects.none().with(List.of(table, column));
        MadeObjects later = first.with(List.of(check, table));

        assertThat(first.contains(table)).isTrue();
        assertThat(first.contains(check)).isFalse();
        assertThat(later.size()).isEqualTo(3);
        // (a table and a column of the same names are told apart)
        assertThat(later.contains(SchemaDrift.columnKey("public", "legacy_log", "flag"))).isFalse();
        assertThat(later.contains(SchemaDrift.tableKey("public", "legacy"))).isFalse();
        // and the entry, written and read as JSON, holds the same
        String identity = SchemaDrift.identityKey("public", "legacy", 16384);
        MadeObjects known = later.withTables(List.of(SchemaDrift.IDENTITIES, identity));
        LedgerEntry entry = Json.read(Json.write(LedgerEntry.made(MadeObjects.encode(new long[0]), null)),
                LedgerEntry.class);
        assertThat(MadeObjects.decode(entry.made(), entry.madeTables()).knowsTables()).isFalse();
        SchemaDrift drift = new SchemaDrift(List.of(), List.of(), List.of(), List.of(), List.of(), List.of(),
                Set.of(table, column, check, SchemaDrift.tableKey("public", "legacy")),
                Map.of(SchemaDrift.tableKey("public", "legacy"), 16384L, SchemaDrift.tableKey("public", "gone"), 1L));
        assertThat(drift.identities()).containsExactlyInAnyOrder(SchemaDrift.IDENTITIES, identity);
        MadeObjects read = roundTrip(MadeObjects.none().with(drift.shared()).withTables(drift.identities()));
        assertThat(read.size()).isEqualTo(4);
        assertThat(List.of(table, column, check)).allMatch(read::contains);
        assertThat(read.knowsTables()).isTrue();
        assertThat(read.isTable(identity)).isTrue();
        assertThat(read.isTable(SchemaDrift.identityKey("public", "legacy", 16385))).isFalse();
        // (the tables' identities are those of the last look alone)
        assertThat(known.withTables(List.of(SchemaDrift.IDENTITIES)).isTable(identity)).isFalse();
    }

    @Test
    void theLargestSchemaItKeepsFitsOneLedgerEntry() {
        MadeObjects most = MadeObjects.none().with(IntStream.range(0, MadeObjects.MAX)
                .mapToObj(i -> SchemaDrift.columnKey("s", "t" + i / 10, "c" + i)).toList());
        byte[] entry = Json.write(LedgerEntry.made(MadeObjects.encode(most.digests()), MadeObjects.encode(new long[0])));
        assertThat(most.size()).isEqualTo(MadeObjects.MAX);
        assertThat(entry.length).isLessThan(Json.MAX_MESSAGE_BYTES);
        assertThat(MadeObjects.decode(Json.read(entry, LedgerEntry.class).made(), null).contains(
                SchemaDrift.columnKey("s", "t7", "c77"))).isTrue();
    }

    @Test
    void theDriftSaysOfWhatTheSidesNeverSharedThatItStays() {
        SchemaDrift.TargetOnly dropped = new SchemaDrift.TargetOnly("public", "legacy_log", null, false,
                "table public.legacy_log is on the target but not on the source (DDL is not replicated): "
                        + SchemaDrift.DROPPED, null);
        SchemaDrift.TargetOnly mine = new SchemaDrift.TargetOnly("public", "my_notes", null, false,
                "table public.my_notes is on the target but not on the source (DDL is not replicated): "
                        + SchemaDrift.DROPPED, null);
        SchemaObjects.Drifted myIndex = new SchemaObjects.Drifted(SchemaObjects.Kind.INDEX, "public.my_idx",
                SchemaObjects.Difference.EXTRA, "public.t", "my_idx");
        SchemaDrift drift = new SchemaDrift(List.of(), List.of(), List.of(), List.of(myIndex), List.of(dropped, mine),
                List.of(), Set.of(), Map.of());
        MadeObjects made = MadeObjects.none().with(List.of(dropped.key()));

        assertThat(Refresh.describe(drift, made)).containsExactly(
                "index public.my_idx is on the target but not on the source (DDL is not replicated): " + Refresh.KEPT,
                dropped.line(),
                "table public.my_notes is on the target but not on the source (DDL is not replicated): " + Refresh.KEPT);
    }

    @Test
    void aPublishedTableIsMadeAnewWhenItsNameNowBelongsToAnotherTableOfTheSource() {
        String rebuilt = SchemaDrift.tableKey("public", "rebuilt");
        String kept = SchemaDrift.tableKey("public", "kept");
        // the drift now: rebuilt is the table that had OID 900 (the source swapped it in), kept is still 500
        SchemaDrift now = new SchemaDrift(List.of(), List.of(), List.of(), List.of(), List.of(), List.of(),
                Set.of(rebuilt, kept), Map.of(rebuilt, 900L, kept, 500L));
        MadeObjects recorded = MadeObjects.none().with(List.of(rebuilt, kept)).withTables(List.of(SchemaDrift.IDENTITIES,
                SchemaDrift.identityKey("public", "rebuilt", 400), SchemaDrift.identityKey("public", "rebuilt_new", 900),
                SchemaDrift.identityKey("public", "kept", 500)));

        assertThat(Refresh.reused(now, recorded)).containsExactly(new SchemaDrift.Table("public", "rebuilt", null));
        // a record from before pgferry kept the tables' OIDs tells nothing
        assertThat(Refresh.reused(now, MadeObjects.none().with(List.of(rebuilt, kept)))).isEmpty();
        // and a table the sides did not share then (one new since) is not made anew
        assertThat(Refresh.reused(now, MadeObjects.none().with(List.of(kept)).withTables(List.of(SchemaDrift.IDENTITIES,
                SchemaDrift.identityKey("public", "kept", 500))))).isEmpty();
    }

    @Test
    void aTableIsRenamedOnTheTargetOnlyWhenTheRecordSaysItWasThatTable() {
        String old = SchemaDrift.tableKey("public", "t_old");
        String t = SchemaDrift.tableKey("public", "t");
        // the drift (by columns alone) takes the target's t_new for t_old, which the source renamed t to
        SchemaDrift.TargetOnly guessed = new SchemaDrift.TargetOnly("public", "t_new", null, true, "renamed?",
                new SchemaObjects.TableName("public", "t_old"));
        SchemaDrift now = new SchemaDrift(List.of(), List.of(), List.of(), List.of(), List.of(guessed), List.of(),
                Set.of(t), Map.of(old, 400L, t, 900L));
        List<String> identities = List.of(SchemaDrift.IDENTITIES, SchemaDrift.identityKey("public", "t", 400),
                SchemaDrift.identityKey("public", "t_new", 900));
        MadeObjects recorded = MadeObjects.none().with(List.of(t, SchemaDrift.tableKey("public", "t_new")))
                .withTables(identities);

        SchemaDrift exact = Refresh.exactRenames(now, recorded);
        assertThat(exact.targetOnly()).singleElement().satisfies(o -> {
            assertThat(o.renameTo()).isNull();
            assertThat(o.renamed()).isFalse();
            assertThat(o.line()).startsWith("table public.t_new is on the target but not on the source");
        });
        assertThat(exact.problems()).containsExactly("table public.t_old is published but missing on the target");
        assertThat(Refresh.publishedMissing(exact)).containsExactly(new SchemaDrift.Table("public", "t_old", null));
        assertThat(Refresh.reused(exact, recorded)).containsExactly(new SchemaDrift.Table("public", "t", null));
        // where the record says the target's table was it, the rename stands and nothing is missing
        MadeObjects renamed = recorded.withTables(List.of(SchemaDrift.IDENTITIES,
                SchemaDrift.identityKey("public", "t_new", 400)));
        assertThat(Refresh.exactRenames(now, renamed).targetOnly()).containsExactly(guessed);
        assertThat(Refresh.publishedMissing(Refresh.exactRenames(now, renamed))).isEmpty();
        // and without the tables' OIDs in the record, the drift's guess stands
        assertThat(Refresh.exactRenames(now, MadeObjects.none().with(List.of(t))).targetOnly()).containsExactly(guessed);
    }

    private static MadeObjects roundTrip(MadeObjects made) {
        LedgerEntry entry = Json.read(Json.write(LedgerEntry.made(MadeObjects.encode(made.digests()),
                MadeObjects.encode(made.tableDigests()))), LedgerEntry.class);
        return MadeObjects.decode(entry.made(), entry.madeTables());
    }
}
