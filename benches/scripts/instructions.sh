#!/usr/bin/env bash
# Instructions per call of rows of the counting binary (benches/src/bin/allocs.rs) under
# valgrind's callgrind: on the calling thread and in all threads, each the difference of two runs
# of N1 and N2 calls, so setup and warm-up cancel out (the clock calibrations, busy loops of a
# wall-clock length, are subtracted). Counts do not depend on the machine's load or clock; rows
# with export threads still vary between runs by how those threads interleave with the caller,
# so each row is counted ROUNDS times, alternating rows, and the median is printed with the
# spread.
# Not part of CI.
#
# usage: benches/scripts/instructions.sh [-b BINARY] [-r ROUNDS] [-n N1,N2] ROW/VARIANT ...
# ROW/VARIANT as `allocs --only` takes it (maestro_sampled/sync, sdk_in_span/attrs3, ...), or
# floor/context and floor/context_ids (`allocs --floor`). -b a counting binary built before (to
# compare builds; default: build this tree's), -r rounds (3), -n the two call counts (5000,25000).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROUNDS=3
COUNTS="5000,25000"
BIN=""
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/maestro-trace/target}"

usage() { sed -n '11,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts "b:r:n:h" opt; do
    case "$opt" in
        b) BIN="$OPTARG" ;;
        r) ROUNDS="$OPTARG" ;;
        n) COUNTS="$OPTARG" ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[[ $# -gt 0 ]] || usage
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "instructions.sh: -r takes a positive integer" >&2; usage; }
[[ "$COUNTS" =~ ^([1-9][0-9]*),([1-9][0-9]*)$ ]] || { echo "instructions.sh: -n takes N1,N2" >&2; usage; }
N1="${BASH_REMATCH[1]}"
N2="${BASH_REMATCH[2]}"
[[ "$N2" -gt "$N1" ]] || { echo "instructions.sh: N2 must be above N1" >&2; usage; }
command -v valgrind >/dev/null || { echo "instructions.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }

if [[ -z "$BIN" ]]; then
    cargo build --release --locked -p maestro-trace-benches --bin allocs --manifest-path "$HERE/../../Cargo.toml" >&2
    BIN="$CARGO_TARGET_DIR/release/allocs"
fi
[[ -x "$BIN" ]] || { echo "instructions.sh: no binary at $BIN" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Instructions of one run of $2 calls of row $1: "CALLER ALL".
count() {
    local row="$1" calls="$2" mode=()
    [[ "$row" == floor/* ]] && mode=(--floor)
    rm -f "$WORK"/cg.out*
    valgrind --tool=callgrind --separate-threads=yes --fair-sched=yes \
        --callgrind-out-file="$WORK/cg.out" "$BIN" "${mode[@]}" --calls "$calls" --only "$row" \
        >"$WORK/stdout" 2>"$WORK/log" || { cat "$WORK/log" >&2; exit 1; }
    grep -q '"row"' "$WORK/stdout" || { echo "instructions.sh: $row: no such row" >&2; exit 1; }
    python3 - "$WORK" <<'PY'
import glob, subprocess, sys
# The two clock calibrations (fastant's at load, quanta's at the first pipeline) are busy loops
# of a wall-clock length: their instructions depend on how fast valgrind runs, so they are left
# out (inclusive costs, on whichever thread ran them).
CALIBRATIONS = ("fastant::tsc_now::___init___ctor::___init___ctor ", "quanta::Clock::new ")
per = {}
for path in glob.glob(sys.argv[1] + "/cg.out-*"):
    with open(path) as f:
        total = next(int(line.split()[1]) for line in f if line.startswith("totals:"))
    annotated = subprocess.run(["callgrind_annotate", "--inclusive=yes", path],
                               capture_output=True, text=True, check=True).stdout
    for line in annotated.splitlines():
        if any(name in line for name in CALIBRATIONS):
            total -= int(line.split()[0].replace(",", ""))
    per[path.rsplit("-", 1)[-1]] = total
print(per.get("01", 0), sum(per.values()))
PY
}

for round in $(seq "$ROUNDS"); do
    for row in "$@"; do
        read -r c1 a1 < <(count "$row" "$N1")
        read -r c2 a2 < <(count "$row" "$N2")
        echo "$row $(( (c2 - c1) / (N2 - N1) )) $(( (a2 - a1) / (N2 - N1) ))" >>"$WORK/counts"
        echo "round $round: $row caller $(( (c2 - c1) / (N2 - N1) )) all $(( (a2 - a1) / (N2 - N1) ))" >&2
    done
done

python3 - "$WORK/counts" "$BIN" "$N1" "$N2" <<'PY'
import statistics, sys
rows = {}
with open(sys.argv[1]) as f:
    for line in f:
        row, caller, every = line.split()
        rows.setdefault(row, []).append((int(caller), int(every)))
print(f"# instructions per call, {sys.argv[2]}, runs of {sys.argv[3]} and {sys.argv[4]} calls; "
      "median (min-max) of the rounds")
print(f"{'row':32} {'caller':>22} {'all threads':>22}")
for row, counts in rows.items():
    cell = lambda xs: f"{statistics.median(xs):,.0f} ({min(xs):,}-{max(xs):,})"
    print(f"{row:32} {cell([c for c, _ in counts]):>22} {cell([a for _, a in counts]):>22}")
PY
