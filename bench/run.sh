#!/usr/bin/env bash
# Benchmark: times pgferry against the tools users would pick instead, on one dataset, interleaved and repeated.
#
#   bench/run.sh [SIZE_MB] [ROUNDS] [JOBS]      (defaults: 1000 MB, 3 rounds, one job per core)
#   SHAPE=tables bench/run.sh 500               (500 tables of three rows, an index and a foreign key each)
#   SHAPE=fk bench/run.sh 1000                  (pgbench --foreign-keys, text/jsonb rows with a GIN index, bytea)
#   SHAPE=partitions bench/run.sh 400           (a table of 400 daily partitions, three indexes, foreign keys)
#
# Builds a dataset of about SIZE_MB in a throw-away source cluster (pgbench tables, a table of wide text/jsonb
# rows, a bytea table), then per round runs each tool into a fresh target database and checks that the target
# equals the source (row counts and content hashes per table, indexes, constraints, sequences). Prints seconds
# (median and spread), MB/s, each tool's time as a ratio of the floor (a bare parallel COPY pipe, no indexes) and the
# CPU seconds of each run: the source's server, the target's, and the rest of the machine (from /proc).
# BENCH_DIR=/dev/shm puts the clusters (and pgferry's broker) on a tmpfs instead of /tmp (BENCHMARKS.md, "Where the
# target's time goes": this machine's /tmp creates files slowly). Extra server settings for both clusters:
# BENCH_PG_OPTS="-c log_min_duration_statement=100". KEEP=1 leaves the clusters and pgferry's service running.
# TOOLS="pgferry-service floor" picks tools (also: pgferry-repl and pgferry-repl-tablesync, logical replication
# until every database is syncing, with pgferry's copy or PostgreSQL's table sync; pgferry-verify, the
# time of pgferry verify after an untimed migration; pgferry-service-b, the service with a worker started with
# BENCH_WORKER_OPTS_B (its --jobs, if any, replaces the run's) and in a JVM with BENCH_WORKER_JAVA_OPTS_B
# (default: the same JVM options as the others, below), for an interleaved A/B of worker options (BENCH_WARM=1:
# after each restart of the worker, one untimed migration); pgferry-migrate-b, ./pgferry migrate of another
# checkout, BENCH_ROOT_B, for an A/B of two builds; not in the default set).
# Needs PostgreSQL 15 server and client programs; pgcopydb is timed when installed (apt-get install pgcopydb).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
SIZE_MB=${1:-1000}
ROUNDS=${2:-3}
JOBS=${3:-$(nproc)}
[ "$JOBS" -ge 2 ] || JOBS=2
work=$(mktemp -d "${BENCH_DIR:-/tmp}"/pgferry-bench-XXXX)
. "$here/lib.sh"
results="$work/results.tsv"
: > "$results"

cleanup() {
  set +e
  if [ -n "${KEEP:-}" ]; then
    echo "bench: KEEP set: clusters stay up in $work (source $SP, target $TP), and pgferry's service too (pids${svc_pids:- none}: kill them when done)" >&2
    return
  fi
  stop_all ${svc_pids:-}
}
trap cleanup EXIT

start_source_and_target

SHAPE=${SHAPE:-mixed}
psql -q -d "$src dbname=postgres" -c "CREATE DATABASE bench"
case $SHAPE in
mixed)
echo "bench: building a dataset of about ${SIZE_MB} MB (jobs=$JOBS, rounds=$ROUNDS)" >&2
scale=$(( SIZE_MB * 45 / 100 / 15 )); [ "$scale" -ge 1 ] || scale=1
pgbench -q -i -s "$scale" -d "$src dbname=bench" >/dev/null 2>&1
wide_rows=$(( SIZE_MB * 35 / 100 * 1000 ))     # ~1 KB per row
blob_rows=$(( SIZE_MB * 20 / 100 * 100 ))      # ~10 KB per row
psql -q -d "$src dbname=bench" <<SQL
CREATE TABLE wide (id bigserial PRIMARY KEY, title text NOT NULL, body text, doc jsonb, created timestamptz DEFAULT now());
INSERT INTO wide (title, body, doc)
  SELECT 'title ' || g, repeat(md5(g::text), 24), jsonb_build_object('n', g, 'tags', jsonb_build_array(g % 7, g % 11), 'h', md5(g::text))
  FROM generate_series(1, $wide_rows) g;
CREATE INDEX wide_title_idx ON wide (title);
CREATE INDEX wide_doc_idx ON wide USING gin (doc);
CREATE TABLE blobs (id int PRIMARY KEY, wide_id bigint REFERENCES wide(id), data bytea);
INSERT INTO blobs SELECT g, g, decode(repeat(md5(g::text), 320), 'hex') FROM generate_series(1, $blob_rows) g;
SELECT setval('wide_id_seq', (SELECT max(id) FROM wide) + 1000);
VACUUM ANALYZE;
SQL
;;
tables)
# SHAPE=tables: SIZE_MB is the number of tables, each with three rows, a secondary index and a foreign key to the
# table before it (issue 12's "500 small tables").
echo "bench: building $SIZE_MB small tables (jobs=$JOBS, rounds=$ROUNDS)" >&2
psql -q -d "$src dbname=bench" <<SQL
DO \$\$ BEGIN FOR i IN 1..$SIZE_MB LOOP
  EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, ref int %s, name text NOT NULL, created timestamptz DEFAULT now())',
                 i, CASE WHEN i > 1 THEN format('REFERENCES t%s (id)', i - 1) ELSE '' END);
  EXECUTE format('CREATE INDEX ON t%s (name)', i);
  EXECUTE format('INSERT INTO t%s (id, ref, name) SELECT g, %s, ''name '' || g FROM generate_series(1, 3) g',
                 i, CASE WHEN i > 1 THEN 'g' ELSE 'NULL' END);
END LOOP; END \$\$;
VACUUM ANALYZE;
SQL
;;
fk)
# SHAPE=fk: issue 12's 1 GB shape at SIZE_MB=1000: pgbench with --foreign-keys, ~1.3 kB text + jsonb rows with a
# b-tree, a GIN index and a foreign key to pgbench_accounts, and incompressible bytea values of 1 to 16 kB.
echo "bench: building a foreign-key/TOAST dataset of about ${SIZE_MB} MB (jobs=$JOBS, rounds=$ROUNDS)" >&2
scale=$(( SIZE_MB * 50 / 1000 )); [ "$scale" -ge 1 ] || scale=1
pgbench -q -i -s "$scale" --foreign-keys -d "$src dbname=bench" >/dev/null 2>&1
doc_rows=$(( SIZE_MB * 100 ))
bin_rows=$(( SIZE_MB * 15 ))
psql -q -d "$src dbname=bench" <<SQL
CREATE TABLE docs (id bigserial PRIMARY KEY, aid int NOT NULL REFERENCES pgbench_accounts (aid), title text NOT NULL,
                   body text, attrs jsonb);
INSERT INTO docs (aid, title, body, attrs)
  SELECT 1 + (g * 7919) % ($scale * 100000), 'doc ' || g, repeat(md5(g::text) || ' ', 20),
         jsonb_build_object('n', g, 'k', g % 97, 'tags', jsonb_build_array(md5((g % 13)::text), g % 5), 'v', md5(g::text))
  FROM generate_series(1, $doc_rows) g;
CREATE INDEX docs_title_idx ON docs (title);
CREATE INDEX docs_attrs_idx ON docs USING gin (attrs);
CREATE TABLE bins (id int PRIMARY KEY, doc_id bigint REFERENCES docs (id), data bytea NOT NULL);
INSERT INTO bins SELECT g, g, (SELECT string_agg(decode(md5(g::text || ':' || i), 'hex'), ''::bytea)
                               FROM generate_series(1, 64 + (g * 31) % 960) i)
  FROM generate_series(1, $bin_rows) g;
SELECT setval('docs_id_seq', (SELECT max(id) FROM docs) + 1000);
VACUUM ANALYZE;
SQL
;;
partitions)
# SHAPE=partitions: SIZE_MB is the number of daily partitions of a range-partitioned table of about 500 rows each
# (a primary key, a b-tree and a GIN index on the partitioned table, a foreign key to a plain table), and a table
# with a foreign key to the partitioned one: time-series data as applications keep it.
echo "bench: building a table of $SIZE_MB partitions (jobs=$JOBS, rounds=$ROUNDS)" >&2
psql -q -d "$src dbname=bench" <<SQL
CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL UNIQUE);
INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 2000) g;
CREATE TABLE events (id bigint GENERATED BY DEFAULT AS IDENTITY, at date NOT NULL, customer bigint NOT NULL
                     REFERENCES customers, payload jsonb, PRIMARY KEY (at, id)) PARTITION BY RANGE (at);
CREATE INDEX ON events (customer);
CREATE INDEX ON events USING gin (payload);
DO \$\$ BEGIN FOR i IN 0..$SIZE_MB - 1 LOOP
  EXECUTE format('CREATE TABLE events_%s PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                 to_char(date '2024-01-01' + i, 'YYYYMMDD'), date '2024-01-01' + i, date '2024-01-01' + i + 1);
END LOOP; END \$\$;
INSERT INTO events (at, customer, payload)
  SELECT date '2024-01-01' + g % $SIZE_MB, 1 + g % 2000, jsonb_build_object('n', g, 'tag', 't' || g % 17)
  FROM generate_series(1, $SIZE_MB * 500) g;
CREATE TABLE refunds (id serial PRIMARY KEY, event_at date NOT NULL, event_id bigint NOT NULL, amount numeric(10, 2),
                      FOREIGN KEY (event_at, event_id) REFERENCES events (at, id));
INSERT INTO refunds (event_at, event_id, amount) SELECT at, id, 9.99 FROM events WHERE id % 50 = 0;
VACUUM ANALYZE;
SQL
;;
*) echo "bench: unknown SHAPE $SHAPE (mixed, tables, fk, partitions)" >&2; exit 2 ;;
esac
size_bytes=$(psql -Atq -d "$src dbname=bench" -c "SELECT pg_database_size('bench')")
size_mb=$(( size_bytes / 1000000 ))
echo "bench: source database is $size_mb MB" >&2

fingerprint() { # conninfo -> one line per table + indexes/constraints/sequences
  psql -Atq -d "$1 dbname=bench" <<'SQL'
SELECT format('SELECT %L || '':'' || count(*) || '':'' || md5(coalesce(string_agg(h, '''' ORDER BY h), '''')) FROM (SELECT md5(t::text) h FROM %I.%I t) s',
              n.nspname || '.' || c.relname, n.nspname, c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY 1 \gexec
SELECT 'indexes:' || string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public';
SELECT 'constraints:' || string_agg(conname || '/' || contype::text, ',' ORDER BY conname) FROM pg_constraint WHERE connamespace = 'public'::regnamespace;
SELECT 'index tree:' || coalesce(string_agg(p.relname || '<' || c.relname || CASE WHEN i.indisvalid THEN '' ELSE '!' END,
       ',' ORDER BY p.relname, c.relname), '') FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
  JOIN pg_class p ON p.oid = h.inhparent JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relkind = 'i';
SELECT 'invalid indexes:' || count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
  WHERE c.relnamespace = 'public'::regnamespace AND NOT i.indisvalid;
SELECT 'sequences:' || string_agg(sequencename || '=' || coalesce(last_value, 0), ',' ORDER BY sequencename) FROM pg_sequences;
SQL
}
fingerprint "$src" > "$work/source.fp"

reset_target() {
  psql -q -d "$dst dbname=postgres" -c "DROP DATABASE IF EXISTS bench WITH (FORCE)" >/dev/null
}
create_target() { psql -q -d "$dst dbname=postgres" -c "CREATE DATABASE bench" >/dev/null; }

run_pg_dump_restore() { create_target; pg_dump -Fc -d "$src dbname=bench" | pg_restore -d "$dst dbname=bench"; }
run_pg_dump_dir() {
  create_target; rm -rf "$work/dump"
  pg_dump -Fd -j "$JOBS" -f "$work/dump" -d "$src dbname=bench" && pg_restore -j "$JOBS" -d "$dst dbname=bench" "$work/dump"
}
run_pg_dump_psql() { create_target; pg_dump -d "$src dbname=bench" | psql -q -X -v ON_ERROR_STOP=1 -d "$dst dbname=bench" >/dev/null; }
run_pgcopydb() {
  create_target; rm -rf "$work/pgcopydb"
  pgcopydb clone --source "postgres://postgres@127.0.0.1:$SP/bench" --target "postgres://postgres@127.0.0.1:$TP/bench" \
    --table-jobs "$JOBS" --index-jobs "$JOBS" --dir "$work/pgcopydb" >"$work/pgcopydb.log" 2>&1
}
run_floor() {
  create_target
  pg_dump --section=pre-data -d "$src dbname=bench" | psql -q -X -v ON_ERROR_STOP=1 -d "$dst dbname=bench" >/dev/null
  psql -Atq -d "$src dbname=bench" -c "SELECT quote_ident(relname) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY pg_relation_size(oid) DESC" |
    xargs -P "$JOBS" -I{} sh -c "psql -Atq -d '$src dbname=bench' -c 'COPY public.{} TO STDOUT' | psql -q -d '$dst dbname=bench' -c 'COPY public.{} FROM STDIN'"
}
# The service's JVMs as pgferry starts them by default (C1 only, serial GC), with the heap capped for the RSS figure:
# with C2, a worker restarted for each run spent 0.1-0.7 CPU s of each in compiling, on the cores the migration needs
# (BENCHMARKS.md, "Where the target's time goes")
export PGFERRY_JAVA_OPTS="-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
run_pgferry_migrate() { # [ROOT]: ./pgferry migrate of this checkout, or of another one (pgferry-migrate-b), in a
  # JVM with pgferry's own default options, as a user runs it (not the worker's, exported above)
  # (each build with a cache directory of its own: two builds in one would delete each other's class archive)
  env -u PGFERRY_JAVA_OPTS XDG_CACHE_HOME="$work/cache${1:+-b}" "${1:-$root}/pgferry" migrate --source "postgres://postgres@127.0.0.1:$SP/postgres?sslmode=disable" \
    --target "postgres://postgres@127.0.0.1:$TP/postgres?sslmode=disable" --method dump --ignore-dbs postgres \
    --jobs "$JOBS" --workers 1 --data-dir "$work/pgferry-migrate${1:+-b}" >/dev/null 2>"$work/pgferry-migrate.log"
}
run_pgferry_http() { # METHOD OPTIONS_JSON: submit through the coordinator's HTTP API and wait (no client JVM start-up)
  id=$(curl -sf -XPOST "localhost:$HP/migrations" -d "{\"source\": {\"host\": \"127.0.0.1\", \"port\": $SP, \"user\": \"postgres\", \"sslmode\": \"disable\"},
        \"target\": {\"host\": \"127.0.0.1\", \"port\": $TP, \"user\": \"postgres\", \"sslmode\": \"disable\"},
        \"method\": \"$1\", \"ignore_dbs\": [\"postgres\"], \"options\": $2}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["migration_id"])')
  # Replication counts as done once every database is syncing (initial copy in, subscription streaming). One
  # poller process for the whole wait: a curl and a python start per poll would take CPU from the migration.
  wait_for_status "$id" done failed > "$work/pgferry-service.json"
  # Where the time went, per phase, as the status reports it.
  python3 -c 'import json,sys; d=json.load(sys.stdin); r=d["migration_detail"][0]; print("bench:   pgferry", r["status"], "accepted", d["accepted_at"], "started", r["started_at"], "finished", r["finished_at"], "phases", r["phase_seconds"], file=sys.stderr)' < "$work/pgferry-service.json"
}
run_pgferry_service() { run_pgferry_http dump '{}'; }
run_pgferry_verify() { # after an untimed pgferry-service migration ($id): time pgferry verify through the HTTP API
  curl -sf -XPOST "localhost:$HP/migrations/$id/verify" >/dev/null
  python3 - "$HP" "$id" > "$work/pgferry-verify.json" <<'PY'
import json, sys, time, urllib.request
port, mid = sys.argv[1], sys.argv[2]
while True:
    d = json.loads(urllib.request.urlopen(f"http://localhost:{port}/migrations/{mid}").read())
    if d.get("verify") and d["verify"]["result"] != "running":
        print(json.dumps(d)); break
    time.sleep(0.05)
PY
  python3 -c 'import json,sys; d=json.load(sys.stdin); r=d["migration_detail"][0]["verification"]; print("bench:   verify", d["verify"]["result"], r["seconds"], "s in the worker,", len(r["tables"]), "tables", file=sys.stderr)' < "$work/pgferry-verify.json"
}
run_pgferry_repl() { run_pgferry_http replication '{}'; }
run_pgferry_repl_tablesync() { run_pgferry_http replication '{"postgres_table_sync": true}'; }
remove_replication() { # untimed, after the target check: subscription, slot and publication go
  curl -sf -XDELETE "localhost:$HP/migrations/$id" >/dev/null
  timeout 120 bash -c "$(declare -f wait_for_status); HP=$HP wait_for_status $id removed" >/dev/null \
    || { echo "bench: replication of $id was not removed" >&2; exit 1; }
}

# pgferry as a service: broker, coordinator and one worker (heap capped at 256 MB) already running.
start_service
# pgferry-service-b: the same, with a worker started with BENCH_WORKER_OPTS_B instead, or from the checkout
# BENCH_ROOT_B (an A/B of worker options or builds, interleaved; the worker is restarted, untimed, whenever the next
# tool wants the other one; with BENCH_WARM=1 it then runs one untimed migration).
worker_opts=unset
use_worker() { # OPTIONS [ROOT [JAVA_OPTS]]: make sure the running worker has these options (and is ROOT's build,
  # in a JVM with these options; default: PGFERRY_JAVA_OPTS as exported below)
  [ "$worker_opts" = "$1 ${2:-$root} ${3:-}" ] && return
  if [ -n "${worker_pid:-}" ]; then kill "$worker_pid"; wait "$worker_pid" 2>/dev/null || true; fi
  local jobs=(--jobs "$JOBS"); case " $1" in *" --jobs"*) jobs=() ;; esac   # OPTIONS may choose its own
  PGFERRY_JAVA_OPTS="${3:-$PGFERRY_JAVA_OPTS}" "${2:-$root}/pgferry" worker --bootstrap-servers "127.0.0.1:$KP" \
    "${jobs[@]}" $1 >>"$work/worker.log" 2>&1 & worker_pid=$!
  svc_pids="$svc_pids $worker_pid"; worker_opts="$1 ${2:-$root} ${3:-}"
  sleep 5
  # BENCH_WARM=1: one untimed migration first, so that an A/B compares warm workers, as a running service has
  if [ -n "${BENCH_WARM:-}" ] && [ -n "${warm_ready:-}" ]; then run_pgferry_service >/dev/null 2>&1; reset_target; fi
}
use_worker "${BENCH_WORKER_OPTS:-}"

tools=${TOOLS:-"pgferry-service pgferry-migrate pg_dump_restore pg_dump_dir pg_dump_psql floor"}
[ -z "${TOOLS:-}" ] && command -v pgcopydb >/dev/null && tools="$tools pgcopydb"
# Warm-up, untimed: the target's first large load also creates its WAL segment files, which later runs recycle;
# without this, whichever tool runs first pays for it.
reset_target; run_floor; reset_target
warm_ready=1
echo "bench: warm-up done" >&2
for round in $(seq 1 "$ROUNDS"); do
  for tool in $tools; do
    reset_target
    case $tool in
      pgferry-service-b) use_worker "${BENCH_WORKER_OPTS_B:-${BENCH_WORKER_OPTS:-}}" "${BENCH_ROOT_B:-$root}" "${BENCH_WORKER_JAVA_OPTS_B:-}" ;;
      pgferry-*) use_worker "${BENCH_WORKER_OPTS:-}" ;;
    esac
    # pgferry-verify times the verification alone: the migration it verifies runs first, untimed.
    [ "$tool" = pgferry-verify ] && run_pgferry_service
    cpu0=$(cpu_snapshot)
    start=$(date +%s.%N)
    case $tool in
      pgferry-verify) run_pgferry_verify ;;
      pgferry-service) run_pgferry_service ;;
      pgferry-service-b) run_pgferry_service ;;
      pgferry-repl) run_pgferry_repl ;;
      pgferry-repl-tablesync) run_pgferry_repl_tablesync ;;
      pgferry-migrate) run_pgferry_migrate ;;
      pgferry-migrate-b) run_pgferry_migrate "${BENCH_ROOT_B:?}" ;;
      pg_dump_restore) run_pg_dump_restore ;;
      pg_dump_dir) run_pg_dump_dir ;;
      pg_dump_psql) run_pg_dump_psql ;;
      pgcopydb) run_pgcopydb ;;
      floor) run_floor ;;
    esac
    end=$(date +%s.%N)
    cpu1=$(cpu_snapshot)
    secs=$(echo "$end - $start" | bc)
    # CPU seconds of the run: the source's server, the target's, and the rest of the machine (the tool's processes,
    # and for every tool the idle service's JVMs and this script)
    cpu=$(echo "$cpu0 $cpu1" | awk '{printf "%.1f\t%.1f\t%.1f", $5-$2, $6-$3, ($4-$1)-($5-$2)-($6-$3)}')
    fingerprint "$dst" > "$work/target.fp"
    if [ "$tool" = floor ]; then
      # The floor builds no indexes or constraints: compare the rows only.
      check=$(diff <(grep '^public\.' "$work/source.fp") <(grep '^public\.' "$work/target.fp") >/dev/null \
              && echo rows-equal || echo DIFFERENT)
    else
      check=$(diff "$work/source.fp" "$work/target.fp" >/dev/null && echo equal || echo DIFFERENT)
    fi
    if [ "$tool" = pgferry-verify ]; then
      check="$check,verify-$(python3 -c 'import json,sys; print(json.load(sys.stdin)["verify"]["result"])' < "$work/pgferry-verify.json")"
    fi
    case $tool in pgferry-repl*) remove_replication ;; esac
    printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$round" "$secs" "$check" "$cpu" >> "$results"
    printf 'bench: round %s %-16s %7.1f s  %s  CPU s: source %s, target %s, rest %s\n' "$round" "$tool" "$secs" "$check" \
      $(echo "$cpu" | tr '\t' ' ') >&2
  done
done
rss_kb=$(ps -o rss= -p "$worker_pid" 2>/dev/null || echo 0)

python3 - "$results" "$size_mb" "$JOBS" "$rss_kb" <<'PY'
import sys, statistics, collections
path, size_mb, jobs, rss = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
runs = collections.defaultdict(list); checks = collections.defaultdict(set); cpus = collections.defaultdict(list)
for line in open(path):
    tool, rnd, secs, check, *cpu = line.rstrip('\n').split('\t')
    runs[tool].append(float(secs)); checks[tool].add(check); cpus[tool].append([float(c) for c in cpu])
floor = statistics.median(runs['floor']) if 'floor' in runs else None
rounds = max(len(v) for v in runs.values())
print(f"dataset {size_mb:.0f} MB, jobs {jobs}, {rounds} rounds; pgferry worker RSS after the runs: {rss/1024:.0f} MB (heap capped at 256 MB)")
print(f"| tool | median s | min-max s | MB/s | x floor | CPU s: source, target, rest (medians) | target check |")
print(f"|---|---|---|---|---|---|---|")
for tool, secs in sorted(runs.items(), key=lambda kv: statistics.median(kv[1])):
    m = statistics.median(secs)
    ratio = f"{m/floor:.2f}" if floor else "-"
    cpu = ", ".join("%.1f" % statistics.median(c[i] for c in cpus[tool]) for i in range(3))
    print(f"| {tool} | {m:.1f} | {min(secs):.1f}-{max(secs):.1f} | {size_mb/m:.0f} | {ratio} | {cpu} | {','.join(sorted(checks[tool]))} |")
PY
