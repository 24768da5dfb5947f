#!/usr/bin/env bash
# The fuzzing campaign: every target in turn (one fuzz process at a time, niced), each for RUNS
# executions, starting from the committed corpus; new inputs go to fuzz/corpus-new/<target>,
# crashes to fuzz/artifacts/<target>. A summary line per target is appended to campaign.log.
#   fuzz/campaign.sh [target ...]      (default: every target of `cargo fuzz list`)
# SECONDS_MAX caps each target's run in wall time (libFuzzer -max_total_time; 0: no cap), for
# a machine where RUNS executions of every target do not fit the time at hand.
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); on stable Rust it runs with
# RUSTC_BOOTSTRAP=1 and without a sanitizer (`-s none`: the code forbids unsafe).
set -euo pipefail
cd "$(dirname "$0")"
RUNS="${RUNS:-10000000}"
SECONDS_MAX="${SECONDS_MAX:-0}"
NICE="${NICE:-10}"   # niceness of the build and the fuzz process
export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
nice -n "$NICE" cargo fuzz build -s none ${CARGO_TARGET_DIR:+--target-dir "$CARGO_TARGET_DIR"}
for target in "${targets[@]}"; do
  mkdir -p "corpus-new/$target" "artifacts/$target"
  log="logs/$target.log"
  mkdir -p logs
  start=$(date +%s)
  nice -n "$NICE" cargo fuzz run -s none ${CARGO_TARGET_DIR:+--target-dir "$CARGO_TARGET_DIR"} "$target" \
    "corpus-new/$target" "corpus/$target" -- \
    -runs="$RUNS" -max_total_time="$SECONDS_MAX" -rss_limit_mb=2048 -timeout=10 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="artifacts/$target/" >"$log" 2>&1 || echo "$target FAILED (see $log)"
  secs=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  crashes=$(ls "artifacts/$target" | wc -l)
  echo "$(date -u +%FT%TZ) $target runs=$execs seconds=$secs exec_per_sec=$speed artifacts=$crashes" | tee -a campaign.log
done
