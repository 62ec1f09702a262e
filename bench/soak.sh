#!/usr/bin/env bash
# The soak of issue 13: pgbench and a writer that records every committed id write to a replicating database for
# SECONDS (default 300) while the broker is killed and restarted and the coordinator restarted; then a cut-over.
# It is SoakIT run longer than the suite runs it (12 s); its row lands in it/target/RELIABILITY.md.
#
#   bench/soak.sh [SECONDS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
mvn -B -q -o install -DskipTests >/dev/null
cd it
mvn -B -o verify -Dit.test=SoakIT -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
    -Dpgferry.soak.seconds="${1:-300}" | grep -E 'Tests run:|FAIL|ERROR' || true
grep '^| soak' target/RELIABILITY.md
