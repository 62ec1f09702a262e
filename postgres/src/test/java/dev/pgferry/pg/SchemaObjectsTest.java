package dev.pgferry.pg;

import dev.pgferry.pg.SchemaObjects.Difference;
import dev.pgferry.pg.SchemaObjects.Drifted;
import dev.pgferry.pg.SchemaObjects.Inventory;
import dev.pgferry.pg.SchemaObjects.Kind;
import dev.pgferry.pg.SchemaObjects.SchemaObject;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class SchemaObjectsTest {

    private static Inventory inventory(Set<String> tables, SchemaObject... objects) {
        Map<String, SchemaObject> out = new LinkedHashMap<>();
        for (SchemaObject o : objects) {
            out.put(o.key(), o);
        }
        Map<String, SchemaObjects.TableName> named = new LinkedHashMap<>();
        tables.forEach(t -> named.put(t, new SchemaObjects.TableName(t.substring(0, t.indexOf('.')),
                t.substring(t.indexOf('.') + 1))));
        return new Inventory(out, named);
    }

    @Test
    void objectsDifferByNameAndByDefinitionOnlyBetweenServersOfOneMajor() {
        SchemaObject index = new SchemaObject(Kind.INDEX, "public.t_a_idx", "md5-a", "public.t", "t_a_idx");
        SchemaObject function = new SchemaObject(Kind.FUNCTION, "public.f(x integer)", "md5-f1", null, "f");
        SchemaObject changed = new SchemaObject(Kind.FUNCTION, "public.f(x integer)", "md5-f2", null, "f");
        SchemaObject extra = new SchemaObject(Kind.TRIGGER, "audit on public.t", "md5-t", "public.t", "audit");
        // (an index of a table the target lacks comes with its table; a trigger of one the source dropped goes with it)
        SchemaObject ofNewTable = new SchemaObject(Kind.INDEX, "public.n_idx", "md5-n", "public.n", "n_idx");
        SchemaObject ofDroppedTable = new SchemaObject(Kind.TRIGGER, "x on public.gone", "md5-x", "public.gone", "x");
        Inventory source = inventory(Set.of("public.t", "public.n"), index, changed, ofNewTable);
        Inventory target = inventory(Set.of("public.t", "public.gone"), function, extra, ofDroppedTable);

        List<Drifted> same = SchemaObjects.compare(source, target, true);
        assertThat(same).extracting(Drifted::kind, Drifted::name, Drifted::difference).containsExactly(
                org.assertj.core.groups.Tuple.tuple(Kind.INDEX, "public.t_a_idx", Difference.MISSING),
                org.assertj.core.groups.Tuple.tuple(Kind.TRIGGER, "audit on public.t", Difference.EXTRA),
                org.assertj.core.groups.Tuple.tuple(Kind.FUNCTION, "public.f(x integer)", Difference.DIFFERS));
        assertThat(same.get(0).describe()).isEqualTo("index public.t_a_idx is on the source but not on the target"
                + " (DDL is not replicated): pgferry refresh creates it");
        assertThat(same.get(1).describe()).isEqualTo("trigger audit on public.t is on the target but not on the source"
                + " (DDL is not replicated): pgferry refresh drops it if the source dropped it (one made only on the"
                + " target stays: drop it yourself)");
        assertThat(same.get(2).repairable()).isTrue();
        // between majors, definitions print differently: names alone are compared
        assertThat(SchemaObjects.compare(source, target, false)).extracting(Drifted::difference)
                .containsExactly(Difference.MISSING, Difference.EXTRA);
    }

    @Test
    void refreshRepairsWhatTheSourcesDefinitionsMakeWhole() {
        assertThat(new Drifted(Kind.CONSTRAINT, "c on public.t", Difference.MISSING, "public.t", "c").repairable()).isTrue();
        assertThat(new Drifted(Kind.VIEW, "public.v", Difference.MISSING, null, "v").repairable()).isTrue();
        assertThat(new Drifted(Kind.VIEW, "public.v", Difference.DIFFERS, null, "v").repairable()).isTrue();
        assertThat(new Drifted(Kind.SEQUENCE, "public.s", Difference.DIFFERS, null, "s").repairable()).isTrue();
        // (a materialized view is made again: dropped and restored from the source's schema dump)
        assertThat(new Drifted(Kind.MATERIALIZED_VIEW, "public.m", Difference.DIFFERS, null, "m").repairable()).isTrue();
        assertThat(new Drifted(Kind.MATERIALIZED_VIEW, "public.m", Difference.DIFFERS, null, "m").describe())
                .endsWith("pgferry refresh makes it as on the source");
        assertThat(new Drifted(Kind.INDEX, "public.i", Difference.EXTRA, "public.t", "i").repairable()).isFalse();
    }

    @Test
    void aColumnDefinedOtherwiseIsAlteredToTheSourcesUnlessItsGenerationDiffers() {
        SchemaDrift.Column source = new SchemaDrift.Column("public", "t", "id", "bigint", "nextval('public.s'::regclass)",
                true, false, "");
        SchemaDrift.Column target = new SchemaDrift.Column("public", "t", "id", "integer", null, false, false, "");
        SchemaDrift.ChangedColumn changed = new SchemaDrift.ChangedColumn(source, target);
        assertThat(changed.alterClauses()).containsExactly("ALTER COLUMN \"id\" TYPE bigint USING \"id\"::bigint",
                "ALTER COLUMN \"id\" SET DEFAULT nextval('public.s'::regclass)", "ALTER COLUMN \"id\" SET NOT NULL");
        assertThat(changed.describe()).isEqualTo("column public.t.id is bigint NOT NULL DEFAULT"
                + " nextval('public.s'::regclass) on the source but integer on the target (DDL is not replicated; a row"
                + " the target's column cannot take stops the apply worker): pgferry refresh alters it");
        assertThat(new SchemaDrift.ChangedColumn(target, source).alterClauses()).containsExactly(
                "ALTER COLUMN \"id\" TYPE integer USING \"id\"::integer", "ALTER COLUMN \"id\" DROP DEFAULT",
                "ALTER COLUMN \"id\" DROP NOT NULL");
        // a generated column's expression changes only by dropping and adding it
        SchemaDrift.Column gen1 = new SchemaDrift.Column("public", "t", "g", "integer", "(a + 1)", false, true, "");
        SchemaDrift.Column gen2 = new SchemaDrift.Column("public", "t", "g", "integer", "(a + 2)", false, true, "");
        assertThat(new SchemaDrift.ChangedColumn(gen2, gen1).alterClauses()).isEmpty();
        assertThat(new SchemaDrift.ChangedColumn(gen2, gen1).describe()).endsWith("drop and add it on the target as on"
                + " the source");
        assertThat(gen2.addClause()).isEqualTo("ADD COLUMN \"g\" integer GENERATED ALWAYS AS ((a + 2)) STORED");
    }

    @Test
    void anIdentityColumnIsAddedAndAlteredAsOne() {
        SchemaDrift.Column always = new SchemaDrift.Column("public", "t", "n", "bigint", null, true, false, "a");
        SchemaDrift.Column byDefault = new SchemaDrift.Column("public", "t", "n", "bigint", null, true, false, "d");
        SchemaDrift.Column plain = new SchemaDrift.Column("public", "t", "n", "bigint", null, true, false, "");
        assertThat(always.addClause()).isEqualTo("ADD COLUMN \"n\" bigint GENERATED ALWAYS AS IDENTITY NOT NULL");
        assertThat(new SchemaDrift.ChangedColumn(always, plain).alterClauses())
                .containsExactly("ALTER COLUMN \"n\" ADD GENERATED ALWAYS AS IDENTITY");
        assertThat(new SchemaDrift.ChangedColumn(always, byDefault).alterClauses())
                .containsExactly("ALTER COLUMN \"n\" SET GENERATED ALWAYS");
        assertThat(new SchemaDrift.ChangedColumn(plain, byDefault).alterClauses())
                .containsExactly("ALTER COLUMN \"n\" DROP IDENTITY");
    }
}
