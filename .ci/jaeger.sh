#!/usr/bin/env bash
# Builds (once) and prints the path of a pinned Jaeger v2 all-in-one binary.
#
# Jaeger's Go module is github.com/jaegertracing/jaeger (no /v2 suffix), so its v2.x tags are not
# Go versions. v1.76.0 is the same commit as Jaeger v2.13.0, but its go.mod carries a `replace`,
# which `go install module@version` refuses: a tiny wrapper module repeats the replace instead.
# The binary is cached under the user's cache dir keyed by version, so warm runs skip the build.
set -euo pipefail

JAEGER_MODULE_VERSION="${JAEGER_MODULE_VERSION:-v1.76.0}"   # = Jaeger v2.13.0
cache="${XDG_CACHE_HOME:-$HOME/.cache}/maestro-trace/jaeger/$JAEGER_MODULE_VERSION"
binary="$cache/jaeger"

if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi

command -v go >/dev/null || { echo "go is required to build Jaeger" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat >"$work/go.mod" <<MOD
module jaegerbuild

go 1.24.6

require github.com/jaegertracing/jaeger $JAEGER_MODULE_VERSION

replace github.com/Shopify/sarama => github.com/Shopify/sarama v1.33.0
MOD
cat >"$work/tools.go" <<'GO'
//go:build tools

package jaegerbuild

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
GO
mkdir -p "$cache"
start=$(date +%s)
(
  cd "$work"
  go mod tidy >&2
  go build -o "$binary.tmp" github.com/jaegertracing/jaeger/cmd/jaeger >&2
)
mv "$binary.tmp" "$binary"
echo "built Jaeger $JAEGER_MODULE_VERSION in $(( $(date +%s) - start ))s" >&2
echo "$binary"
