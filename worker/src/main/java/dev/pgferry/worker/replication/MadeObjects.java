package dev.pgferry.worker.replication;

import dev.pgferry.bus.Ledger;
import dev.pgferry.messages.LedgerEntry;
import dev.pgferry.pg.SchemaDrift;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collection;
import java.util.Optional;
import java.util.stream.LongStream;

/**
 * What both sides of a replicating database have had whenever pgferry compared them (as the database began to
 * replicate, and after each refresh): its tables, columns and schema objects, by their {@link
 * dev.pgferry.pg.SchemaDrift#shared} keys. Something the target still has that the source no longer has was dropped
 * on the source if it is among them, and was made only on the target (the user's) if not; {@code refresh} drops only
 * the first. Kept in the ledger ({@link LedgerEntry#made}) as the first 8 bytes of each key's SHA-256, sorted, so
 * that a schema of tens of thousands of objects fits one entry; a chance collision, which could only make a user's own
 * object look like one the source had, is about one in 10^14 for each such object of a 75,000-object schema.
 * Beside them, which table of the source each published table was when pgferry last compared the sides ({@link
 * SchemaDrift#identities}, replaced at each comparison: a name may belong to another table later, and to the first
 * again after that). Immutable.
 */
public final class MadeObjects {
    /** At most this many keys are kept (about 800 kB in the entry); a larger schema keeps none. */
    public static final int MAX = 75_000;

    private final long[] sorted;
    /** The {@link SchemaDrift#identities} of the last comparison, sorted. */
    private final long[] tables;

    private MadeObjects(long[] sorted, long[] tables) {
        this.sorted = sorted;
        this.tables = tables;
    }

    /** Nothing known: every target-only item counts as the user's. */
    public static MadeObjects none() {
        return new MadeObjects(new long[0], new long[0]);
    }

    /** What the ledger holds for the database; empty when it holds no record of it. */
    public static Optional<MadeObjects> read(Ledger ledger, String migrationId, String dbname) {
        return ledger.read(LedgerEntry.madeKey(migrationId, dbname)).map(e -> decode(e.made(), e.madeTables()));
    }

    /**
     * Writes these and {@code shared} ({@link SchemaDrift#shared}) to the ledger (both: what was shared once stays
     * known), with {@code identities} ({@link SchemaDrift#identities}, alone: they say what each name is now). Returns
     * false, writing nothing, when they are more than {@link #MAX}.
     */
    public boolean recordWith(Ledger ledger, String migrationId, String dbname, Collection<String> shared,
                              Collection<String> identities) {
        MadeObjects all = with(shared).withTables(identities);
        if (all.sorted.length + all.tables.length > MAX) {
            // (the columns' identities go first: without them a column renamed is left to the user)
            all = all.withTables(identities.stream().filter(k -> !k.startsWith(COLUMN_IDENTITY)).toList());
        }
        if (all.sorted.length + all.tables.length > MAX) {
            return false;
        }
        ledger.write(LedgerEntry.madeKey(migrationId, dbname), LedgerEntry.made(encode(all.sorted), encode(all.tables)));
        return true;
    }

    /** Whether the sides shared {@code key} when pgferry looked. */
    public boolean contains(String key) {
        return Arrays.binarySearch(sorted, digest(key)) >= 0;
    }

    /** Whether the record says which table of the source each published table was (pgferry before 2026-12-03 did not). */
    public boolean knowsTables() {
        return isTable(SchemaDrift.IDENTITIES);
    }

    /** Whether {@code identityKey} ({@link SchemaDrift#identityKey}) held when pgferry last compared the sides. */
    public boolean isTable(String identityKey) {
        return Arrays.binarySearch(tables, digest(identityKey)) >= 0;
    }

    private static final String COLUMN_IDENTITY = SchemaDrift.columnIdentityKey("", "", "", 0, 0).substring(0, 7);

    public int size() {
        return sorted.length;
    }

    long[] digests() {
        return sorted.clone();
    }

    long[] tableDigests() {
        return tables.clone();
    }

    MadeObjects with(Collection<String> keys) {
        return new MadeObjects(LongStream.concat(Arrays.stream(sorted), keys.stream().mapToLong(MadeObjects::digest))
                .sorted().distinct().toArray(), tables);
    }

    /** These, with {@code identities} in place of the tables' identities they had. */
    MadeObjects withTables(Collection<String> identities) {
        return new MadeObjects(sorted, identities.stream().mapToLong(MadeObjects::digest).sorted().distinct().toArray());
    }

    static String encode(long[] digests) {
        ByteBuffer b = ByteBuffer.allocate(digests.length * Long.BYTES);
        for (long d : digests) {
            b.putLong(d);
        }
        return Base64.getEncoder().encodeToString(b.array());
    }

    static MadeObjects decode(String encoded, String tables) {
        return new MadeObjects(digests(encoded), tables == null ? new long[0] : digests(tables));
    }

    private static long[] digests(String encoded) {
        ByteBuffer b = ByteBuffer.wrap(Base64.getDecoder().decode(encoded));
        long[] out = new long[b.remaining() / Long.BYTES];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.getLong();
        }
        Arrays.sort(out);
        return out;
    }

    static long digest(String key) {
        try {
            return ByteBuffer.wrap(MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8)))
                    .getLong();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JVM", e);
        }
    }
}
