package dev.pgferry.pg;

import dev.pgferry.messages.Connection;
import dev.pgferry.messages.ErrorCode;
import dev.pgferry.messages.MigrationException;
import dev.pgferry.messages.MigrationRequest;

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;
import java.util.function.Function;

/**
 * Resolves a connection's password where the connection is opened: inline, {@code env:NAME}, {@code file:PATH},
 * or sealed ({@code sealed:v1:...}, AES-256-GCM under the pgferry secret key). With a key, {@link #seal} turns an
 * inline password into a sealed one before a request enters Kafka, so that no topic holds it in clear. The key
 * comes from {@code PGFERRY_SECRET_KEY} (base64 of 32 bytes) or the file named by {@code PGFERRY_SECRET_KEY_FILE};
 * every process of one deployment needs the same key. Errors name the reference, never a value. Immutable.
 */
public final class Secrets {
    private static final int IV_BYTES = 12;
    private static final int TAG_BITS = 128;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Function<String, String> env;
    private final byte[] key;

    public Secrets(Function<String, String> env) {
        this(env, null);
    }

    private Secrets(Function<String, String> env, byte[] key) {
        this.env = env;
        this.key = key;
    }

    /** The process environment, with the secret key it names, if any. */
    public static Secrets system() {
        return new Secrets(System::getenv, keyFrom(System::getenv));
    }

    public static Secrets of(Map<String, String> env) {
        return new Secrets(env::get, keyFrom(env::get));
    }

    /** The same environment with this key (32 bytes). */
    public Secrets withKey(byte[] newKey) {
        if (newKey.length != 32) {
            throw new IllegalArgumentException("the pgferry secret key must be 32 bytes");
        }
        return new Secrets(env, newKey.clone());
    }

    /** A new random key, base64: what to put in PGFERRY_SECRET_KEY. */
    public static String newKey() {
        byte[] k = new byte[32];
        RANDOM.nextBytes(k);
        return Base64.getEncoder().encodeToString(k);
    }

    public boolean canSeal() {
        return key != null;
    }

    private static byte[] keyFrom(Function<String, String> env) {
        String inline = env.apply("PGFERRY_SECRET_KEY");
        String file = env.apply("PGFERRY_SECRET_KEY_FILE");
        try {
            String text = inline != null ? inline
                    : file != null ? Files.readString(Path.of(file), StandardCharsets.US_ASCII) : null;
            if (text == null) {
                return null;
            }
            byte[] k = Base64.getDecoder().decode(text.trim());
            if (k.length != 32) {
                throw new MigrationException(ErrorCode.SECRET_UNRESOLVED, "the pgferry secret key must be base64 of 32 bytes");
            }
            return k;
        } catch (IOException | IllegalArgumentException e) {
            throw new MigrationException(ErrorCode.SECRET_UNRESOLVED, "cannot read the pgferry secret key ("
                    + e.getClass().getSimpleName() + "); PGFERRY_SECRET_KEY must be base64 of 32 bytes");
        }
    }

    /** The connection with its inline password sealed; unchanged without a key or an inline password. */
    public Connection seal(Connection c) {
        if (key == null || c.password() == null) {
            return c;
        }
        try {
            byte[] iv = new byte[IV_BYTES];
            RANDOM.nextBytes(iv);
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(TAG_BITS, iv));
            byte[] sealed = cipher.doFinal(c.password().getBytes(StandardCharsets.UTF_8));
            byte[] out = new byte[iv.length + sealed.length];
            System.arraycopy(iv, 0, out, 0, iv.length);
            System.arraycopy(sealed, 0, out, iv.length, sealed.length);
            return c.withPasswordRef(Connection.SEALED_PREFIX + Base64.getEncoder().encodeToString(out));
        } catch (GeneralSecurityException e) {
            throw new MigrationException(ErrorCode.INTERNAL, "cannot seal the password of " + c.describe()
                    + " (" + e.getClass().getSimpleName() + ")");
        }
    }

    /**
     * The request as it may enter Kafka: inline passwords sealed. Without a key, an inline password is refused
     * ({@link ErrorCode#PLAINTEXT_PASSWORD}, naming the fixes) unless {@code allowPlaintext}: by default no
     * pgferry process writes a clear password to a topic.
     */
    public MigrationRequest protect(MigrationRequest r, boolean allowPlaintext) {
        if (key == null && !allowPlaintext) {
            for (Connection c : java.util.List.of(r.source(), r.target())) {
                if (c.password() != null) {
                    throw new MigrationException(ErrorCode.PLAINTEXT_PASSWORD, "the password of " + c.describe()
                            + " is given inline and this pgferry process has no secret key to seal it, so it would be"
                            + " written to Kafka in clear. Give every pgferry process the same PGFERRY_SECRET_KEY"
                            + " (base64 of 32 bytes; 'pgferry secret-key' prints a new one) or PGFERRY_SECRET_KEY_FILE,"
                            + " or pass the password by reference (password_ref=env:NAME or password_ref=file:PATH);"
                            + " --allow-plaintext-passwords accepts the clear password");
                }
            }
        }
        return r.withConnections(seal(r.source()), seal(r.target()));
    }

    private String unseal(Connection c) {
        if (key == null) {
            throw new MigrationException(ErrorCode.SECRET_UNRESOLVED, "the password of " + c.describe() + " is sealed,"
                    + " but this process has no pgferry secret key: give every pgferry process the same"
                    + " PGFERRY_SECRET_KEY (or PGFERRY_SECRET_KEY_FILE)");
        }
        try {
            byte[] in = Base64.getDecoder().decode(c.passwordRef().substring(Connection.SEALED_PREFIX.length()));
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(TAG_BITS, in, 0, IV_BYTES));
            return new String(cipher.doFinal(in, IV_BYTES, in.length - IV_BYTES), StandardCharsets.UTF_8);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new MigrationException(ErrorCode.SECRET_UNRESOLVED, "the sealed password of " + c.describe()
                    + " cannot be opened with this process's pgferry secret key (another key sealed it?)");
        }
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
        if (ref.startsWith(Connection.SEALED_PREFIX)) {
            return unseal(c);
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
