package dev.pgferry.cli.render;

import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.MigrationStatus.DatabaseStatus;

import java.util.ArrayList;
import java.util.List;

/** Renders a {@link MigrationStatus} as the text tables the CLI prints. Stateless. */
public final class StatusTable {
    private StatusTable() {
    }

    public static String render(MigrationStatus s) {
        StringBuilder out = new StringBuilder();
        out.append("migration ").append(s.migrationId());
        if (s.source() != null) {
            out.append(": ").append(s.source()).append(" -> ").append(s.target());
        }
        out.append("\n\n");
        out.append(table(List.of("STATUS", "METHOD", "ERROR"), List.<List<String>>of(List.of(
                s.migration().status().wireName(), nz(s.migration().method()), String.valueOf(s.migration().error())))));
        out.append('\n');
        out.append("databases: ").append(s.migrationDetail().size());
        if (!s.migrationDetail().isEmpty()) {
            out.append(" (").append(String.join(", ", s.databasesByStatus().entrySet().stream()
                    .map(e -> e.getValue() + " " + e.getKey()).toList())).append(')');
        }
        out.append("\n\n");
        List<List<String>> rows = new ArrayList<>();
        for (DatabaseStatus d : s.migrationDetail()) {
            rows.add(List.of(d.dbname(), nz(d.method()), d.status().wireName(),
                    d.phase() == null ? "" : d.phase().wireName(),
                    d.tablesTotal() == 0 ? "" : d.tablesDone() + "/" + d.tablesTotal(),
                    Long.toString(d.rowsCopied()), d.lagBytes() == null ? "" : d.lagBytes() + " B",
                    String.valueOf(d.error())));
        }
        out.append(table(List.of("DBNAME", "METHOD", "STATUS", "PHASE", "TABLES", "ROWS", "LAG", "ERROR"), rows));
        for (DatabaseStatus d : s.migrationDetail()) {
            if (!d.phaseSeconds().isEmpty()) {
                out.append("time: ").append(d.dbname()).append(": ");
                d.phaseSeconds().forEach((phase, secs) -> out.append(phase).append(String.format(" %.1f s  ", secs)));
                out.append('\n');
            }
            if (d.methodReason() != null) {
                out.append("note: ").append(d.dbname()).append(": ").append(d.methodReason()).append('\n');
            }
            if (d.copiedBy() != null && !d.copiedBy().isEmpty()) {
                out.append("copied by: ").append(d.dbname()).append(": ").append(String.join("; ", d.copiedBy().entrySet()
                        .stream().map(e -> e.getKey() + " " + e.getValue().units() + " unit(s), " + e.getValue().rows()
                                + " rows").toList())).append('\n');
            }
        }
        for (DatabaseStatus d : s.migrationDetail()) {
            for (String w : d.warnings()) {
                out.append("warning: ").append(d.dbname()).append(": ").append(w).append('\n');
            }
        }
        for (DatabaseStatus d : s.migrationDetail()) {
            for (String item : d.drift() == null ? List.<String>of() : d.drift()) {
                out.append("drift: ").append(d.dbname()).append(": ").append(item).append('\n');
            }
            if (d.refresh() != null && d.refresh().finishedAt() != null) {
                List<String> said = new java.util.ArrayList<>(d.refresh().applied());
                if (d.refresh().error() != null) {
                    said.add("stopped: " + d.refresh().error());
                }
                out.append("refresh: ").append(d.dbname()).append(": ").append(said.isEmpty() ? "nothing to do"
                        : String.join("; ", said)).append('\n');
            }
        }
        for (DatabaseStatus d : s.migrationDetail()) {
            if (d.walWarning() != null) {
                out.append("warning: ").append(d.dbname()).append(": ").append(d.walWarning()).append('\n');
            }
        }
        for (DatabaseStatus d : s.migrationDetail()) {
            if (d.cutover() != null) {
                out.append("cut-over: ").append(d.dbname()).append(": ").append(cutoverLine(d.cutover())).append('\n');
            }
        }
        return out.toString();
    }

    /** One line per database, for live progress: a bar by rows (or tables), rows, tables, MB and time left. */
    public static String progressLine(DatabaseStatus d) {
        int width = 20;
        double share = d.rowsEstimate() > 0 ? Math.min(1.0, (double) d.rowsCopied() / d.rowsEstimate())
                : d.tablesTotal() == 0 ? 0 : (double) d.tablesDone() / d.tablesTotal();
        int filled = d.status() == MigrationStatus.State.DONE || d.status() == MigrationStatus.State.SYNCING
                || d.status() == MigrationStatus.State.CUTTING_OVER
                ? width : (int) (width * share);
        String bar = "#".repeat(filled) + ".".repeat(width - filled);
        return String.format("  %-24s [%s] %-8s %-9s %d rows, %d/%d tables, %.1f MB%s", d.dbname(), bar,
                d.status().wireName(), d.phase() == null ? "" : d.phase().wireName(), d.rowsCopied(), d.tablesDone(),
                d.tablesTotal(), d.bytesCopied() / 1e6, d.etaSeconds() == null ? "" : ", ~" + d.etaSeconds() + " s left")
                + (d.status() == MigrationStatus.State.CUTTING_OVER && d.cutover() != null
                ? ", cut-over " + cutoverLine(d.cutover()) : "")
                + (d.waitingFor() == null ? "" : ", waiting: " + d.waitingFor());
    }

    /** The latest cut-over of a database in words. */
    public static String cutoverLine(MigrationStatus.Cutover c) {
        return switch (c.state()) {
            case "done" -> String.format("done; source writes were blocked for %.1f s (%d session(s) ended), target has"
                            + " everything up to source WAL %s; the source is %s", c.writesBlockedMs() / 1000.0,
                    c.sessionsEnded(), c.fenceLsn() == null ? "?" : c.fenceLsn(),
                    Boolean.TRUE.equals(c.sourceWritable()) ? "writable again" : "read-only");
            case "failed" -> "failed: " + c.error();
            default -> c.step() + (c.detail() == null ? "" : ": " + c.detail());
        };
    }

    private static String nz(String s) {
        return s == null ? "" : s;
    }

    static String table(List<String> header, List<List<String>> rows) {
        int[] w = new int[header.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = header.get(i).length();
            for (List<String> r : rows) {
                w[i] = Math.max(w[i], r.get(i).length());
            }
        }
        StringBuilder sb = new StringBuilder();
        line(sb, header, w);
        List<String> rule = new ArrayList<>();
        for (int width : w) {
            rule.add("=".repeat(width));
        }
        line(sb, rule, w);
        rows.forEach(r -> line(sb, r, w));
        return sb.toString();
    }

    private static void line(StringBuilder sb, List<String> cells, int[] w) {
        for (int i = 0; i < cells.size(); i++) {
            sb.append(i == cells.size() - 1 ? cells.get(i) : String.format("%-" + w[i] + "s  ", cells.get(i)));
        }
        sb.append('\n');
    }
}
