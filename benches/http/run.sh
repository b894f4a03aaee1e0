#!/usr/bin/env bash
# HTTP overhead of TracingMiddleware: one actix-web worker serving GET /models/{model_id}, bare
# and behind maestro-trace / opentelemetry-instrumentation-actix-web / tracing-actix-web, loaded
# by wrk from a second process on loopback. Rounds alternate the variants' order; the results
# (median req/s, ratio to bare, median p99, every round's numbers, the machine) go to
# benches/http/results.md and standard output. Not part of CI: see benches/http/README.md.
#
# usage: benches/http/run.sh [-r ROUNDS] [-d SECONDS] [-c CONNECTIONS] [-w WARMUP_SECONDS]
#                            [-p PORT] [-v "VARIANT ..."] [-o RESULTS_FILE]
# The same settings can come from the environment: ROUNDS, DURATION, CONNECTIONS, WARMUP, PORT,
# VARIANTS, RESULTS. CARGO_TARGET_DIR defaults to $HOME/.cache/maestro-trace/target-http.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-32}"
WARMUP="${WARMUP:-2}"
PORT="${PORT:-18080}"
VARIANTS="${VARIANTS:-bare maestro otel-actix tracing-actix}"
RESULTS="${RESULTS:-$HERE/results.md}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/maestro-trace/target-http}"

usage() { sed -n '7,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts "r:d:c:w:p:v:o:h" opt; do
    case "$opt" in
        r) ROUNDS="$OPTARG" ;;
        d) DURATION="$OPTARG" ;;
        c) CONNECTIONS="$OPTARG" ;;
        w) WARMUP="$OPTARG" ;;
        p) PORT="$OPTARG" ;;
        v) VARIANTS="$OPTARG" ;;
        o) RESULTS="$OPTARG" ;;
        *) usage ;;
    esac
done
for n in "$ROUNDS" "$DURATION" "$CONNECTIONS" "$WARMUP" "$PORT"; do
    [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || { echo "run.sh: not a positive integer: $n" >&2; usage; }
done
read -r -a VARIANT_LIST <<<"$VARIANTS"
for v in "${VARIANT_LIST[@]}"; do
    case "$v" in bare | maestro | otel-actix | tracing-actix) ;; *) echo "run.sh: unknown variant: $v" >&2; usage ;; esac
done

# The request: a route template with a parameter, a query string and a user agent, so every
# default attribute of every middleware has a value to record.
URL="http://127.0.0.1:$PORT/models/bert-base?version=3"
USER_AGENT="maestro-http-bench/wrk"

# --- tools -----------------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
    echo "== installing wrk (Debian package)"
    if [[ $(id -u) -eq 0 ]]; then
        apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
    else
        sudo apt-get install -y wrk >/dev/null
    fi
fi

echo "== building the server (release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
cargo build --release --quiet --manifest-path "$HERE/Cargo.toml"
BIN="$CARGO_TARGET_DIR/release/maestro-trace-http-bench"

# One CPU for the server (worker, accept and export threads alike), another for wrk.
NPROC="$(nproc)"
SERVER_CPU=()
WRK_CPU=()
if command -v taskset >/dev/null && [[ "$NPROC" -ge 2 ]]; then
    SERVER_CPU=(taskset -c 0)
    WRK_CPU=(taskset -c 1)
    PINNING="server pinned to CPU 0 (all its threads, the export threads included), wrk to CPU 1 (taskset)"
else
    PINNING="not pinned (taskset missing or a single CPU): server and wrk share the CPUs"
fi

# --- one measurement -------------------------------------------------------------------------
SERVER_PID=""
stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -INT "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
WORK="$(mktemp -d)"
trap 'stop_server; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

start_server() { # variant log
    if port_open; then
        echo "run.sh: something already listens on 127.0.0.1:$PORT (choose another with -p)" >&2
        exit 1
    fi
    "${SERVER_CPU[@]}" "$BIN" "$1" "$PORT" >"$2" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 600); do # 30 s: a busy machine can be slow to page a fresh binary in
        port_open && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "run.sh: the $1 server did not start:" >&2
    cat "$2" >&2
    exit 1
}

load() { # seconds output
    "${WRK_CPU[@]}" wrk -t1 -c"$CONNECTIONS" -d"$1"s --latency -H "User-Agent: $USER_AGENT" "$URL" >"$2" 2>&1 || true
}

# wrk prints latencies as 812.00us / 1.23ms / 1.01s: in milliseconds.
p99_ms() {
    awk '$1 == "99%" {
        v = $2; unit = v; sub(/^[0-9.]+/, "", unit); sub(/[a-z]+$/, "", v);
        f = (unit == "us") ? 0.001 : (unit == "ms") ? 1 : (unit == "s") ? 1000 : (unit == "m") ? 60000 : -1;
        printf "%.3f", v * f }' "$1"
}
# CPU time the server process (all its threads) has used, in clock ticks.
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
CLK_TCK="$(getconf CLK_TCK)"
requests_per_sec() { awk '$1 == "Requests/sec:" { print $2 }' "$1"; }
request_count() { awk '/requests in/ { print $1 }' "$1"; }
socket_errors() { awk '/Socket errors|Non-2xx/ { $1 = $1; printf "%s; ", $0 }' "$1"; }

# --- the runs --------------------------------------------------------------------------------
PER_RUN=$((WARMUP + DURATION + 2))
TOTAL=$((ROUNDS * ${#VARIANT_LIST[@]} * PER_RUN))
echo "== $ROUNDS rounds x ${#VARIANT_LIST[@]} variants (${VARIANT_LIST[*]}), each ${WARMUP}s warm-up + ${DURATION}s measured"
echo "   wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency $URL"
echo "   $PINNING"
echo "   bounded: about $TOTAL s ($(((TOTAL + 59) / 60)) min) of load"

RAW="$WORK/raw.tsv" # round position variant req/s p99_ms requests warmup_requests spans errors cpu_us_per_request
: >"$RAW"
n=${#VARIANT_LIST[@]}
for ((round = 1; round <= ROUNDS; round++)); do
    # Rotate the order each round, so every variant takes every position in turn.
    order=()
    for ((i = 0; i < n; i++)); do order+=("${VARIANT_LIST[$(((i + round - 1) % n))]}"); done
    for ((pos = 0; pos < n; pos++)); do
        variant="${order[$pos]}"
        log="$WORK/server-$round-$variant.log"
        start_server "$variant" "$log"
        load "$WARMUP" "$WORK/warmup.txt"
        ticks_before="$(cpu_ticks "$SERVER_PID")"
        load "$DURATION" "$WORK/wrk-$round-$variant.txt"
        ticks="$(($(cpu_ticks "$SERVER_PID") - ticks_before))"
        stop_server
        out="$WORK/wrk-$round-$variant.txt"
        cpu_us="$(awk -v t="$ticks" -v hz="$CLK_TCK" -v n="$(request_count "$out")" 'BEGIN { printf "%.2f", (n > 0) ? t * 1e6 / hz / n : 0 }')"
        rps="$(requests_per_sec "$out")"
        if [[ -z "$rps" ]]; then
            # Left out of the results rather than counted as zero.
            echo "   round $round  $variant: wrk measured nothing, run left out:" >&2
            sed 's/^/      /' "$out" "$log" >&2
            continue
        fi
        p99="$(p99_ms "$out")"
        spans="$(awk '/^spans exported:/ { print $3 }' "$log")"
        errors="$(socket_errors "$out")$(socket_errors "$WORK/warmup.txt")"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$((pos + 1))" "$variant" "$rps" "$p99" \
            "$(request_count "$out")" "$(request_count "$WORK/warmup.txt")" "${spans:-0}" "${errors:-}" "$cpu_us" >>"$RAW"
        printf '   round %d  %-14s %10.0f req/s   p99 %7.3f ms   server CPU %6.2f us/request   %s\n' \
            "$round" "$variant" "$rps" "$p99" "$cpu_us" "${errors:-}"
        if [[ "$variant" != bare ]]; then grep '^first span:' "$log" | sed 's/^/                  /' | head -1 || true; fi
    done
done

# --- the report ------------------------------------------------------------------------------
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v v="$1" -v c="$2" '$3 == v { print $c }' "$RAW"; }

BARE_RPS="$(col bare 4 | median)"
BARE_CPU="$(col bare 10 | median)"
CPU_MODEL="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
{
    echo "# HTTP overhead: results"
    echo
    echo "Generated by \`benches/http/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); see README.md beside it."
    echo
    echo "- Machine: $NPROC CPUs, ${CPU_MODEL:-unknown CPU}, Linux $(uname -r), $(rustc --version)"
    echo "- Load: \`wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency\` after a ${WARMUP}s warm-up, \`GET /models/bert-base?version=3\` with a User-Agent, $ROUNDS rounds, variants rotated each round"
    echo "- Pinning: $PINNING"
    echo "- Server: one actix-web worker on 127.0.0.1; traced variants sample every request and export through a batch processor into an exporter that discards"
    echo
    echo "| variant | req/s (median) | ratio to bare | p99 latency (median) | server CPU per request (median) | bare's CPU / this CPU | spans per request |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for v in "${VARIANT_LIST[@]}"; do
        rps="$(col "$v" 4 | median)"
        p99="$(col "$v" 5 | median)"
        cpu="$(col "$v" 10 | median)"
        ratio="$(awk -v a="$rps" -v b="$BARE_RPS" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')"
        cpu_ratio="$(awk -v a="$cpu" -v b="$BARE_CPU" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", b / a; else print "n/a" }')"
        per_request="$(awk -F'\t' -v v="$v" '$3 == v { s += $8; r += $6 + $7 } END { if (r > 0) printf "%.2f", s / r; else print "n/a" }' "$RAW")"
        printf '| %s | %.0f | %s | %.2f ms | %.2f µs | %s | %s |\n' "$v" "$rps" "$ratio" "$p99" "$cpu" "$cpu_ratio" "$per_request"
    done
    echo
    if grep -qw maestro <<<"${VARIANT_LIST[*]}" && grep -qw bare <<<"${VARIANT_LIST[*]}"; then
        maestro_rps="$(col maestro 4 | median)"
        awk -v a="$maestro_rps" -v b="$BARE_RPS" 'BEGIN {
            r = a / b; printf "Contract (DESIGN.md): TracingMiddleware >= 0.90x of bare throughput: %.2fx, %s\n", r, (r >= 0.90 ? "met" : "NOT met") }'
        echo
    fi
    echo "## Every round"
    echo
    echo "| round | position | variant | req/s | ratio to that round's bare | p99 | server CPU per request | requests (+ warm-up) | spans exported | errors |"
    echo "|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"
    awk -F'\t' 'NR == FNR { if ($3 == "bare") bare[$1] = $4; next }
        { ratio = (bare[$1] > 0) ? sprintf("%.2fx", $4 / bare[$1]) : "n/a";
          printf "| %s | %s | %s | %.0f | %s | %.3f ms | %.2f µs | %s (+ %s) | %s | %s |\n", $1, $2, $3, $4, ratio, $5, $10, $6, $7, $8, $9 }' "$RAW" "$RAW"
} >"$RESULTS"

echo
cat "$RESULTS"
echo
echo "== written to $RESULTS"
