package dev.pgferry.worker.roles;

import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.pg.ServerCatalog;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Compares the roles a migration selects ({@link RoleCopier}) between source and target: each must exist with the
 * same attributes, settings, comment and (when both servers let the user read {@code pg_authid}, and but for the
 * target's own connecting user) password hash,
 * and each of its memberships and privileges on parameters must exist (those to PUBLIC too). Memberships the target has beyond the source's are not differences (a
 * target user that is not a superuser is a member of every role it created, as PostgreSQL requires). Stateless.
 */
public final class RoleComparison {
    private RoleComparison() {
    }

    /** One line per difference; empty when the roles match. */
    public static List<String> differences(Connection src, Connection dst, MigrationRequest request) throws SQLException {
        Map<String, RoleCopier.Role> source = RoleCopier.readRoles(src);
        List<RoleCopier.Membership> memberships = RoleCopier.readMemberships(src);
        Set<String> selected = RoleCopier.select(src, request, source, memberships);
        Map<String, RoleCopier.Role> target = RoleCopier.readRoles(dst);
        Map<String, String> sourcePasswords = passwords(src);
        Map<String, String> targetPasswords = passwords(dst);
        String targetUser = dst.getMetaData().getUserName();
        List<String> out = new ArrayList<>();
        for (String name : selected) {
            RoleCopier.Role s = source.get(name);
            RoleCopier.Role t = target.get(name);
            if (t == null) {
                out.add("role " + name + " is missing on the target");
                continue;
            }
            if (!s.comparable().equals(t.comparable())) {
                out.add("role " + name + ": " + s.comparable() + " on the source, " + t.comparable() + " on the target");
            }
            if (!s.settings().equals(t.settings())) {
                out.add("role " + name + ": settings " + s.settings() + " on the source, " + t.settings() + " on the target");
            }
            if (!Objects.equals(s.comment(), t.comment())) {
                out.add("role " + name + ": comment differs");
            }
            // The target user's own password is the target's credential, never copied; others are copied as hashes.
            if (sourcePasswords != null && targetPasswords != null && !name.equals(targetUser)
                    && !Objects.equals(sourcePasswords.get(name), targetPasswords.get(name))) {
                out.add("role " + name + ": password differs");
            }
        }
        Set<String> targetEdges = new HashSet<>();
        for (RoleCopier.Membership m : RoleCopier.readMemberships(dst)) {
            targetEdges.add(m.group() + "\u0000" + m.member() + "\u0000" + m.admin());
        }
        for (RoleCopier.Membership m : memberships) {
            if (selected.contains(m.member()) && (selected.contains(m.group()) || ReservedRoles.isReserved(m.group()))
                    && !targetEdges.contains(m.group() + "\u0000" + m.member() + "\u0000" + m.admin())) {
                out.add("membership of " + m.member() + " in " + m.group() + (m.admin() ? " WITH ADMIN OPTION" : "")
                        + " is missing on the target");
            }
        }
        out.addAll(ParameterPrivileges.differences(src, dst, selected));
        return out;
    }

    /** Password hashes, or null when the user may not read them. */
    private static Map<String, String> passwords(Connection c) throws SQLException {
        if (!ServerCatalog.isSuperuser(c)) {
            return null;
        }
        Map<String, String> out = new HashMap<>();
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT rolname, rolpassword FROM pg_catalog.pg_authid")) {
            while (rs.next()) {
                out.put(rs.getString(1), rs.getString(2));
            }
        }
        return out;
    }
}
