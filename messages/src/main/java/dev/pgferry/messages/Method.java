package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

import java.util.Locale;

/** How a database is moved. */
public enum Method {
    /** Logical replication where its preconditions hold, dump otherwise (until replication exists: dump). */
    AUTO,
    /** Logical replication, never falling back. */
    REPLICATION,
    /** Schema and data copied once. */
    DUMP;

    @JsonValue
    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    @JsonCreator
    public static Method parse(String value) {
        if (value == null) {
            return AUTO;
        }
        for (Method m : values()) {
            if (m.wireName().equals(value.trim().toLowerCase(Locale.ROOT))) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown method '" + value + "': use auto, replication or dump");
    }
}
