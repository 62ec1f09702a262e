package dev.pgferry.worker.schema;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Which post-data entries may run one after another on one session (lines as {@code pg_restore -l} writes them). */
class PostDataPlanTest {
    static final List<String> LIGHT = List.of(
            "4482; 3381 17085 STATISTICS app accounts_stats postgres",
            "4659; 0 0 COMMENT app STATISTICS accounts_stats postgres",
            "4628; 2618 17152 RULE app rich log_rich postgres",
            "4484; 2620 17154 TRIGGER app audit audit_touch postgres",
            "4662; 0 0 COMMENT app CONSTRAINT other_fk ON pairs postgres",
            "4635; 0 17073 ROW SECURITY app accounts corner_owner",
            "4636; 3256 17083 POLICY app accounts own_rows corner_owner",
            "3256; 826 17084 DEFAULT ACL app DEFAULT PRIVILEGES FOR TABLES corner_owner",
            "4446; 3466 17156 EVENT TRIGGER - corner_ddl postgres");

    @Test
    void catalogOnlyEntriesAreLightAndIndexBuildsOrKeyChecksAreNot() {
        assertThat(PostDataPlan.light(LIGHT)).isTrue();
        assertThat(PostDataPlan.light(List.of())).isTrue();
        for (String heavy : List.of("4467; 1259 17129 INDEX app events_at_idx postgres",
                "4479; 0 0 INDEX ATTACH app events_eu_2026_at_idx postgres",
                "4490; 2606 17140 FK CONSTRAINT app pairs other_fk postgres",
                "4491; 2606 17141 CONSTRAINT app t t_excl postgres",
                "4492; 0 17142 MATERIALIZED VIEW DATA app mood_counts postgres",
                "not a line")) {
            List<String> toc = new java.util.ArrayList<>(LIGHT);
            toc.add(heavy);
            assertThat(PostDataPlan.light(toc)).as(heavy).isFalse();
        }
    }

    @Test
    void privilegesAreToldApart() {
        assertThat(LIGHT.stream().filter(PostDataPlan::isPrivilege).toList())
                .containsExactly("3256; 826 17084 DEFAULT ACL app DEFAULT PRIVILEGES FOR TABLES corner_owner");
        assertThat(PostDataPlan.isPrivilege("4500; 0 0 ACL app TABLE accounts postgres")).isTrue();
        assertThat(PostDataPlan.isPrivilege("4501; 0 0 COMMENT app TABLE acl postgres")).isFalse();
    }
}
