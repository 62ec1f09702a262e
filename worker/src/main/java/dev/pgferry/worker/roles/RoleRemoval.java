package dev.pgferry.worker.roles;

import dev.pgferry.messages.ErrorCode;
import dev.pgferry.pg.PgConnector;
import dev.pgferry.pg.Sql;
import dev.pgferry.pg.SqlStates;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Drops the roles a migration's roles step created on the target, once the migration was stopped before any of its
 * databases was done or syncing: nothing of the migration uses them, and login roles with the source's password
 * hashes would otherwise stay on a server the user did not migrate to. Only roles pgferry created (the ledger names
 * them), never one that was there before. A role that objects or privileges on the target depend on (SQLSTATE
 * {@value SqlStates#DEPENDENT_OBJECTS_STILL_EXIST}: the user's, made since), or that the target's user may not drop,
 * is kept and named. Stateless.
 */
public final class RoleRemoval {
    private RoleRemoval() {
    }

    /** What {@link #dropCreated} dropped, and what it kept with the reason. */
    public record Result(List<String> dropped, List<String> kept) {
    }

    /** Drops {@code roles} (the roles step's created roles, in the order it created them) on {@code target}. */
    public static Result dropCreated(PgConnector target, List<String> roles) {
        List<String> dropped = new ArrayList<>();
        List<String> kept = new ArrayList<>();
        try (Connection c = target.open(); Statement st = c.createStatement()) {
            // The last created first (each statement in a transaction of its own: a role kept stops no other)
            for (int i = roles.size() - 1; i >= 0; i--) {
                String role = roles.get(i);
                try {
                    st.execute("DROP ROLE IF EXISTS " + Sql.ident(role));
                    dropped.add(role);
                } catch (SQLException e) {
                    if (SqlStates.DEPENDENT_OBJECTS_STILL_EXIST.equals(e.getSQLState())) {
                        kept.add(role + " (objects or privileges on the target depend on it)");
                    } else if (SqlStates.INSUFFICIENT_PRIVILEGE.equals(e.getSQLState())) {
                        kept.add(role + " (the target's user may not drop it)");
                    } else {
                        throw e;
                    }
                }
            }
        } catch (SQLException e) {
            throw SqlStates.wrap(ErrorCode.TARGET_UNREACHABLE, "dropping the roles the migration created on the target",
                    e);
        }
        return new Result(List.copyOf(dropped), List.copyOf(kept));
    }
}
