package dev.pgferry.messages;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** The steps of one database's migration, in order. */
public enum Phase {
    ROLES("roles"), SCHEMA("schema"), DATA("data"), POST_DATA("post-data"), ANALYZE("analyze"), FINISH("finish");

    private final String wireName;

    Phase(String wireName) {
        this.wireName = wireName;
    }

    @JsonValue
    public String wireName() {
        return wireName;
    }

    @JsonCreator
    public static Phase parse(String value) {
        for (Phase p : values()) {
            if (p.wireName.equals(value)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown phase '" + value + "'");
    }
}
