package dev.pgferry.pg;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.stream.Collectors;

/**
 * How {@link BlockerWatch} and {@link LockWaits} name a session that blocks one of pgferry's: the columns they read
 * from {@code pg_stat_activity}, the words for them, and the statement that ends the sessions.
 */
final class BlockingSessions {
    private BlockingSessions() {
    }

    /** Seven columns of {@code pg_stat_activity} row {@code alias}, read back by {@link #describe}. */
    static String columns(String alias) {
        return alias + ".pid, " + alias + ".usename, " + alias + ".application_name, " + alias + ".datname, " + alias
                + ".state, to_char(coalesce(" + alias + ".xact_start, " + alias + ".state_change), 'YYYY-MM-DD HH24:MI:SS TZ'),"
                + " left(regexp_replace(" + alias + ".query, '\\s+', ' ', 'g'), 120)";
    }

    /** The session whose {@link #columns} start at column {@code first} of the current row. */
    static String describe(ResultSet rs, int first) throws SQLException {
        return "pid " + rs.getInt(first) + " (user " + rs.getString(first + 1) + ", application '" + rs.getString(first + 2)
                + "', database " + rs.getString(first + 3) + ", " + rs.getString(first + 4) + " since "
                + rs.getString(first + 5) + ", query: " + rs.getString(first + 6) + ")";
    }

    /** The statement, in parentheses, that ends the sessions {@code pids} (one or more). */
    static String howToEnd(Collection<Integer> pids) {
        return pids.size() == 1 ? "(SELECT pg_terminate_backend(" + pids.iterator().next() + "))"
                : "(SELECT pg_terminate_backend(pid) FROM unnest('{" + pids.stream().map(String::valueOf)
                .collect(Collectors.joining(",")) + "}'::int[]) pid)";
    }
}
