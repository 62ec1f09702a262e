package dev.pgferry.worker.roles;

import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Privileges on configuration parameters ({@code GRANT SET | ALTER SYSTEM ON PARAMETER}, PostgreSQL 15 and later),
 * which {@code pg_dumpall --globals-only} carries with the roles: a role allowed to set a superuser-only parameter
 * (as {@code log_statement}) on the source would otherwise get 42501 on the target. Which grants: those to the roles
 * a migration selects and to PUBLIC. Stateless.
 */
final class ParameterPrivileges {
    /** {@code privilege} (SET or ALTER SYSTEM) on {@code parameter} to {@code grantee}, a role, or PUBLIC when null. */
    record Grant(String parameter, String grantee, String privilege, boolean grantable) {
        String sql() {
            return "GRANT " + privilege + " ON PARAMETER " + Sql.ident(parameter) + " TO " + who()
                    + (grantable ? " WITH GRANT OPTION" : "");
        }

        String revoke() {
            return "REVOKE " + privilege + " ON PARAMETER " + Sql.ident(parameter) + " FROM " + who();
        }

        String describe() {
            return privilege + " ON PARAMETER " + parameter + " TO " + (grantee == null ? "PUBLIC" : grantee)
                    + (grantable ? " WITH GRANT OPTION" : "");
        }

        private String who() {
            return grantee == null ? "PUBLIC" : Sql.ident(grantee);
        }
    }

    private ParameterPrivileges() {
    }

    /** Every privilege granted on a parameter; none before 15, which has no such privileges. */
    static Set<Grant> read(Connection c) throws SQLException {
        Set<Grant> out = new LinkedHashSet<>();
        if (ServerCatalog.majorVersion(c) < 15) {
            return out;
        }
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT p.parname, pg_catalog.pg_get_userbyid(NULLIF(a.grantee, 0)),"
                     + " a.privilege_type, a.is_grantable FROM pg_catalog.pg_parameter_acl p,"
                     // (not the bootstrap superuser's own, which every ACL of a parameter lists once it is set)
                     + " LATERAL pg_catalog.aclexplode(p.paracl) a WHERE a.grantee <> 10 ORDER BY 1, 2, 3")) {
            while (rs.next()) {
                out.add(new Grant(rs.getString(1), rs.getString(2), rs.getString(3), rs.getBoolean(4)));
            }
        }
        return out;
    }

    /** The grants of {@code all} that go with a migration selecting {@code selected}. */
    static List<Grant> wanted(Set<Grant> all, Set<String> selected) {
        return all.stream().filter(g -> g.grantee() == null || selected.contains(g.grantee())).toList();
    }

    /**
     * Gives the target the source's grants to PUBLIC and to the roles of {@code managed} (created or kept up to
     * date by this migration); a role of {@code managed} also loses a grant the source no longer has. A role that
     * existed on the target before is not altered: a grant it lacks is reported. Grants the target user may not
     * give (it is not a superuser and holds no grant option) are reported together, with the statements a
     * superuser of the target can run. Returns the roles whose grants changed.
     */
    static Set<String> copy(Connection src, Connection dst, Set<String> selected, Set<String> managed,
                            Set<String> existedBefore, Consumer<String> warn) throws SQLException {
        List<Grant> wanted = wanted(read(src), selected);
        Set<String> changed = new LinkedHashSet<>();
        if (wanted.isEmpty() && managed.isEmpty()) {
            return changed;
        }
        int targetMajor = ServerCatalog.majorVersion(dst);
        if (targetMajor < 15) {
            if (!wanted.isEmpty()) {
                warn.accept("privileges on parameters not copied: the target (PostgreSQL " + targetMajor + ") has none"
                        + " before 15: " + String.join("; ", wanted.stream().map(Grant::describe).toList()));
            }
            return changed;
        }
        Set<Grant> there = read(dst);
        // (revoked first: a grant option the source no longer gives goes with its privilege, which is granted again)
        Set<Grant> keep = Set.copyOf(wanted);
        for (Grant g : there) {
            if (g.grantee() != null && managed.contains(g.grantee()) && !keep.contains(g)) {
                try (Statement s = dst.createStatement()) {
                    s.execute(g.revoke());
                    changed.add(g.grantee());
                } catch (SQLException e) {
                    warn.accept("privilege " + g.describe() + ", gone on the source, not revoked: " + SqlStates.describe(e));
                }
            }
        }
        List<Grant> refused = new ArrayList<>();
        String refusal = null;
        for (Grant g : wanted) {
            if (there.contains(g)) {
                continue;
            }
            if (g.grantee() != null && !managed.contains(g.grantee())) {
                if (existedBefore.contains(g.grantee())) {
                    warn.accept("role " + g.grantee() + " already exists on the target and was left as it is; it lacks"
                            + " " + g.privilege() + " on parameter " + g.parameter() + ", which it has on the source");
                }
                continue;
            }
            try (Statement s = dst.createStatement()) {
                s.execute(g.sql());
                if (g.grantee() != null) {
                    changed.add(g.grantee());
                }
            } catch (SQLException e) {
                if (!SqlStates.INSUFFICIENT_PRIVILEGE.equals(e.getSQLState())) {
                    warn.accept("privilege " + g.describe() + " not copied: " + SqlStates.describe(e));
                    continue;
                }
                refused.add(g);
                refusal = e.getSQLState();
            }
        }
        if (!refused.isEmpty()) {
            warn.accept(refused.size() + " privilege(s) on parameters not copied, the target user may not grant them ("
                    + "SQLSTATE " + refusal + "); a superuser of the target can run: "
                    + String.join("; ", refused.stream().map(Grant::sql).toList()));
        }
        return changed;
    }

    /** One line per grant of the source's that the target lacks. */
    static List<String> differences(Connection src, Connection dst, Set<String> selected) throws SQLException {
        Set<Grant> there = read(dst);
        return wanted(read(src), selected).stream().filter(g -> !there.contains(g))
                .map(g -> "privilege " + g.describe() + " is missing on the target").toList();
    }
}
