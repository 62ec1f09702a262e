package dev.pgferry.messages;

import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Removes passwords from message bytes that are kept for people to read (the dead-letter topic): the value of
 * every JSON {@code "password"} field and the password of every {@code postgres://user:password@} URI become
 * {@code ***}. Bytes without a password come back unchanged. Stateless.
 */
public final class Redaction {
    private static final Pattern JSON_PASSWORD = Pattern.compile("(\"password\"\\s*:\\s*\")(?:[^\"\\\\]|\\\\.)*(\")");
    private static final Pattern URI_PASSWORD = Pattern.compile("(postgres(?:ql)?://[^:/@\\s\"]*:)[^@\\s\"]*@");

    private Redaction() {
    }

    public static byte[] redact(byte[] message) {
        if (message == null) {
            return null;
        }
        String text = new String(message, StandardCharsets.UTF_8);
        String redacted = URI_PASSWORD.matcher(JSON_PASSWORD.matcher(text).replaceAll("$1***$2")).replaceAll("$1***@");
        return redacted.equals(text) ? message : redacted.getBytes(StandardCharsets.UTF_8);
    }
}
