#!/usr/bin/env bash
# Eureka API benchmark: a release polaris-server on free loopback ports with a temporary data
# directory, 1,000 instances over 100 apps registered through the Eureka API, then wrk (Debian's
# package, installed when missing) against /eureka/apps (JSON, JSON+gzip, XML), renew, register,
# with the server's CPU per request from /proc/<pid>/stat before and after each run.
# Prints a Markdown table (also kept in $CARGO_TARGET_DIR/bench-eureka.md).
# Usage: scripts/bench-eureka.sh [seconds per scenario, default 10] [connections, default 64]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-10}"
connections="${2:-64}"
target="${CARGO_TARGET_DIR:-target}"
profile="${BENCH_PROFILE:-release}"   # BENCH_PROFILE=debug only to try the script quickly

if ! command -v wrk >/dev/null 2>&1; then
  echo "-- installing wrk" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
if [[ $profile == release ]]; then cargo build --release -p polaris-server --locked >&2; fi

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
read -r http grpc eureka < <(python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
cat > "$work/polaris-server.yaml" <<EOF
apiservers:
  - name: api-http
    option: { listenIP: "127.0.0.1", listenPort: $http }
  - name: service-grpc
    option: { listenIP: "127.0.0.1", listenPort: $grpc }
  - name: service-eureka
    option: { listenIP: "127.0.0.1", listenPort: $eureka }
store:
  name: embedded
  option: { path: $work/data }
bootstrap:
  logger:
    default:
      outputLevel: warn
EOF
"$target/$profile/polaris-server" start --config "$work/polaris-server.yaml" >"$work/server.log" 2>&1 &
pid=$!
base="http://127.0.0.1:$eureka/eureka"
for _ in $(seq 100); do curl -sf -o /dev/null "$base/apps" && break; sleep 0.1; done

echo "-- registering 1,000 instances over 100 apps" >&2
python3 - "$base" <<'EOF'
import http.client, json, sys, urllib.parse
url = urllib.parse.urlparse(sys.argv[1])
conn = http.client.HTTPConnection(url.hostname, url.port)
for a in range(100):
    for i in range(10):
        body = {"instance": {
            "instanceId": f"bench-{a}-{i}", "hostName": f"host-{i}", "app": f"BENCH-APP-{a}",
            "ipAddr": f"10.0.{a}.{i + 1}", "status": "UP", "port": {"$": 8080, "@enabled": "true"},
            "securePort": {"$": 443, "@enabled": "false"}, "vipAddress": f"bench-app-{a}",
            "dataCenterInfo": {"@class": "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", "name": "MyOwn"},
            "leaseInfo": {"renewalIntervalInSecs": 30, "durationInSecs": 90},
            "homePageUrl": f"http://host-{i}:8080/", "healthCheckUrl": f"http://host-{i}:8080/health",
            "metadata": {"zone": "zone-a", "version": "1.2.3", "management.port": "8081"}}}
        conn.request("POST", f"{url.path}/apps/BENCH-APP-{a}", json.dumps(body), {"Content-Type": "application/json"})
        reply = conn.getresponse(); reply.read()
        assert reply.status == 204, reply.status
EOF

cat > "$work/renew.lua" <<'EOF'
local n = 0
request = function()
  n = n + 1
  local a, i = n % 100, math.floor(n / 100) % 10
  return wrk.format("PUT", string.format("/eureka/apps/BENCH-APP-%d/bench-%d-%d", a, a, i))
end
EOF
cat > "$work/register.lua" <<'EOF'
local n, prefix = 0, tostring(math.random(1, 1000000000))
request = function()
  n = n + 1
  local id = string.format("reg-%s-%d", prefix, n)
  local body = string.format('{"instance":{"instanceId":"%s","hostName":"h","app":"BENCH-REG","ipAddr":"10.1.%d.%d","status":"UP","port":{"$":8080,"@enabled":"true"}}}', id, math.floor(n / 250) % 250, n % 250)
  return wrk.format("POST", "/eureka/apps/BENCH-REG", {["Content-Type"] = "application/json"}, body)
end
EOF

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
rows=()
run() { # name, extra wrk args...
  local name=$1; shift
  local before after out requests rate errors bytes
  before=$(cpu_ticks)
  out=$(wrk -t2 -c"$connections" -d"${duration}s" "$@" 2>&1)
  after=$(cpu_ticks)
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  rate=$(awk '/Requests\/sec/ {printf "%d", $2}' <<<"$out")
  bytes=$(awk '/Transfer\/sec/ {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $NF} /Socket errors/ {print $0}' <<<"$out" | paste -sd' ' -)
  local p50 p99
  p50=$(awk '$1=="50%" {print $2}' <<<"$out"); p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  local us
  us=$(awk -v t=$((after - before)) -v hz="$hz" -v r="$requests" 'BEGIN { printf "%.1f", t / hz / r * 1e6 }')
  rows+=("| $name | $requests | $rate | $p50 | $p99 | ${errors:-0} | $us | $bytes |")
  echo "   $name: $rate req/s, $us µs server CPU/request" >&2
}

apps_bytes=$(curl -s -H 'Accept: application/json' "$base/apps" | wc -c)
gz_bytes=$(curl -s -H 'Accept: application/json' -H 'Accept-Encoding: gzip' "$base/apps" | wc -c)
echo "-- wrk -t2 -c$connections -d${duration}s (body: JSON $apps_bytes B, gzip $gz_bytes B)" >&2
run "GET /eureka/apps JSON" --latency -H 'Accept: application/json' "$base/apps"
run "GET /eureka/apps JSON, gzip" --latency -H 'Accept: application/json' -H 'Accept-Encoding: gzip' "$base/apps"
run "GET /eureka/apps XML" --latency "$base/apps"
run "GET /eureka/apps/delta JSON" --latency -H 'Accept: application/json' "$base/apps/delta"
run "PUT renew (1,000 instances)" --latency -s "$work/renew.lua" "http://127.0.0.1:$eureka"
run "POST register (new instances)" --latency -s "$work/register.lua" "http://127.0.0.1:$eureka"

rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
{
  echo "1,000 instances over 100 apps (JSON body $apps_bytes B, gzip $gz_bytes B); wrk -t2 -c$connections -d${duration}s co-located; server RSS at the end $rss MiB."
  echo
  echo "| scenario | requests | req/s | p50 | p99 | non-2xx | srv CPU µs/req | transfer/s |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee "$target/bench-eureka.md"
