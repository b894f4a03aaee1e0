#!/usr/bin/env python3
"""Load for the local Jaeger topology, and the checks read back from Jaeger's query API.

`load` plays an upstream service (a gateway, `load-driver`): each trace is its root span and one
request to each of the two ML API instances, both children of that root (W3C `traceparent`), so
every trace holds spans of both instances, exported separately through the balancer. Instance
`i % 2` gets `POST /predictions` (every third fails: an error trace), the other `GET /models`;
one trace in ten waits between the two requests and is slower than the slow-trace threshold. The
root span is exported by OTLP/HTTP through the balancer once both answered. Everything done is
recorded, one JSON line per trace.

`check` asks the query API for every recorded trace id and asserts: a trace with an error is
kept, and so is a slow one; every kept trace is complete (its root, both instances' spans, each
instance's exact operations for what it served, every parent present); the rest is kept near
the configured percentage; no request of the load failed and no service dropped a span.

Standard library only. Run by observability/local/run.sh.
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

# What each instance records for a request it served, as its operation names.
OPERATIONS = {
    ("POST /predictions", 200): ["POST /predictions", "resolve_model_version", "run_inference"],
    ("POST /predictions", 500): ["POST /predictions", "resolve_model_version"],
    ("GET /models", 200): [
        "GET /models", "query_models", "SELECT models", "acquire_connection",
    ],
}
ROOT_OPERATION = "checkout"
DRIVER_SERVICE = "load-driver"


def http(method, url, body=None, headers=None, timeout=120):
    """(status, body bytes) of one request; HTTP errors are statuses, not exceptions."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def root_span(trace_id, span_id, start_ns, end_ns, failed):
    status = {"code": 2, "message": "a downstream request failed"} if failed else {"code": 1}
    return {
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": DRIVER_SERVICE}}]},
            "scopeSpans": [{
                "scope": {"name": "maestro-topology-load"},
                "spans": [{
                    "traceId": trace_id, "spanId": span_id, "name": ROOT_OPERATION,
                    "kind": 2, "startTimeUnixNano": str(start_ns),
                    "endTimeUnixNano": str(end_ns), "status": status,
                }],
            }],
        }],
    }


def one_trace(index, args, apis):
    trace_id = os.urandom(16).hex()
    span_id = os.urandom(8).hex()
    headers = {"traceparent": f"00-{trace_id}-{span_id}-01"}
    predicting = index % 2
    slow = index % 10 == 5
    start_ns = time.time_ns()
    started_s = time.monotonic() - args.load_started
    calls = []
    for instance in (0, 1):
        if instance == predicting:
            endpoint = "POST /predictions"
            status, _ = http("POST", apis[instance] + "/predictions",
                             {"model_id": "bert-base", "features": [0.1, 0.7, 0.2]}, headers)
        else:
            endpoint = "GET /models"
            status, _ = http("GET", apis[instance] + "/models", None, headers)
        calls.append({"instance": f"ml-api-{instance + 1}", "endpoint": endpoint,
                      "status": status})
        if slow and instance == 0:
            time.sleep(args.slow_ms / 1000 * 1.3)
    end_ns = time.time_ns()
    failed = any(call["status"] >= 500 for call in calls)
    export_status, _ = http("POST", args.otlp_http + "/v1/traces",
                            root_span(trace_id, span_id, start_ns, end_ns, failed))
    return {"index": index, "trace_id": trace_id, "root_span_id": span_id, "calls": calls,
            "slow": slow, "error": failed, "root_export_status": export_status,
            "started_s": round(started_s, 3), "duration_ms": (end_ns - start_ns) / 1e6}


def load(args):
    apis = args.apis.split(",")
    events = sorted((float(at.split("=", 1)[0]), at.split("=", 1)[1]) for at in args.at)
    fired = []
    lock = threading.Lock()
    records = []
    next_index = [0]
    started = time.monotonic()
    args.load_started = started
    interval = 1.0 / args.rate

    def fire(command):
        print(f"[load] at trace {next_index[0]}: {command}", file=sys.stderr, flush=True)
        began = time.monotonic() - started
        result = subprocess.run(command, shell=True, check=False)
        fired.append({"command": command, "code": result.returncode, "began_s": round(began, 3),
                      "ended_s": round(time.monotonic() - started, 3)})

    event_threads = []

    def worker():
        while True:
            with lock:
                index = next_index[0]
                if index >= args.requests:
                    return
                next_index[0] += 1
                while events and index >= events[0][0] * args.requests:
                    thread = threading.Thread(target=fire, args=(events.pop(0)[1],))
                    thread.start()
                    event_threads.append(thread)
            # Paced: trace `index` starts no earlier than index / rate seconds in.
            delay = started + index * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                record = one_trace(index, args, apis)
            except OSError as error:
                record = {"index": index, "failure": repr(error)}
            with lock:
                records.append(record)

    stop_lag = threading.Event()

    def sample_lag():
        with open(args.lag_out, "w", encoding="utf-8") as out:
            while not stop_lag.is_set():
                result = subprocess.run(args.lag_command, shell=True, capture_output=True,
                                        text=True, check=False)
                if result.stdout.strip().isdigit():
                    out.write(result.stdout.strip() + "\n")
                    out.flush()
                stop_lag.wait(2)

    lag_thread = None
    if args.lag_command:
        lag_thread = threading.Thread(target=sample_lag)
        lag_thread.start()
    workers = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    for thread in event_threads:
        thread.join()
    if lag_thread:
        stop_lag.set()
        lag_thread.join()
    elapsed = time.monotonic() - started
    records.sort(key=lambda record: record["index"])
    with open(args.record, "w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")
    if args.events:
        with open(args.events, "w", encoding="utf-8") as out:
            json.dump(fired, out)
    print(f"[load] {len(records)} traces in {elapsed:.1f}s; events:", file=sys.stderr)
    for event in fired:
        print(f"[load]   {event_window(event)}, exit {event['code']}: {event['command']}",
              file=sys.stderr)
    failed_events = [event["command"] for event in fired if event["code"] != 0]
    if failed_events:
        print(f"[load] events failed: {failed_events}", file=sys.stderr)
        return 1
    return 0


def event_window(event):
    return (f"+{event['began_s']:.1f}..+{event['ended_s']:.1f} s "
            f"({event['ended_s'] - event['began_s']:.1f} s)")


def in_flight_across(record, events):
    """The event a trace was in flight across (it had started and not yet ended when the
    event began, or it started during the event), if any."""
    start = record.get("started_s")
    if start is None:
        return None
    for event in events:
        if event["began_s"] - record["duration_ms"] / 1000 <= start <= event["ended_s"]:
            return event
    return None


def fetch_trace(query, trace_id):
    """The trace as the query API returns it, or None when it is not stored."""
    status, body = http("GET", f"{query}/api/traces/{trace_id}", timeout=30)
    if status == 404:
        return None
    if status != 200:
        raise RuntimeError(f"query API: GET /api/traces/{trace_id} answered {status}: {body[:200]!r}")
    data = json.loads(body).get("data") or []
    return data[0] if data else None


def tags(items):
    return {tag["key"]: tag["value"] for tag in items or []}


def unique_spans(trace):
    """The trace's spans, one per span id. Delivery is at least once: an export resent after
    its collector died may have reached Kafka already, and the copy carries another
    jaeger.collector attribute, so Jaeger's own deduplication keeps both."""
    spans = {}
    for span in trace.get("spans", []):
        spans.setdefault(span["spanID"], span)
    return list(spans.values())


def completeness(trace, record):
    """What is missing or wrong in a stored trace, as a list of messages (empty: complete)."""
    problems = []
    processes = trace.get("processes", {})
    spans = unique_spans(trace)
    span_ids = {span["spanID"] for span in spans}
    by_instance = {}
    roots = []
    for span in spans:
        process = processes.get(span.get("processID"), {})
        service = process.get("serviceName")
        if service == DRIVER_SERVICE:
            roots.append(span)
            continue
        instance = tags(process.get("tags")).get("service.instance.id", "?")
        by_instance.setdefault(instance, []).append(span["operationName"])
        for reference in span.get("references") or []:
            if reference.get("refType") == "CHILD_OF" and reference["spanID"] not in span_ids:
                problems.append(f"{span['operationName']} on {instance}: parent {reference['spanID']} absent")
    if [root["spanID"] for root in roots] != [record["root_span_id"]]:
        problems.append(f"root span: {[root['spanID'] for root in roots]}")
    for call in record["calls"]:
        expected = sorted(OPERATIONS.get((call["endpoint"], call["status"]), ["?"]))
        got = sorted(set(by_instance.get(call["instance"], [])))
        if got != expected:
            problems.append(f"{call['instance']} ({call['endpoint']} -> {call['status']}): {got}, expected {expected}")
    return problems


def collectors_of(trace):
    return {tags(span.get("tags")).get("jaeger.collector") for span in unique_spans(trace)}


def check(args):
    failures = []

    def fail(message):
        failures.append(message)
        print(f"FAIL {message}", file=sys.stderr)

    with open(args.record, encoding="utf-8") as records_file:
        records = [json.loads(line) for line in records_file]
    broken = [record for record in records if "failure" in record]
    if len(records) != args.requests or broken:
        fail(f"load: {len(records)}/{args.requests} traces ran; {len(broken)} failed: {broken[:3]}")
    records = [record for record in records if "failure" not in record]

    # No request of the load failed: the services answered as they do (200, or 500 for a
    # prediction that misses the registry) and every root-span export was acknowledged.
    for record in records:
        for call in record["calls"]:
            if (call["endpoint"], call["status"]) not in OPERATIONS:
                fail(f"trace {record['trace_id']}: {call['instance']} {call['endpoint']} -> {call['status']}")
        if record["root_export_status"] != 200:
            fail(f"trace {record['trace_id']}: root span export through the balancer -> {record['root_export_status']}")
    # No span was lost inside the services (their exporters report on shutdown).
    for path in args.exports.split(","):
        with open(path, encoding="utf-8") as export_file:
            line = export_file.read().strip()
        counters = dict(re.findall(r"(\w+)=(\d+)", line))
        if not counters:
            fail(f"{path}: no export counters logged")
        elif counters.get("spans_dropped") != "0" or counters.get("export_errors") != "0" \
                or counters.get("spans_queued") != counters.get("spans_exported"):
            fail(f"service export: {line}")

    must_keep = [record for record in records if record["error"] or record["slow"]]
    rest = [record for record in records if not (record["error"] or record["slow"])]

    # Kept traces arrive decision_wait after their first span, and the ingester may lag
    # behind Kafka: ask until every trace that must be kept is there, for at most
    # --settle-seconds (then the missing ones are failures).
    deadline = time.monotonic() + args.settle_seconds
    stored = {}
    while True:
        for record in must_keep:
            if record["trace_id"] not in stored:
                trace = fetch_trace(args.query, record["trace_id"])
                if trace is not None:
                    stored[record["trace_id"]] = trace
        missing = [r for r in must_keep if r["trace_id"] not in stored]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(2)
    # Let the last kept traces' late spans land too (the decision is per trace; spans of a
    # kept trace that arrive after it are written as they come).
    time.sleep(3)
    for record in records:
        trace = fetch_trace(args.query, record["trace_id"])
        if trace is not None:
            stored[record["trace_id"]] = trace
        else:
            stored.pop(record["trace_id"], None)

    errors = [r for r in records if r["error"]]
    slow = [r for r in records if r["slow"] and not r["error"]]
    errors_kept = [r for r in errors if r["trace_id"] in stored]
    slow_kept = [r for r in slow if r["trace_id"] in stored]
    if len(errors_kept) != len(errors):
        fail(f"error traces kept {len(errors_kept)}/{len(errors)}")
    if len(slow_kept) != len(slow):
        fail(f"slow traces kept {len(slow_kept)}/{len(slow)}")
    # Where each lost trace was: one in flight across an outage longer than decision_wait was
    # decided on the spans that arrived before the outage (the topology's configuration, not
    # the sampler, at fault), and the check says so.
    events = []
    if args.events:
        with open(args.events, encoding="utf-8") as events_file:
            events = json.load(events_file)
    for record in [r for r in must_keep if r["trace_id"] not in stored][:10]:
        event = in_flight_across(record, events)
        where = (f"in flight across the event at {event_window(event)}: {event['command']}"
                 if event else "not in flight across any event")
        kind = "error" if record["error"] else "slow"
        fail(f"trace {record['index']} ({record['trace_id']}, {kind}, started "
             f"+{record.get('started_s', 0):.1f} s, {record['duration_ms']:.0f} ms) not kept; {where}")
    for event in events:
        if event["ended_s"] - event["began_s"] >= args.decision_wait_s:
            fail(f"the event at {event_window(event)} outlasted the tail-sampling decision_wait "
                 f"({args.decision_wait_s:.0f} s): a trace in flight across it is decided on the "
                 f"spans that arrived before it ({event['command']})")
    lasted = ", ".join(f"{e['ended_s'] - e['began_s']:.1f}" for e in events) or "none"
    if not errors or not slow:
        fail(f"the load made {len(errors)} error and {len(slow)} slow traces: nothing to check")

    incomplete = 0
    split = 0
    duplicates = 0
    per_collector = {}
    for record in records:
        trace = stored.get(record["trace_id"])
        if trace is None:
            continue
        problems = completeness(trace, record)
        if problems:
            incomplete += 1
            if incomplete <= 5:
                fail(f"trace {record['trace_id']} incomplete: {problems}")
        duplicates += len(trace.get("spans", [])) - len(unique_spans(trace))
        collectors = collectors_of(trace)
        split += len(collectors) > 1
        for span in unique_spans(trace):
            name = tags(span.get("tags")).get("jaeger.collector")
            per_collector[name] = per_collector.get(name, 0) + 1
    if incomplete:
        fail(f"{incomplete}/{len(stored)} kept traces incomplete")
    for name in args.collectors.split(","):
        if not per_collector.get(name):
            fail(f"no kept span went through {name}: {per_collector}")
    if not split:
        fail("no kept trace has spans through more than one collector")

    # The rest: each kept independently with probability p (by a hash of its random trace
    # id), so the count kept is Binomial(n, p). Accept within 4.5 standard deviations: a
    # correct sampler fails this about once in 150 000 runs; keeping all or none fails it.
    p = args.sampling_percentage / 100
    n = len(rest)
    kept = sum(r["trace_id"] in stored for r in rest)
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    low, high = mean - 4.5 * sd, mean + 4.5 * sd
    ratio = kept / n if n else 0.0
    if not low <= kept <= high:
        fail(f"rest sampled {kept}/{n} ({ratio:.1%}); expected {mean:.0f} +- {4.5 * sd:.0f} at {p:.0%}")

    print(f"[check] error traces kept {len(errors_kept)}/{len(errors)}; slow traces kept "
          f"{len(slow_kept)}/{len(slow)}; rest kept {kept}/{n} ({ratio:.1%}, configured {p:.0%}, "
          f"accepted {max(low, 0):.0f}..{high:.0f}); kept traces complete "
          f"{len(stored) - incomplete}/{len(stored)}; split across collectors {split}/{len(stored)}; "
          f"duplicate spans (resent exports) {duplicates}; "
          f"spans per collector {per_collector}; events lasted {lasted} s "
          f"(decision_wait {args.decision_wait_s:.0f} s)", file=sys.stderr)
    return 1 if failures else 0


SERVICE = "maestro-ml-api"
CALLS = "traces_span_metrics_calls_total"
DURATION_BUCKET = "traces_span_metrics_duration_milliseconds_bucket"


def prometheus(args, expression):
    """{label tuple: value} of an instant PromQL query."""
    url = f"{args.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    status, body = http("GET", url, timeout=30)
    if status != 200:
        raise RuntimeError(f"Prometheus: {expression} answered {status}: {body[:200]!r}")
    result = json.loads(body)["data"]["result"]
    return {tuple(sorted(item["metric"].items())): float(item["value"][1]) for item in result}


def red_counts(args):
    """The counters the check compares: calls per (service, operation, status), and the
    latency buckets the check reads, summed over collectors."""
    counts = {}
    for labels, value in prometheus(
            args, f"sum by (service_name, span_name, status_code) ({CALLS})").items():
        key = dict(labels)
        outcome = "error" if key.get("status_code") == "STATUS_CODE_ERROR" else "ok"
        counted = ("calls", key.get("service_name"), key.get("span_name"), outcome)
        counts[counted] = counts.get(counted, 0) + value
    for operation, le in (("checkout", "1000"), ("run_inference", "2")):
        for labels, value in prometheus(
                args, f'sum by (le) ({DURATION_BUCKET}{{span_name="{operation}", le=~"{le}|.Inf"}})').items():
            counts[("bucket", operation, dict(labels).get("le"))] = value
    return counts


def red(args):
    """RED metrics, read back from Prometheus: run a small load with no disruption, then the
    increase of each counter over it must be exactly what the load did (calls and errors per
    operation; how many root spans took longer than 1 s; that no run_inference, which sleeps
    3 ms, took 2 ms or less), and the Jaeger query's Monitor API must serve the same service's
    rates per operation."""
    failures = []

    def fail(message):
        failures.append(message)
        print(f"FAIL {message}", file=sys.stderr)

    def settled(deadline):
        # Until two reads 6 s apart agree (the connector flushes every 5 s, Prometheus
        # scrapes every second), at most until the deadline.
        before = red_counts(args)
        while time.monotonic() < deadline:
            time.sleep(6)
            now = red_counts(args)
            if now == before:
                return now
            before = now
        return before

    before = settled(time.monotonic() + 60)
    status = load(args)
    if status:
        return status
    with open(args.record, encoding="utf-8") as records_file:
        records = [json.loads(line) for line in records_file]
    after = settled(time.monotonic() + 60)

    def delta(*key):
        return after.get(key, 0) - before.get(key, 0)

    calls = [call for record in records for call in record.get("calls", [])]
    expected = {}
    for call in calls:
        failed = call["status"] >= 500
        span_name = call["endpoint"]
        for outcome in ("ok", "error"):
            expected.setdefault((span_name, outcome), 0)
        expected[(span_name, "error" if failed else "ok")] += 1
    for (span_name, outcome), count in sorted(expected.items()):
        got = delta("calls", SERVICE, span_name, outcome)
        if got != count:
            fail(f"calls {span_name} ({outcome}): Prometheus counted {got:.0f}, the load made {count}")
    predictions_failed = sum(call["status"] >= 500 for call in calls)
    got = delta("calls", SERVICE, "resolve_model_version", "error")
    if got != predictions_failed:
        fail(f"resolve_model_version errors: Prometheus counted {got:.0f}, the load made {predictions_failed}")
    roots = delta("bucket", "checkout", "+Inf")
    slower = roots - delta("bucket", "checkout", "1000")
    slow = sum(record.get("slow", False) for record in records)
    if roots != len(records) or slower != slow:
        fail(f"checkout latency: {roots:.0f} root spans, {slower:.0f} above 1 s; the load made {len(records)}, {slow} slow")
    if delta("bucket", "run_inference", "+Inf") == 0 or delta("bucket", "run_inference", "2") != 0:
        fail(f"run_inference latency: {delta('bucket', 'run_inference', '+Inf'):.0f} spans, "
             f"{delta('bucket', 'run_inference', '2'):.0f} of them at most 2 ms (it sleeps 3 ms)")

    # Rate, error rate and latency per operation, as the Monitor tab gets them from Prometheus.
    window = "2m"
    rates = prometheus(args, f'sum by (span_name) (rate({CALLS}{{service_name="{SERVICE}"}}[{window}]))')
    errors = prometheus(args, f'sum by (span_name) (rate({CALLS}{{service_name="{SERVICE}", status_code="STATUS_CODE_ERROR"}}[{window}]))')
    p95 = prometheus(args, f'histogram_quantile(0.95, sum by (span_name, le) (rate({DURATION_BUCKET}{{service_name="{SERVICE}"}}[{window}])))')
    for labels, rate in sorted(rates.items()):
        name = dict(labels).get("span_name")
        error_rate = errors.get(labels, 0) / rate if rate else 0
        print(f"[red] {name}: {rate:.2f} calls/s, errors {error_rate:.0%}, p95 "
              f"{p95.get(labels, float('nan')):.1f} ms", file=sys.stderr)
    now_ms = int(time.time() * 1000)
    for kind in ("calls", "errors", "latencies"):
        query = urllib.parse.urlencode({
            "service": SERVICE, "groupByOperation": "true", "endTs": now_ms,
            "lookback": 300_000, "step": 15_000, "ratePer": 60_000, "quantile": 0.95})
        status, body = http("GET", f"{args.query}/api/metrics/{kind}?{query}", timeout=30)
        operations = set()
        if status == 200:
            for metric in json.loads(body).get("metrics", []):
                for label in metric.get("labels", []):
                    if label.get("name") == "operation" and metric.get("metricPoints"):
                        operations.add(label.get("value"))
        if status != 200 or "POST /predictions" not in operations:
            fail(f"Jaeger Monitor API /api/metrics/{kind}: {status}, operations {sorted(operations)}: {body[:200]!r}")
    print(f"[red] Prometheus counted the load's {len(calls)} requests exactly per operation and "
          f"status ({predictions_failed} errors, {slow} root spans above 1 s); Monitor API "
          f"answers calls/errors/latencies per operation", file=sys.stderr)
    return 1 if failures else 0


def single_node(args):
    """The single-node variant keeps traces on disk: `--phase write` sends a trace of three
    spans and waits until the query API returns it; `--phase read` (after a restart) requires
    the same three spans back."""
    if args.phase == "write":
        trace_id = os.urandom(16).hex()
        ids = [os.urandom(8).hex() for _ in range(3)]
        now = time.time_ns()
        spans = [{"traceId": trace_id, "spanId": span_id, "name": f"persisted-{i}", "kind": 1,
                  "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 1_000_000),
                  **({"parentSpanId": ids[0]} if i else {})} for i, span_id in enumerate(ids)]
        status, body = http("POST", args.otlp_http + "/v1/traces", {"resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "single-node-check"}}]},
            "scopeSpans": [{"scope": {"name": "maestro-topology"}, "spans": spans}]}]})
        if status != 200:
            print(f"FAIL single node: export answered {status}: {body[:200]!r}", file=sys.stderr)
            return 1
        with open(args.record, "w", encoding="utf-8") as out:
            json.dump({"trace_id": trace_id, "span_ids": sorted(ids)}, out)
    with open(args.record, encoding="utf-8") as record_file:
        record = json.load(record_file)
    deadline = time.monotonic() + 30
    got = []
    while time.monotonic() < deadline:
        trace = fetch_trace(args.query, record["trace_id"])
        got = sorted(span["spanID"] for span in unique_spans(trace or {}))
        if got == record["span_ids"]:
            print(f"[single-node] trace {record['trace_id']}: 3/3 spans "
                  f"{'stored' if args.phase == 'write' else 'back after the restart'}", file=sys.stderr)
            return 0
        time.sleep(0.5)
    print(f"FAIL single node ({args.phase}): trace {record['trace_id']} has spans {got}, "
          f"expected {record['span_ids']}", file=sys.stderr)
    return 1


def bench(args):
    """Spans per second one collector acknowledges (OTLP/HTTP, straight to it, not through the
    balancer): --batches requests of --batch-spans spans each, --concurrency at a time, built
    before the clock starts. A measurement, not a check: only a refused request fails it."""
    payloads = []
    now = time.time_ns()
    for _ in range(args.batches):
        spans = []
        for _ in range(args.batch_spans // 10):
            trace_id = os.urandom(16).hex()
            parent = None
            for depth in range(10):
                span_id = os.urandom(8).hex()
                span = {"traceId": trace_id, "spanId": span_id, "name": f"bench-{depth}",
                        "kind": 1, "startTimeUnixNano": str(now),
                        "endTimeUnixNano": str(now + 1_000_000),
                        "attributes": [
                            {"key": "bench.depth", "value": {"intValue": str(depth)}},
                            {"key": "http.request.method", "value": {"stringValue": "POST"}},
                            {"key": "url.path", "value": {"stringValue": "/predictions"}},
                            {"key": "model.id", "value": {"stringValue": "bert-base"}},
                            {"key": "tenant.id", "value": {"stringValue": "acme"}}]}
                if parent:
                    span["parentSpanId"] = parent
                parent = span_id
                spans.append(span)
        payloads.append(json.dumps({"resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "bench"}}]},
            "scopeSpans": [{"scope": {"name": "maestro-topology-bench"}, "spans": spans}],
        }]}).encode())
    statuses = []
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not payloads:
                    return
                payload = payloads.pop()
            request = urllib.request.Request(args.otlp_http + "/v1/traces", data=payload,
                                             method="POST",
                                             headers={"content-type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError as error:
                status = repr(error)
            with lock:
                statuses.append(status)

    started = time.monotonic()
    workers = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.monotonic() - started
    accepted = sum(status == 200 for status in statuses)
    spans = accepted * (args.batch_spans // 10) * 10
    print(f"[bench] one collector acknowledged {spans} spans in {elapsed:.1f}s: "
          f"{spans / elapsed:.0f} spans/s ({accepted}/{len(statuses)} requests of "
          f"{args.batch_spans} spans, {args.concurrency} at a time)", file=sys.stderr)
    return 0 if accepted == len(statuses) else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["load", "check", "red", "bench", "single-node"])
    parser.add_argument("--apis", default="", help="the two ML API base URLs, comma separated")
    parser.add_argument("--otlp-http", required=True, help="OTLP/HTTP base URL (the balancer)")
    parser.add_argument("--query", default="", help="Jaeger query base URL")
    parser.add_argument("--record", default="", help="JSON lines file of the traces sent")
    parser.add_argument("--requests", type=int, default=int(os.environ.get("REQUESTS", "600")))
    parser.add_argument("--rate", type=float, default=25, help="traces started per second")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--slow-ms", type=int, default=1000)
    parser.add_argument("--at", action="append", default=[],
                        help="FRACTION=COMMAND: run COMMAND when that share of the load started")
    parser.add_argument("--lag-command", help="prints the ingesters' Kafka lag")
    parser.add_argument("--lag-out", default=os.devnull)
    parser.add_argument("--events", default="",
                        help="JSON file of the --at events' windows (load writes, check reads)")
    parser.add_argument("--decision-wait-s", type=float, default=15,
                        help="the ingester's tail-sampling decision_wait, in seconds")
    parser.add_argument("--sampling-percentage", type=float, default=25)
    parser.add_argument("--exports", default="", help="files with each service's export counters")
    parser.add_argument("--collectors", default="", help="collector names that must carry spans")
    parser.add_argument("--settle-seconds", type=float, default=90)
    parser.add_argument("--prometheus", default="", help="Prometheus base URL")
    parser.add_argument("--phase", choices=["write", "read"], default="write")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-spans", type=int, default=1000)
    args = parser.parse_args()
    commands = {"load": load, "check": check, "red": red, "bench": bench,
                "single-node": single_node}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
