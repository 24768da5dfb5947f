#!/usr/bin/env bash
# The web console's checks: the committed build in console/web/dist is exactly what the sources
# build to, and end-to-end tests drive Debian's Chromium (through playwright-core) against the
# real polaris-server binary. Screenshots go to $ARTIFACTS/console (default: artifacts/console).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
target=${CARGO_TARGET_DIR:-$root/target}
export ARTIFACTS=${ARTIFACTS:-$root/artifacts}

apt_updated=
need_apt() {
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
command -v npm >/dev/null 2>&1 || need_apt nodejs npm
command -v chromium >/dev/null 2>&1 || need_apt chromium
# CJK glyphs for the Chinese screenshots.
[ -d /usr/share/fonts/opentype/noto ] || need_apt fonts-noto-cjk

echo "== console: npm ci"
cd console/web
npm ci --no-audit --no-fund --loglevel=error

echo "== console: the committed build matches the sources"
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
npx tsc --noEmit
npx vite build --logLevel warn --outDir "$fresh/dist" --emptyOutDir
if ! diff -r "$fresh/dist" dist >/dev/null; then
  diff -r "$fresh/dist" dist | head -20 || true
  echo "console/web/dist differs from a fresh build: run 'npm run build' in console/web and commit dist" >&2
  exit 1
fi

# The precompressed copies the server sends are the files themselves.
node -e '
  const fs = require("fs"), zlib = require("zlib"), dir = "dist/assets";
  for (const name of fs.readdirSync(dir).filter((n) => /\.(br|gz)$/.test(n))) {
    const plain = fs.readFileSync(`${dir}/${name.replace(/\.(br|gz)$/, "")}`);
    const packed = fs.readFileSync(`${dir}/${name}`);
    const unpacked = name.endsWith(".br") ? zlib.brotliDecompressSync(packed) : zlib.gunzipSync(packed);
    if (!unpacked.equals(plain)) { console.error(`${name} does not unpack to its file`); process.exit(1); }
  }'

echo "== console: browser tests against the real binary"
(cd "$root" && cargo build -p polaris-server --locked --quiet)
POLARIS_BIN="$target/debug/polaris-server" CHROMIUM=$(command -v chromium) \
  node --test --test-concurrency=1 e2e/
