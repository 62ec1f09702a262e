package dev.pgferry.it;

import dev.pgferry.cli.local.LocalPostgres;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A deterministic hold on the copy of one table into the target, so that a fault is injected while that copy is
 * under way, whatever the machine's speed, with a table of any size.
 *
 * <p>{@link #install} gives the source table a CHECK constraint that calls {@code public.pgferry_it_gate(key)}. The
 * constraint is part of the table's definition, so it reaches the target with the schema, before any row; there,
 * for the row whose key is 1, the function sleeps for as long as a file named {@value #FILE} exists in the target's
 * data directory ({@code pg_stat_file}, which sees the file system, not a snapshot; its {@code size}, as the record
 * is never wholly non-null: {@code creation} is null on Linux). {@link #close(LocalPostgres)}
 * makes that file, {@link #awaitHeld} waits until a COPY is held by it, and {@link #open} removes it.
 */
final class Gate {
    static final String FILE = "pgferry-it-gate";
    private final LocalPostgres target;
    private final Path file;

    private Gate(LocalPostgres target, Path file) {
        this.target = target;
        this.file = file;
    }

    /** Adds the gate to {@code table} (with a bigint or int column {@code key}) of {@code db} on the source. */
    static void install(LocalPostgres source, String db, String table, String key) throws Exception {
        installFunction(source, db);
        ReplicationIT.exec(source, db, "ALTER TABLE %s ADD CONSTRAINT pgferry_it_gate CHECK (public.pgferry_it_gate(%s))"
                .formatted(table, key));
    }

    /**
     * Creates only the gate's function {@code public.pgferry_it_gate(k)} in {@code db} on the source, for a test that
     * calls it from elsewhere in its schema.
     */
    static void installFunction(LocalPostgres source, String db) throws Exception {
        ReplicationIT.exec(source, db, """
                CREATE FUNCTION public.pgferry_it_gate(k bigint) RETURNS boolean LANGUAGE plpgsql AS $$
                BEGIN
                    IF k = 1 THEN
                        WHILE (pg_stat_file('%s', true)).size IS NOT NULL LOOP
                            PERFORM pg_sleep(0.05);
                        END LOOP;
                    END IF;
                    RETURN true;
                END $$;
                """.formatted(FILE));
    }

    /** Closes the gate on {@code target}: from now on, a COPY that reaches the row with key 1 waits. */
    static Gate close(LocalPostgres target) throws Exception {
        Path file = Path.of(Compare.scalar(target, "postgres", "SHOW data_directory")).resolve(FILE);
        Files.writeString(file, "closed by a test\n");
        return new Gate(target, file);
    }

    /** Waits (at most 120 s) until a COPY on the target is held by the gate. */
    void awaitHeld() throws Exception {
        long deadline = System.currentTimeMillis() + 120_000;
        while (System.currentTimeMillis() < deadline) {
            if (!Compare.scalar(target, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
                    + " AND query ILIKE 'COPY%'").equals("0")) {
                return;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no COPY reached the gate on the target within 120 s");
    }

    /** Opens the gate: the held COPY goes on. */
    void open() throws Exception {
        Files.deleteIfExists(file);
    }
}
