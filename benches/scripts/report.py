#!/usr/bin/env python3
"""Turns one benchmark run into the tables and the plot of BENCHMARKS.md.

Reads criterion's medians (target/criterion/<row>/<variant>/new/estimates.json) and the
allocation/CPU counts of the `allocs` binary (JSON lines), and writes to --out:

- medians.json      every row/variant median and 95% interval, ns per call
- tables.md         time per span, ratios, allocations and CPU, as markdown tables
- spans.png         ns per span for every row and variant (log scale), if matplotlib is there

Usage: report.py (--criterion DIR | --medians FILE) --allocs FILE --out DIR [--machine FILE]

(--medians re-reads the medians.json of an earlier run, to redraw its tables and plot.)
"""

import argparse
import json
import os
import sys

ROWS = [
    ("bare", "no instrumentation"),
    ("maestro_disabled", "maestro-trace, disabled"),
    ("maestro_unsampled_root", "maestro-trace, unsampled root"),
    ("maestro_unsampled_child", "maestro-trace, child of unsampled parent"),
    ("maestro_sampled", "maestro-trace, sampled + exported"),
    ("sdk_in_span", "raw SDK `in_span`"),
    ("sdk_start_end", "raw SDK `start` + `end`"),
    ("tracing_otel", "tracing `#[instrument]` + tracing-opentelemetry"),
    ("tracing_bridge", "tracing `#[instrument]` + maestro-trace bridge"),
    ("tracing_otel_maestro", "tracing-opentelemetry on maestro-trace's pipeline"),
    ("fastrace", "fastrace `#[trace]`"),
]
VARIANTS = ["sync", "async", "nested", "attrs3", "struct"]
SPANS_PER_CALL = {"nested": 11}
# The rows that export spans: the comparison the contract is about.
SAMPLED = ["maestro_sampled", "sdk_in_span", "sdk_start_end", "tracing_otel", "tracing_bridge",
           "tracing_otel_maestro", "fastrace"]


def read_medians(criterion_dir):
    medians = {}
    for row, _ in ROWS:
        for variant in VARIANTS:
            path = os.path.join(criterion_dir, row, variant, "new", "estimates.json")
            try:
                with open(path) as f:
                    estimates = json.load(f)
            except FileNotFoundError:
                continue
            median = estimates["median"]
            medians[f"{row}/{variant}"] = {
                "ns_per_call": median["point_estimate"],
                "low": median["confidence_interval"]["lower_bound"],
                "high": median["confidence_interval"]["upper_bound"],
            }
    return medians


def read_allocs(path):
    counts = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                d = json.loads(line)
                counts[f"{d['row']}/{d['variant']}"] = d
    return counts


def fmt_ns(ns):
    if ns is None:
        return "–"
    if ns >= 1000:
        return f"{ns / 1000:.2f} µs"
    if ns >= 100:
        return f"{ns:.0f} ns"
    return f"{ns:.1f} ns"


def per_span(medians, row, variant):
    m = medians.get(f"{row}/{variant}")
    if m is None:
        return None
    return m["ns_per_call"] / SPANS_PER_CALL.get(variant, 1)


def table_time(medians):
    lines = ["| row | " + " | ".join(VARIANTS) + " |", "|---|" + "---:|" * len(VARIANTS)]
    for row, label in ROWS:
        cells = [fmt_ns(medians.get(f"{row}/{v}", {}).get("ns_per_call")) for v in VARIANTS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_overhead(medians):
    """Cost added over the bare function, per call."""
    lines = ["| row | " + " | ".join(VARIANTS) + " |", "|---|" + "---:|" * len(VARIANTS)]
    for row, label in ROWS[1:4]:
        cells = []
        for v in VARIANTS:
            m, b = medians.get(f"{row}/{v}"), medians.get(f"bare/{v}")
            cells.append(fmt_ns(m["ns_per_call"] - b["ns_per_call"]) if m and b else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_ratios(medians):
    """How many times the peer's time maestro-trace's sampled path takes (peer / ours)."""
    lines = [
        "| peer | " + " | ".join(VARIANTS) + " |",
        "|---|" + "---:|" * len(VARIANTS),
    ]
    for row, label in ROWS[5:]:
        cells = []
        for v in VARIANTS:
            ours, theirs = per_span(medians, "maestro_sampled", v), per_span(medians, row, v)
            cells.append(f"{theirs / ours:.2f}x" if ours and theirs else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_counts(counts, key, label_fmt, rows):
    lines = ["| row | " + " | ".join(VARIANTS) + " |", "|---|" + "---:|" * len(VARIANTS)]
    for row, label in ROWS:
        if row not in rows:
            continue
        cells = []
        for v in VARIANTS:
            d = counts.get(f"{row}/{v}")
            cells.append(label_fmt(d[key]) if d else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(medians, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot", file=sys.stderr)
        return False
    rows = [(r, l) for r, l in ROWS if r != "bare"]
    width = 0.8 / len(rows)
    fig, ax = plt.subplots(figsize=(12, 6.5))
    for i, (row, label) in enumerate(rows):
        xs, ys = [], []
        for j, v in enumerate(VARIANTS):
            ns = per_span(medians, row, v)
            if ns is not None:
                # The bare function's own cost is not the instrumentation's.
                bare = per_span(medians, "bare", v) or 0.0
                xs.append(j + (i - len(rows) / 2 + 0.5) * width)
                ys.append(max(ns - bare, 0.1))
        ax.bar(xs, ys, width, label=label.replace("`", ""))
    ax.set_yscale("log")
    ax.set_xticks(range(len(VARIANTS)))
    ax.set_xticklabels(VARIANTS)
    ax.set_ylabel("ns per span above the bare call (median, log scale)")
    ax.set_title("Cost per span: maestro-trace and its peers (one criterion run)")
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.08))
    fig.tight_layout()
    fig.savefig(os.path.join(out, "spans.png"), dpi=110)
    return True


def table_scaling(path):
    """Spans per second from 1 and 2 threads (the `scaling` binary's JSON lines)."""
    rows = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                rows.setdefault(d["row"], {})[d["threads"]] = d
    labels = dict(ROWS)
    lines = [
        "| row | 1 thread, spans/s | 2 threads, spans/s | 2 ÷ 1 (median of rounds) | not exported |",
        "|---|---:|---:|---:|---:|",
    ]
    first = None
    for row, by_threads in rows.items():
        one, two = by_threads.get(1), by_threads.get(2)
        if not one or not two:
            continue
        first = first or one
        lines.append(
            f"| {labels.get(row, row)} | {one['spans_per_sec'] / 1e6:.2f} M | "
            f"{two['spans_per_sec'] / 1e6:.2f} M | {one['two_over_one']:.2f}x | "
            f"{one['not_exported']} |"
        )
    if first is None:
        return None
    return (
        f"{first['spans_per_thread']} spans per thread, {first['rounds']} rounds\n\n"
        + "\n".join(lines)
    )


def main():
    parser = argparse.ArgumentParser()
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--criterion")
    source.add_argument("--medians")
    parser.add_argument("--allocs", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--machine")
    parser.add_argument("--scaling", nargs="*", default=[])
    args = parser.parse_args()

    if args.medians:
        with open(args.medians) as f:
            medians = json.load(f)
    else:
        medians = read_medians(args.criterion)
    if not medians:
        sys.exit(f"no criterion results under {args.criterion}")
    counts = read_allocs(args.allocs)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "medians.json"), "w") as f:
        json.dump(medians, f, indent=1, sort_keys=True)

    sections = []
    if args.machine:
        with open(args.machine) as f:
            sections.append("Machine:\n\n```\n" + f.read().strip() + "\n```")
    sections += [
        "### Time per call (criterion median; `nested` is one call of 11 spans)\n\n"
        + table_time(medians),
        "### Cost added over the bare call, disabled and unsampled paths\n\n"
        + table_overhead(medians),
        "### Peer time per span ÷ maestro-trace sampled time per span (>1: maestro-trace is faster)\n\n"
        + table_ratios(medians),
        "### Allocations per call on the calling thread\n\n"
        + table_counts(counts, "caller_allocs_per_call", lambda x: f"{x:.2f}", [r for r, _ in ROWS]),
        "### CPU per span, caller only (ns)\n\n"
        + table_counts(counts, "caller_cpu_ns_per_span", lambda x: f"{x:.0f}", SAMPLED),
        "### CPU per span, all threads: caller + batching/export threads (ns)\n\n"
        + table_counts(counts, "total_cpu_ns_per_span", lambda x: f"{x:.0f}", SAMPLED),
    ]
    exported = [
        f"{k}: {d['exported']} of {d['spans']}"
        for k, d in sorted(counts.items())
        if d["row"] in SAMPLED and d["exported"] < d["spans"]
    ]
    sections.append(
        "Spans exported in the counting run: "
        + ("all of them, in every sampled row." if not exported else "; ".join(exported))
    )
    for path in args.scaling:
        table = table_scaling(path)
        if table:
            sections.append(
                "### Sampled `sync` spans per second from 1 and 2 threads (`scaling`, "
                + os.path.basename(path)
                + ")\n\n"
                + table
            )
    with open(os.path.join(args.out, "tables.md"), "w") as f:
        f.write("\n\n".join(sections) + "\n")
    plotted = plot(medians, args.out)
    print(open(os.path.join(args.out, "tables.md")).read())
    print("wrote", os.path.join(args.out, "tables.md"), "and", "spans.png" if plotted else "no plot")


if __name__ == "__main__":
    main()
