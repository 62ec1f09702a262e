#!/usr/bin/env bash
# Benchmark: many small databases (issue 10's "cost per database"), interleaved and repeated.
#
#   bench/dbs.sh [DATABASES] [ROUNDS] [WORKERS] [TASKS]      (defaults: 100 databases, 3 rounds, 2 workers, 1 task each)
#
# Builds DATABASES databases in a throw-away source cluster, each with 4 tables (about 4,000 rows in all), an
# index, a foreign key, a trigger, a view and a function, then per round migrates all of them with each tool into
# an emptied target and checks that the target equals the source (per database: row count and content hash of
# every table, and the number of views, functions and triggers). Tools: pgferry-service (a request posted to a
# running coordinator with WORKERS worker processes of TASKS slots each, until done), pg_dumpall (`pg_dumpall |
# psql`, one process for everything) and pg_dump_each (`pg_dump -Fc | pg_restore` per database, one after another);
# pgferry-service-naptime is pgferry-service with autovacuum_naptime raised on both servers for the run;
# pgferry-migrate is `./pgferry migrate --workers WORKERS` (its own broker and coordinator, started and stopped in the
# run); pgcopydb_each is `pgcopydb clone` per database (installed: apt-get install pgcopydb). The last two are
# timed only when named in TOOLS.
# Prints each tool's median and spread, the wall time per database and the CPU seconds per database of the source's
# server, the target's and the rest of the machine (the tool itself; from /proc of the postmasters and the machine).
# BENCH_DIR=/dev/shm puts the clusters on a tmpfs instead of /tmp (see bench/run.sh).
# BENCH_DELAY_MS=N puts both servers N ms away each way (bench/delay.py, a proxy that holds every chunk) for every
# tool, once the databases are built.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
N=${1:-100}
ROUNDS=${2:-3}
WORKERS=${3:-2}
TASKS=${4:-1}
work=$(mktemp -d "${BENCH_DIR:-/tmp}"/pgferry-bench-dbs-XXXX)
. "$here/lib.sh"
results="$work/results.tsv"
: > "$results"

# BENCH_LOGS=DIR keeps the pgferry processes' logs.
trap 'set +e; stop_all ${svc_pids:-}' EXIT

start_source_and_target

echo "bench: building $N small databases (workers=$WORKERS, tasks=$TASKS, rounds=$ROUNDS)" >&2
for i in $(seq 1 "$N"); do
  psql -q -d "$src dbname=postgres" -c "CREATE DATABASE tenant_$i"
  psql -q -X -v ON_ERROR_STOP=1 -d "$src dbname=tenant_$i" >/dev/null <<'SQL'
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, created timestamptz DEFAULT now());
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers (id), total numeric(10,2), placed date);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE TABLE items (order_id int NOT NULL REFERENCES orders (id), line int, sku text, qty int, PRIMARY KEY (order_id, line));
CREATE TABLE audit (id bigserial PRIMARY KEY, at timestamptz DEFAULT now(), what text);
CREATE FUNCTION audit_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit (what) VALUES ('order ' || NEW.id); RETURN NEW; END $$;
CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION audit_order();
CREATE VIEW order_totals AS SELECT c.name, sum(o.total) AS total FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name;
INSERT INTO customers SELECT g, 'customer ' || g, 'c' || g || '@example.com' FROM generate_series(1, 500) g;
INSERT INTO orders SELECT g, 1 + g % 500, (g % 97) * 1.25, DATE '2026-01-01' + g % 300 FROM generate_series(1, 1000) g;
INSERT INTO items SELECT 1 + g % 1000, g, 'sku-' || (g % 50), 1 + g % 5 FROM generate_series(1, 1500) g;
VACUUM ANALYZE;
SQL
done

fingerprint() { # conninfo -> one line per database and table, then the object counts
  for i in $(seq 1 "$N"); do
    psql -Atq -d "$1 dbname=tenant_$i" <<SQL
SELECT format('SELECT %L || '':'' || count(*) || '':'' || md5(coalesce(string_agg(h, '''' ORDER BY h), '''')) FROM (SELECT md5(t::text) h FROM %I.%I t) s',
              'tenant_$i.' || c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY 1 \gexec
SELECT 'tenant_$i objects:' || (SELECT count(*) FROM pg_views WHERE schemaname = 'public') || '/'
       || (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace) || '/'
       || (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal);
SQL
  done
}
delay_servers   # BENCH_DELAY_MS: the servers a network away from here on
fingerprint "$src" > "$work/source.fp"

reset_target() {
  psql -Atq -d "$dst dbname=postgres" -c "SELECT datname FROM pg_database WHERE datname LIKE 'tenant\_%'" |
    while read -r d; do psql -q -d "$dst dbname=postgres" -c "DROP DATABASE \"$d\" WITH (FORCE)"; done
}

# pgferry's default JVM options (C1 only, serial GC), the heap capped
export PGFERRY_JAVA_OPTS="-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
before_service=${svc_pids:-}
start_service
for w in $(seq 1 "$WORKERS"); do
  "$root/pgferry" worker --bootstrap-servers "127.0.0.1:$KP" --tasks "$TASKS" >"$work/worker-$w.log" 2>&1 & svc_pids="$svc_pids $!"
done
sleep 3   # the workers join their group
service_pids=${svc_pids#"$before_service"}   # the broker, the coordinator, then each worker

run_pgferry_service() {
  id=$(curl -sf -XPOST "localhost:$HP/migrations" -d "{\"source\": {\"host\": \"127.0.0.1\", \"port\": $SP, \"user\": \"postgres\", \"sslmode\": \"disable\"},
        \"target\": {\"host\": \"127.0.0.1\", \"port\": $TP, \"user\": \"postgres\", \"sslmode\": \"disable\"},
        \"method\": \"dump\", \"ignore_dbs\": [\"postgres\"]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["migration_id"])')
  wait_for_status "$id" done failed > "$work/pgferry-service.json"
  # Worker time per database: from its start to its finish, as the status reports them (median over databases).
  python3 -c '
import json, sys, statistics, datetime
d = json.load(sys.stdin)
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
rows = d["migration_detail"]
spans = [(t(r["finished_at"]) - t(r["started_at"])).total_seconds() for r in rows if r.get("finished_at") and r.get("started_at")]
print("bench:   pgferry", d["migration"]["status"], len(rows), "databases; worker seconds per database: median %.2f, min %.2f, max %.2f" % (statistics.median(spans), min(spans), max(spans)), file=sys.stderr)
gaps = []
for w in {r.get("worker_id") for r in rows}:
    mine = sorted((t(r["started_at"]), t(r["finished_at"])) for r in rows if r.get("worker_id") == w and r.get("finished_at") and r.get("started_at"))
    gaps += [(b[0] - a[1]).total_seconds() for a, b in zip(mine, mine[1:])]
if gaps:
    print("bench:   seconds from a database finished to the next started on the same worker: median %.3f, min %.3f, max %.3f" % (statistics.median(gaps), min(gaps), max(gaps)), file=sys.stderr)
phases = sorted({p for r in rows for p in (r.get("phase_seconds") or {})})
print("bench:   median seconds per phase:", ", ".join("%s %.3f" % (p, statistics.median([(r.get("phase_seconds") or {}).get(p, 0) for r in rows])) for p in phases), file=sys.stderr)
' < "$work/pgferry-service.json"
}
# The same with autovacuum's launcher slowed on both servers for the migration (autovacuum_naptime 10 min instead of
# 1 min: with N databases it starts N autovacuum workers a minute on each server), set back afterwards.
run_pgferry_service_naptime() {
  for c in "$src" "$dst"; do
    psql -q -d "$c dbname=postgres" -c "ALTER SYSTEM SET autovacuum_naptime = '10min'" -c "SELECT pg_reload_conf()" >/dev/null
  done
  run_pgferry_service
  for c in "$src" "$dst"; do
    psql -q -d "$c dbname=postgres" -c "ALTER SYSTEM RESET autovacuum_naptime" -c "SELECT pg_reload_conf()" >/dev/null
  done
}
run_pg_dumpall() {
  pg_dumpall -d "$src dbname=postgres" --exclude-database=postgres 2>/dev/null |
    psql -q -X -d "$dst dbname=postgres" >/dev/null 2>"$work/pg_dumpall.err"
}
run_pgcopydb_each() { # pgcopydb 0.10 has no --all-databases: one clone per database, into a database made first
  for i in $(seq 1 "$N"); do
    psql -q -d "$dst dbname=postgres" -c "CREATE DATABASE tenant_$i"
    rm -rf "$work/pgcopydb"
    pgcopydb clone --source "postgres://postgres@127.0.0.1:$SP/tenant_$i" --target "postgres://postgres@127.0.0.1:$TP/tenant_$i" \
      --table-jobs "$(nproc)" --index-jobs "$(nproc)" --dir "$work/pgcopydb" >"$work/pgcopydb.log" 2>&1
  done
}
run_pgferry_migrate() { # ./pgferry migrate as a user runs it: its own broker, coordinator and WORKERS workers, in a
  # JVM with pgferry's own default options (not the service's, exported below)
  env -u PGFERRY_JAVA_OPTS "$root/pgferry" migrate --source "postgres://postgres@127.0.0.1:$SP/postgres?sslmode=disable" \
    --target "postgres://postgres@127.0.0.1:$TP/postgres?sslmode=disable" --method dump --ignore-dbs postgres \
    --workers "$WORKERS" --data-dir "$work/pgferry-migrate" >/dev/null 2>"$work/pgferry-migrate.log"
}
run_pg_dump_each() {
  for i in $(seq 1 "$N"); do
    pg_dump -Fc -d "$src dbname=tenant_$i" | { psql -q -d "$dst dbname=postgres" -c "CREATE DATABASE tenant_$i"; pg_restore -d "$dst dbname=tenant_$i"; }
  done
}

tools=${TOOLS:-"pgferry-service pg_dumpall pg_dump_each"}
for round in $(seq 1 "$ROUNDS"); do
  for tool in $tools; do
    reset_target
    cpu0=$(cpu_snapshot $service_pids)
    start=$(date +%s.%N)
    case $tool in
      pgferry-service) run_pgferry_service ;;
      pgferry-service-naptime) run_pgferry_service_naptime ;;
      pg_dumpall) run_pg_dumpall ;;
      pg_dump_each) run_pg_dump_each ;;
      pgcopydb_each) run_pgcopydb_each ;;
      pgferry-migrate) run_pgferry_migrate ;;
    esac
    end=$(date +%s.%N)
    cpu1=$(cpu_snapshot $service_pids)
    secs=$(echo "$end - $start" | bc)
    # CPU seconds of the run: the source's server, the target's, and the rest of the machine (the tool's own
    # processes; for pgferry also its broker and coordinator, and for every tool this script's polling)
    cpu=$(echo "$cpu0 | $cpu1" | awk '{n = (NF - 1) / 2; s = $(n+3)-$2; t = $(n+4)-$3
      printf "%.1f\t%.1f\t%.1f", s, t, ($(n+2)-$1)-s-t}')
    fingerprint "$dst" > "$work/target.fp"
    check=$(diff "$work/source.fp" "$work/target.fp" >/dev/null && echo equal || echo DIFFERENT)
    printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$round" "$secs" "$check" "$cpu" >> "$results"
    printf 'bench: round %s %-16s %7.1f s  %s  CPU s: source %s, target %s, rest %s\n' "$round" "$tool" "$secs" "$check" \
      $(echo "$cpu" | tr '\t' ' ') >&2
    # Of the rest, the running service's processes (the broker, the coordinator, each worker with its pg_dump and
    # pg_restore runs): their share for pgferry-service, their idle cost for the other tools
    echo "$cpu0 | $cpu1" | awk '{n = (NF - 1) / 2; d = n + 1
      printf "bench:   CPU s of the service: broker %.1f, coordinator %.1f, workers (own + pg_dump/pg_restore)",
        $(d+4)+$(d+5)-$4-$5, $(d+6)+$(d+7)-$6-$7
      for (i = 8; i < n; i += 2) printf " %.1f + %.1f", $(d+i)-$i, $(d+i+1)-$(i+1); printf "\n"}' >&2
  done
done

python3 - "$results" "$N" "$WORKERS" "$TASKS" <<'PY'
import sys, statistics, collections
path, n, workers, tasks = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
runs = collections.defaultdict(list); checks = collections.defaultdict(set); cpus = collections.defaultdict(list)
for line in open(path):
    tool, rnd, secs, check, *cpu = line.rstrip('\n').split('\t')
    runs[tool].append(float(secs)); checks[tool].add(check); cpus[tool].append([float(c) for c in cpu])
rounds = max(len(v) for v in runs.values())
print(f"{n} databases, pgferry: {workers} worker process(es) x {tasks} task slot(s); {rounds} rounds")
print("| tool | median s | min-max s | s per database | CPU s per database: source, target, rest (medians) | target check |")
print("|---|---|---|---|---|---|")
for tool, secs in sorted(runs.items(), key=lambda kv: statistics.median(kv[1])):
    m = statistics.median(secs)
    cpu = ", ".join("%.3f" % (statistics.median(c[i] for c in cpus[tool]) / n) for i in range(3))
    print(f"| {tool} | {m:.1f} | {min(secs):.1f}-{max(secs):.1f} | {m/n:.3f} | {cpu} | {','.join(sorted(checks[tool]))} |")
PY
