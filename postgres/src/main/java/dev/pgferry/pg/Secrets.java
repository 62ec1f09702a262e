package dev.pgferry.pg;

import dev.pgferry.messages.Connection;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Function;

/**
 * Resolves a connection's password where the connection is opened: inline, {@code env:NAME} or {@code file:PATH}.
 * Errors name the reference, never a value.
 */
public final class Secrets {
    private final Function<String, String> env;

    public Secrets(Function<String, String> env) {
        this.env = env;
    }

    public static Secrets system() {
        return new Secrets(System::getenv);
    }

    public static Secrets of(Map<String, String> env) {
        return new Secrets(env::get);
    }

    /** The password, or null when the connection has none. */
    public String password(Connection c) {
        if (c.password() != null) {
            return c.password();
        }
        String ref = c.passwordRef();
        if (ref == null) {
            return null;
        }
        if (ref.startsWith("env:")) {
            String value = env.apply(ref.substring(4));
            if (value == null) {
                throw new MigrationException(ErrorCode.SECRET_UNRESOLVED, "password_ref " + ref
                        + " for " + c.describe() + ": environment variable " + ref.substring(4)
                        + " is not set where this process runs");
            }
            return value;
        }
        Path path = Path.of(ref.substring(5));
        try {
            return Files.readString(path, StandardCharsets.UTF_8).stripTrailing();
        } catch (IOException e) {
            throw new MigrationException(ErrorCode.SECRET_UNRESOLVED, "password_ref " + ref + " for " + c.describe()
                    + ": cannot read " + path + " (" + e.getClass().getSimpleName() + ")");
        }
    }
}
