package dev.pgferry.worker.roles;

import java.util.List;
import java.util.regex.Pattern;

/**
 * The roles pgferry never creates on a target, in one place (the README lists them): PostgreSQL's predefined roles
 * and the platform roles of managed services, which the target's platform provides or forbids. Memberships
 * <em>in</em> a predefined role that the target has (e.g. {@code GRANT pg_read_all_data TO app}) are still copied.
 */
public final class ReservedRoles {
    /** Name patterns, each with who reserves it. */
    public static final List<Pattern> PATTERNS = List.of(
            Pattern.compile("pg_.*"),           // PostgreSQL's predefined roles (CREATE ROLE refuses the prefix)
            // Amazon RDS / Aurora: rds_superuser, rds_replication, rds_password, rds_iam, ..., rdsadmin, rdstopmgr,
            // rdsrepladmin. Exact names, not "rds.*": a user's own role such as rdsync_app must still arrive.
            Pattern.compile("rds_.*|rdsadmin|rdstopmgr|rdsrepladmin"),
            Pattern.compile("cloudsql.*"),      // Google Cloud SQL: cloudsqladmin, cloudsqlsuperuser, cloudsqlagent, ...
            Pattern.compile("alloydb.*"),       // Google AlloyDB: alloydbadmin, alloydbsuperuser, alloydbreplica, ...
            Pattern.compile("azure_.*|azuresu"), // Azure Database for PostgreSQL: azure_superuser, azure_pg_admin, azuresu
            Pattern.compile("_aiven.*"));       // Aiven's own administration roles

    private ReservedRoles() {
    }

    public static boolean isReserved(String role) {
        return PATTERNS.stream().anyMatch(p -> p.matcher(role).matches());
    }
}
