#!/usr/bin/env bash
# Fuzzes context extraction from untrusted headers for a bounded time (default 60 s).
# Not part of CI: it needs a nightly toolchain and libFuzzer. Usage: bash .ci/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p fuzz/corpus/extract_headers
printf '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\ncongo=t61rcWkgMzE,rojo=00f067aa0ba902b7\nuserId=alice,tenant=acme\n4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1' \
  > fuzz/corpus/extract_headers/seed-valid
cargo +nightly fuzz run extract_headers fuzz/corpus/extract_headers -- -max_total_time="$seconds"
