package dev.pgferry.coordinator.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;

/**
 * The dashboard page, bundled in the jar (no CDN, no build step): one HTML file whose inline script polls
 * {@code GET /migrations}. Its Content-Security-Policy allows that one script, by hash, and requests to this
 * coordinator only.
 */
record Dashboard(byte[] html, String contentSecurityPolicy) {
    private static final Dashboard PAGE = load();

    static Dashboard get() {
        return PAGE;
    }

    private static Dashboard load() {
        try (InputStream in = Dashboard.class.getResourceAsStream("dashboard.html")) {
            if (in == null) {
                throw new IllegalStateException("dashboard.html is missing from the jar");
            }
            byte[] html = in.readAllBytes();
            String text = new String(html, StandardCharsets.UTF_8);
            int start = text.indexOf("<script>") + "<script>".length();
            int end = text.indexOf("</script>", start);
            byte[] script = text.substring(start, end).getBytes(StandardCharsets.UTF_8);
            String hash = Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-256").digest(script));
            return new Dashboard(html, "default-src 'none'; script-src 'sha256-" + hash + "'; style-src 'unsafe-inline';"
                    + " connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
