#!/usr/bin/env bash
# One benchmark run, start to finish: the criterion suite (time per call), the counting binary
# (allocations and CPU per span), then the tables and the plot of BENCHMARKS.md.
#
#   bash benches/run.sh            # about 8 minutes after the release build
#
# Results land in benches/results/ (tables.md, spans.png, medians.json, allocs.jsonl,
# machine.txt). Timings are never a pass/fail test: run this on a quiet machine, and compare rows
# of the same run only. Not part of CI (CI only builds the benches: `cargo bench --no-run`).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/maestro-trace/target}"
results=benches/results
mkdir -p "$results"

{
  echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//') ($(nproc) cores)"
  echo "memory:  $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel:  $(uname -r)"
  echo "rustc:   $(rustc --version)"
  echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min, at the start)"
} >"$results/machine.txt"
cat "$results/machine.txt"

# Old results would mix into the tables: criterion keeps them per row and variant.
rm -rf "$CARGO_TARGET_DIR/criterion"
cargo bench --locked -p maestro-trace-benches --bench spans -- --noplot
cargo run --locked --release -p maestro-trace-benches --bin allocs -- --calls 300000 \
  >"$results/allocs.jsonl"
# Bursts that fit a thread's ring (8,000 spans), then sustained load (200,000 per thread).
cargo run --locked --release -p maestro-trace-benches --bin scaling -- --spans 8000 --rounds 40 \
  >"$results/scaling-burst.jsonl"
cargo run --locked --release -p maestro-trace-benches --bin scaling -- --spans 200000 --rounds 5 \
  >"$results/scaling-sustained.jsonl"

# The plot needs matplotlib: a pinned venv, made once.
venv="$HOME/.cache/maestro-trace/venv-plot-matplotlib-3.10.8"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check matplotlib==3.10.8
fi
"$venv/bin/python" benches/scripts/report.py \
  --criterion "$CARGO_TARGET_DIR/criterion" \
  --allocs "$results/allocs.jsonl" \
  --machine "$results/machine.txt" \
  --scaling "$results/scaling-burst.jsonl" "$results/scaling-sustained.jsonl" \
  --out "$results"
