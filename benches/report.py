#!/usr/bin/env python3
"""Prints the markdown tables of BENCHMARKS.md from criterion's results.

Reads every `<group>/<contender>/<param>/new/{benchmark,estimates}.json`
that `cargo bench --bench fanout` left under target/criterion (or the
directory given as the only argument), and prints per workload: the median
time per round, the throughput it gives (criterion's Throughput::Elements
per round), how many times faster pushbus is than each contender, and
whether the targets are met. Medians rather than means: the machine is a
shared 2-core VM, and a neighbour's compile shows up as outliers.

Standard library only, so it runs wherever the benchmarks do.
"""

import json
import os
import sys
import time
from pathlib import Path

# Workload: (title, unit of its throughput, order of its rows).
WORKLOADS = {
    "w1_fanout": (
        "W1: fan-out, one topic, N subscriptions (publish 64, drain all)",
        "deliveries/s",
        ["pushbus", "bus", "tokio", "crossbeam"],
    ),
    "w2_topics": (
        "W2: 10,000 topics x 1 subscription (1 publish per topic, drain all)",
        "deliveries/s",
        ["pushbus", "pushbus_ring1", "tokio", "tokio_by_index", "crossbeam", "bus"],
    ),
    "w3_publish": (
        "W3: one publish, subscriptions that never drain",
        "publishes/s",
        ["0_subs", "10000_subs_1_poller", "10000_subs_10000_pollers"],
    ),
}
# W2 contenders that run the workload as specified (variants are not).
W2_PEERS = ["tokio", "crossbeam", "bus"]
# (contender, minimum pushbus speed-up) at 10,000 subscriptions.
W1_TARGETS = [("bus", 2.0), ("tokio", 5.0), ("crossbeam", 10.0)]
W2_TARGET = 3.0
W3_TARGET = 2.0


def criterion_dir():
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    target = os.environ.get("CARGO_TARGET_DIR")
    root = Path(target) if target else Path(__file__).resolve().parent.parent / "target"
    return root / "criterion"


def load(root):
    """{group: {(contender, param): result}} for every finished benchmark."""
    results = {}
    for estimates in root.glob("*/**/new/estimates.json"):
        new = estimates.parent
        info = json.loads((new / "benchmark.json").read_text())
        est = json.loads(estimates.read_text())
        median = est["median"]["point_estimate"]
        elements = (info.get("throughput") or {}).get("Elements", 1)
        key = (info["function_id"], info.get("value_str") or "")
        results.setdefault(info["group_id"], {})[key] = {
            "ns": median,
            "per_s": elements / (median * 1e-9),
            "noise": est["median_abs_dev"]["point_estimate"] / median,
            "mtime": estimates.stat().st_mtime,
        }
    return results


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_rate(per_s):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if per_s >= scale:
            return f"{per_s / scale:.3g} {unit}"
    return f"{per_s:.3g}"


def ordered(rows, order):
    return [name for name in order if name in rows] + sorted(set(rows) - set(order))


def verdict(ok):
    return "met" if ok else "**NOT met**"


def speedup_tables(group, rows):
    """W1 and W2: one table per parameter, ratios to pushbus."""
    title, unit, order = WORKLOADS[group]
    print(f"### {title}\n")
    params = sorted({param for _, param in rows}, key=lambda p: (len(p), p))
    for param in params:
        by_name = {name: r for (name, p), r in rows.items() if p == param}
        base = by_name.get("pushbus")
        if group == "w1_fanout":
            print(f"**N = {int(param):,}**\n")
        print(f"| contender | median time / round | {unit} | pushbus is x times faster | noise (MAD) |")
        print("|---|---:|---:|---:|---:|")
        for name in ordered(by_name, order):
            r = by_name[name]
            ratio = f"{base['per_s'] / r['per_s']:.2f}" if base else "-"
            print(
                f"| {name} | {fmt_time(r['ns'])} | {fmt_rate(r['per_s'])} "
                f"| {ratio} | {r['noise']:.1%} |"
            )
        print()


def w3_table(rows):
    title, unit, order = WORKLOADS["w3_publish"]
    print(f"### {title}\n")
    by_name = {name: r for (name, _), r in rows.items()}
    base = by_name.get("0_subs")
    print(f"| case | median time / publish | {unit} | x the cost with 0 subscriptions | noise (MAD) |")
    print("|---|---:|---:|---:|---:|")
    for name in ordered(by_name, order):
        r = by_name[name]
        ratio = f"{r['ns'] / base['ns']:.2f}" if base else "-"
        print(f"| {name} | {fmt_time(r['ns'])} | {fmt_rate(r['per_s'])} | {ratio} | {r['noise']:.1%} |")
    print()


def targets(results):
    print("### Targets (ratios from this run)\n")
    w1 = {name: r for (name, p), r in results.get("w1_fanout", {}).items() if p == "10000"}
    if "pushbus" in w1:
        for peer, target in W1_TARGETS:
            if peer in w1:
                ratio = w1["pushbus"]["per_s"] / w1[peer]["per_s"]
                print(f"- W1 at 10,000 subscriptions, pushbus / {peer} >= {target:g}x: "
                      f"{ratio:.2f}x, {verdict(ratio >= target)}")
    w2 = {name: r for (name, _), r in results.get("w2_topics", {}).items()}
    peers = [name for name in W2_PEERS if name in w2]
    if "pushbus" in w2 and peers:
        best = max(peers, key=lambda name: w2[name]["per_s"])
        ratio = w2["pushbus"]["per_s"] / w2[best]["per_s"]
        print(f"- W2, pushbus / best peer ({best}) >= {W2_TARGET:g}x: "
              f"{ratio:.2f}x, {verdict(ratio >= W2_TARGET)}")
    w3 = {name: r for (name, _), r in results.get("w3_publish", {}).items()}
    if "0_subs" in w3 and "10000_subs_1_poller" in w3:
        ratio = w3["10000_subs_1_poller"]["ns"] / w3["0_subs"]["ns"]
        print(f"- W3, publish with 10,000 lagging subscriptions (one poller) within "
              f"{W3_TARGET:g}x of 0 subscriptions: {ratio:.2f}x, {verdict(ratio <= W3_TARGET)}")
    print()


def main():
    root = criterion_dir()
    results = load(root)
    if not results:
        sys.exit(f"no criterion results under {root}: run `cargo bench --bench fanout` first")
    mtimes = [r["mtime"] for rows in results.values() for r in rows.values()]
    stamp = lambda t: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))
    print(f"<!-- from {root}, results written {stamp(min(mtimes))} to {stamp(max(mtimes))} -->\n")
    for group in WORKLOADS:
        if group not in results:
            continue
        if group == "w3_publish":
            w3_table(results[group])
        else:
            speedup_tables(group, results[group])
    targets(results)


if __name__ == "__main__":
    main()
