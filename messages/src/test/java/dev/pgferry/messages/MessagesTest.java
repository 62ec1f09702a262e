package dev.pgferry.messages;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MessagesTest {
    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-11-27T10:00:00Z"), ZoneOffset.UTC);

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void requestRoundTripsWithSnakeCaseNamesAndDefaults() throws Exception {
        MigrationRequest r = Json.readRequest(bytes("""
                {"source": {"host": "src", "user": "u", "password": "pw-src"},
                 "target": {"host": "dst", "port": 6543, "dbname": "defaultdb", "user": "v", "password_ref": "env:PW"},
                 "ignore_dbs": ["x"], "skip_tables": ["s.t"]}"""));

        assertThat(r.schemaVersion()).isEqualTo(1);
        assertThat(r.migrationId()).startsWith("m-");
        assertThat(r.method()).isEqualTo(Method.AUTO);
        assertThat(r.source().port()).isEqualTo(5432);
        assertThat(r.source().dbname()).isEqualTo("postgres");
        assertThat(r.target().sslmode()).isEqualTo("prefer");
        JsonNode json = Json.mapper().readTree(Json.write(r));
        assertThat(json.get("migration_id").asText()).isEqualTo(r.migrationId());
        assertThat(json.get("target").get("password_ref").asText()).isEqualTo("env:PW");
        assertThat(json.get("ignore_dbs").get(0).asText()).isEqualTo("x");
        assertThat(json.get("method").asText()).isEqualTo("auto");
        assertThat(Json.readRequest(Json.write(r))).isEqualTo(r);
    }

    @Test
    void rejectsUnknownFieldsWrongTypesAndVersionsWithoutQuotingInput() {
        assertThatThrownBy(() -> Json.readRequest(bytes("{\"source\": {\"host\": \"h\", \"user\": \"u\"}, \"target\": "
                + "{\"host\": \"h\", \"user\": \"u\"}, \"ignore_db\": []}")))
                .isInstanceOf(MigrationException.class).hasMessageContaining("ignore_db")
                .extracting(e -> ((MigrationException) e).code()).isEqualTo(ErrorCode.INVALID_REQUEST);
        assertThatThrownBy(() -> Json.readRequest(bytes("{\"schema_version\": 7}")))
                .hasMessageContaining("unknown schema_version 7");
        assertThatThrownBy(() -> Json.readRequest(bytes("{\"source\": {\"host\": \"h\", \"user\": \"u\", "
                + "\"port\": \"secret-value\"}, \"target\": {\"host\": \"h\", \"user\": \"u\"}}")))
                .hasMessageContaining("port").hasMessageNotContaining("secret-value");
        assertThatThrownBy(() -> Json.readRequest(bytes("{not json")))
                .hasMessage("invalid message: malformed JSON");
        assertThatThrownBy(() -> Json.readRequest(bytes("{\"target\": {\"host\": \"h\", \"user\": \"u\"}}")))
                .hasMessageContaining("source is required");
        assertThatThrownBy(() -> Json.readRequest(new byte[Json.MAX_MESSAGE_BYTES + 1]))
                .hasMessageContaining("exceeds the limit");
    }

    @Test
    void connectionNeverShowsItsPassword() {
        Connection c = Connection.fromUri("postgres://alice:p%40ss-Word1@db.example:5433/app?sslmode=require");

        assertThat(c.password()).isEqualTo("p@ss-Word1");
        assertThat(c.port()).isEqualTo(5433);
        assertThat(c.dbname()).isEqualTo("app");
        assertThat(c.toString()).doesNotContain("p@ss").contains("password=***");
        assertThat(c.describe()).isEqualTo("alice@db.example:5433/app");
        assertThatThrownBy(() -> Connection.fromUri("postgres://alice:hunter2@h/db?bogus=1"))
                .hasMessageContaining("bogus").hasMessageNotContaining("hunter2");
        assertThatThrownBy(() -> Connection.fromUri("mysql://alice:hunter2@h/db"))
                .hasMessageNotContaining("hunter2");
        assertThatThrownBy(() -> Connection.fromUri("postgres://h/db"))
                .hasMessageContaining("user is required");
    }

    @Test
    void tablePatternsMatchTableSchemaAndDatabaseForms() {
        MigrationRequest r = MigrationRequest.of(Connection.fromUri("postgres://u@a"), Connection.fromUri("postgres://u@b"),
                Method.DUMP, List.of(), List.of("logs", "app.public.audit", "\"we.ird\".t"), List.of());

        assertThat(r.copiesTable("app", "public", "logs")).isFalse();
        assertThat(r.copiesTable("app", "public", "audit")).isFalse();
        assertThat(r.copiesTable("other", "public", "audit")).isTrue();
        assertThat(r.copiesTable("app", "we.ird", "t")).isFalse();
        assertThat(r.ignores("template0")).isTrue();
        assertThatThrownBy(() -> TablePattern.parse("a.b.c.d")).hasMessageContaining("db.schema.table");

        MigrationRequest only = MigrationRequest.of(Connection.fromUri("postgres://u@a"), Connection.fromUri("postgres://u@b"),
                Method.DUMP, List.of(), List.of(), List.of("public.keep"));
        assertThat(only.copiesTable("app", "public", "keep")).isTrue();
        assertThat(only.copiesTable("app", "public", "other")).isFalse();
    }

    @Test
    void statusEventsRoundTripWithTypeAndHeaderFields() throws Exception {
        EventSource src = new EventSource("m-1", "app", "worker-1", 2, CLOCK);
        StatusEvent failed = src.failed(new Failure(ErrorCode.COPY_FAILED, "57P01", "source went away", true));

        JsonNode json = Json.mapper().readTree(Json.write(failed));

        assertThat(json.get("type").asText()).isEqualTo("task_failed");
        assertThat(json.get("schema_version").asInt()).isEqualTo(1);
        assertThat(json.get("migration_id").asText()).isEqualTo("m-1");
        assertThat(json.get("worker_id").asText()).isEqualTo("worker-1");
        assertThat(json.get("attempt").asInt()).isEqualTo(2);
        assertThat(json.get("timestamp").asText()).isEqualTo("2026-11-27T10:00:00Z");
        assertThat(json.get("error").get("code").asText()).isEqualTo("COPY_FAILED");
        assertThat(Json.readEvent(Json.write(failed))).isEqualTo(failed);
        StatusEvent planned = new EventSource("m-1", null, "coordinator", 1, CLOCK).planned(List.of("a", "b"));
        assertThat(Json.readEvent(Json.write(planned))).isEqualTo(planned);
        StatusEvent phase = src.phase(Phase.POST_DATA);
        assertThat(Json.mapper().readTree(Json.write(phase)).get("phase").asText()).isEqualTo("post-data");
    }

    @Test
    void taskKeyKeepsOneDatabaseInOnePartition() {
        MigrationRequest r = MigrationRequest.of(Connection.fromUri("postgres://u@a"), Connection.fromUri("postgres://u@b"),
                Method.AUTO, List.of(), List.of(), List.of());
        MigrationTask t = MigrationTask.of(r, "sales");

        assertThat(t.key()).isEqualTo(r.migrationId() + "/sales");
        assertThat(Json.readTask(Json.write(t))).isEqualTo(t);
    }

    @Test
    void aRemovalAsksForItsFinalCopyOnlyWhenItSaysSoAndItsTasksCarryIt() {
        MigrationRequest r = MigrationRequest.of(Connection.fromUri("postgres://u@a"), Connection.fromUri("postgres://u@b"),
                Method.AUTO, List.of(), List.of(), List.of());
        // (as written before final_copy existed)
        Request plain = Json.readRequestMessage(bytes("{\"action\": \"remove\", \"migration_id\": \"m-9\"}"));
        Request copying = Json.readRequestMessage(bytes("{\"action\": \"remove\", \"migration_id\": \"m-9\", \"final_copy\": true}"));
        MigrationTask older = Json.readTask(bytes("{\"action\": \"remove\", \"dbname\": \"sales\", \"request\": "
                + new String(Json.write(r), java.nio.charset.StandardCharsets.UTF_8) + "}"));

        assertThat(plain).isEqualTo(RemovalRequest.of("m-9"));
        assertThat(((RemovalRequest) plain).finalCopy()).isFalse();
        assertThat(copying).isEqualTo(RemovalRequest.withFinalCopy("m-9"));
        assertThat(((RemovalRequest) copying).finalCopy()).isTrue();
        assertThat(older.finalCopy()).isFalse();
        MigrationTask task = MigrationTask.removal(r, "sales", true);
        assertThat(Json.readTask(Json.write(task)).finalCopy()).isTrue();
        assertThatThrownBy(() -> new MigrationTask(null, null, "sales", r, MigrationTask.Action.VERIFY, 1, null, null, true))
                .hasMessageContaining("only a remove task has a 'final_copy'");
    }

    @Test
    void redactionRemovesPasswordsAndKeepsEverythingElse() {
        byte[] plain = bytes("{\"migration_id\": \"x\"}");
        assertThat(Redaction.redact(plain)).isSameAs(plain);
        String json = new String(Redaction.redact(bytes("{\"source\": {\"password\": \"s3c\\\"ret\", \"user\": \"u\"},"
                + " \"note\": \"postgres://bob:hunter2@h/db\"")), StandardCharsets.UTF_8);
        assertThat(json).doesNotContain("s3c").doesNotContain("hunter2")
                .contains("\"password\": \"***\"").contains("postgres://bob:***@h/db").contains("\"user\": \"u\"");
    }

    @Test
    void passwordsQuotedInSqlAreRemovedFromTextAndFailures() {
        assertThat(Redaction.sql("CREATE USER MAPPING FOR app SERVER crm OPTIONS (\n    password 'it''s-secret',\n    \"user\" 'u'\n);"))
                .isEqualTo("CREATE USER MAPPING FOR app SERVER crm OPTIONS (\n    password '***',\n    \"user\" 'u'\n);");
        assertThat(Redaction.sql("CREATE ROLE a LOGIN ENCRYPTED PASSWORD 'pw1' VALID UNTIL 'infinity'"))
                .isEqualTo("CREATE ROLE a LOGIN ENCRYPTED PASSWORD '***' VALID UNTIL 'infinity'");
        assertThat(Redaction.sql("CONNECTION 'host=''h'' password=''p w'' user=''u''' and host=h password=bare user=u"))
                .doesNotContain("p w").doesNotContain("bare").contains("user=''u''").contains("user=u");
        assertThat(Redaction.sql("ALTER TABLE t ADD COLUMN password text")).isEqualTo("ALTER TABLE t ADD COLUMN password text");
        assertThat(Redaction.sql(null)).isNull();
        assertThat(new Failure(ErrorCode.SCHEMA_RESTORE_FAILED, null, "Command was: OPTIONS (password 'x1')", false).message())
                .isEqualTo("Command was: OPTIONS (password '***')");
        assertThat(new MigrationException(ErrorCode.INTERNAL, "password 'x2'").getMessage()).isEqualTo("password '***'");
    }

    @Test
    void cutoverRequestsAreReadWithTheirDefaultsAndCheckedAgainstTheStatus() {
        Request read = Json.readRequestMessage("{\"action\": \"cutover\", \"migration_id\": \"m-9\"}"
                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
        org.assertj.core.api.Assertions.assertThat(read).isEqualTo(CutoverRequest.of("m-9", java.util.List.of(), 60, false, false));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Json.readRequestMessage(
                        "{\"action\": \"cutover\", \"migration_id\": \"m-9\", \"deadline_seconds\": 0}"
                                .getBytes(java.nio.charset.StandardCharsets.UTF_8)))
                .hasMessageContaining("deadline_seconds must be 1 to 86400");
        MigrationTask task = Json.readTask(Json.write(MigrationTask.cutover(MigrationRequest.of(
                new Connection("a", 5432, "postgres", "u", null, null, null), new Connection("b", 5432, "postgres", "u", null, null, null),
                Method.REPLICATION, java.util.List.of(), java.util.List.of(), java.util.List.of()), "shop",
                CutoverRequest.of("m-9", java.util.List.of("shop"), 30, true, true))));
        org.assertj.core.api.Assertions.assertThat(task.action()).isEqualTo(MigrationTask.Action.CUTOVER);
        org.assertj.core.api.Assertions.assertThat(task.cutover().deadlineSeconds()).isEqualTo(30);
        org.assertj.core.api.Assertions.assertThat(task.cutover().unblockSource()).isTrue();

        MigrationStatus status = new MigrationStatus("m-9", new MigrationStatus.Overall(MigrationStatus.State.DONE, "", null),
                java.util.List.of(row("shop", MigrationStatus.State.SYNCING), row("crm", MigrationStatus.State.DONE)),
                null, null, null, false, null, null, null, null);
        // the counts by state come before the rows in the JSON, and a status written with them reads back
        org.assertj.core.api.Assertions.assertThat(status.databasesByStatus()).containsExactly(
                java.util.Map.entry("syncing", 1), java.util.Map.entry("done", 1));
        String json = new String(Json.write(status), java.nio.charset.StandardCharsets.UTF_8);
        org.assertj.core.api.Assertions.assertThat(json.indexOf("\"databases_by_status\":{\"syncing\":1,\"done\":1}"))
                .isPositive().isLessThan(json.indexOf("\"migration_detail\""));
        org.assertj.core.api.Assertions.assertThat(Json.read(Json.write(status), MigrationStatus.class)).isEqualTo(status);
        org.assertj.core.api.Assertions.assertThat(CutoverRequest.of("m-9", java.util.List.of(), 60, false, false).refusal(status)).isNull();
        org.assertj.core.api.Assertions.assertThat(CutoverRequest.of("m-9", java.util.List.of("crm"), 60, false, false).refusal(status))
                .isEqualTo("only syncing databases can be cut over; crm is done");
        org.assertj.core.api.Assertions.assertThat(CutoverRequest.of("m-9", java.util.List.of("hr"), 60, false, false).refusal(status))
                .isEqualTo("migration m-9 has no database hr (it has shop, crm)");
    }

    private static MigrationStatus.DatabaseStatus row(String db, MigrationStatus.State state) {
        return new MigrationStatus.DatabaseStatus(db, "replication", state, null, null, null, 1, null, 0, 0, 0, 0, null, null,
                null, null, 0, 0, null, null, null, null, null, null, null, null, null, null, null, null, null, null);
    }

    @Test
    void verifyRequestsAndRoleOptionsAreReadFromTheRequestsTopic() {
        Request verify = Json.readRequestMessage("{\"action\": \"verify\", \"migration_id\": \"m-9\", \"jobs\": 4}"
                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
        org.assertj.core.api.Assertions.assertThat(verify).isEqualTo(VerifyRequest.of("m-9", 4));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Json.readRequestMessage(
                        "{\"action\": \"verify\", \"migration_id\": \"m-9\", \"jobs\": 0}".getBytes(java.nio.charset.StandardCharsets.UTF_8)))
                .hasMessageContaining("jobs must be 1 to 64");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Json.readRequestMessage(
                        "{\"action\": \"shrink\", \"migration_id\": \"m-9\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8)))
                .hasMessageContaining("must be migrate, remove, verify, cutover or refresh");

        MigrationRequest r = Json.readRequest(("{\"source\": {\"host\": \"a\", \"user\": \"u\"}, \"target\": {\"host\": \"b\","
                + " \"user\": \"u\"}, \"options\": {\"roles\": \"used\", \"ignore_roles\": [\"x\"]}}")
                .getBytes(java.nio.charset.StandardCharsets.UTF_8));
        org.assertj.core.api.Assertions.assertThat(r.options().roles()).isEqualTo(MigrationOptions.RoleScope.USED);
        org.assertj.core.api.Assertions.assertThat(r.options().ignoreRoles()).containsExactly("x");
        org.assertj.core.api.Assertions.assertThat(new String(Json.write(r.options()), java.nio.charset.StandardCharsets.UTF_8))
                .contains("\"roles\":\"used\"").contains("\"ignore_roles\":[\"x\"]");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Json.readRequest(("{\"source\": {\"host\": \"a\", \"user\": \"u\"},"
                        + " \"target\": {\"host\": \"b\", \"user\": \"u\"}, \"options\": {\"roles\": \"some\"}}")
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8)))
                .hasMessageContaining("roles must be 'all' or 'used'");
    }

    @Test
    void ledgerEntriesRoundTrip() {
        LedgerEntry e = LedgerEntry.running(3, true);
        org.assertj.core.api.Assertions.assertThat(Json.read(Json.write(e), LedgerEntry.class)).isEqualTo(e);
        LedgerEntry done = LedgerEntry.done(3, true, "syncing").asPublished();
        org.assertj.core.api.Assertions.assertThat(Json.read(Json.write(done), LedgerEntry.class)).isEqualTo(done);
        org.assertj.core.api.Assertions.assertThat(done.published()).isTrue();
        org.assertj.core.api.Assertions.assertThat(done.finalState()).isEqualTo("syncing");
        LedgerEntry roles = Json.read(Json.write(LedgerEntry.rolesDone(java.util.List.of("su"), java.util.List.of("app"))),
                LedgerEntry.class);
        org.assertj.core.api.Assertions.assertThat(roles.missing()).containsExactly("su");
        org.assertj.core.api.Assertions.assertThat(roles.createdRoles()).containsExactly("app");
        // an entry written before created_roles existed reads as none created
        String before = new String(Json.write(LedgerEntry.rolesDone(java.util.List.of("su"), java.util.List.of())),
                java.nio.charset.StandardCharsets.UTF_8).replaceAll(",?\"created_roles\":\\[\\]", "");
        org.assertj.core.api.Assertions.assertThat(before).doesNotContain("created_roles").contains("\"missing\"");
        org.assertj.core.api.Assertions.assertThat(Json.read(before.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                LedgerEntry.class).createdRoles()).isEmpty();
        org.assertj.core.api.Assertions.assertThat(LedgerEntry.databaseKey("m-1", "roles:x"))
                .isNotEqualTo(LedgerEntry.rolesKey("m-1"));
    }
}
