package dev.pgferry.worker.roles;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationOptions.RoleScope;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.pg.GucSetting;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.ServerCatalog;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * Creates the source server's roles on the target, as {@code pg_dumpall --roles-only} would: attributes, comments,
 * settings ({@code ALTER ROLE ... SET}, list values such as {@code search_path} kept as lists), password hashes when
 * the source user may read {@code pg_authid}, and memberships (ADMIN option; INHERIT and SET options between
 * servers of 16 or later; the grantor where the target allows it), and their privileges on configuration parameters
 * ({@link ParameterPrivileges}). Which roles: every role but the reserved ones
 * ({@link ReservedRoles}) and {@code ignore_roles}, or with {@code roles = used} the roles the migrated databases use
 * and every role connected to those by membership, in either direction (so a login role that gets its privileges
 * through a group arrives with it). A role that already exists on the target is never altered, unless this
 * migration created it ({@code ours}, at a cut-over): a difference in its attributes or a membership it lacks is
 * reported as a warning naming it. One of {@code ours} is brought up to date with the source instead: attributes,
 * password, settings, comment, and memberships granted or revoked. A role that cannot be created is a
 * warning, never a failure. Per-database role settings go with their database ({@code DatabaseProperties}).
 * Runs once per migration (the caller keeps that in the ledger). Stateless.
 */
public final class RoleCopier {
    /** One source role and what {@code CREATE ROLE} needs to recreate it. */
    record Role(long oid, String name, boolean superuser, boolean inherit, boolean createRole, boolean createDb,
                boolean login, boolean replication, boolean bypassRls, int connectionLimit, String validUntil,
                String comment, List<String> settings) {

        String attributes(boolean withPrivileged) {
            StringBuilder a = new StringBuilder();
            a.append(superuser ? "SUPERUSER" : "NOSUPERUSER");
            a.append(inherit ? " INHERIT" : " NOINHERIT");
            a.append(createRole ? " CREATEROLE" : " NOCREATEROLE");
            a.append(createDb ? " CREATEDB" : " NOCREATEDB");
            a.append(login ? " LOGIN" : " NOLOGIN");
            a.append(replication && withPrivileged ? " REPLICATION" : " NOREPLICATION");
            a.append(bypassRls && withPrivileged ? " BYPASSRLS" : " NOBYPASSRLS");
            a.append(" CONNECTION LIMIT ").append(connectionLimit);
            if (validUntil != null) {
                a.append(" VALID UNTIL ").append(Sql.literal(validUntil));
            }
            return a.toString();
        }

        /** The attributes compared between an existing target role and its source namesake. */
        String comparable() {
            return attributes(true);
        }
    }

    /** One membership: {@code member} is a member of {@code group}. Options of 16+ are null on older servers. */
    record Membership(String group, String member, String grantor, boolean admin, Boolean inherit, Boolean set) {
    }

    /**
     * What happened: roles created; roles the migration selected that the target user cannot use as owners, because
     * they could not be created or exist without the target user being a member (statements naming them are
     * tolerated by the restores); login roles that arrived without a password; roles of {@code ours} changed.
     */
    public record Result(List<String> created, Set<String> missing, List<String> withoutPassword, List<String> updated) {
    }

    private RoleCopier() {
    }

    /**
     * Copies the roles {@code request} selects; each problem is passed to {@code warn}. When the target user is
     * not a superuser it is made a member of each role it creates, as PostgreSQL requires for giving that role
     * ownership of databases and objects.
     */
    public static Result copy(PgConnector source, PgConnector target, MigrationRequest request, Set<String> ours,
                              Consumer<String> warn) {
        try (Connection src = source.open(); Connection dst = target.open()) {
            Map<String, Role> all = readRoles(src);
            List<Membership> memberships = readMemberships(src);
            Set<String> selected = select(src, request, all, memberships);
            // (null when the source user may not read them)
            Map<String, String> passwords = readPasswords(src);
            Map<String, String> sourcePasswords = passwords == null ? Map.of() : passwords;
            boolean superuser = ServerCatalog.isSuperuser(dst);
            int targetMajor = ServerCatalog.majorVersion(dst);
            Map<String, Role> existing = readRoles(dst);
            String targetUser = currentUser(dst);

            List<String> created = new ArrayList<>();
            Set<String> missing = new TreeSet<>();
            List<String> withoutPassword = new ArrayList<>();
            List<String> updated = new ArrayList<>();
            // (empty when the target user may not read them: each password of ours is then set again)
            Map<String, String> readOnTarget = ours.isEmpty() ? null : readPasswords(dst);
            Map<String, String> targetPasswords = readOnTarget == null ? Map.of() : readOnTarget;
            for (String name : selected) {
                Role role = all.get(name);
                Role there = existing.get(name);
                if (there != null && ours.contains(name) && !name.equals(targetUser)) {
                    if (update(dst, role, there, sourcePasswords.get(name), targetPasswords.get(name), warn)) {
                        updated.add(name);
                    }
                    continue;
                }
                if (there != null) {
                    if (!name.equals(targetUser) && !there.comparable().equals(role.comparable())) {
                        warn.accept("role " + name + " already exists on the target and was left as it is; it differs"
                                + " from the source: " + there.comparable() + " on the target, " + role.comparable()
                                + " on the source");
                    }
                    if (!superuser && !name.equals(targetUser) && !isMember(dst, name)) {
                        // ALTER ... OWNER TO needs membership; pgferry does not change the user's existing roles
                        missing.add(name);
                        warn.accept(notMember(name, targetUser));
                    }
                    continue;
                }
                if (!create(dst, role, targetUser, warn)) {
                    missing.add(name);
                    continue;
                }
                created.add(name);
                if (!superuser) {
                    execute(dst, "GRANT " + Sql.ident(name) + " TO CURRENT_USER");
                }
                // A login role without a password on the source (trust, peer or certificate authentication) arrives
                // as it is; one whose password could not be read or set arrives without it, and is listed.
                if (!setPassword(dst, role, sourcePasswords.get(name), warn) && role.login()
                        && (passwords == null || passwords.containsKey(name))) {
                    withoutPassword.add(name);
                }
                for (String stored : role.settings()) {
                    GucSetting setting = GucSetting.parse(stored);
                    tryExecute(dst, "ALTER ROLE " + Sql.ident(name) + " SET " + setting.toSql(),
                            "role " + name + ": setting " + setting.name() + " not copied", warn);
                }
                if (role.comment() != null) {
                    tryExecute(dst, "COMMENT ON ROLE " + Sql.ident(name) + " IS " + Sql.literal(role.comment()),
                            "role " + name + ": comment not copied", warn);
                }
            }
            // Roles left out by --ignore-roles that the target lacks but the databases use: a statement naming one
            // (an owner, a grant, a user mapping) is skipped and reported, as for a role that could not be created,
            // instead of failing the database. (Only those: any missing role makes the restore go statement by
            // statement.)
            List<String> ignoredAbsent = request.options().ignoreRoles().stream()
                    .filter(n -> all.containsKey(n) && !existing.containsKey(n)).toList();
            // So are a managed service's own roles (rds_superuser, ...) that the target lacks: pgferry never makes them
            Set<String> onTarget = ServerCatalog.roleNames(dst);
            List<String> reservedAbsent = ServerCatalog.roleNames(src).stream().filter(ReservedRoles::isReserved).sorted()
                    .filter(n -> !onTarget.contains(n)).toList();
            if (!ignoredAbsent.isEmpty() || !reservedAbsent.isEmpty()) {
                Set<String> used = usedRoles(src, request);
                List<String> usedAbsent = ignoredAbsent.stream().filter(used::contains).toList();
                missing.addAll(usedAbsent);
                if (!usedAbsent.isEmpty()) {
                    warn.accept("role(s) " + String.join(", ", usedAbsent) + ", left out by --ignore-roles, are used by"
                            + " the migrated databases and do not exist on the target: objects they own belong to "
                            + targetUser + ", and grants and user mappings naming them are skipped (each reported)");
                }
                List<String> reservedUsed = reservedAbsent.stream().filter(used::contains).toList();
                missing.addAll(reservedUsed);
                if (!reservedUsed.isEmpty()) {
                    warn.accept("role(s) " + String.join(", ", reservedUsed) + ", the source service's own, are used by"
                            + " the migrated databases and do not exist on the target: objects they own belong to "
                            + targetUser + ", and grants naming them are skipped (each reported)");
                }
            }
            Set<String> managed = new HashSet<>(created);
            ours.stream().filter(existing::containsKey).forEach(managed::add);
            for (String member : copyMemberships(dst, memberships, selected, managed, existing.keySet(), superuser,
                    targetMajor, warn)) {
                if (ours.contains(member) && !updated.contains(member)) {
                    updated.add(member);
                }
            }
            for (String grantee : ParameterPrivileges.copy(src, dst, selected, managed, existing.keySet(), warn)) {
                if (ours.contains(grantee) && !updated.contains(grantee)) {
                    updated.add(grantee);
                }
            }
            if (!withoutPassword.isEmpty()) {
                warn.accept(withoutPassword.size() + " login role(s) arrived without a password, because "
                        + (passwords == null ? "the source user may not read pg_authid"
                                : "the target refused the stored hash (see the warning for each)")
                        + ": " + String.join(", ", withoutPassword)
                        + "; set each with ALTER ROLE name PASSWORD '...' on the target");
            }
            return new Result(created, missing, withoutPassword, updated);
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.INTERNAL, "copying roles", e);
        }
    }

    /**
     * What {@link #copy} would meet, read without changing anything (for {@code pgferry check}): per selected role
     * that the target user will not be able to create as it is, or to make an owner, why and what happens then.
     * Empty when every role can arrive as it is.
     */
    public static List<String> foresee(Connection src, Connection dst, MigrationRequest request) throws SQLException {
        Map<String, Role> all = readRoles(src);
        Set<String> selected = select(src, request, all, readMemberships(src));
        boolean superuser = ServerCatalog.isSuperuser(dst);
        if (superuser) {
            return List.of();
        }
        String targetUser = currentUser(dst);
        List<String> out = new ArrayList<>();
        boolean createRole;
        try (Statement s = dst.createStatement();
             ResultSet rs = s.executeQuery("SELECT rolcreaterole FROM pg_catalog.pg_roles WHERE rolname = CURRENT_USER")) {
            createRole = rs.next() && rs.getBoolean(1);
        }
        Map<String, Role> existing = readRoles(dst);
        for (String name : selected) {
            Role role = all.get(name);
            if (name.equals(targetUser)) {
                continue;
            }
            if (existing.containsKey(name)) {
                if (!isMember(dst, name)) {
                    out.add(notMember(name, targetUser));
                }
            } else if (!createRole) {
                out.add("role " + name + " cannot be created: " + targetUser + " has neither SUPERUSER nor CREATEROLE"
                        + " on the target; objects it owns will belong to " + targetUser);
            } else if (role.superuser()) {
                out.add("role " + name + " cannot be created: it is a superuser on the source, and only a superuser may"
                        + " create one; objects it owns will belong to " + targetUser + " (or leave it out with"
                        + " --ignore-roles " + name + ")");
            } else if (role.replication() || role.bypassRls()) {
                out.add("role " + name + " will be created without" + (role.replication() ? " REPLICATION" : "")
                        + (role.bypassRls() ? " BYPASSRLS" : "") + ": only a superuser may grant "
                        + (role.replication() && role.bypassRls() ? "them" : "it"));
            }
        }
        return out;
    }

    /**
     * What {@link #copy} would meet with the privileges on parameters the request selects (for {@code pgferry
     * check}): null when each can be granted, else why not and the statements a superuser of the target can run.
     */
    public static String foreseeParameterPrivileges(Connection src, Connection dst, MigrationRequest request)
            throws SQLException {
        List<ParameterPrivileges.Grant> grants = ParameterPrivileges.wanted(ParameterPrivileges.read(src),
                select(src, request, readRoles(src), readMemberships(src)));
        if (grants.isEmpty()) {
            return null;
        }
        int targetMajor = ServerCatalog.majorVersion(dst);
        if (targetMajor < 15) {
            return grants.size() + " privilege(s) on parameters will not arrive: the target (PostgreSQL " + targetMajor
                    + ") has none before 15";
        }
        if (ServerCatalog.isSuperuser(dst)) {
            return null;
        }
        return grants.size() + " privilege(s) on parameters may not arrive: only a superuser (or a holder of the grant"
                + " option) may grant them, and " + currentUser(dst) + " is not one; a superuser of the target can"
                + " run: " + String.join("; ", grants.stream().map(ParameterPrivileges.Grant::sql).toList());
    }

    /** Every role of a server but the reserved ones, by name in creation (oid) order. */
    static Map<String, Role> readRoles(Connection c) throws SQLException {
        Map<String, Role> roles = new LinkedHashMap<>();
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT r.oid, r.rolname, r.rolsuper, r.rolinherit, r.rolcreaterole,"
                     + " r.rolcreatedb, r.rolcanlogin, r.rolreplication, r.rolbypassrls, r.rolconnlimit,"
                     // In UTC: the sessions of two servers may show one instant in different time zones.
                     + " CASE WHEN r.rolvaliduntil IS NULL OR NOT pg_catalog.isfinite(r.rolvaliduntil)"
                     + " THEN r.rolvaliduntil::text ELSE (r.rolvaliduntil AT TIME ZONE 'UTC')::text || '+00' END,"
                     + " pg_catalog.shobj_description(r.oid, 'pg_authid'),"
                     + " (SELECT setconfig FROM pg_catalog.pg_db_role_setting WHERE setrole = r.oid AND setdatabase = 0)"
                     + " FROM pg_catalog.pg_roles r ORDER BY r.oid")) {
            while (rs.next()) {
                String name = rs.getString(2);
                if (ReservedRoles.isReserved(name)) {
                    continue;
                }
                roles.put(name, new Role(rs.getLong(1), name, rs.getBoolean(3), rs.getBoolean(4), rs.getBoolean(5),
                        rs.getBoolean(6), rs.getBoolean(7), rs.getBoolean(8), rs.getBoolean(9), rs.getInt(10),
                        rs.getString(11), rs.getString(12), strings(rs.getArray(13))));
            }
        }
        return roles;
    }

    /** Every membership of a server (reserved groups included: pg_read_all_data and the like). */
    static List<Membership> readMemberships(Connection c) throws SQLException {
        boolean options = ServerCatalog.majorVersion(c) >= 16;
        List<Membership> out = new ArrayList<>();
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT g.rolname, m.rolname, gr.rolname, am.admin_option"
                     + (options ? ", am.inherit_option, am.set_option" : "")
                     + " FROM pg_catalog.pg_auth_members am JOIN pg_catalog.pg_roles g ON g.oid = am.roleid"
                     + " JOIN pg_catalog.pg_roles m ON m.oid = am.member"
                     + " LEFT JOIN pg_catalog.pg_roles gr ON gr.oid = am.grantor ORDER BY am.roleid, am.member")) {
            while (rs.next()) {
                out.add(new Membership(rs.getString(1), rs.getString(2), rs.getString(3), rs.getBoolean(4),
                        options ? rs.getBoolean(5) : null, options ? rs.getBoolean(6) : null));
            }
        }
        return out;
    }

    /** The roles the request selects, in creation order. */
    static Set<String> select(Connection src, MigrationRequest request, Map<String, Role> all,
                                      List<Membership> memberships) throws SQLException {
        Set<String> ignored = Set.copyOf(request.options().ignoreRoles());
        Set<String> wanted = new HashSet<>(all.keySet());
        if (request.options().roles() == RoleScope.USED) {
            wanted = connected(usedRoles(src, request), memberships);
        }
        Set<String> out = new java.util.LinkedHashSet<>();
        for (String name : all.keySet()) {
            if (wanted.contains(name) && !ignored.contains(name)) {
                out.add(name);
            }
        }
        return out;
    }

    /**
     * Owners of the migrated databases, every role that owns an object or holds a privilege in one (or on one),
     * and every role with settings in one.
     */
    private static Set<String> usedRoles(Connection src, MigrationRequest request) throws SQLException {
        List<String> databases = ServerCatalog.migratedDatabases(src, request::ignores);
        Set<String> used = new HashSet<>();
        // A database's own ACL is a shared object's: its pg_shdepend rows have dbid 0 and name the database as objid.
        try (PreparedStatement ps = src.prepareStatement("""
                WITH dbs AS (SELECT oid, datdba FROM pg_catalog.pg_database WHERE datname = ANY (?))
                SELECT pg_catalog.pg_get_userbyid(datdba) FROM dbs
                UNION
                SELECT pg_catalog.pg_get_userbyid(sd.refobjid) FROM pg_catalog.pg_shdepend sd
                 WHERE sd.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass
                   AND (sd.dbid IN (SELECT oid FROM dbs)
                        OR (sd.classid = 'pg_catalog.pg_database'::pg_catalog.regclass AND sd.objid IN (SELECT oid FROM dbs)))
                UNION
                SELECT pg_catalog.pg_get_userbyid(s.setrole) FROM pg_catalog.pg_db_role_setting s
                 WHERE s.setrole <> 0 AND s.setdatabase IN (SELECT oid FROM dbs)""")) {
            Array names = src.createArrayOf("text", databases.toArray());
            ps.setArray(1, names);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    used.add(rs.getString(1));
                }
            }
        }
        return used;
    }

    /** {@code start} and every role connected to it by memberships, in either direction, transitively. */
    static Set<String> connected(Set<String> start, List<Membership> memberships) {
        Set<String> seen = new HashSet<>(start);
        Deque<String> todo = new ArrayDeque<>(start);
        while (!todo.isEmpty()) {
            String role = todo.pop();
            for (Membership m : memberships) {
                String other = m.member().equals(role) ? m.group() : m.group().equals(role) ? m.member() : null;
                if (other != null && seen.add(other)) {
                    todo.push(other);
                }
            }
        }
        return seen;
    }

    /** Stored password hashes (of the roles that have one), or null when the user may not read them. */
    private static Map<String, String> readPasswords(Connection src) throws SQLException {
        Map<String, String> out = new LinkedHashMap<>();
        try (Statement s = src.createStatement();
             ResultSet rs = s.executeQuery("SELECT rolname, rolpassword FROM pg_catalog.pg_authid WHERE rolpassword IS NOT NULL")) {
            while (rs.next()) {
                out.put(rs.getString(1), rs.getString(2));
            }
        } catch (SQLException e) {
            if (!SqlStates.INSUFFICIENT_PRIVILEGE.equals(e.getSQLState())) {
                throw e;
            }
            return null;
        }
        return out;
    }

    /**
     * Creates one role. A target user that may not give REPLICATION or BYPASSRLS creates the role without them
     * (and says so); one that may not create it at all (a superuser role, for a user that is not one) reports it.
     */
    private static boolean create(Connection dst, Role role, String targetUser, Consumer<String> warn) throws SQLException {
        try {
            execute(dst, "CREATE ROLE " + Sql.ident(role.name()) + " WITH " + role.attributes(true));
            return true;
        } catch (SQLException e) {
            if (SqlStates.DUPLICATE_OBJECT.equals(e.getSQLState())) {
                return true;  // created a moment ago by someone else
            }
            boolean privileged = role.replication() || role.bypassRls();
            if (SqlStates.INSUFFICIENT_PRIVILEGE.equals(e.getSQLState()) && privileged && !role.superuser()) {
                try {
                    execute(dst, "CREATE ROLE " + Sql.ident(role.name()) + " WITH " + role.attributes(false));
                    warn.accept("role " + role.name() + " was created without"
                            + (role.replication() ? " REPLICATION" : "") + (role.bypassRls() ? " BYPASSRLS" : "")
                            + ": the target user may not grant " + (role.replication() && role.bypassRls() ? "them" : "it")
                            + " (SQLSTATE " + e.getSQLState() + "); a superuser of the target can add it with ALTER ROLE");
                    return true;
                } catch (SQLException again) {
                    e = again;
                }
            }
            warn.accept("role " + role.name() + " was not created on the target: "
                    + SqlStates.wrap(ErrorCode.PERMISSION_DENIED, "CREATE ROLE", e).getMessage()
                    + "; objects it owns there belong to " + targetUser + " instead");
            return false;
        }
    }

    /** What becomes of a role that exists on the target but that the target user cannot act as, and the fix. */
    private static String notMember(String name, String targetUser) {
        return "role " + name + " exists on the target, but " + targetUser + " is not a member of it, so it cannot own"
                + " objects there: objects it owns on the source belong to " + targetUser + " instead; to keep the"
                + " ownership, run GRANT " + Sql.ident(name) + " TO " + Sql.ident(targetUser) + " as a superuser of the"
                + " target before migrating";
    }

    private static boolean isMember(Connection dst, String role) throws SQLException {
        try (PreparedStatement ps = dst.prepareStatement("SELECT pg_catalog.pg_has_role(CURRENT_USER, ?, 'MEMBER')")) {
            ps.setString(1, role);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }

    /**
     * Brings a role this migration created ({@code there}, with password hash {@code hadHash}, null when unknown)
     * up to date with the source's ({@code role}, {@code hash}): its attributes, password, settings and comment,
     * each only when it differs; true when anything changed.
     */
    private static boolean update(Connection dst, Role role, Role there, String hash, String hadHash,
                                  Consumer<String> warn) {
        String name = Sql.ident(role.name());
        boolean changed = false;
        if (!there.comparable().equals(role.comparable())) {
            // A target user that may not give REPLICATION or BYPASSRLS gives the rest (as when it created the role).
            changed |= tryQuietly(dst, "ALTER ROLE " + name + " WITH " + role.attributes(true))
                    || tryExecute(dst, "ALTER ROLE " + name + " WITH " + role.attributes(false),
                    "role " + role.name() + ": attributes not brought up to date", warn);
        }
        if (hash != null && !hash.equals(hadHash)) {
            changed |= setPassword(dst, role, hash, warn);
        }
        if (!there.settings().equals(role.settings())) {
            tryExecute(dst, "ALTER ROLE " + name + " RESET ALL", "role " + role.name() + ": settings not reset", warn);
            for (String stored : role.settings()) {
                GucSetting setting = GucSetting.parse(stored);
                tryExecute(dst, "ALTER ROLE " + name + " SET " + setting.toSql(),
                        "role " + role.name() + ": setting " + setting.name() + " not copied", warn);
            }
            changed = true;
        }
        if (!Objects.equals(there.comment(), role.comment())) {
            changed |= tryExecute(dst, "COMMENT ON ROLE " + name + " IS " + (role.comment() == null ? "NULL"
                    : Sql.literal(role.comment())), "role " + role.name() + ": comment not copied", warn);
        }
        return changed;
    }

    /** Sets the stored hash; false when there is none to set. */
    private static boolean setPassword(Connection dst, Role role, String hash, Consumer<String> warn) {
        if (hash == null) {
            return false;
        }
        // A stored SCRAM or MD5 hash is accepted verbatim by ALTER ROLE ... PASSWORD.
        return tryExecute(dst, "ALTER ROLE " + Sql.ident(role.name()) + " PASSWORD " + Sql.literal(hash),
                "role " + role.name() + ": password not copied", warn);
    }

    /**
     * Grants the memberships of the selected roles. A membership whose member already existed on the target is
     * not added (that role is not altered) but reported when missing there. A role of {@code managed} (created by
     * this migration) also loses the memberships in selected or reserved roles that the source no longer has.
     * Returns the members whose memberships were granted or revoked.
     */
    private static Set<String> copyMemberships(Connection dst, List<Membership> memberships, Set<String> selected,
                                               Set<String> managed, Set<String> existedBefore, boolean superuser,
                                               int targetMajor, Consumer<String> warn) throws SQLException {
        Set<String> onTarget = ServerCatalog.roleNames(dst);
        Set<String> targetEdges = new HashSet<>();
        Set<String> sourceEdges = new HashSet<>();
        memberships.forEach(m -> sourceEdges.add(m.group() + "\u0000" + m.member()));
        Set<String> changed = new HashSet<>();
        for (Membership m : readMemberships(dst)) {
            targetEdges.add(m.group() + "\u0000" + m.member());
            if (managed.contains(m.member()) && (selected.contains(m.group()) || ReservedRoles.isReserved(m.group()))
                    && !sourceEdges.contains(m.group() + "\u0000" + m.member())) {
                if (tryExecute(dst, "REVOKE " + Sql.ident(m.group()) + " FROM " + Sql.ident(m.member()),
                        "membership of " + m.member() + " in " + m.group() + ", gone on the source, not revoked", warn)) {
                    changed.add(m.member());
                }
            }
        }
        for (Membership m : memberships) {
            if (!selected.contains(m.member()) || !onTarget.contains(m.member()) || !onTarget.contains(m.group())
                    || (!selected.contains(m.group()) && !ReservedRoles.isReserved(m.group()))) {
                continue;
            }
            if (targetEdges.contains(m.group() + "\u0000" + m.member())) {
                continue;
            }
            if (!managed.contains(m.member())) {
                if (existedBefore.contains(m.member())) {
                    warn.accept("role " + m.member() + " already exists on the target and was left as it is; it is"
                            + " not a member of " + m.group() + " there, as it is on the source");
                }
                continue;
            }
            String grant = "GRANT " + Sql.ident(m.group()) + " TO " + Sql.ident(m.member()) + options(m, targetMajor);
            boolean withGrantor = superuser && m.grantor() != null && onTarget.contains(m.grantor());
            if ((withGrantor && tryQuietly(dst, grant + " GRANTED BY " + Sql.ident(m.grantor())))
                    || tryExecute(dst, grant, "membership of " + m.member() + " in " + m.group() + " not copied", warn)) {
                changed.add(m.member());
            }
        }
        return changed;
    }

    private static String options(Membership m, int targetMajor) {
        if (targetMajor >= 16) {
            List<String> o = new ArrayList<>();
            o.add("ADMIN " + (m.admin() ? "TRUE" : "FALSE"));
            if (m.inherit() != null) {
                o.add("INHERIT " + (m.inherit() ? "TRUE" : "FALSE"));
            }
            if (m.set() != null) {
                o.add("SET " + (m.set() ? "TRUE" : "FALSE"));
            }
            return " WITH " + String.join(", ", o);
        }
        return m.admin() ? " WITH ADMIN OPTION" : "";
    }


    private static String currentUser(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT CURRENT_USER")) {
            rs.next();
            return rs.getString(1);
        }
    }

    static List<String> strings(Array array) throws SQLException {
        if (array == null) {
            return List.of();
        }
        List<String> out = new ArrayList<>();
        for (Object o : (Object[]) array.getArray()) {
            out.add(Objects.toString(o));
        }
        return out;
    }

    private static void execute(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private static boolean tryQuietly(Connection c, String sql) {
        try {
            execute(c, sql);
            return true;
        } catch (SQLException e) {
            return false;
        }
    }

    private static boolean tryExecute(Connection c, String sql, String what, Consumer<String> warn) {
        try {
            execute(c, sql);
            return true;
        } catch (SQLException e) {
            warn.accept(what + ": " + SqlStates.describe(e));
            return false;
        }
    }
}
