package dev.pgferry.cli;

import dev.pgferry.pg.Secrets;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "secret-key", mixinStandardHelpOptions = true,
        description = "Print a new random key (base64 of 32 bytes) for PGFERRY_SECRET_KEY or PGFERRY_API_TOKEN,"
                + " or write one to a file that does not exist yet.")
final class SecretKeyCommand implements Callable<Integer> {
    @Option(names = "--file", paramLabel = "PATH",
            description = "Write a new key to PATH (readable by its owner only) unless PATH already exists, and print"
                    + " nothing; for PGFERRY_SECRET_KEY_FILE and PGFERRY_API_TOKEN_FILE. Repeat for several files.")
    List<Path> files;

    @Override
    public Integer call() throws Exception {
        if (files == null) {
            System.out.println(Secrets.newKey());
            return Exits.DONE;
        }
        for (Path file : files) {
            writeIfAbsent(file);
        }
        return Exits.DONE;
    }

    private static void writeIfAbsent(Path file) throws java.io.IOException {
        if (Files.exists(file)) {
            return;
        }
        if (file.toAbsolutePath().getParent() != null) {
            Files.createDirectories(file.toAbsolutePath().getParent());
        }
        Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), ".secret-key", ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(tmp, Secrets.newKey() + "\n", StandardCharsets.US_ASCII);
        try {
            // A hard link never replaces a file: of two processes racing here, the first one's key stays.
            Files.createLink(file, tmp);
        } catch (java.nio.file.FileAlreadyExistsException e) {
            // another process wrote it first
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
