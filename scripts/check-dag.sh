#!/usr/bin/env bash
# Checks the crate DAG against ARCHITECTURE.md: the normal dependencies between workspace
# crates that `cargo metadata` reports must be exactly the list between the crate-dag
# markers, only polaris-api-grpc may enable polaris-proto's `server` feature, and
# polaris-traffic may know polaris-proto's messages but nothing of gRPC (no tonic, no
# generated clients or servers).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo metadata --format-version 1 --no-deps --locked | python3 -c '
import json, re, sys

meta = json.load(sys.stdin)
names = {p["name"] for p in meta["packages"]}
short = lambda n: n.removeprefix("polaris-")
actual = {}
server_users = []
for p in meta["packages"]:
    deps = set()
    for d in p["dependencies"]:
        if d["name"] in names and d["kind"] is None:
            deps.add(short(d["name"]))
            if d["name"] == "polaris-proto" and "server" in d["features"]:
                server_users.append(short(p["name"]))
    actual[short(p["name"])] = deps

text = open("ARCHITECTURE.md").read()
block = re.search(r"<!-- crate-dag:begin -->\n(.*?)<!-- crate-dag:end -->", text, re.S)
if not block:
    sys.exit("ARCHITECTURE.md has no crate-dag block")
declared = {}
for line in block.group(1).splitlines():
    m = re.fullmatch(r"- ([a-z-]+):(.*)", line.strip())
    if not m:
        sys.exit(f"unreadable crate-dag line: {line!r}")
    declared[m.group(1)] = {d.strip() for d in m.group(2).split(",") if d.strip()}

problems = []
for crate in sorted(set(actual) | set(declared)):
    if crate not in declared:
        problems.append(f"{crate}: not in ARCHITECTURE.md (depends on {sorted(actual[crate])})")
    elif crate not in actual:
        problems.append(f"{crate}: in ARCHITECTURE.md but not a workspace crate")
    else:
        extra, missing = actual[crate] - declared[crate], declared[crate] - actual[crate]
        if extra:
            problems.append(f"{crate}: depends on {sorted(extra)}, which ARCHITECTURE.md does not declare")
        if missing:
            problems.append(f"{crate}: ARCHITECTURE.md declares {sorted(missing)}, which it does not depend on")
if sorted(server_users) != ["api-grpc"]:
    problems.append(f"polaris-proto server feature enabled by {sorted(server_users)}, only api-grpc may")
if problems:
    print("crate DAG differs from ARCHITECTURE.md:", *problems, sep="\n  ")
    sys.exit(1)
print(f"crate DAG matches ARCHITECTURE.md ({len(actual)} crates)")
'

if grep -rnE '\btonic\b|_grpc_(client|server)' crates/polaris-traffic/src; then
  echo "polaris-traffic must not know gRPC (see ARCHITECTURE.md, crates/polaris-traffic)" >&2
  exit 1
fi
