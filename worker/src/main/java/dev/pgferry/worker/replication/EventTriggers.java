package dev.pgferry.worker.replication;

import dev.pgferry.pg.ServerCatalog;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Lets pgferry's own DDL on a replicating target database (dropping its subscription, refreshing materialized views
 * and copying unlogged tables at cut-over, the tables, columns and subscription refresh of a schema drift's repair)
 * pass the database's event triggers, which came with the source's schema
 * and are meant for the application's DDL: one that refuses DDL would otherwise refuse pgferry's. On the source, the
 * same for pgferry's publication (created, extended, dropped). Stateless.
 */
final class EventTriggers {
    private EventTriggers() {
    }

    /**
     * When the database of {@code t} has an event trigger that fires by default ({@code evtenabled = 'O'}) and the
     * session's user is a superuser (only one may create such a trigger, and only one may do this), makes the
     * session a replica's ({@code session_replication_role = replica}), where those triggers do not fire (nor
     * ordinary and foreign-key triggers: the rows pgferry writes come from the source as they are), for as long as
     * the session lasts. Triggers enabled {@code ALWAYS} or {@code REPLICA} still fire. Returns whether it did.
     */
    static boolean pass(Connection t) throws SQLException {
        try (Statement st = t.createStatement(); ResultSet rs = st.executeQuery(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger WHERE evtenabled = 'O')")) {
            rs.next();
            if (!rs.getBoolean(1) || !ServerCatalog.isSuperuser(t)) {
                return false;
            }
        }
        try (Statement st = t.createStatement()) {
            st.execute("SET session_replication_role = replica");
        }
        return true;
    }
}
