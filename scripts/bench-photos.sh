#!/bin/sh
# The photo benchmark: makes the synthetic permit photo set (deterministic, from a seed) and reads
# every photo with the verifier's scan path, zbarimg and zxing-cpp, one decoder at a time.
#
#   scripts/bench-photos.sh [photo-bench options]     e.g. --per-level 2 --conditions blur,noise
#
# Needs zbarimg and Python 3 with zxing-cpp and Pillow; installs nothing, says what is missing.
# Photos and results (results.md, results.json) go to $OUT (default: <target dir>/photo-bench).
set -eu
cd "$(dirname "$0")/.."

missing=0
if ! command -v zbarimg >/dev/null 2>&1; then
    echo "missing: zbarimg. Install it with: apt-get install zbar-tools" >&2
    missing=1
fi
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import zxingcpp, PIL' >/dev/null 2>&1; then
    echo "missing: the Python packages zxing-cpp and Pillow for $PYTHON." >&2
    echo "Install them with: $PYTHON -m pip install zxing-cpp pillow" >&2
    missing=1
fi
if [ "$missing" = 1 ]; then
    echo "(to run without the other decoders: $0 --decoders ours)" >&2
    case "$*" in *--decoders*) ;; *) exit 1 ;; esac
fi

TARGET=${CARGO_TARGET_DIR:-target}
OUT=${OUT:-$TARGET/photo-bench}
cargo build --release -p permit-photo-bench --bin photo-bench
exec "$TARGET/release/photo-bench" --out "$OUT" --python "$PYTHON" "$@"
