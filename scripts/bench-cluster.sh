#!/usr/bin/env bash
# Benchmarks a three-node cluster: three release polaris-server processes on one fresh database
# (MariaDB or PostgreSQL, the engines of tests/sql/ensure-databases.sh) and a private Redis, in
# the official configuration shape (store defaultStore, healthcheck heartbeatRedis).
#
#   scripts/bench-cluster.sh [mysql|postgresql ...]     (default: both, one after the other)
#
# Per engine, in order: the idle database load of three full nodes (statements per second over
# IDLE_SECS), durable registrations per second through all three nodes (polaris-bench register,
# connections round robin over the nodes' naming gRPC ports, REGISTER_SECS), a check that every
# acknowledged registration is a live row of the `instance` table, and heartbeats per second
# through all three nodes with the database's row writes counted over that window (HEARTBEAT_SECS),
# then cross-node propagation as a client sees it: a registration on node 1 until its push on
# PUSH_STREAMS Discover streams spread over the three nodes (PUSH_ROUNDS changes, one by one;
# PostgreSQL wakes the other nodes with NOTIFY, MariaDB through Redis pub/sub), and last the
# leader's failover: kill -9 of the node holding the MaintainJob lease until another holds it.
# CPU is read from /proc: the three server processes together, the database server's processes,
# and the bench itself (in its own row). Rows go to stdout and to $BENCH_OUT as Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
IDLE_SECS="${IDLE_SECS:-20}"
REGISTER_SECS="${REGISTER_SECS:-15}"
HEARTBEAT_SECS="${HEARTBEAT_SECS:-15}"
CONCURRENCY="${CONCURRENCY:-96}"
PUSH_STREAMS="${PUSH_STREAMS:-300}"
PUSH_ROUNDS="${PUSH_ROUNDS:-40}"
ENGINES=("$@")
[ ${#ENGINES[@]} -gt 0 ] || ENGINES=(mysql postgresql)

echo "== cargo build --release -p polaris-server -p polaris-bench" >&2
cargo build --release -p polaris-server -p polaris-bench >&2
SERVER="$CARGO_TARGET_DIR/release/polaris-server"
BENCH="$CARGO_TARGET_DIR/release/polaris-bench"
bash tests/sql/ensure-databases.sh >&2

WORK="$(mktemp -d -t polaris-bench-cluster.XXXXXX)"
OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-cluster.md}"
rm -f "$OUT"
DB=polaris_bench_cluster
PIDS=()
REDIS_PID=""

# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

cleanup() {
  for pid in "${PIDS[@]}" $REDIS_PID; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  [ -n "${BENCH_KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

sql() { # sql ENGINE QUERY: one value
  case "$1" in
    mysql) mariadb -h 127.0.0.1 -P 3306 -u root -N -B -e "$2" ;;
    postgresql) psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -tAc "$2" ;;
  esac
}

# Statements (MariaDB: server-wide Questions; PostgreSQL: the database's committed transactions)
# and rows written (inserted + updated + deleted; on MariaDB the handler counters, which also
# count the temporary table of SHOW STATUS: calibrate measures that) so far.
db_counters() {
  case "$1" in
    mysql)
      mariadb -h 127.0.0.1 -P 3306 -u root -N -B -e "SHOW GLOBAL STATUS WHERE Variable_name IN
        ('Questions','Handler_write','Handler_update','Handler_delete')" |
        awk '{v[$1]=$2} END {print v["Questions"], v["Handler_write"]+v["Handler_update"]+v["Handler_delete"]}'
      ;;
    postgresql)
      sql postgresql "SELECT pg_stat_force_next_flush()" >/dev/null
      sql postgresql "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted
        FROM pg_stat_database WHERE datname = '$DB'" | tr '|' ' '
      ;;
  esac
}

db_pids() {
  case "$1" in
    mysql) pgrep -x mariadbd || pgrep -x mysqld ;;
    postgresql) pgrep -x postgres ;;
  esac
}

# cpu_snapshot FILE PID...: CPU seconds (utime + stime) of each pid, one "pid seconds" a line.
cpu_snapshot() {
  local file=$1
  shift
  python3 - "$@" >"$file" <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK")
for pid in sys.argv[1:]:
    try:
        rest = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        print(pid, (int(rest[11]) + int(rest[12])) / tick)
    except OSError:
        pass
PY
}

# cpu_delta BEFORE AFTER: CPU seconds used between the snapshots (a pid new in AFTER counts whole).
cpu_delta() {
  awk 'NR == FNR { before[$1] = $2; next } { total += $2 - before[$1] } END { printf "%.3f", total }' "$1" "$2"
}

start_cluster() {
  local engine=$1 redis_port db_port
  redis_port="$(free_port)"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    >"$WORK/redis-$engine.log" 2>&1 &
  REDIS_PID=$!
  case "$engine" in mysql) db_port=3306 ;; postgresql) db_port=5432 ;; esac
  local user=root
  [ "$engine" = postgresql ] && user=postgres
  GRPC_ADDRS=""
  HTTP_PORTS=""
  PIDS=()
  for node in 1 2 3; do
    local dir="$WORK/$engine-node$node" http grpc
    mkdir -p "$dir"
    http="$(free_port)"
    grpc="$(free_port)"
    while [ "$grpc" = "$http" ]; do grpc="$(free_port)"; done
    {
      listeners_yaml "$http" "$grpc"
      cat <<YAML
store:
  name: defaultStore
  option:
    master:
      dbType: $engine
      dbName: $DB
      dbUser: $user
      dbPwd: ""
      dbAddr: "127.0.0.1:$db_port"
      maxOpenConns: 16
      maxIdleConns: 4
      connMaxLifetime: 300
healthcheck:
  checkers:
    - name: heartbeatRedis
      option: { kvAddr: "127.0.0.1:$redis_port", kvPasswd: "" }
YAML
    } >"$dir/polaris-server.yaml"
    (cd "$dir" && exec "$SERVER" start --config "$dir/polaris-server.yaml" >"$dir/stdout.log" 2>"$dir/stderr.log") &
    PIDS+=($!)
    local up=""
    for _ in $(seq 1 300); do
      if curl -fsS -o /dev/null "http://127.0.0.1:$http/" 2>/dev/null \
        && (exec 3<>"/dev/tcp/127.0.0.1/$grpc") 2>/dev/null; then
        up=1
        break
      fi
      kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$dir/stderr.log" >&2; exit 1; }
      sleep 0.1
    done
    [ -n "$up" ] || { echo "node $node did not come up" >&2; exit 1; }
    GRPC_ADDRS="${GRPC_ADDRS:+$GRPC_ADDRS,}127.0.0.1:$grpc"
    HTTP_PORTS="${HTTP_PORTS:+$HTTP_PORTS,}$http"
    echo "== $engine node $node up: pid ${PIDS[-1]}, http $http, grpc $grpc" >&2
  done
}

stop_cluster() {
  for pid in "${PIDS[@]}" $REDIS_PID; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
  REDIS_PID=""
}

# mark_start ENGINE / mark_end ENGINE LABEL: around a measured window, writes WORK/LABEL as
# "seconds servers_cpu db_cpu statements rows_written".
mark_start() {
  C0="$(db_counters "$1")"
  cpu_snapshot "$WORK/s0" "${PIDS[@]}"
  # shellcheck disable=SC2046
  cpu_snapshot "$WORK/d0" $(db_pids "$1")
  T0="$(date +%s.%N)"
}

mark_end() {
  local t1 c1
  t1="$(date +%s.%N)"
  cpu_snapshot "$WORK/s1" "${PIDS[@]}"
  # shellcheck disable=SC2046
  cpu_snapshot "$WORK/d1" $(db_pids "$1")
  c1="$(db_counters "$1")"
  read -r q0 w0 <<<"$C0"
  read -r q1 w1 <<<"$c1"
  # Less what reading the counters itself adds (see calibrate).
  echo "$(echo "$t1 - $T0" | bc -l) $(cpu_delta "$WORK/s0" "$WORK/s1") $(cpu_delta "$WORK/d0" "$WORK/d1") $((q1 - q0 - NOISE_Q)) $((w1 - w0 - NOISE_W))" >"$WORK/$2"
}

# calibrate ENGINE: what two back-to-back counter readings differ by with nothing else running
# (the reading's own statements, and on MariaDB the temporary table SHOW STATUS fills).
calibrate() {
  local a b
  a="$(db_counters "$1")"
  b="$(db_counters "$1")"
  read -r qa wa <<<"$a"
  read -r qb wb <<<"$b"
  NOISE_Q=$((qb - qa))
  NOISE_W=$((wb - wa))
  echo "== $1: reading the counters adds $NOISE_Q statements and $NOISE_W rows" >&2
}

# cell FILE N: the N-th cell of the last Markdown row polaris-bench wrote to FILE.
cell() { tail -1 "$1" | awk -F'|' -v n="$2" '{ gsub(/ /, "", $(n + 1)); print $(n + 1) }'; }

fmt() { printf "%.${1}f" "$(echo "$2" | bc -l)"; }

row() { echo "$1" | tee -a "$OUT"; }

row "| engine | phase | operations | ops/s | 3 servers CPU / op | database CPU / op | statements/s | rows written / op |"
row "|---|---|---:|---:|---:|---:|---:|---:|"
for engine in "${ENGINES[@]}"; do
  case "$engine" in
    mysql) sql mysql "DROP DATABASE IF EXISTS $DB" ;;
    postgresql) sql postgresql "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null ;;
    *) echo "unknown engine $engine (mysql or postgresql)" >&2; exit 2 ;;
  esac
  calibrate "$engine"
  start_cluster "$engine"
  sleep 5 # membership rows, leader lease and the first polls settle
  mark_start "$engine"
  sleep "$IDLE_SECS"
  mark_end "$engine" idle
  read -r secs scpu dcpu stmts rows <"$WORK/idle"
  row "| $engine | idle, 3 nodes | - | - | $(fmt 1 "$scpu * 100 / $secs") % of a core | $(fmt 1 "$dcpu * 100 / $secs") % of a core | $(fmt 1 "$stmts / $secs") | $(fmt 1 "$rows / $secs")/s |"

  mark_start "$engine"
  "$BENCH" register --addr "$GRPC_ADDRS" -c "$CONCURRENCY" --connections 6 --services 100 \
    --duration "${REGISTER_SECS}s" --markdown "$WORK/register.md" >&2
  mark_end "$engine" register
  ops="$(cell "$WORK/register.md" 2)"
  errors="$(cell "$WORK/register.md" 8)"
  p99="$(cell "$WORK/register.md" 6)"
  acked=$((ops - errors))
  if [ "$engine" = mysql ]; then
    live="$(sql mysql "SELECT COUNT(*) FROM $DB.instance WHERE flag = 0")"
  else
    live="$(psql -h 127.0.0.1 -p 5432 -U postgres -d "$DB" -tAc "SELECT COUNT(*) FROM instance WHERE flag = 0")"
  fi
  read -r secs scpu dcpu stmts rows <"$WORK/register"
  row "| $engine | register (c=$CONCURRENCY over 3 nodes, 100 services; p99 $p99 ms) | $acked | $(fmt 0 "$acked / $secs") | $(fmt 0 "$scpu * 1000000 / $acked") µs | $(fmt 0 "$dcpu * 1000000 / $acked") µs | $(fmt 0 "$stmts / $secs") | $(fmt 1 "$rows / $acked") |"
  echo "== $engine: $acked registrations acknowledged ($errors errors), $live live rows in instance" >&2
  if [ "$live" -lt "$acked" ]; then
    echo "LOST: $acked acknowledged but only $live live rows" >&2
    exit 1
  fi

  # The beats' window starts once the bench has registered its instances.
  "$BENCH" heartbeat --addr "$GRPC_ADDRS" -c "$CONCURRENCY" --connections 6 --instances 2000 \
    --ttl 5 --duration "${HEARTBEAT_SECS}s" --markdown "$WORK/heartbeat.md" >&2 2>"$WORK/heartbeat.err" &
  bench_pid=$!
  until grep -q "registered" "$WORK/heartbeat.err"; do
    kill -0 "$bench_pid" 2>/dev/null || { cat "$WORK/heartbeat.err" >&2; exit 1; }
    sleep 0.05
  done
  mark_start "$engine"
  wait "$bench_pid"
  mark_end "$engine" heartbeat
  cat "$WORK/heartbeat.err" >&2
  beats="$(cell "$WORK/heartbeat.md" 2)"
  read -r secs scpu dcpu stmts rows <"$WORK/heartbeat"
  row "| $engine | heartbeat (2,000 instances, TTL 5 s) | $beats | $(fmt 0 "$beats / $secs") | $(fmt 0 "$scpu * 1000000 / $beats") µs | $(fmt 0 "$dcpu * 1000000 / $beats") µs | $(fmt 1 "$stmts / $secs") | $(fmt 4 "$rows / $beats") |"

  # Write on node 1, pushed on every node: streams spread over the three nodes (two thirds of
  # them on the others), each round timed from the registration call to each stream's push.
  mark_start "$engine"
  "$BENCH" push --addr "$GRPC_ADDRS" --connections 6 --streams "$PUSH_STREAMS" \
    --streams-per-connection 50 --rounds "$PUSH_ROUNDS" --markdown "$WORK/push.md" >&2
  mark_end "$engine" push
  pushes="$(cell "$WORK/push.md" 2)"
  read -r secs scpu dcpu stmts rows <"$WORK/push"
  row "| $engine | write on node 1 → push on all ($PUSH_STREAMS streams over 3 nodes; p50 $(cell "$WORK/push.md" 4) ms, p99 $(cell "$WORK/push.md" 6) ms, max $(cell "$WORK/push.md" 7) ms) | $pushes | $(fmt 0 "$pushes / $secs") | $(fmt 0 "$scpu * 1000000 / $pushes") µs | $(fmt 0 "$dcpu * 1000000 / $pushes") µs | $(fmt 1 "$stmts / $secs") | $(fmt 4 "$rows / $pushes") |"
  # Leader failover: kill -9 the node holding the MaintainJob lease, time until another node
  # reports a new holder, and check its fence is higher.
  failover="$(python3 - "$HTTP_PORTS" "$GRPC_ADDRS" "${PIDS[*]}" <<'PY'
import json, os, signal, sys, time, urllib.request
https, grpcs, pids = sys.argv[1].split(","), sys.argv[2].split(","), sys.argv[3].split()

def token():
    login = urllib.request.Request(
        f"http://127.0.0.1:{https[0]}/core/v1/user/login",
        data=json.dumps({"name": "polaris", "password": "polaris"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    return json.load(urllib.request.urlopen(login, timeout=5))["loginResponse"]["token"]

TOKEN = token()

def lease(http):
    url = urllib.request.Request(
        f"http://127.0.0.1:{http}/maintain/v1/cluster", headers={"X-Polaris-Token": TOKEN}
    )
    try:
        view = json.load(urllib.request.urlopen(url, timeout=1))
    except Exception:
        return None
    for held in view.get("leaders") or []:
        if held.get("key") == "MaintainJob" and held.get("leaseLeftMs", 0) > 0:
            return held["leader"], held["fence"]
    return None

deadline = time.monotonic() + 30
while (first := lease(https[0])) is None:
    if time.monotonic() > deadline:
        sys.exit("no leader within 30 s")
    time.sleep(0.1)
at = grpcs.index(first[0])
os.kill(int(pids[at]), signal.SIGKILL)
killed = time.monotonic()
observer = https[(at + 1) % len(https)]
while (after := lease(observer)) is None or after[0] == first[0]:
    if time.monotonic() - killed > 60:
        sys.exit("no new leader within 60 s")
    time.sleep(0.05)
took = time.monotonic() - killed
ok = "higher" if after[1] > first[1] else "NOT HIGHER"
print(f"{took:.2f} s (fence {first[1]} -> {after[1]}, {ok})")
PY
)"
  row "| $engine | leader failover after kill -9 of the leader: $failover | 1 | - | - | - | - | - |"
  cat "$WORK/register.md" "$WORK/heartbeat.md" "$WORK/push.md" >&2
  rm -f "$WORK/register.md" "$WORK/heartbeat.md" "$WORK/push.md"
  stop_cluster
done
echo "== results in $OUT" >&2
