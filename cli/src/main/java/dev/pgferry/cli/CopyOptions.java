package dev.pgferry.cli;

import dev.pgferry.worker.runtime.Worker;
import picocli.CommandLine.Option;

/** How a worker copies: the options of {@code pgferry worker} and {@code pgferry migrate}, defined once. */
final class CopyOptions {
    @Option(names = "--jobs", paramLabel = "N", defaultValue = "" + Worker.DEFAULT_JOBS,
            description = "Tables (or table ranges) copied and indexes built at once per worker (default ${DEFAULT-VALUE}: one per CPU core, at least 2).")
    int jobs;

    @Option(names = "--split-table-mb", defaultValue = "0", paramLabel = "MB",
            description = "Copy tables larger than this in ranges, in parallel (default 0: automatic, a table of at"
                    + " least 64 MB when its copy and longest index build would outlast the rest of the work even though"
                    + " ranges cost about twice a whole copy; never with 2 jobs or fewer).")
    long splitTableMb;

    long splitTableBytes() {
        return splitTableMb << 20;
    }

    /** A worker's settings with these options, the rest at their defaults. */
    Worker.Settings workerSettings() {
        return Worker.Settings.defaults().withJobs(jobs).withSplitTableBytes(splitTableBytes());
    }
}
