package dev.pgferry.broker;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An exclusive lock on a broker's data directory, taken before Kafka opens any file in it, and held as long as the
 * broker runs (released by {@link #close}, or by the end of the JVM). Kafka's own lock ({@code .lock} in the log
 * directory) comes too late in a combined broker and controller: a second broker started on a directory in use
 * opened the metadata log, recovered it and became the Raft leader of a new epoch (writing {@code quorum-state})
 * before it failed on that lock, and once left the metadata log with a torn batch at its end, which no later broker
 * could read: the data directory, and every migration's status in it, was lost. With this lock a second broker fails
 * at once, having changed nothing.
 */
final class DataDirLock implements AutoCloseable {
    /** The file locked, in the broker's data directory. */
    static final String FILE = "broker.lock";

    private final FileChannel channel;

    private DataDirLock(FileChannel channel) {
        this.channel = channel;
    }

    /**
     * Takes the lock on {@code dataDir} (made if missing); throws when another broker holds it, in this JVM or
     * another. The message says "Failed to acquire lock", as Kafka's own does.
     */
    static DataDirLock take(Path dataDir) throws IOException {
        Files.createDirectories(dataDir);
        Path file = dataDir.resolve(FILE);
        FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        if (lock == null) {
            channel.close();
            throw new IllegalStateException("Failed to acquire lock on " + file + ": another broker (another pgferry"
                    + " command, or a pgferry broker) uses " + dataDir);
        }
        return new DataDirLock(channel);
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
