package dev.pgferry.cli;

import dev.pgferry.bus.Bus;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationStatus;
import dev.pgferry.messages.Topics;
import dev.pgferry.messages.Verification;
import dev.pgferry.messages.VerifyRequest;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/** Asking for a migration's verification, waiting for it and reporting it: shared by {@code verify} and {@code migrate}. */
final class Verifications {
    private Verifications() {
    }

    static void request(Bus bus, String migrationId, int jobs) {
        bus.send(Topics.REQUESTS, migrationId, Json.write(VerifyRequest.of(migrationId, jobs)));
    }

    /** A verification newer than the one {@code before} shows has finished. */
    static Predicate<MigrationStatus> ended(Optional<MigrationStatus> before) {
        Instant previous = before.map(MigrationStatus::verify).map(MigrationStatus.VerifySummary::requestedAt).orElse(null);
        return s -> s.verify() != null && !s.verify().requestedAt().equals(previous) && s.verify().finished();
    }

    /** Exit code: 0 when every database matches. */
    static int report(MigrationStatus status, Path reportFile, boolean json, PrintStream out) throws IOException {
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("migration_id", status.migrationId());
        report.put("result", status.verify().result());
        report.put("verify", status.verify());
        List<Map<String, Object>> databases = new ArrayList<>();
        for (MigrationStatus.DatabaseStatus d : status.migrationDetail()) {
            Map<String, Object> db = new LinkedHashMap<>();
            db.put("dbname", d.dbname());
            db.put("verification", d.verification());
            databases.add(db);
        }
        report.put("databases", databases);
        if (reportFile != null) {
            Files.writeString(reportFile, Json.writePretty(report));
        }
        if (json) {
            out.println(Json.writePretty(report));
        } else {
            print(status, out);
            if (reportFile != null) {
                out.println("report: " + reportFile);
            }
        }
        return "match".equals(status.verify().result()) ? Exits.DONE : Exits.FAILED;
    }

    private static void print(MigrationStatus status, PrintStream out) {
        out.println("verify " + status.migrationId() + ": " + status.verify().result() + " ("
                + status.verify().databasesMatching() + " of " + status.verify().databasesTotal() + " databases match)");
        for (MigrationStatus.DatabaseStatus d : status.migrationDetail()) {
            Verification v = d.verification();
            if (v == null) {
                out.println("  " + d.dbname() + ": not verified");
                continue;
            }
            long tables = v.tables().size() + (v.tablesMatching() == null ? 0 : v.tablesMatching());
            long matching = v.tables().stream().filter(t -> t.result() == Verification.Result.MATCH).count()
                    + (v.tablesMatching() == null ? 0 : v.tablesMatching());
            out.println("  " + d.dbname() + ": " + v.result().wireName() + " (" + matching + " of " + tables
                    + " tables match" + (v.seconds() == null ? "" : ", " + v.seconds() + " s") + ")"
                    + (v.error() == null ? "" : ": " + v.error()));
            for (Verification.Check c : v.checks()) {
                // (a match with details says what it matched despite: a materialized view stale on the source)
                if (c.result() != Verification.Result.MATCH || !c.details().isEmpty()) {
                    out.println("    " + c.name() + ": " + c.result().wireName());
                    c.details().forEach(line -> out.println("      " + line));
                }
            }
            for (Verification.TableCheck t : v.tables()) {
                if (t.result() != Verification.Result.MATCH) {
                    out.println("    table " + t.table() + ": " + t.result().wireName() + " (rows: " + t.rowsSource()
                            + " on the source, " + t.rowsTarget() + " on the target)"
                            + (t.reason() == null ? "" : ": " + t.reason()));
                    if (t.sampleKeys() != null) {
                        t.sampleKeys().forEach(k -> out.println("      " + k));
                    }
                }
            }
        }
    }
}
