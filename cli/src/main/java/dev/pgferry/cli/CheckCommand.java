package dev.pgferry.cli;

import dev.pgferry.messages.CheckReport;
import dev.pgferry.messages.CheckReport.DatabaseCheck;
import dev.pgferry.messages.CheckReport.Finding;
import dev.pgferry.messages.Json;
import dev.pgferry.messages.MigrationRequest;
import dev.pgferry.pg.Secrets;
import dev.pgferry.worker.check.Checker;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.time.Duration;
import java.util.concurrent.Callable;

@Command(name = "check", mixinStandardHelpOptions = true,
        description = "Validate a migration without changing anything: connects to both servers (no Kafka needed) and"
                + " lists, for the servers and each database the request would move, what passes, what deserves a"
                + " warning and what would block the migration, with the fix: the method each database would get and"
                + " every replication precondition, tables without primary key, unlogged tables, large objects,"
                + " extensions the target lacks, locales, a target database that holds tables, pg_dump's version, open"
                + " and prepared transactions, max_slot_wal_keep_size, size. Exits 0 when nothing blocks (1 with"
                + " --strict and a warning), 1 when something blocks, 2 for bad usage.")
final class CheckCommand implements Callable<Integer> {
    @Mixin
    RequestOptions request;

    @Option(names = "--json", description = "Print the report as JSON.")
    boolean json;

    @Option(names = "--strict", description = "Exit 1 on warnings too.")
    boolean strict;

    @Option(names = "--long-transaction", paramLabel = "DURATION", converter = DurationConverter.class,
            defaultValue = "" + Checker.LONG_TRANSACTION_SECONDS,
            description = "Report transactions open on the source for longer than this (default: ${DEFAULT-VALUE} s):"
                    + " creating a replication slot waits for them to end.")
    Duration longTransaction;

    @Override
    public Integer call() {
        MigrationRequest r;
        try {
            r = request.toRequest();
        } catch (IllegalArgumentException e) {
            System.err.println("pgferry: " + e.getMessage());
            return Exits.USAGE;
        }
        CheckReport report = new Checker(r, Secrets.system(), longTransaction).run();
        if (json) {
            System.out.println(Json.writePretty(report));
        } else {
            print(report, System.out);
        }
        return report.verdict() == CheckReport.Verdict.BLOCKER
                || (strict && report.verdict() == CheckReport.Verdict.WARNING) ? Exits.FAILED : Exits.DONE;
    }

    static void print(CheckReport report, PrintStream out) {
        out.println("check " + report.source() + " -> " + report.target() + ": " + report.verdict().wireName());
        report.server().forEach(f -> out.println(line("  ", f)));
        for (DatabaseCheck d : report.databases()) {
            out.println(String.format("database %s: %s (method %s, %.1f MB, about %d rows%s)", d.dbname(),
                    d.verdict().wireName(), d.method(), d.sizeBytes() / 1e6, d.rowsEstimate(),
                    d.estimatedSeconds() == null ? "" : ", about " + d.estimatedSeconds() + " s"));
            d.findings().forEach(f -> out.println(line("  ", f)));
        }
        // Summed unrounded: a hundred small databases of 0.3 s each are 30 s, not a hundred times the 1 s each shows.
        long millis = report.databases().stream().mapToLong(d -> d.estimatedMs() == null ? 0 : d.estimatedMs()).sum();
        if (report.databases().size() > 1) {
            out.println("all " + report.databases().size() + " databases: about "
                    + Math.max(1, Math.round(millis / 1000.0)) + " s of worker time, roughly (shared by the workers that"
                    + " run them)");
        }
    }

    private static String line(String indent, Finding f) {
        return indent + String.format("%-8s", f.verdict().wireName()) + " " + f.check() + ": " + f.message();
    }
}
