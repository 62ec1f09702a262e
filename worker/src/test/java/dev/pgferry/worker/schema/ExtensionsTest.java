package dev.pgferry.worker.schema;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class ExtensionsTest {

    @Test
    void findsTheCommentOfAnExtensionInATableOfContentsByItsName() {
        Set<String> kept = Set.of("pg_stat_statements", "uuid-ossp", "we\"ird");
        // as pg_restore --list writes them (the owner of a comment is empty: the line ends in a space)
        assertThat(SchemaCopier.isCommentOn("4346; 0 0 COMMENT - EXTENSION pg_stat_statements ", kept)).isTrue();
        assertThat(SchemaCopier.isCommentOn("4347; 0 0 COMMENT - EXTENSION \"uuid-ossp\" ", kept)).isTrue();
        assertThat(SchemaCopier.isCommentOn("4348; 0 0 COMMENT - EXTENSION \"we\"\"ird\" ", kept)).isTrue();
        // another extension's, the extension itself, a schema's comment, and nothing kept
        assertThat(SchemaCopier.isCommentOn("4349; 0 0 COMMENT - EXTENSION postgis ", kept)).isFalse();
        assertThat(SchemaCopier.isCommentOn("3; 3079 17735 EXTENSION - uuid-ossp ", kept)).isFalse();
        assertThat(SchemaCopier.isCommentOn("4350; 0 0 COMMENT - SCHEMA pg_stat_statements postgres", kept)).isFalse();
        assertThat(SchemaCopier.isCommentOn("4346; 0 0 COMMENT - EXTENSION pg_stat_statements ", Set.of())).isFalse();
    }

    @Test
    void warnsOnlyOfAKeptExtensionWhoseCommentDiffers() {
        Map<String, String> source = new LinkedHashMap<>();
        source.put("hstore", "data type for storing sets of (key, value) pairs");
        source.put("pg_stat_statements", "track planning and execution statistics of all SQL statements executed");
        source.put("pg_buffercache", "examine the shared buffer cache");
        source.put("citext", null);
        Map<String, String> target = Map.of(
                "pg_stat_statements", "track planning and execution statistics of all SQL statements executed",
                "pg_buffercache", "the provider's",
                "citext", "case-insensitive");

        // hstore is not in the target (the restore creates it), pg_stat_statements has the same comment
        assertThat(Extensions.keptComments(source, target)).containsExactly(
                "extension pg_buffercache was already in the target database: it keeps its comment there ('the"
                        + " provider''s'; on the source 'examine the shared buffer cache'): only its owner may change it",
                "extension citext was already in the target database: it keeps its comment there ('case-insensitive';"
                        + " on the source none): only its owner may change it");
    }

    @Test
    void saysHowASuperuserMakesTheDatabaseWithTheExtensionsOrWhereTheyGo() {
        assertThat(Extensions.superuserOnlyMessage("gis", List.of("postgis", "pg_buffercache"), "avnadmin", false))
                .startsWith("source database gis uses extension(s) postgis, pg_buffercache, which only a superuser may"
                        + " create on the target")
                .contains("the target user avnadmin is not one: have a superuser of the target run CREATE DATABASE"
                        + " \"gis\" OWNER \"avnadmin\", then CREATE EXTENSION \"postgis\"; CREATE EXTENSION"
                        + " \"pg_buffercache\" in it")
                .endsWith("or migrate as a superuser, or leave the database out with --ignore-dbs");
        assertThat(Extensions.superuserOnlyMessage("gis", List.of("postgis"), "avnadmin", true))
                .contains("run CREATE EXTENSION \"postgis\" in database \"gis\" (pgferry migrates");
    }
}
