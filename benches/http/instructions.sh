#!/usr/bin/env bash
# Instructions per request of each variant under valgrind's callgrind: the same server and
# request as run.sh, counted instead of timed, so two builds can be compared on a busy machine
# (the counts repeat to about 1%; wall time there does not). Every thread of the server counts,
# the export threads included. Not part of CI: see benches/http/README.md.
#
# usage: benches/http/instructions.sh [-d SECONDS] [-p PORT] [-v "VARIANT ..."] [-b BINARY]
#                                     [-k DIR]
# -d measured seconds per variant (6; after a 2 s warm-up), -b a server binary built before (to
# compare builds; default: build this tree's), -k keep the callgrind profiles in DIR.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DURATION=6
PORT=18085
VARIANTS="bare maestro otel-actix tracing-actix"
BIN=""
KEEP=""
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/maestro-trace/target-http}"

usage() { sed -n '7,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts "d:p:v:b:k:h" opt; do
    case "$opt" in
        d) DURATION="$OPTARG" ;;
        p) PORT="$OPTARG" ;;
        v) VARIANTS="$OPTARG" ;;
        b) BIN="$OPTARG" ;;
        k) KEEP="$OPTARG" ;;
        *) usage ;;
    esac
done
for n in "$DURATION" "$PORT"; do
    [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || { echo "instructions.sh: not a positive integer: $n" >&2; usage; }
done
read -r -a VARIANT_LIST <<<"$VARIANTS"
for v in "${VARIANT_LIST[@]}"; do
    case "$v" in bare | maestro | otel-actix | tracing-actix) ;; *) echo "instructions.sh: unknown variant: $v" >&2; usage ;; esac
done
URL="http://127.0.0.1:$PORT/models/bert-base?version=3"
USER_AGENT="maestro-http-bench/wrk"

for tool in wrk valgrind; do
    if ! command -v "$tool" >/dev/null; then
        echo "== installing $tool (Debian package)"
        apt-get install -y "$tool" >/dev/null || { apt-get update >/dev/null && apt-get install -y "$tool" >/dev/null; }
    fi
done
if [[ -z "$BIN" ]]; then
    echo "== building the server (release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    cargo build --release --quiet --manifest-path "$HERE/Cargo.toml"
    BIN="$CARGO_TARGET_DIR/release/maestro-trace-http-bench"
fi
[[ -x "$BIN" ]] || { echo "instructions.sh: no server binary at $BIN" >&2; exit 1; }

WORK="$(mktemp -d)"
SERVER=""
cleanup() {
    [[ -n "$SERVER" ]] && kill -INT "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    [[ -n "$KEEP" ]] && mkdir -p "$KEEP" && cp "$WORK"/*.out* "$KEEP"/ 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

wait_for_port() {
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "instructions.sh: the server did not listen on $PORT" >&2
    return 1
}

echo "== $DURATION s per variant after a 2 s warm-up: wrk -t1 -c8 on $URL"
declare -A PER_REQUEST
for v in "${VARIANT_LIST[@]}"; do
    valgrind --tool=callgrind --callgrind-out-file="$WORK/$v.out" "$BIN" "$v" "$PORT" \
        >"$WORK/$v.log" 2>&1 &
    SERVER=$!
    wait_for_port
    wrk -t1 -c8 -d2s -H "User-Agent: $USER_AGENT" "$URL" >/dev/null
    callgrind_control -z "$SERVER" >/dev/null 2>&1
    wrk -t1 -c8 -d"${DURATION}s" -H "User-Agent: $USER_AGENT" "$URL" >"$WORK/$v.wrk"
    # Let the export thread finish the last batch before the count is read.
    sleep 1.5
    callgrind_control -d "$SERVER" >/dev/null 2>&1
    kill -INT "$SERVER"
    wait "$SERVER" || true
    SERVER=""
    requests=$(awk '/requests in/ {print $1}' "$WORK/$v.wrk")
    total=$(callgrind_annotate "$WORK/$v.out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    [[ -n "$requests" && "$requests" -gt 0 && -n "$total" ]] || { echo "instructions.sh: no count for $v" >&2; exit 1; }
    PER_REQUEST[$v]=$((total / requests))
    printf '%-14s %8d requests  %7d instructions per request\n' "$v" "$requests" "${PER_REQUEST[$v]}"
done
if [[ -n "${PER_REQUEST[bare]:-}" ]]; then
    echo "== bare's instructions ÷ each variant's (what throughput on one saturated CPU would follow)"
    for v in "${VARIANT_LIST[@]}"; do
        awk -v b="${PER_REQUEST[bare]}" -v x="${PER_REQUEST[$v]}" -v v="$v" \
            'BEGIN { printf "%-14s %.2fx  (+%d instructions)\n", v, b / x, x - b }'
    done
fi
