#!/usr/bin/env bash
# How fast the status view is rebuilt (issue 10, part 4): a coordinator restarted over the history of many finished
# migrations, with and without the status snapshots, and the fold's own rate.
#
#   bench/status.sh [MIGRATIONS] [ROUNDS] [LAG_EVENTS]      (default 10000 3 1000000)
#
# Runs dev.pgferry.it.StatusReplayBench against an embedded broker in a temporary directory (removed at exit).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
mvn -B -q -o install -DskipTests >/dev/null
mvn -B -q -o -pl it test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
exec java -Xmx2g -cp "it/target/test-classes:$(cat it/target/bench.classpath)" dev.pgferry.it.StatusReplayBench "$@"
