package dev.pgferry.worker.roles;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ReservedRolesTest {

    @Test
    void platformRolesAreReservedAndUsersRolesWithSimilarNamesAreNot() {
        assertThat(java.util.List.of("pg_read_all_data", "rds_superuser", "rdsadmin", "rdstopmgr", "rdsrepladmin",
                "cloudsqlsuperuser", "alloydbadmin", "azure_pg_admin", "azuresu", "_aiven"))
                .allSatisfy(r -> assertThat(ReservedRoles.isReserved(r)).as(r).isTrue());
        assertThat(java.util.List.of("rdsync_app", "azureus", "app_pg_reader", "postgres", "avnadmin", "cloud_app"))
                .allSatisfy(r -> assertThat(ReservedRoles.isReserved(r)).as(r).isFalse());
    }
}
