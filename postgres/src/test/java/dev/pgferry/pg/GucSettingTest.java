package dev.pgferry.pg;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

class GucSettingTest {

    @Test
    void listSettingsAreSetAsOneLiteralPerElement() {
        // as stored after ALTER ROLE app SET search_path TO 'app', 'public'
        assertThat(GucSetting.parse("search_path=app, public").toSql()).isEqualTo("\"search_path\" TO 'app', 'public'");
        assertThat(GucSetting.parse("search_path=\"$user\", public").toSql())
                .isEqualTo("\"search_path\" TO '$user', 'public'");
        assertThat(GucSetting.parse("temp_tablespaces=\"we \"\"ird\", b").toSql())
                .isEqualTo("\"temp_tablespaces\" TO 'we \"ird', 'b'");
    }

    @Test
    void otherSettingsAreOneLiteralWhateverTheyHold() {
        assertThat(GucSetting.parse("work_mem=12MB").toSql()).isEqualTo("\"work_mem\" TO '12MB'");
        assertThat(GucSetting.parse("application_name=a, b").toSql()).isEqualTo("\"application_name\" TO 'a, b'");
        assertThat(GucSetting.parse("myapp.tenant=it's=1").toSql()).isEqualTo("\"myapp.tenant\" TO 'it''s=1'");
    }

    @Test
    void splitsAsPostgresDoes() {
        assertThat(GucSetting.splitList("")).contains(List.of());
        assertThat(GucSetting.splitList("  a ,b,\"C\"  ")).contains(List.of("a", "b", "C"));
        assertThat(GucSetting.splitList("a,,b")).isEqualTo(Optional.empty());
        assertThat(GucSetting.splitList("\"open")).isEqualTo(Optional.empty());
    }
}
