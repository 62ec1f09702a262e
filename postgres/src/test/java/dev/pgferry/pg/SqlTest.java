package dev.pgferry.pg;

import dev.pgferry.messages.Connection;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SqlTest {
    @Test
    void quotesIdentifiersSoThatNoneCanEscape() {
        assertThat(Sql.ident("a\"; DROP TABLE x; --")).isEqualTo("\"a\"\"; DROP TABLE x; --\"");
        assertThat(Sql.qualified("Sch", "Tä b")).isEqualTo("\"Sch\".\"Tä b\"");
        assertThat(Sql.literal("it's")).isEqualTo("'it''s'");
        assertThatThrownBy(() -> Sql.ident("")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void classifiesSqlStatesForRetry() {
        assertThat(SqlStates.retriable("08006")).isTrue();
        assertThat(SqlStates.retriable("57P01")).isTrue();
        assertThat(SqlStates.retriable("40P01")).isTrue();
        assertThat(SqlStates.retriable("28P01")).isFalse();
        assertThat(SqlStates.retriable("42P01")).isFalse();
        assertThat(SqlStates.retriable(null)).isFalse();
        assertThat(SqlStates.codeFor("28P01", ErrorCode.COPY_FAILED)).isEqualTo(ErrorCode.AUTH_FAILED);
        assertThat(SqlStates.codeFor("3D000", ErrorCode.COPY_FAILED)).isEqualTo(ErrorCode.DATABASE_MISSING);
        assertThat(SqlStates.codeFor("23505", ErrorCode.COPY_FAILED)).isEqualTo(ErrorCode.COPY_FAILED);
    }

    @Test
    void resolvesPasswordReferencesAndNamesOnlyTheReferenceOnFailure() throws Exception {
        Path file = Files.createTempFile("pw", ".txt");
        Files.writeString(file, "from-file\n");
        Secrets secrets = Secrets.of(Map.of("PW", "from-env"));

        assertThat(secrets.password(new Connection("h", 1, "d", "u", null, "env:PW", null))).isEqualTo("from-env");
        assertThat(secrets.password(new Connection("h", 1, "d", "u", null, "file:" + file, null))).isEqualTo("from-file");
        assertThat(secrets.password(new Connection("h", 1, "d", "u", "inline", null, null))).isEqualTo("inline");
        assertThatThrownBy(() -> secrets.password(new Connection("h", 1, "d", "u", null, "env:NOPE", null)))
                .isInstanceOf(MigrationException.class).hasMessageContaining("NOPE is not set");
    }

    @Test
    void unreachableServerGivesCodedErrorWithoutPassword() {
        PgConnector c = new PgConnector(new Connection("127.0.0.1", 1, "postgres", "u", "Sup3r-Secret", null, null),
                Side.TARGET, "test", Secrets.system());

        assertThatThrownBy(c::open).isInstanceOf(MigrationException.class)
                .hasMessageContaining("cannot connect to target u@127.0.0.1:1/postgres")
                .hasMessageNotContaining("Sup3r-Secret")
                .extracting(e -> ((MigrationException) e).code()).isEqualTo(ErrorCode.TARGET_UNREACHABLE);
        assertThat(c.libpqEnv("db")).containsEntry("PGPASSWORD", "Sup3r-Secret").containsEntry("PGDATABASE", "db");
    }

    @Test
    void sealedPasswordsOpenOnlyWithTheSameKey() {
        Connection inline = new Connection("h", 1, "d", "u", "Sealed-Pw-99", null, null);
        Secrets keyed = Secrets.of(Map.of("PGFERRY_SECRET_KEY", Secrets.newKey()));

        Connection sealed = keyed.seal(inline);

        assertThat(sealed.password()).isNull();
        assertThat(sealed.passwordRef()).startsWith("sealed:v1:").doesNotContain("Sealed-Pw-99");
        assertThat(sealed.toString()).doesNotContain("sealed:v1:");
        assertThat(keyed.password(sealed)).isEqualTo("Sealed-Pw-99");
        assertThat(Secrets.of(Map.of()).seal(inline)).isSameAs(inline);
        assertThatThrownBy(() -> Secrets.of(Map.of()).password(sealed))
                .isInstanceOf(MigrationException.class).hasMessageContaining("no pgferry secret key");
        assertThatThrownBy(() -> Secrets.of(Map.of("PGFERRY_SECRET_KEY", Secrets.newKey())).password(sealed))
                .isInstanceOf(MigrationException.class).hasMessageContaining("cannot be opened")
                .hasMessageNotContaining("Sealed-Pw-99");
    }
}
