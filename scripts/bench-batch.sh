#!/usr/bin/env bash
# Benchmark of batch issuance (issue 4, item 6), one command:
#
#   scripts/bench-batch.sh
#
# 1. builds `issuer` (release);
# 2. generates BENCH_ROWS applicants (default 100 000) with ../shared/applicants/generate.py
#    into a fresh temporary directory (the benchmark may use ../shared; the product does not);
# 3. end to end: `issuer batch` over all of them under /usr/bin/time -v (wall time, CPU %,
#    peak RSS), all cores, default options, BENCH_RUNS times (default 3; each with a new ledger
#    and output directory), with the machine-wide CPU counters of /proc/stat around each run
#    (what the kernel's own threads and the hypervisor took); checks each output (one permit,
#    PNG and manifest line per applicant); the run of median fraction (step 4) is the result;
# 4. after each run, the parts alone, single-threaded, on the first BENCH_PART_ROWS of the same applicants
#    (default: all of them, so that the ledger part writes a ledger as large as the job's):
#    `bench-parts` (the permit-bench member: input, ledger as in the job, sign, self-check,
#    QR matrix, PNG, sampled image decode, file write), and the sum-of-parts rate on all cores
#    = cores / sum(per-row seconds); the end-to-end rate is stated as a fraction of it; the
#    same against the parts' CPU time (the measuring thread's CPU clock: without the part's
#    waits for the disk, which the job overlaps with other work);
# 5. scaling: one more end-to-end run pinned to one core with taskset (BENCH_ONE_CORE=0 skips it);
# 6. the Python reference (scripts/bench_batch_reference.py: PyNaCl, cbor2, segno, sqlite3) on
#    the first BENCH_PY_ROWS of the same applicants (default 1 000: it is slow);
# 7. prints a summary table (also written to $BENCH_KEEP/summary.txt when BENCH_KEEP is set).
#
# Environment: BENCH_ROWS, BENCH_RUNS, BENCH_PART_ROWS, BENCH_PY_ROWS, BENCH_ONE_CORE, BENCH_TMP (parent of the temporary
# directory, default /var/tmp), BENCH_KEEP=DIR (copy the JSON results and the summary there),
# GENERATE_PY (path of generate.py), CARGO_TARGET_DIR (honoured).
#
# Run it on an otherwise idle machine: the load average before and after is printed, and a
# busy machine makes every number worse. Do not delete a previous run's 100 000 files just
# before: ext4 skips recently deleted inodes when it allocates new ones, which makes file
# creation several times slower for a while (the script deletes its own files at the end).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROWS=${BENCH_ROWS:-100000}
PART_ROWS=${BENCH_PART_ROWS:-$ROWS}
PY_ROWS=${BENCH_PY_ROWS:-1000}
RUNS=${BENCH_RUNS:-3}
GEN=${GENERATE_PY:-$ROOT/../shared/applicants/generate.py}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET/release/issuer
PARTS=$TARGET/release/bench-parts

[ -f "$GEN" ] || { echo "bench-batch: $GEN not found (set GENERATE_PY)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench-batch: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }

echo "== build"
(cd "$ROOT" && cargo build --release --quiet -p permit-issuer --bin issuer -p permit-bench --bin bench-parts)

WORK=$(mktemp -d "${BENCH_TMP:-/var/tmp}/bench-batch.XXXXXX")
cleanup() {
    if [ -n "${BENCH_KEEP:-}" ]; then
        mkdir -p "$BENCH_KEEP"
        cp "$WORK"/*.json "$WORK"/*.txt "$BENCH_KEEP"/ 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

CPU=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
MEM=$(free -g 2>/dev/null | awk '/^Mem:/ {print $2 " GiB"}')
echo "machine: $(nproc) cores, ${CPU:-?}, ${MEM:-?}; $(uname -sr)" | tee "$WORK/machine.txt"
echo "work directory: $WORK ($(df -T "$WORK" | awk 'NR==2 {print $2}'))"

echo "== generate $ROWS applicants"
python3 "$GEN" --count "$ROWS" > "$WORK/applicants.jsonl"
sync

uptime | tee "$WORK/load_before.txt"

# The machine-wide CPU counters (user nice system idle iowait irq softirq steal) of /proc/stat.
cpu_counters() { awk '/^cpu / {print $2, $3, $4, $5, $6, $7, $8, $9}' /proc/stat; }

for i in $(seq 1 "$RUNS"); do
    echo "== end to end $i of $RUNS: issuer batch, $ROWS applicants"
    # Earlier runs' files are kept until the end: deleting 100 000 files just before a run
    # slows file creation (see above).
    mkdir -p "$WORK/run$i"
    cpu_counters > "$WORK/stat-$i.txt"
    set +e
    /usr/bin/time -v -o "$WORK/time-$i.txt" "$BIN" --ledger "$WORK/run$i/ledger.sqlite3" --json \
        batch --input "$WORK/applicants.jsonl" --out "$WORK/run$i/out" --quiet \
        > "$WORK/batch-$i.json" 2> "$WORK/batch-$i.stderr.txt"
    rc=$?
    set -e
    cpu_counters >> "$WORK/stat-$i.txt"
    if [ "$rc" -ne 0 ]; then
        echo "bench-batch: issuer batch exited with $rc" >&2
        cat "$WORK/batch-$i.stderr.txt" >&2
        exit 1
    fi
    uptime | tee "$WORK/load_after_batch.txt"

    echo "== check the output of run $i"
    PNGS=$(find "$WORK/run$i/out" -maxdepth 1 -name '*.png' | wc -l)
    LINES=$(wc -l < "$WORK/run$i/out/manifest.jsonl")
    PERMITS=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM permits").fetchone()[0])' "$WORK/run$i/ledger.sqlite3")
    echo "permits $PERMITS, PNG files $PNGS, manifest lines $LINES"
    if [ "$PNGS" -ne "$ROWS" ] || [ "$LINES" -ne "$ROWS" ] || [ "$PERMITS" -ne "$ROWS" ]; then
        echo "bench-batch: expected $ROWS of each" >&2
        exit 1
    fi
    echo "$PERMITS $PNGS $LINES" > "$WORK/check-$i.txt"

    # Right after each run, so that each run is compared with parts measured on the machine as
    # it was then (a shared virtual machine's speed drifts by a third over minutes).
    echo "== parts alone after run $i, single-threaded, $PART_ROWS applicants"
    "$PARTS" --json --input "$WORK/applicants.jsonl" --rows "$PART_ROWS" \
        --scratch "$WORK/parts$i" > "$WORK/parts-$i.json" 2> "$WORK/parts-$i.stderr.txt"
done

# Scaling: the same job pinned to one core (the job sizes its thread pool from the CPUs it may
# run on), against the runs above on all of them.
if [ "${BENCH_ONE_CORE:-1}" = 1 ] && [ "$(nproc)" -gt 1 ] && command -v taskset >/dev/null; then
    echo "== end to end on one core (taskset -c 0): issuer batch, $ROWS applicants"
    mkdir -p "$WORK/one"
    /usr/bin/time -v -o "$WORK/time-one.txt" taskset -c 0 "$BIN" --ledger "$WORK/one/ledger.sqlite3" \
        --json batch --input "$WORK/applicants.jsonl" --out "$WORK/one/out" --quiet \
        > "$WORK/batch-one.json" 2> "$WORK/batch-one.stderr.txt"
    LINES=$(wc -l < "$WORK/one/out/manifest.jsonl")
    if [ "$LINES" -ne "$ROWS" ]; then
        echo "bench-batch: the one-core run left $LINES manifest lines, expected $ROWS" >&2
        exit 1
    fi
fi

echo "== Python reference, $PY_ROWS applicants"
head -n "$PY_ROWS" "$WORK/applicants.jsonl" > "$WORK/py-applicants.jsonl"
if ! python3 -c 'import nacl, segno, cbor2' 2>/dev/null; then
    echo "installing pynacl segno cbor2 (python3 -m pip)"
    python3 -m pip install --quiet pynacl segno cbor2
fi
python3 "$ROOT/scripts/bench_batch_reference.py" --input "$WORK/py-applicants.jsonl" \
    --rows "$PY_ROWS" --out "$WORK/py" --json > "$WORK/python.json"
uptime | tee "$WORK/load_after.txt"

python3 - "$WORK" "$ROWS" "$RUNS" <<'EOF' | tee "$WORK/summary.txt"
import json, os, re, sys
work, rows, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
py = json.load(open(f"{work}/python.json"))

def time_field(text, key):
    m = re.search(re.escape(key) + r":\s*(.+)", text)
    return m.group(1).strip() if m else "?"

def machine(i):
    """Shares of the machine during run i, from /proc/stat (all cores together)."""
    a, b = (list(map(int, l.split())) for l in open(f"{work}/stat-{i}.txt"))
    d = [y - x for x, y in zip(a, b)]
    total = sum(d) or 1
    user, nice, system, idle, iowait, irq, softirq, steal = d
    return {"busy": 100 * (user + nice + system + irq + softirq) / total, "steal": 100 * steal / total}

all_runs = []
for i in range(1, runs + 1):
    r = json.load(open(f"{work}/batch-{i}.json"))
    r["time_v"] = open(f"{work}/time-{i}.txt").read()
    r["machine"] = machine(i)
    r["n"] = i
    r["parts"] = json.load(open(f"{work}/parts-{i}.json"))
    r["fraction"] = r["permits_per_second"] / r["parts"]["ideal_permits_per_second_all_cores"]
    # The same against the parts' CPU time (their waits for the disk left out).
    cpu_sum = r["parts"].get("sum_cpu_us_per_row")
    r["cpu_fraction"] = r["permits_per_second"] * cpu_sum / (1e6 * r["parts"]["cores"]) if cpu_sum else None
    all_runs.append(r)
# The result is the run of median fraction (the lower middle when the count is even).
by_fraction = sorted(all_runs, key=lambda r: r["fraction"])
batch = by_fraction[(len(by_fraction) - 1) // 2]
by_rate = sorted(all_runs, key=lambda r: r["permits_per_second"])
parts = batch["parts"]
time_v = batch["time_v"]

def tv(key):
    return time_field(time_v, key)

wall = tv("Elapsed (wall clock) time (h:mm:ss or m:ss)")
rss_mb = int(tv("Maximum resident set size (kbytes)")) / 1024
cpu = tv("Percent of CPU this job got")
rate = batch["permits_per_second"]
ideal = parts["ideal_permits_per_second_all_cores"]
cores = parts["cores"]
load = lambda f: open(f"{work}/{f}").read().split("load average:")[-1].strip()

print()
print(f"## Batch issuance benchmark: {rows} applicants")
print()
print(open(f"{work}/machine.txt").read().strip())
print(f"load average (1, 5, 15 min) before: {load('load_before.txt')}; "
      f"after the batch: {load('load_after_batch.txt')}; at the end: {load('load_after.txt')}")
print()
print(f"| end to end (`issuer batch`, all cores): run {batch['n']} of {runs}, the median by fraction of its parts | |")
print("|---|---|")
print(f"| permits issued | {batch['issued']} (rejected {batch['rejected']}) |")
print(f"| time (job, wall) | {batch['seconds']:.2f} s ({wall} incl. start-up) |")
print(f"| **permits per second** | **{rate:.0f}** |")
cpu_s = float(tv("User time (seconds)")) + float(tv("System time (seconds)"))
print(f"| CPU | {cpu} (user + system {cpu_s:.1f} s: {1e6 * cpu_s / max(batch['issued'], 1):.0f} µs per permit) |")
print(f"| peak RSS | {rss_mb:.0f} MB (largest of the runs: "
      f"{max(int(time_field(r['time_v'], 'Maximum resident set size (kbytes)')) for r in all_runs) / 1024:.0f} MB) |")
print(f"| self-check | {batch['texts_checked']} texts verified, {batch['images_checked']} images decoded |")
print()
pct = lambda x: "?" if x is None else f"{100 * x:.0f} %"
num = lambda x: "?" if x is None else f"{x:.1f}"
print("| run | permits/s | sum of the parts after it (µs) | fraction of the parts on all cores | the parts' CPU time (µs) | fraction of it | job CPU | machine busy (all processes and kernel threads) | steal (hypervisor) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in all_runs:
    m = r["machine"]
    c = r["parts"]["cores"]
    print(f"| {r['n']} | {r['permits_per_second']:.0f} | {r['parts']['sum_us_per_row']:.1f} | {100 * r['fraction']:.0f} % "
          f"| {num(r['parts'].get('sum_cpu_us_per_row'))} | {pct(r['cpu_fraction'])} "
          f"| {time_field(r['time_v'], 'Percent of CPU this job got')} "
          f"| {m['busy'] * c:.0f} % | {m['steal'] * c:.0f} % |")
print()
print(f"| part, measured alone after run {batch['n']} (single-threaded, {parts['rows']} rows; QR version "
      f"{parts['qr_version']}, PNG {parts['png_bytes']} bytes) | µs per permit | of which CPU |")
print("|---|---:|---:|")
for p in parts["parts"]:
    name = p["part"].strip()
    indent = "&nbsp;&nbsp;" if p["part"].startswith("  ") else ""
    print(f"| {indent}{name} | {p['us_per_row']:.1f} | {num(p.get('cpu_us_per_row'))} |")
print(f"| **sum of the parts** (image decode pro rata of its sampling) | **{parts['sum_us_per_row']:.1f}** "
      f"| {num(parts.get('sum_cpu_us_per_row'))} |")
print()
print(f"| rates | permits/s |")
print("|---|---:|")
print(f"| sum of the parts on 1 core (1 / sum) | {parts['ideal_permits_per_second_one_core']:.0f} |")
print(f"| sum of the parts on {cores} cores ({cores} / sum) | {ideal:.0f} |")
print(f"| end to end (run {batch['n']}) | {rate:.0f} = **{100 * rate / ideal:.0f} %** of the sum of the parts on {cores} cores |")
if batch["cpu_fraction"] is not None:
    print(f"| the parts' CPU time alone on {cores} cores ({cores} / CPU sum) | {1e6 * cores / parts['sum_cpu_us_per_row']:.0f} |")
    print(f"| end to end (run {batch['n']}) against it | {pct(batch['cpu_fraction'])} |")
print(f"| end to end, slowest and fastest of the {runs} runs | {by_rate[0]['permits_per_second']:.0f}, {by_rate[-1]['permits_per_second']:.0f} |")
if os.path.exists(f"{work}/batch-one.json"):
    one = json.load(open(f"{work}/batch-one.json"))["permits_per_second"]
    rates = sorted(r["permits_per_second"] for r in all_runs)
    median_rate = rates[(len(rates) - 1) // 2]
    print(f"| end to end pinned to one core (`taskset -c 0`) | {one:.0f} |")
    print(f"| scaling: the median rate of the {runs} runs on {cores} cores ({median_rate:.0f}) ÷ one core | {median_rate / one:.2f}× |")
print(f"| serial part alone (input + ledger, one thread) bounds the job at | {parts['serial_bound_permits_per_second']:.0f} |")
print(f"| Python reference (PyNaCl + cbor2 + segno + sqlite3, 1 thread, {py['rows']} rows, "
      f"QR versions {py['qr_versions']}) | {py['permits_per_second']:.1f} |")
print(f"| end to end ÷ Python reference | {rate / py['permits_per_second']:.0f}× |")
EOF
