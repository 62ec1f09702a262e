package dev.pgferry.broker;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An exclusive lock on a broker's data directory, taken before Kafka opens any file in it, and held as long as the
 * broker runs (released by {@link #close} once Kafka has stopped, or by the end of the JVM). Kafka's own lock
 * ({@code .lock} in the log directory) comes too late in a combined broker and controller: a second broker started
 * on a directory in use opened the metadata log, recovered it and became the Raft leader of a new epoch (writing
 * {@code quorum-state}) before it failed on that lock, and once left the metadata log with a torn batch at its end,
 * which no later broker could read: the data directory, and every migration's status in it, was lost. With this lock
 * a second broker fails at once, having changed nothing; but one whose holder is the broker of a command that is gone
 * (killed: its broker notices and stops by itself, within about a second) waits for it, up to
 * {@link ChildBroker#STOP_TIMEOUT_MS} and a little more. The file holds the holder's pid and its owner's (the command
 * it serves).
 */
final class DataDirLock implements AutoCloseable {
    /** The file locked, in the broker's data directory. */
    static final String FILE = "broker.lock";
    /** How long a broker waits for the lock held by a broker whose command is gone. */
    static final long ORPHAN_WAIT_MS = ChildBroker.STOP_TIMEOUT_MS + 5_000;

    private final FileChannel channel;

    private DataDirLock(FileChannel channel) {
        this.channel = channel;
    }

    /**
     * Takes the lock on {@code dataDir} (made if missing) for a broker serving the process {@code ownerPid} (this JVM's
     * own when it has no other owner); throws when another broker holds it, in this JVM or another, and that broker's
     * owner is alive, or it does not let go in time. The message says "Failed to acquire lock", as Kafka's own does.
     */
    static DataDirLock take(Path dataDir, long ownerPid) throws IOException, InterruptedException {
        Files.createDirectories(dataDir);
        Path file = dataDir.resolve(FILE);
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            long deadline = System.nanoTime() + ORPHAN_WAIT_MS * 1_000_000;
            while (tryLock(channel) == null) {
                if (!orphaned(file) || System.nanoTime() > deadline) {
                    throw new IllegalStateException("Failed to acquire lock on " + file + ": another broker (another"
                            + " pgferry command, or a pgferry broker) uses " + dataDir);
                }
                Thread.sleep(20);
            }
            channel.truncate(0);
            channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + " " + ownerPid + "\n")
                    .getBytes(StandardCharsets.UTF_8)), 0);
        } catch (IOException | RuntimeException | InterruptedException e) {
            channel.close();
            throw e;
        }
        return new DataDirLock(channel);
    }

    /**
     * Whether no broker holds the lock on {@code dataDir} now (this takes it for an instant to tell): a broker told to
     * stop lets go of it once Kafka has stopped, before its JVM ends.
     */
    static boolean free(Path dataDir) {
        Path file = dataDir.resolve(FILE);
        if (!Files.exists(file)) {
            return true;
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            FileLock lock = tryLock(channel);
            if (lock == null) {
                return false;
            }
            lock.release();
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static FileLock tryLock(FileChannel channel) throws IOException {
        try {
            return channel.tryLock();
        } catch (OverlappingFileLockException e) {
            return null;
        }
    }

    /** Whether the lock's holder says it serves a process that no longer runs (it stops by itself, then). */
    private static boolean orphaned(Path file) {
        try {
            String[] pids = Files.readString(file).trim().split(" ");
            return pids.length == 2 && !ProcessHandle.of(Long.parseLong(pids[1])).map(ChildBroker::running).orElse(false);
        } catch (IOException | RuntimeException e) {
            return false;   // not written yet, or unreadable: a live holder, as far as anyone can tell
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // the lock goes with the channel, or with the JVM
        }
    }
}
