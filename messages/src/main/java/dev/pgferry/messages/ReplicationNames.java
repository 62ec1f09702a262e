package dev.pgferry.messages;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/**
 * The one name pgferry gives the publication, replication slot and subscription of one database of one
 * migration: {@code pgferry_<migration id, folded>_<hash of migration and database>}. Deterministic (every
 * worker and the coordinator derive the same), at most 63 bytes, a valid slot name (lower case, digits, '_'),
 * and distinct for two migrations of the same database.
 */
public final class ReplicationNames {
    public static final String PREFIX = "pgferry_";
    /** Every name {@link #of} gives, as a PostgreSQL (and Java) regular expression, unanchored (within a line). */
    public static final String NAME = "pgferry_[a-z0-9_]{0,30}_[0-9a-f]{12}";
    /** {@link #NAME}, anchored: a whole name. */
    public static final String PATTERN = "^" + NAME + "$";

    private ReplicationNames() {
    }

    public static String of(String migrationId, String dbname) {
        String folded = migrationId.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]", "_");
        if (folded.length() > 30) {
            folded = folded.substring(0, 30);
        }
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256")
                    .digest((migrationId + "/" + dbname).getBytes(StandardCharsets.UTF_8));
            return PREFIX + folded + "_" + HexFormat.of().formatHex(hash).substring(0, 12);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always available", e);
        }
    }
}
