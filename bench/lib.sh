# Shared by the bench/*.sh scripts: throw-away PostgreSQL clusters on free loopback ports, and a running pgferry.
# Source it after setting `work` (a fresh directory); clusters run as the postgres OS user when we are root.
BIN=${PGFERRY_PG_SERVER_BIN:-/usr/lib/postgresql/15/bin}
chmod 755 "$work"; [ "$(id -u)" = 0 ] && chown postgres "$work"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_cluster() { # name port: logical WAL, room for slots and workers, larger buffers; BENCH_PG_OPTS adds settings
  mkdir -p "$work/$1"; chown postgres "$work/$1" 2>/dev/null || true
  as_pg "$BIN/initdb" -D "$work/$1" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
  as_pg "$BIN/pg_ctl" -D "$work/$1" -l "$work/$1.log" -w -o "-p $2 -k $work -c listen_addresses=127.0.0.1 \
    -c wal_level=logical -c max_wal_size=8GB -c checkpoint_timeout=30min -c shared_buffers=512MB \
    -c maintenance_work_mem=256MB -c max_replication_slots=20 -c max_wal_senders=20 \
    -c max_logical_replication_workers=16 -c max_worker_processes=32 -c max_connections=200 ${BENCH_PG_OPTS:-}" start >/dev/null
}

cpu_snapshot() { # [PID...]: CPU seconds used so far: the whole machine, the source's and the target's server (postmaster,
  # its live processes and the ones it has reaped), then each PID's own and its reaped children's, on one line
  python3 - "$work/source/postmaster.pid" "$work/target/postmaster.pid" "$@" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
def busy():
    f = open("/proc/stat").readline().split()[1:]
    return (sum(map(int, f)) - int(f[3]) - int(f[4])) / tick   # all but idle and iowait
def stat(pid):
    s = open(f"/proc/{pid}/stat").read()
    f = s[s.rindex(")") + 2:].split()
    return int(f[1]), sum(int(x) for x in f[11:15])   # parent pid; utime, stime, cutime, cstime
def tree(pidfile):
    pm = int(open(pidfile).readline())
    total = stat(pm)[1]
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != pm:
            try:
                ppid, t = stat(int(d))
            except (OSError, ValueError):
                continue
            if ppid == pm:
                total += t
    return total / tick
def own(pid):   # the process itself, and the children it has reaped
    try:
        s = open(f"/proc/{int(pid)}/stat").read()
        f = s[s.rindex(")") + 2:].split()
        return [(int(f[11]) + int(f[12])) / tick, (int(f[13]) + int(f[14])) / tick]
    except (OSError, ValueError):
        return [0.0, 0.0]
print(" ".join("%.2f" % x for x in [busy(), tree(sys.argv[1]), tree(sys.argv[2])] + [x for p in sys.argv[3:] for x in own(p)]))
PY
}

stop_clusters() {
  for c in source target; do as_pg "$BIN/pg_ctl" -D "$work/$c" -m immediate stop >/dev/null 2>&1; done
  rm -rf "$work"
}

stop_all() { # PID...: the EXIT trap's work: keeps pgferry's logs in BENCH_LOGS (when set), stops the PIDs (some may
  # have exited already), then the clusters
  [ -n "${BENCH_LOGS:-}" ] && mkdir -p "$BENCH_LOGS" && cp "$work"/*.log "$BENCH_LOGS"/ 2>/dev/null
  if [ $# -gt 0 ]; then kill "$@" 2>/dev/null; wait "$@" 2>/dev/null; fi
  stop_clusters
}

delay_servers() { # with BENCH_DELAY_MS set: every later connection to source and target goes through bench/delay.py,
  # which holds each chunk that long each way (SP, TP, src and dst point at the proxies; their pids join svc_pids)
  [ -n "${BENCH_DELAY_MS:-}" ] || return 0
  local d; d=$(python3 -c "print(${BENCH_DELAY_MS} / 1000)")
  local sp; sp=$(free_port); python3 "$(dirname "${BASH_SOURCE[0]}")/delay.py" "$sp" "$SP" "$d" & svc_pids="${svc_pids:-} $!"
  local tp; tp=$(free_port); python3 "$(dirname "${BASH_SOURCE[0]}")/delay.py" "$tp" "$TP" "$d" & svc_pids="$svc_pids $!"
  SP=$sp; TP=$tp
  src="host=127.0.0.1 port=$SP user=postgres"
  dst="host=127.0.0.1 port=$TP user=postgres"
  sleep 0.5
  echo "bench: source and target $BENCH_DELAY_MS ms away each way (bench/delay.py)" >&2
}

start_source_and_target() { # clusters "source" and "target"; sets SP, TP, their conninfos src and dst, and PGUSER
  SP=$(free_port); start_cluster source "$SP"
  TP=$(free_port); start_cluster target "$TP"
  src="host=127.0.0.1 port=$SP user=postgres"
  dst="host=127.0.0.1 port=$TP user=postgres"
  export PGUSER=postgres
}

start_service() { # a broker and a coordinator of "$root/pgferry" in $work, running once its HTTP API answers;
  # sets KP (broker port) and HP (HTTP port) and adds both processes to svc_pids (the caller's cleanup stops them)
  "$root/pgferry" --version >/dev/null
  KP=$(free_port)
  "$root/pgferry" broker --port "$KP" --data-dir "$work/broker" >"$work/broker.out" 2>&1 & svc_pids="${svc_pids:-} $!"
  for _ in $(seq 1 120); do grep -q "broker ready" "$work/broker.out" 2>/dev/null && break; sleep 0.5; done
  HP=$(free_port)
  "$root/pgferry" coordinator --bootstrap-servers "127.0.0.1:$KP" --http-port "$HP" >"$work/coordinator.log" 2>&1 &
  svc_pids="$svc_pids $!"
  for _ in $(seq 1 120); do curl -sf "localhost:$HP/migrations" >/dev/null 2>&1 && break; sleep 0.5; done
}

# pgferry's coordinator at HTTP port $HP (set by the caller before the call).
wait_for_status() { # ID STATUS...: poll the coordinator until the migration has one of STATUS; print it. Every 50 ms
  # at first, then every 0.5 % of the time waited so far (at most 1 s): a status of 1,000 databases is about 1 MB of
  # JSON, and reading it 20 times a second took CPU from the run it measures
  python3 - "$HP" "$@" <<'PY'
import json, sys, time, urllib.request
port, mid, wanted = sys.argv[1], sys.argv[2], set(sys.argv[3:])
start = time.monotonic()
while True:
    try:
        body = urllib.request.urlopen(f"http://localhost:{port}/migrations/{mid}").read()
        if json.loads(body)["migration"]["status"] in wanted:
            print(body.decode()); break
    except Exception:
        pass
    time.sleep(min(1.0, max(0.05, (time.monotonic() - start) / 200)))
PY
}
