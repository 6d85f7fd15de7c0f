#!/usr/bin/env bash
# Builds the offline web verifier (issue #13) into OUT_DIR: the permit-web crate compiled to
# WebAssembly, its wasm-bindgen glue in OUT_DIR/pkg, the static files of web/www, and the
# TEST-ONLY demo root key and trust list as the default lists (OUT_DIR/lists).
#
#   scripts/build-web.sh OUT_DIR
#
# Needs only rustup and cargo: it adds the wasm32-unknown-unknown target and installs
# wasm-bindgen-cli at exactly the version of the `wasm-bindgen` crate in Cargo.lock (the glue
# and the .wasm must come from the same version, or the page fails at load time), into a cache
# under the target directory, unless that version is already on PATH. Idempotent: when nothing
# changed, it re-runs only cargo's no-op check and the copy.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
OUT=$1
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET" in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac

# The version wasm-bindgen's macro crate was resolved to; the CLI must equal it.
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
[ -n "$WB_VERSION" ] || { echo "no wasm-bindgen in Cargo.lock" >&2; exit 1; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "== rustup target add wasm32-unknown-unknown" >&2
  rustup target add wasm32-unknown-unknown >&2
fi

TOOLS=$TARGET/web-tools/wasm-bindgen-$WB_VERSION
WASM_BINDGEN=""
if command -v wasm-bindgen >/dev/null && [ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $WB_VERSION" ]; then
  WASM_BINDGEN=$(command -v wasm-bindgen)
elif [ -x "$TOOLS/bin/wasm-bindgen" ]; then
  WASM_BINDGEN=$TOOLS/bin/wasm-bindgen
else
  echo "== cargo install wasm-bindgen-cli $WB_VERSION (once, into $TOOLS)" >&2
  # --locked: the CLI's own tested dependency versions. When its lock file does not resolve
  # against the registry in use (seen here: a registry mirror without webpki-roots 1.0.11, which
  # wasm-bindgen-cli 0.2.130's lock names), install with fresh resolution instead.
  # Its own build directory: not the workspace's (no lock held against a running build).
  if ! CARGO_TARGET_DIR=$TOOLS/build cargo install wasm-bindgen-cli --version "$WB_VERSION" \
      --locked --root "$TOOLS" >&2; then
    echo "   --locked failed; installing with fresh dependency resolution" >&2
    CARGO_TARGET_DIR=$TOOLS/build cargo install wasm-bindgen-cli --version "$WB_VERSION" \
      --root "$TOOLS" >&2
  fi
  rm -rf "$TOOLS/build"
  WASM_BINDGEN=$TOOLS/bin/wasm-bindgen
fi

echo "== cargo build -p permit-web (wasm32-unknown-unknown, profile wasm-release)" >&2
# wasm-release: the workspace's release profile with LTO and one codegen unit (smaller, faster).
cargo build -q -p permit-web --target wasm32-unknown-unknown --profile wasm-release >&2
WASM=$TARGET/wasm32-unknown-unknown/wasm-release/permit_web.wasm

# The glue only changes with the .wasm (or the CLI version, recorded in the stamp).
STAMP=$OUT/pkg/.built-from
if [ ! -f "$OUT/pkg/permit_web_bg.wasm" ] || [ "$WASM" -nt "$OUT/pkg/permit_web_bg.wasm" ] \
  || [ "$(cat "$STAMP" 2>/dev/null)" != "$WB_VERSION" ]; then
  echo "== wasm-bindgen --target web" >&2
  rm -rf "$OUT/pkg"
  "$WASM_BINDGEN" --target web --no-typescript --out-dir "$OUT/pkg" "$WASM"
  echo "$WB_VERSION" >"$STAMP"
fi

# The page's static files, and the default lists: the TEST-ONLY demo root (pinned) and trust
# list, which the page labels as test data (the trust list says `"test": true`).
cp -R web/www/. "$OUT/"
mkdir -p "$OUT/lists"
cp keys/TEST-ONLY-demo-root.pub.jwk.json "$OUT/lists/root.pub.jwk.json"
cp keys/TEST-ONLY-demo-trust-list.json "$OUT/lists/trust-list.json"

# The service worker caches exactly the files of this build under a name derived from their
# content, so that a new build replaces the old cache and an unchanged one keeps it.
ASSETS=$(cd "$OUT" && find . -type f ! -name sw.js ! -name '.*' | sed 's|^\./||' | LC_ALL=C sort)
HASH=$( (cd "$OUT" && printf '%s\n' "$ASSETS" | xargs sha256sum) | sha256sum | cut -c1-16)
printf '%s\n' "$ASSETS" | sed 's/.*/  ".\/&",/' >"$OUT/.assets"
awk -v build="$HASH" -v listfile="$OUT/.assets" '{
  gsub(/__BUILD__/, build)
  if ($0 ~ /\/\* __ASSETS__ \*\//) {
    print "  \"./\","
    while ((getline line < listfile) > 0) print line
    next
  }
  print
}' web/www/sw.js >"$OUT/sw.js"
rm -f "$OUT/.assets"

SIZE=$(stat -c %s "$OUT/pkg/permit_web_bg.wasm")
GZ=$(gzip -9 -c "$OUT/pkg/permit_web_bg.wasm" | wc -c)
echo "wasm: $OUT/pkg/permit_web_bg.wasm $SIZE bytes ($GZ gzip -9); build $HASH"
