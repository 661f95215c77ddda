#!/usr/bin/env python3
"""Turns logitloss_bench JSON into a markdown report and a gnuplot PNG.

    bench_report.py results.json [--png out.png]

Prints, per type and operation, ns/element of every implementation at every
N, then the ratios peer / logitloss (how many times faster logitloss is)
and logitloss / floor (how far from the memory-bandwidth floor), with the
machine, compiler and flags on top. A run with repetitions
(--benchmark_repetitions) gives each cell the median of its repetitions.
"""
import json
import statistics
import subprocess
import sys
from collections import defaultdict


def load(path):
    with open(path) as f:
        doc = json.load(f)
    runs = defaultdict(lambda: defaultdict(list))  # (type, op) -> {(impl, n): [ns_per_elem, ...]}
    for b in doc["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        parts = b["name"].split("/")
        if len(parts) < 4:
            continue
        typ, op, impl, n = parts[0], parts[1], parts[2], int(parts[3])
        seconds = b["real_time"] * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        runs[(typ, op)][(impl, n)].append(seconds * 1e9 / n)
    table = {key: {cell: statistics.median(v) for cell, v in cells.items()} for key, cells in runs.items()}
    repetitions = max((len(v) for cells in runs.values() for v in cells.values()), default=1)
    return doc["context"], table, repetitions


def fmt_n(n):
    for unit, size in (("M", 1 << 20), ("K", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def markdown_table(columns, sizes, cell):
    """Rows N = sizes, one column per entry of columns, cell(column, n) -> text."""
    lines = ["| N | " + " | ".join(columns) + " |", "|---:|" + "---:|" * len(columns)]
    for n in sizes:
        lines.append(f"| {fmt_n(n)} | " + " | ".join(cell(c, n) for c in columns) + " |")
    return lines


def ratio(rows, peer, n):
    """peer time / logitloss time; for the floor, logitloss / floor."""
    ours, t = rows.get(("logitloss", n)), rows.get((peer, n))
    if ours is None or t is None:
        return ""
    return f"{ours / t:.2f}x" if peer == "floor" else f"{t / ours:.2f}x"


def report(context, table, repetitions=1):
    out = []
    each = f"each cell the median of {repetitions} repetitions" if repetitions > 1 else "one repetition"
    out.append(f"Machine: {cpu_model()}, {context.get('num_cpus')} CPUs; "
               f"{context.get('compiler', '?')}, flags `{context.get('flags', '?')}`; "
               f"logitloss: the dispatch library's `{context.get('logitloss_dispatch_path', '?')}` path "
               f"(logitloss_native: the header templates built with these flags, "
               f"`{context.get('logitloss_arch', '?')}`); "
               f"run {context.get('date', '')}, {each}; one thread unless the name says otherwise.")
    for (typ, op), rows in sorted(table.items()):
        impls = sorted({i for i, _ in rows}, key=lambda i: (i != "logitloss", i != "floor", i))
        sizes = sorted({n for _, n in rows})
        out += ["", f"### {typ} {op}: ns/element", ""]
        out += markdown_table(impls, sizes, lambda i, n: f"{rows[(i, n)]:.3f}" if (i, n) in rows else "")
        if "logitloss" in impls:
            peers = [i for i in impls if i != "logitloss"]
            out += ["", f"{typ} {op}: ratios (peer time / logitloss time; for floor: logitloss / floor)", ""]
            out += markdown_table(peers, sizes, lambda p, n: ratio(rows, p, n))
    return "\n".join(out)


def plot(table, png):
    rows = table.get(("f32", "fb"))
    if not rows:
        return
    impls = sorted({i for i, _ in rows})
    data = png + ".dat"
    with open(data, "w") as f:
        for i in impls:
            f.write(f'# {i}\n')
            for n in sorted(n for j, n in rows if j == i):
                f.write(f"{n} {rows[(i, n)]}\n")
            f.write("\n\n")
    plots = ", ".join(f"'{data}' index {k} with linespoints title '{i}'" for k, i in enumerate(impls))
    script = (f"set terminal png noenhanced size 1000,650; set output '{png}'; set logscale xy; "
              "set xlabel 'N (elements)'; set ylabel 'ns / element'; set key outside right; "
              "set title 'float32 BCE-with-logits forward+backward, one thread'; set grid; "
              f"plot {plots}")
    try:
        subprocess.run(["gnuplot", "-e", script], check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"(no plot: {e})", file=sys.stderr)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    context, table, repetitions = load(sys.argv[1])
    print(report(context, table, repetitions))
    if "--png" in sys.argv:
        plot(table, sys.argv[sys.argv.index("--png") + 1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
