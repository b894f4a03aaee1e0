#!/usr/bin/env bash
# The scale-out Jaeger topology of observability/README.md, on this machine's loopback:
#
#   ML API #1 ─┐                  ┌─ collector 1 ─┐
#              ├─ haproxy (OTLP) ─┤               ├─ Kafka ─ ingester(s) ─ storage ─ query
#   ML API #2 ─┘                  └─ collector 2 ─┘
#                                       └──── Prometheus (spanmetrics) ── query's Monitor tab
#
#   bash observability/local/run.sh          # start it all, send a little load, keep running
#                                            # (prints the query URL; Ctrl-C stops everything)
#   bash observability/local/run.sh --test   # the CI check: load with one collector killed and
#                                            # Kafka restarted mid-way, then assertions read
#                                            # back from Jaeger's query API; exit 1 on failure
#
# Needs: java and mvn (Kafka, from Maven Central's jars: .ci/kafka.sh), haproxy, prometheus, go (Jaeger,
# built once: .ci/jaeger.sh), cargo (the ML API example), python3. Missing Debian packages are
# installed when running as root. Everything binds 127.0.0.1 on free ports; every process this
# starts is stopped on exit, and --test gives up after TOPOLOGY_TIMEOUT seconds (default 600).
#
# Environment: REQUESTS (traces the load sends; test default 600, else 60), SAMPLING_PERCENTAGE
# (of the traces with no error and not slow; default 25), INGESTERS (1..PARTITIONS, default 1:
# see README for why the test runs one), MAESTRO_ML_API_BIN (a built example, skips cargo).
# The ports are variables that `port NAME` assigns (printf -v), which shellcheck cannot follow:
# shellcheck disable=SC2154
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

mode=run
case "${1:-}" in
  --test) mode="test" ;;
  "") ;;
  *) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac

requests="${REQUESTS:-$([ "$mode" = test ] && echo 600 || echo 60)}"
sampling="${SAMPLING_PERCENTAGE:-25}"
ingesters="${INGESTERS:-1}"
partitions=6
slow_ms=1000
# Tail sampling decides a trace decision_wait after its first span reached the ingester, so the
# wait must outlast the test's Kafka outages, or a trace in flight across one is decided on the
# spans that arrived before it (a slow trace then looks fast, and is dropped with its late
# spans). As the ingester saw them here, from losing the broker to consuming again, those
# outages lasted 12-15 s (a stop, 2-3 s down, a JVM start of 7-10 s, rejoining the group): the
# test waits three times that. Run mode has no outages and shows traces sooner.
decision_wait_s=$([ "$mode" = test ] && echo 45 || echo 15)
decision_wait="${decision_wait_s}s"
timeout_s="${TOPOLOGY_TIMEOUT:-600}"
[ "$ingesters" -ge 1 ] && [ "$ingesters" -le "$partitions" ] \
  || { echo "INGESTERS must be 1..$partitions" >&2; exit 2; }

log() { printf '[topology %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# ---- tools ------------------------------------------------------------------------------------
missing=()
command -v java >/dev/null || missing+=(default-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v prometheus >/dev/null || missing+=(prometheus)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing ${missing[*]}: install with \`apt-get install -y ${missing[*]}\` (as root)" >&2; exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
PATH="$PATH:/usr/sbin"
command -v python3 >/dev/null || { echo "missing python3" >&2; exit 1; }
jaeger="${MAESTRO_JAEGER_BIN:-$(bash "$repo/.ci/jaeger.sh")}"
kafka_lib="$(bash "$repo/.ci/kafka.sh")"
if [ -n "${MAESTRO_ML_API_BIN:-}" ]; then
  ml_api="$MAESTRO_ML_API_BIN"
else
  target="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/maestro-trace/target}"
  (cd "$repo" && CARGO_TARGET_DIR="$target" cargo build --locked --quiet --example ml_api)
  ml_api="$target/debug/examples/ml_api"
fi

# Each role's config, and the OpenSearch overlay on the two roles it applies to.
for configs in collector ingester storage query single-node ingester+opensearch query+opensearch; do
  args=()
  for config in ${configs//+/ }; do
    args+=(--config "file:$repo/observability/jaeger/$config.yaml")
  done
  "$jaeger" validate "${args[@]}" >/dev/null 2>&1 \
    || { "$jaeger" validate "${args[@]}" >&2 || true
         echo "observability/jaeger: $configs does not validate" >&2; exit 1; }
done
log "configs valid: collector ingester storage query single-node ingester+opensearch query+opensearch"

# ---- processes --------------------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/maestro-topology.XXXXXX")"
mkdir -p "$work/pids" "$work/logs"
stop_all() {
  local pidfile pid
  for pidfile in "$work"/pids/*; do
    [ -f "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    kill -TERM "$pid" 2>/dev/null || true
  done
  for _ in $(seq 50); do   # up to 5 s for a clean stop, then SIGKILL
    local alive=0
    for pidfile in "$work"/pids/*; do
      [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pidfile in "$work"/pids/*; do
    [ -f "$pidfile" ] && kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
  done
}
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  [ -n "${watchdog:-}" ] && kill "$watchdog" 2>/dev/null || true
  [ -n "${sleeper:-}" ] && kill "$sleeper" 2>/dev/null || true
  stop_all
  if [ "$status" -ne 0 ] || [ -n "${KEEP_LOGS:-}" ]; then
    log "logs kept in $work/logs"
    rm -rf "$work/kafka/data" "$work/badger" "$work/prometheus/data" "$work/single-node"
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
# Interrupting the interactive run is its normal end; interrupting the test is a failure.
if [ "$mode" = run ]; then trap 'exit 0' INT TERM; else trap 'exit 130' INT TERM; fi
if [ "$mode" = test ]; then
  (
    sleep "$timeout_s" &
    trap 'kill $!; exit 0' TERM
    wait $!
    log "gave up after ${timeout_s}s (TOPOLOGY_TIMEOUT)"
    # The script runs its trap once its foreground command (the load or the check) ends.
    pkill -TERM -P $$ -x python3 || true
    kill -TERM $$
  ) >/dev/null &
  watchdog=$!
fi

# start NAME COMMAND...: runs it in the background, output in logs/NAME.log, pid in pids/NAME.
start() {
  local name="$1"; shift
  "$@" >"$work/logs/$name.log" 2>&1 &
  echo $! >"$work/pids/$name"
  disown $!   # stopped through its pid file; bash need not report its death
}
pid_of() { cat "$work/pids/$1"; }

# wait_port NAME PORT: until something listens on 127.0.0.1:PORT (30 s), and NAME still runs.
wait_port() {
  local name="$1" port="$2"
  for _ in $(seq 300); do
    kill -0 "$(pid_of "$name")" 2>/dev/null \
      || { tail -n 30 "$work/logs/$name.log" >&2; echo "$name exited" >&2; return 1; }
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  tail -n 30 "$work/logs/$name.log" >&2
  echo "$name: nothing listens on 127.0.0.1:$port after 30 s" >&2
  return 1
}

# Free ports, chosen together (held open until all are picked, so none repeats).
read -r -a ports <<<"$(python3 - <<'PY'
import socket
held = []
for _ in range(48):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
PY
)"
next_port=0
port() { printf -v "$1" '%s' "${ports[$next_port]}"; next_port=$((next_port + 1)); }

# ---- Kafka (single-node KRaft) ----------------------------------------------------------------
port kafka_port; port kafka_controller_port
mkdir -p "$work/kafka"
cat >"$work/kafka/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$kafka_controller_port
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$kafka_controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$work/kafka/data
auto.create.topics.enable=false
num.partitions=$partitions
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
cat >"$work/kafka/log4j2.properties" <<'PROPS'
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
PROPS
kafka_java=(java -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
  "-Dlog4j2.configurationFile=$work/kafka/log4j2.properties" -cp "$kafka_lib/*")
cluster_id="$("${kafka_java[@]}" kafka.tools.StorageTool random-uuid)"
"${kafka_java[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
  -c "$work/kafka/server.properties" --standalone >"$work/logs/kafka-format.log"
# The broker's start and stop as scripts: run.sh starts it, the test's events stop and start it
# mid-load (a clean stop, SIGTERM; the same data directory on restart).
# kafka-start returns once the broker listens (at most 60 s), so that an event's length is the
# outage the collectors and the ingester saw.
cat >"$work/kafka-start" <<SH
#!/usr/bin/env bash
$(printf '%q ' "${kafka_java[@]}") kafka.Kafka "$work/kafka/server.properties" >>"$work/logs/kafka.log" 2>&1 &
echo \$! >"$work/pids/kafka"
for _ in \$(seq 600); do
  (exec 3<>/dev/tcp/127.0.0.1/$kafka_port) 2>/dev/null && exit 0
  sleep 0.1
done
echo "kafka: nothing listens on 127.0.0.1:$kafka_port after 60 s" >&2
exit 1
SH
cat >"$work/kafka-stop" <<SH
#!/usr/bin/env bash
pid=\$(cat "$work/pids/kafka")
kill -TERM "\$pid"
while kill -0 "\$pid" 2>/dev/null; do sleep 0.1; done
SH
chmod +x "$work/kafka-start" "$work/kafka-stop"
"$work/kafka-start"
wait_port kafka "$kafka_port"
"${kafka_java[@]}" org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$kafka_port" \
  --create --topic jaeger-spans --partitions "$partitions" --replication-factor 1 >/dev/null
log "Kafka on 127.0.0.1:$kafka_port, topic jaeger-spans ($partitions partitions)"

# Consumer lag of the ingesters' group, summed over partitions (the test samples it).
cat >"$work/kafka-lag" <<SH
#!/usr/bin/env bash
$(printf '%q ' "${kafka_java[@]}") org.apache.kafka.tools.consumer.group.ConsumerGroupCommand \
  --bootstrap-server 127.0.0.1:$kafka_port --describe --group jaeger-ingester 2>/dev/null \
  | awk '\$6 ~ /^[0-9]+\$/ { lag += \$6 } END { print lag + 0 }'
SH
chmod +x "$work/kafka-lag"

# ---- Jaeger roles -----------------------------------------------------------------------------
cfg="$repo/observability/jaeger"
port storage_read_port; port storage_write_port; port storage_health_port
mkdir -p "$work/badger"
JAEGER_BADGER_DIR="$work/badger" JAEGER_REMOTE_STORAGE_ENDPOINT="127.0.0.1:$storage_read_port" \
  JAEGER_STORAGE_WRITE_ENDPOINT="127.0.0.1:$storage_write_port" \
  JAEGER_HEALTH_ENDPOINT="127.0.0.1:$storage_health_port" \
  start storage "$jaeger" --config "file:$cfg/storage.yaml"
wait_port storage "$storage_read_port"
wait_port storage "$storage_write_port"

for i in $(seq "$ingesters"); do
  port health
  KAFKA_BROKERS="127.0.0.1:$kafka_port" JAEGER_HEALTH_ENDPOINT="127.0.0.1:$health" \
    JAEGER_REMOTE_STORAGE_ENDPOINT="127.0.0.1:$storage_read_port" \
    JAEGER_STORAGE_WRITE_ENDPOINT="127.0.0.1:$storage_write_port" \
    JAEGER_DECISION_WAIT="$decision_wait" JAEGER_SLOW_TRACE_MS="$slow_ms" \
    JAEGER_SAMPLING_PERCENTAGE="$sampling" \
    start "ingester-$i" "$jaeger" --config "file:$cfg/ingester.yaml"
  wait_port "ingester-$i" "$health"
done


collector_http_ports=()
collector_metrics_targets=""
collector_servers_grpc=""
collector_servers_http=""
for i in 1 2; do
  port grpc; port http; port thrift_http; port health
  port thrift_udp   # a free TCP port number, used for UDP
  port metrics
  # As a script, so that the test can kill it (SIGKILL: a crash) and start it again.
  cat >"$work/collector-$i-start" <<SH
#!/usr/bin/env bash
KAFKA_BROKERS=127.0.0.1:$kafka_port JAEGER_COLLECTOR_NAME=collector-$i \\
  JAEGER_OTLP_GRPC_ENDPOINT=127.0.0.1:$grpc JAEGER_OTLP_HTTP_ENDPOINT=127.0.0.1:$http \\
  JAEGER_THRIFT_COMPACT_ENDPOINT=127.0.0.1:$thrift_udp \\
  JAEGER_THRIFT_HTTP_ENDPOINT=127.0.0.1:$thrift_http JAEGER_HEALTH_ENDPOINT=127.0.0.1:$health \\
  JAEGER_PROMETHEUS_ENDPOINT=127.0.0.1:$metrics \\
  $(printf '%q' "$jaeger") --config $(printf '%q' "file:$cfg/collector.yaml") >>"$work/logs/collector-$i.log" 2>&1 &
echo \$! >"$work/pids/collector-$i"
SH
  cat >"$work/collector-$i-kill" <<SH
#!/usr/bin/env bash
kill -KILL "\$(cat "$work/pids/collector-$i")"
SH
  chmod +x "$work/collector-$i-start" "$work/collector-$i-kill"
  "$work/collector-$i-start"
  wait_port "collector-$i" "$grpc"
  wait_port "collector-$i" "$http"
  collector_servers_grpc+="  server collector-$i 127.0.0.1:$grpc proto h2 check inter 500ms fall 1 rise 2"$'\n'
  collector_http_ports+=("$http")
  collector_metrics_targets+="${collector_metrics_targets:+, }'127.0.0.1:$metrics'"
  collector_servers_http+="  server collector-$i 127.0.0.1:$http check inter 500ms fall 1 rise 2"$'\n'
done

# ---- RED metrics: Prometheus scrapes the collectors' spanmetrics; the query node reads them --
port prometheus_port
mkdir -p "$work/prometheus"
cat >"$work/prometheus/prometheus.yml" <<CFG
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: jaeger-collector
    static_configs:
      - targets: [$collector_metrics_targets]
CFG
start prometheus prometheus --config.file="$work/prometheus/prometheus.yml" \
  --storage.tsdb.path="$work/prometheus/data" --web.listen-address="127.0.0.1:$prometheus_port"
wait_port prometheus "$prometheus_port"

port query_port; port query_grpc_port; port query_health_port
JAEGER_REMOTE_STORAGE_ENDPOINT="127.0.0.1:$storage_read_port" \
  JAEGER_QUERY_HTTP_ENDPOINT="127.0.0.1:$query_port" \
  JAEGER_QUERY_GRPC_ENDPOINT="127.0.0.1:$query_grpc_port" \
  JAEGER_HEALTH_ENDPOINT="127.0.0.1:$query_health_port" \
  JAEGER_PROMETHEUS_URL="http://127.0.0.1:$prometheus_port" \
  start query "$jaeger" --config "file:$cfg/query.yaml"
wait_port query "$query_port"

# ---- the balancer -----------------------------------------------------------------------------
port lb_grpc_port; port lb_http_port
cat >"$work/haproxy.cfg" <<CFG
# OTLP to the collectors, per request (HTTP/2 streams are balanced one by one, not per
# connection). A request that finds its collector gone (refused, reset, no answer) is sent to
# the other one: retries + redispatch + retry-on. Only a request haproxy still holds whole can be
# sent again, hence buffers larger than an export batch (512 spans are ~100-300 KB).
global
  maxconn 2000
  tune.bufsize 1048576
defaults
  mode http
  timeout connect 1s
  timeout client 120s
  timeout server 120s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response
  option http-buffer-request
frontend otlp_grpc
  bind 127.0.0.1:$lb_grpc_port proto h2
  default_backend collectors_grpc
backend collectors_grpc
  balance roundrobin
$collector_servers_grpc
frontend otlp_http
  bind 127.0.0.1:$lb_http_port
  default_backend collectors_http
backend collectors_http
  balance roundrobin
$collector_servers_http
CFG
haproxy -c -q -f "$work/haproxy.cfg"
start haproxy haproxy -db -f "$work/haproxy.cfg"
wait_port haproxy "$lb_grpc_port"
log "collectors behind haproxy: OTLP gRPC 127.0.0.1:$lb_grpc_port, OTLP HTTP 127.0.0.1:$lb_http_port"

# ---- two instances of the ML API example ------------------------------------------------------
api_ports=()
for i in 1 2; do
  port api_port
  api_ports+=("$api_port")
  start "ml-api-$i" env -u DATABASE_URL -u REDIS_URL -u OTEL_SERVICE_NAME \
    OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_PROTOCOL=grpc \
    OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$lb_grpc_port" \
    OTEL_EXPORTER_OTLP_TIMEOUT=60000 OTEL_BSP_EXPORT_TIMEOUT=90000 OTEL_BSP_SCHEDULE_DELAY=500 \
    OTEL_BSP_MAX_QUEUE_SIZE=20000 OTEL_RESOURCE_ATTRIBUTES="service.instance.id=ml-api-$i" \
    PORT="$api_port" RUST_LOG=warn "$ml_api"
  wait_port "ml-api-$i" "$api_port"
done
log "ML API instances on 127.0.0.1:${api_ports[0]} and 127.0.0.1:${api_ports[1]}"

# ---- load and checks --------------------------------------------------------------------------
driver=(python3 "$here/topology.py")
common=(--apis "http://127.0.0.1:${api_ports[0]},http://127.0.0.1:${api_ports[1]}"
  --otlp-http "http://127.0.0.1:$lb_http_port" --query "http://127.0.0.1:$query_port"
  --record "$work/load.jsonl" --slow-ms "$slow_ms" --requests "$requests")

# rss NAME...: peak resident memory (VmHWM) of the running processes, in MiB.
rss() {
  local name
  for name in "$@"; do
    awk -v n="$name" '/^VmHWM/ { printf "%s=%dMiB ", n, $2 / 1024 }' "/proc/$(pid_of "$name")/status" 2>/dev/null || true
  done
  echo
}

if [ "$mode" = run ]; then
  "${driver[@]}" load "${common[@]}" --rate 20
  log "Prometheus (RED metrics): http://127.0.0.1:$prometheus_port; Monitor API: http://127.0.0.1:$query_port/api/metrics/calls?service=maestro-ml-api"
  log "Jaeger query API: http://127.0.0.1:$query_port/api/services (traces appear after ${decision_wait} of tail-sampling wait)"
  log "send OTLP to 127.0.0.1:$lb_grpc_port (gRPC) or 127.0.0.1:$lb_http_port (HTTP); Ctrl-C stops everything"
  # A background sleep and `wait`: a signal interrupts `wait` at once (a foreground sleep would
  # hold the trap back until it ends).
  while :; do
    sleep 3600 &
    sleeper=$!
    wait "$sleeper"
  done
fi

start_s=$(date +%s)
"${driver[@]}" load "${common[@]}" --rate 25 \
  --at "0.25=$work/collector-1-kill && sleep 3 && $work/collector-1-start" \
  --at "0.5=$work/kafka-stop && sleep 2 && $work/kafka-start" \
  --at "0.75=$work/kafka-stop && sleep 2 && $work/collector-2-kill && sleep 1 && $work/kafka-start" \
  --lag-command "$work/kafka-lag" --lag-out "$work/lag.txt" --events "$work/events.json"
load_s=$(( $(date +%s) - start_s ))
rss_line="$(rss collector-1 ingester-1 storage query kafka haproxy prometheus ml-api-1)"
# RED metrics: a second, undisturbed load, counted back from Prometheus and the Monitor API.
"${driver[@]}" red "${common[@]}" --requests 90 --rate 15 --record "$work/red.jsonl" \
  --prometheus "http://127.0.0.1:$prometheus_port"
# Stop the services: they flush and log their export counters.
for i in 1 2; do
  kill -TERM "$(pid_of "ml-api-$i")"
done
for i in 1 2; do
  while kill -0 "$(pid_of "ml-api-$i")" 2>/dev/null; do sleep 0.1; done
  grep -h 'trace export:' "$work/logs/ml-api-$i.log" | sed "s/^/ml-api-$i: /" >"$work/export-$i.txt" || true
done
cat "$work"/export-*.txt >&2
"${driver[@]}" check "${common[@]}" --sampling-percentage "$sampling" \
  --exports "$work/export-1.txt,$work/export-2.txt" --collectors collector-1,collector-2 \
  --events "$work/events.json" --decision-wait-s "$decision_wait_s" --settle-seconds 90
log "load ${load_s}s for $requests traces; Kafka lag max $(sort -n "$work/lag.txt" | tail -n1) messages; peak RSS: $rss_line"

# Sizing: what one collector takes (straight to collector-1, which then carries it to Kafka),
# and how far the ingester falls behind meanwhile. Measured, never pass/fail.
"${driver[@]}" bench --otlp-http "http://127.0.0.1:${collector_http_ports[0]}" --concurrency 4 &
bench_pid=$!
max_lag=0
while kill -0 "$bench_pid" 2>/dev/null; do
  lag="$("$work/kafka-lag")"
  [ "$lag" -gt "$max_lag" ] && max_lag="$lag"
done
wait "$bench_pid"
lag="$("$work/kafka-lag")"
log "bench: Kafka lag max $max_lag messages during it, $lag right after; peak RSS: $(rss collector-1 ingester-1 kafka)"

# ---- the single-node variant: a trace it acknowledged survives a restart (Badger on disk) ----
port sn_grpc; port sn_http; port sn_thrift_udp; port sn_thrift_http; port sn_query; port sn_query_grpc
port sn_health
single_node() {
  start single-node env JAEGER_BADGER_DIR="$work/single-node" \
    JAEGER_OTLP_GRPC_ENDPOINT="127.0.0.1:$sn_grpc" JAEGER_OTLP_HTTP_ENDPOINT="127.0.0.1:$sn_http" \
    JAEGER_THRIFT_COMPACT_ENDPOINT="127.0.0.1:$sn_thrift_udp" \
    JAEGER_THRIFT_HTTP_ENDPOINT="127.0.0.1:$sn_thrift_http" \
    JAEGER_QUERY_HTTP_ENDPOINT="127.0.0.1:$sn_query" JAEGER_QUERY_GRPC_ENDPOINT="127.0.0.1:$sn_query_grpc" \
    JAEGER_HEALTH_ENDPOINT="127.0.0.1:$sn_health" \
    "$jaeger" --config "file:$cfg/single-node.yaml"
  wait_port single-node "$sn_http"
  wait_port single-node "$sn_query"
}
single_node
"${driver[@]}" single-node --phase write --otlp-http "http://127.0.0.1:$sn_http" \
  --query "http://127.0.0.1:$sn_query" --record "$work/single-node.json"
sn_pid="$(pid_of single-node)"
kill -TERM "$sn_pid"
while kill -0 "$sn_pid" 2>/dev/null; do sleep 0.1; done
single_node
"${driver[@]}" single-node --phase read --otlp-http "http://127.0.0.1:$sn_http" \
  --query "http://127.0.0.1:$sn_query" --record "$work/single-node.json"
