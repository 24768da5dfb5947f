#!/usr/bin/env bash
# The same HTTP read workload against polaris-server and a peer registry, one after the other in
# one run, so the two can be compared on this machine.
#
#   scripts/bench-side-by-side.sh [--polaris BIN] [--base BIN] [--peer BIN] [--runs N] [--secs S]
#
# --polaris  the polaris-server to measure (default: $CARGO_TARGET_DIR/release/polaris-server,
#            built with `cargo build --release -p polaris-server` when missing)
# --base     optional second polaris-server (an older build), measured the same way
# --peer     optional r-nacos binary (built outside this repository): its instance list and
#            config get are measured with the same data, connections and threads
#
# Data on every server: 20 services x 10 instances (one version, one protocol, one metadata key)
# and one 512-byte config file, published. Each endpoint then gets `wrk -t2 -c64` for --secs
# seconds (default 5), --runs times (default 3); the table has the median requests/s, the
# server's CPU time per request over all runs (from /proc/PID/stat) and its peak RSS (VmHWM).
# wrk requests rotate over the 20 services. The load generator shares the 2 cores with the
# server, so figures are for this machine as a whole, not for the server alone.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
POLARIS="$CARGO_TARGET_DIR/release/polaris-server"
BASE=""
PEER=""
RUNS=3
SECS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --polaris) POLARIS="$2"; shift 2 ;;
    --base) BASE="$2"; shift 2 ;;
    --peer) PEER="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --secs) SECS="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

if ! command -v wrk >/dev/null; then
  echo "== installing wrk" >&2
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y wrk >/dev/null; }
fi
if [ ! -x "$POLARIS" ]; then
  echo "== cargo build --release -p polaris-server" >&2
  cargo build --release -p polaris-server >&2
fi

WORK="$(mktemp -d -t polaris-side.XXXXXX)"
PID=""
stop() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID"
    wait "$PID" 2>/dev/null || true
  fi
  PID=""
}
trap 'stop; rm -rf "$WORK"' EXIT

# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

wait_http() {
  for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    if ! kill -0 "$PID" 2>/dev/null; then echo "server exited during startup" >&2; cat "$WORK"/*.log >&2; exit 1; fi
    sleep 0.1
  done
  echo "server did not come up at $1" >&2
  exit 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
peak_rss_mib() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status"; }

CONTENT="$(head -c 512 /dev/zero | tr '\0' 'x')"
TOKEN="nu/0WRA4EqSR1FagrjRj0fZwPXuGlMpX+zCuWu4uMqy8xr1vRjisSbA25aAC3mtU8MeeRsKhQiDAynUR09I="

# A wrk script that rotates over 20 pre-built requests ("%d" in the path or body is the service).
wrk_script() {
  local method="$1" path="$2" body="${3:-}"
  cat <<EOF
local reqs = {}
local i = 0
function init(args)
  for s = 0, 19 do
    local path = string.gsub("$path", "%%d", tostring(s))
    local body = nil
    if "$body" ~= "" then body = string.gsub('$body', "%%d", tostring(s)) end
    reqs[s + 1] = wrk.format("$method", path,
      {["Content-Type"] = "application/json", ["X-Polaris-Token"] = "$TOKEN"}, body)
  end
end
function request()
  i = i % 20 + 1
  return reqs[i]
end
EOF
}

OUT="$WORK/results.md"
echo "| server | endpoint | req/s (median of $RUNS × ${SECS}s) | runs | server CPU µs/req | peak RSS MiB | non-2xx |" >"$OUT"
echo "|---|---|---|---|---|---|---|" >>"$OUT"

# measure LABEL ENDPOINT URL METHOD PATH [BODY]
measure() {
  local label="$1" endpoint="$2" url="$3" method="$4" path="$5" body="${6:-}"
  local script="$WORK/req.lua"
  wrk_script "$method" "$path" "$body" >"$script"
  # Warm-up (not counted).
  wrk -t2 -c64 -d1s -s "$script" "$url" >/dev/null
  local rates=() total=0 errors=0 before after
  before="$(cpu_ticks)"
  for _ in $(seq 1 "$RUNS"); do
    local report
    report="$(wrk -t2 -c64 -d"${SECS}s" -s "$script" "$url")"
    rates+=("$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$report")")
    total=$((total + $(awk '/requests in/ {print $1}' <<<"$report")))
    errors=$((errors + $(awk '/Non-2xx/ {n = $5} END {print n + 0}' <<<"$report")))
  done
  after="$(cpu_ticks)"
  local hz median cpu
  hz="$(getconf CLK_TCK)"
  median="$(printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
  cpu="$(awk -v t=$((after - before)) -v hz="$hz" -v n="$total" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')"
  echo "| $label | $endpoint | $median | $(IFS=/; echo "${rates[*]}") | $cpu | $(peak_rss_mib) | $errors |" >>"$OUT"
  echo "== $label $endpoint: ${rates[*]} req/s, $cpu µs CPU/req" >&2
}

run_polaris() {
  local label="$1" bin="$2"
  local dir="$WORK/$label" http grpc cfg
  mkdir -p "$dir"
  http="$(free_port)"; grpc="$(free_port)"; cfg="$(free_port)"
  server_yaml "$dir" "$http" "$grpc" "$cfg"
  (cd "$dir" && exec "$bin" start --config "$dir/polaris-server.yaml" >"$WORK/$label.log" 2>&1) &
  PID=$!
  local url="http://127.0.0.1:$http"
  wait_http "$url/"
  local post=(curl -fsS -o /dev/null -H "Content-Type: application/json" -H "X-Polaris-Token: $TOKEN")
  for s in $(seq 0 19); do
    for i in $(seq 1 10); do
      "${post[@]}" -X POST "$url/v1/RegisterInstance" -d "{\"service\":\"svc-$s\",\"namespace\":\"default\",\"host\":\"10.0.$s.$i\",\"port\":8080,\"protocol\":\"http\",\"version\":\"1.0.0\",\"metadata\":{\"env\":\"prod\"}}"
    done
  done
  "${post[@]}" -X POST "$url/config/v1/configfilegroups" -d '{"namespace":"default","name":"bench"}'
  for s in $(seq 0 19); do
    "${post[@]}" -X POST "$url/config/v1/configfiles" -d "{\"namespace\":\"default\",\"group\":\"bench\",\"name\":\"cfg-$s.txt\",\"format\":\"text\",\"content\":\"$CONTENT\"}"
    "${post[@]}" -X POST "$url/config/v1/configfiles/release" -d "{\"namespace\":\"default\",\"group\":\"bench\",\"fileName\":\"cfg-$s.txt\",\"name\":\"r1\"}"
  done
  measure "$label" "POST /v1/Discover (10 instances)" "$url" POST /v1/Discover \
    '{"type":1,"service":{"name":"svc-%d","namespace":"default"}}'
  measure "$label" "GET /naming/v1/instances" "$url" GET "/naming/v1/instances?namespace=default&service=svc-%d"
  measure "$label" "GET /v1/GetConfigFile (512 B)" "$url" GET "/v1/GetConfigFile?namespace=default&group=bench&fileName=cfg-%d.txt"
  stop
}

run_peer() {
  local bin="$1" dir="$WORK/peer" http
  mkdir -p "$dir"
  http="$(free_port)"
  (cd "$dir" && RNACOS_HTTP_PORT="$http" RNACOS_GRPC_PORT="$(free_port)" \
    RNACOS_HTTP_CONSOLE_PORT="$(free_port)" RNACOS_DATA_DIR="$dir/data" \
    RNACOS_NAMING_INSTANCE_TIMEOUT_SECOND=3600 RNACOS_NAMING_HEALTH_TIMEOUT_SECOND=3600 \
    exec "$bin" >"$WORK/peer.log" 2>&1) &
  PID=$!
  local url="http://127.0.0.1:$http"
  wait_http "$url/nacos/v1/ns/service/list?pageNo=1&pageSize=1"
  for s in $(seq 0 19); do
    for i in $(seq 1 10); do
      curl -fsS -o /dev/null -X POST "$url/nacos/v1/ns/instance?serviceName=svc-$s&groupName=DEFAULT_GROUP&ip=10.0.$s.$i&port=8080&ephemeral=true&metadata=%7B%22env%22%3A%22prod%22%2C%22protocol%22%3A%22http%22%2C%22version%22%3A%221.0.0%22%7D"
    done
    curl -fsS -o /dev/null -X POST "$url/nacos/v1/cs/configs" \
      --data-urlencode "dataId=cfg-$s.txt" --data-urlencode "group=bench" --data-urlencode "content=$CONTENT"
  done
  measure peer "GET /nacos/v1/ns/instance/list (10 instances)" "$url" GET \
    "/nacos/v1/ns/instance/list?serviceName=svc-%d&groupName=DEFAULT_GROUP&healthyOnly=false"
  measure peer "GET /nacos/v1/cs/configs (512 B)" "$url" GET "/nacos/v1/cs/configs?dataId=cfg-%d.txt&group=bench"
  stop
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
run_polaris polaris "$POLARIS"
if [ -n "$BASE" ]; then run_polaris base "$BASE"; fi
if [ -n "$PEER" ]; then run_peer "$PEER"; fi
{
  echo
  echo "Load average (1, 5, 15 min) before: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg)."
} >>"$OUT"
cat "$OUT"
