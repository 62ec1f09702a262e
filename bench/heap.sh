#!/usr/bin/env bash
# Worker memory on a database of several GB: the heap a worker needs does not grow with the table.
#
#   bench/heap.sh [SIZE_GB]      (default 3)
#
# Builds a throw-away source database whose COPY stream is about SIZE_GB: a table of small rows (two thirds of it,
# and larger than that on disk) and a table of ~1 MB text rows (a third; stored TOAST-compressed, small on disk,
# but streamed at full size, so one row is a 1 MB message). Then runs `./pgferry migrate` (broker, coordinator and workers, all in the JVMs it starts)
# with the heap capped at 256 MB and GC logging on, checks that the target equals the source, and prints the
# bytes streamed, the largest heap in use after any collection, the heap committed and the peak RSS of the CLI JVM.
# Needs PostgreSQL 15 server and client programs.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
SIZE_GB=${1:-3}
work=$(mktemp -d "${BENCH_DIR:-/tmp}"/pgferry-heap-XXXX)
. "$here/lib.sh"
trap stop_clusters EXIT
SP=$(free_port); start_cluster source "$SP"
TP=$(free_port); start_cluster target "$TP"
src="host=127.0.0.1 port=$SP user=postgres"
dst="host=127.0.0.1 port=$TP user=postgres"

echo "heap: building a source database that streams about ${SIZE_GB} GB" >&2
psql -q -d "$src dbname=postgres" -c "CREATE DATABASE heavy"
large_rows=$(( SIZE_GB * 1024 / 3 ))                     # ~0.96 MB each: a third of the stream
small_rows=$(( SIZE_GB * 2 * 1024 * 1024 / 3 / 100 * 1024 ))  # ~100 bytes each in the stream: two thirds
psql -q -d "$src dbname=heavy" <<SQL
CREATE TABLE large_rows (id int PRIMARY KEY, body text);
INSERT INTO large_rows SELECT g, repeat(md5(g::text), 30000) FROM generate_series(1, $large_rows) g;
CREATE TABLE small_rows (id bigint PRIMARY KEY, a text, b text, n numeric);
INSERT INTO small_rows SELECT g, md5(g::text), md5((g + 1)::text), g * 1.5 FROM generate_series(1, $small_rows) g;
SQL
stream=$(psql -Atq -d "$src dbname=heavy" -c "SELECT sum(octet_length(body) + 8) FROM large_rows")
disk=$(psql -Atq -d "$src dbname=heavy" -c "SELECT pg_table_size('small_rows')")

"$root/pgferry" --version >/dev/null
start=$(date +%s.%N)
PGFERRY_JAVA_OPTS="-Xmx256m -XX:+UseSerialGC -Xlog:gc:file=$work/gc.log" /usr/bin/time -f "%M" -o "$work/rss" \
  "$root/pgferry" migrate --source "postgres://postgres@127.0.0.1:$SP/postgres?sslmode=disable" \
  --target "postgres://postgres@127.0.0.1:$TP/postgres?sslmode=disable" --method dump --ignore-dbs postgres \
  --workers 1 --data-dir "$work/pgferry" --json > "$work/status.json" 2>"$work/migrate.log"
end=$(date +%s.%N)

check() { psql -Atq -d "$1 dbname=heavy" -c "SELECT (SELECT count(*) || ':' || sum(hashtext(body)) FROM large_rows) || '/' || (SELECT count(*) || ':' || sum(hashtext(a || b || n)) FROM small_rows)"; }
[ "$(check "$src")" = "$(check "$dst")" ] && verdict=equal || verdict=DIFFERENT
bytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["migration_detail"][0]["bytes_copied"])' "$work/status.json")
python3 - "$work/gc.log" "$work/rss" "$bytes" "$disk" "$(echo "$end - $start" | bc)" "$verdict" <<'PY'
import re, sys
gc, rss, streamed, disk, secs, verdict = sys.argv[1:]
after = committed = 0; n = 0
for m in re.finditer(r'(\d+)M->(\d+)M\((\d+)M\)', open(gc).read()):
    n += 1; after = max(after, int(m.group(2))); committed = max(committed, int(m.group(3)))
print("| streamed (COPY bytes) | small_rows on disk | time | collections | max heap in use after a collection | max heap committed | peak RSS (CLI JVM) | target check |")
print("|---|---|---|---|---|---|---|---|")
print(f"| {int(streamed)/1e9:.2f} GB | {int(disk)/1e9:.2f} GB | {float(secs):.0f} s | {n} | {after} MB | {committed} MB | {int(open(rss).read().split()[-1])//1024} MB | {verdict} |")
PY
