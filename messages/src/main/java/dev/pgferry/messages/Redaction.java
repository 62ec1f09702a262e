package dev.pgferry.messages;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Removes passwords from text that is kept for people to read: the value of every JSON {@code "password"} field and
 * the password of every {@code postgres://user:password@} URI in message bytes (the dead-letter topic), and the
 * passwords SQL may quote ({@link #sql}). Text without a password comes back unchanged. Stateless.
 */
public final class Redaction {
    private static final Pattern JSON_PASSWORD = Pattern.compile("(\"password\"\\s*:\\s*\")(?:[^\"\\\\]|\\\\.)*(\")");
    private static final Pattern URI_PASSWORD = Pattern.compile("(postgres(?:ql)?://[^:/@\\s\"]*:)[^@\\s\"]*@");
    /** A password literal in SQL: an option of a foreign server or user mapping, or a role's (ENCRYPTED) PASSWORD. */
    private static final Pattern SQL_PASSWORD = Pattern.compile("(?i)(\\bpassword\\s+)'(?:[^']|'')*'");
    /** A password in a libpq connection string (a subscription's): quoted as inside SQL (''...''), quoted, or bare. */
    private static final Pattern CONNINFO_PASSWORD = Pattern.compile(
            "(?i)(\\bpassword\\s*=\\s*)(''(?:[^']|'''')*''|'(?:[^'\\\\]|\\\\.)*'|[^\\s']+)");

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

    /**
     * Text that may quote SQL (a statement pg_restore or a server reports, a line of a schema dump), with its
     * passwords replaced by {@code ***}: a user mapping's or foreign server's {@code password '...'} option, a role's
     * {@code PASSWORD '...'}, a connection string's {@code password=...}. Null stays null.
     */
    public static String sql(String text) {
        if (text == null || !text.toLowerCase(Locale.ROOT).contains("password")) {
            return text;
        }
        return CONNINFO_PASSWORD.matcher(SQL_PASSWORD.matcher(text).replaceAll("$1'***'")).replaceAll("$1***");
    }
}
