#!/usr/bin/env bash
# Benchmark: one database of about 1 GB over 1, 2 and 3 worker processes (issue 10's "one big database across all
# workers"), interleaved and repeated.
#
#   bench/spread.sh [ROUNDS] [WORKER_COUNTS]      (defaults: 3 rounds, "1 2 3")
#
# Builds one source database: pgbench at scale 30 with foreign keys (about 450 MB with its indexes) and eight tables of
# about 60 MB each, copied whole, so that both kinds of shared units (ranges of a split table, whole tables) occur.
# Per round and worker count: a broker and a coordinator keep running; that many `pgferry worker --tasks 1` processes
# are started, a request is posted, and the time from the post to `done` is taken; then the workers are stopped and
# the target checked against the source (row count and content hash of every table). Also recorded per run: the CPU
# seconds of each worker process during the migration, of the whole machine, and the status' `copied_by` (which
# worker copied how many units and rows). Prints medians per worker count.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
ROUNDS=${1:-3}
COUNTS=${2:-"1 2 3"}
work=$(mktemp -d "${BENCH_DIR:-/tmp}"/pgferry-bench-spread-XXXX)
. "$here/lib.sh"
results="$work/results.tsv"
: > "$results"

trap 'set +e; stop_all ${worker_pids:-} ${svc_pids:-}' EXIT

start_source_and_target

echo "bench: building the database (rounds=$ROUNDS, worker counts: $COUNTS)" >&2
psql -q -d "$src dbname=postgres" -c "CREATE DATABASE big"
pgbench -q -i -s 30 --foreign-keys -d "$src dbname=big" >/dev/null 2>&1
for i in $(seq 1 8); do
  psql -q -X -v ON_ERROR_STOP=1 -d "$src dbname=big" <<SQL
CREATE TABLE mid_$i (id bigint PRIMARY KEY, account int, note text, amount numeric(12,2), at timestamptz);
INSERT INTO mid_$i SELECT g, g % 100000, repeat(md5((g * $i)::text), 2), (g % 1000) * 1.5,
       timestamptz '2026-01-01' + g * interval '1 s' FROM generate_series(1, 450000) g;
SQL
done
psql -q -d "$src dbname=big" -c "VACUUM ANALYZE"
psql -Atq -d "$src dbname=big" -c "SELECT 'bench: source database ' || pg_size_pretty(pg_database_size('big'))" >&2

fingerprint() { # conninfo -> one line per table
  psql -Atq -d "$1 dbname=big" <<'SQL'
SELECT format('SELECT %L || '':'' || count(*) || '':'' || md5(coalesce(string_agg(h, '''' ORDER BY h), '''')) FROM (SELECT md5(t::text) h FROM %I.%I t) s',
              c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY 1 \gexec
SQL
}
fingerprint "$src" > "$work/source.fp"

# pgferry's default JVM options (C1 only, serial GC), the heap capped
export PGFERRY_JAVA_OPTS="-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
start_service

cpu_of() { # pid -> CPU seconds (user + system) so far
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}
machine_cpu() { # CPU seconds of the whole machine so far (user, nice, system; no idle or I/O wait)
  awk -v hz="$(getconf CLK_TCK)" '/^cpu / { print ($2 + $3 + $4) / hz }' /proc/stat
}

run() { # WORKERS ROUND
  local n=$1 round=$2 pids=() before=() i
  psql -q -d "$dst dbname=postgres" -c "DROP DATABASE IF EXISTS big WITH (FORCE)"
  worker_pids=""
  for i in $(seq 1 "$n"); do
    "$root/pgferry" worker --bootstrap-servers "127.0.0.1:$KP" --tasks 1 >"$work/worker-$n-$round-$i.log" 2>&1 &
    pids+=("$!"); worker_pids="$worker_pids $!"
  done
  sleep 6   # the workers start and join their group
  for p in "${pids[@]}"; do before+=("$(cpu_of "$p")"); done
  local m0 start end id
  m0=$(machine_cpu)
  start=$(date +%s.%N)
  id=$(curl -sf -XPOST "localhost:$HP/migrations" -d "{\"source\": {\"host\": \"127.0.0.1\", \"port\": $SP, \"user\": \"postgres\", \"sslmode\": \"disable\"},
        \"target\": {\"host\": \"127.0.0.1\", \"port\": $TP, \"user\": \"postgres\", \"sslmode\": \"disable\"},
        \"method\": \"dump\", \"ignore_dbs\": [\"postgres\"]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["migration_id"])')
  wait_for_status "$id" done failed > "$work/status-$n-$round.json"
  end=$(date +%s.%N)
  local machine worker_cpu=""
  machine=$(echo "$(machine_cpu) - $m0" | bc)
  for i in "${!pids[@]}"; do worker_cpu="$worker_cpu $(echo "$(cpu_of "${pids[$i]}") - ${before[$i]}" | bc)"; done
  kill $worker_pids 2>/dev/null; wait $worker_pids 2>/dev/null || true
  worker_pids=""
  fingerprint "$dst" > "$work/target.fp"
  local check shares secs
  check=$(diff "$work/source.fp" "$work/target.fp" >/dev/null && echo equal || echo DIFFERENT)
  shares=$(python3 - "$work/status-$n-$round.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["migration_detail"][0]
by = sorted((d.get("copied_by") or {}).values(), key=lambda v: -v["rows"])
print(d["status"], " ".join("%du/%dr" % (v["units"], v["rows"]) for v in by) or "-")
PY
)
  secs=$(echo "$end - $start" | bc)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$round" "$secs" "$machine" "$worker_cpu" "$shares" "$check" >> "$results"
  printf 'bench: round %s, %s worker(s): %6.1f s, machine CPU %6.1f s, workers CPU%s; %s; %s\n' \
    "$round" "$n" "$secs" "$machine" "$worker_cpu" "$shares" "$check" >&2
}

for round in $(seq 1 "$ROUNDS"); do
  for n in $COUNTS; do
    run "$n" "$round"
  done
done

python3 - "$results" <<'PY'
import sys, statistics, collections
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    n, rnd, secs, machine, workers, shares, check = line.rstrip('\n').split('\t')
    runs[int(n)].append((float(secs), float(machine), [float(x) for x in workers.split()], shares, check))
print("| worker processes | median s | min-max s | machine CPU s (median) | worker CPU s per process (median of each run's) | copied_by (last run) | target check |")
print("|---|---|---|---|---|---|---|")
for n in sorted(runs):
    r = runs[n]
    secs = [x[0] for x in r]
    print(f"| {n} | {statistics.median(secs):.1f} | {min(secs):.1f}-{max(secs):.1f} | {statistics.median(x[1] for x in r):.1f} | "
          f"{' / '.join(f'{statistics.median(sorted(x[2], reverse=True)[i] for x in r):.1f}' for i in range(n))} | {r[-1][3]} | "
          f"{','.join(sorted({x[4] for x in r}))} |")
PY
