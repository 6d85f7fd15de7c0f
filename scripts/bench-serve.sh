#!/usr/bin/env bash
# Load test of `verifier serve` over loopback HTTP with keep-alive, using Debian's `wrk`
# (apt-get install wrk). Starts the release server on 127.0.0.1 (a free port), POSTs the valid
# permit text of tests/vectors/negative/00-valid.json as text/plain for DURATION seconds with
# CONNS connections, prints wrk's figures (rate, latency percentiles incl. p99) and the server's
# resident memory before and after (flat memory = no leak), then stops the server. Traffic goes
# to 127.0.0.1 only; the run is bounded by DURATION.
#
#   scripts/bench-serve.sh [DURATION_S=20] [CONNS=64] [THREADS=2]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-20}
CONNS=${2:-64}
THREADS=${3:-2}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
cargo build --release -q -p permit-verifier
BIN=target/release/verifier
TMP=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
VEC=tests/vectors/negative/00-valid.json
TEXT=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['text'])" "$VEC")
AT=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['at'])" "$VEC")
"$BIN" serve --listen 127.0.0.1:0 --no-state --at "$AT" 2>"$TMP/err" &
PID=$!
for _ in $(seq 100); do grep -q listening "$TMP/err" && break; sleep 0.1; done
PORT=$(grep -o '127.0.0.1:[0-9]*' "$TMP/err" | head -1 | cut -d: -f2)
URL="http://127.0.0.1:$PORT/api/v1/verify"
curl -sf -H 'Content-Type: text/plain' --data-binary "$TEXT" "$URL" | grep -q '"verdict": "VALID"' \
  || { echo "the server did not answer VALID" >&2; exit 1; }
cat >"$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.body = "$TEXT"
wrk.headers["Content-Type"] = "text/plain"
LUA
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$PID/status"; }
echo "server RSS before: $(rss)"
wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$TMP/post.lua" "$URL"
echo "server RSS after:  $(rss)"
