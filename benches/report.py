#!/usr/bin/env python3
"""Prints the markdown tables of BENCHMARKS.md from the benchmarks' results.

Reads every `<group>/<contender>/<param>/new/{benchmark,estimates}.json`
that `cargo bench` left under target/criterion (or the directory given as
the only argument): the single-threaded rounds of benches/fanout.rs (W1-W3)
and the two-thread rounds of benches/threads.rs; and `w4_memory.json`, which
benches/memory.rs writes there (W4). Prints per workload the median time
per round or iteration, the throughput it gives (criterion's
Throughput::Elements), how many times faster pushbus is than each
contender, then every target of issues 2 and 3, met or not, for the
single-threaded and the two-thread variants. Medians rather than means: the
machine is a shared 2-core VM, and a neighbour's compile shows up as
outliers.

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
        "W1, one thread: fan-out, one topic, N subscriptions (publish 64, drain all)",
        "deliveries/s",
        ["pushbus", "pushbus_c_abi", "bus", "tokio", "crossbeam"],
    ),
    "w1_threads": (
        "W1, two threads: one topic, 10,000 subscriptions; a publisher thread "
        "publishes bursts of 64, one drain thread drains",
        "deliveries/s",
        ["pushbus", "pushbus_c_abi", "bus", "tokio", "crossbeam"],
    ),
    "w2_topics": (
        "W2, one thread: 10,000 topics x 1 subscription (1 publish per topic, drain all)",
        "deliveries/s",
        ["pushbus", "pushbus_ring1", "pushbus_publishers", "tokio", "tokio_by_index", "crossbeam", "bus"],
    ),
    "w2_threads": (
        "W2, two threads: 10,000 topics x 1 subscription; a publisher thread "
        "publishes bursts of 64 round-robin, one drain thread drains",
        "deliveries/s",
        [
            "pushbus",
            "pushbus_ring1",
            "tokio",
            "crossbeam",
            "bus",
            "tokio_in_order",
            "crossbeam_in_order",
            "bus_in_order",
        ],
    ),
    "w3_publish": (
        "W3: one publish, subscriptions that never drain",
        "publishes/s",
        ["0_subs", "10000_subs_1_poller", "10000_subs_10000_pollers"],
    ),
}
# The two variants of each throughput workload: (label, criterion group).
VARIANTS = [("one thread", "w1_fanout", "w2_topics"), ("two threads", "w1_threads", "w2_threads")]
# W2 contenders that run the workload as a user of the peer would; the
# others show the peer's best case (no name lookup, or a drain thread that
# knows the publisher's order), which no target counts.
W2_PEERS = ["tokio", "crossbeam", "bus"]
W2_BEST_CASE = ["tokio_by_index", "tokio_in_order", "crossbeam_in_order", "bus_in_order"]
# Issue 2: (contender, minimum pushbus speed-up) on W1 at 10,000 subscriptions.
W1_TARGETS = [("bus", 2.0), ("tokio", 5.0), ("crossbeam", 10.0)]
W1_PARAM = "10000"
W2_TARGET = 3.0
W3_TARGET = 2.0
# Issue 3: the C ABI's share of the Rust API's rate on W1 at 10,000.
C_ABI_TARGET = 2 / 3


def target_dir():
    target = os.environ.get("CARGO_TARGET_DIR")
    return Path(target) if target else Path(__file__).resolve().parent.parent / "target"


def criterion_dir():
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    return target_dir() / "criterion"


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
    threads = group.endswith("_threads")
    per = "iteration" if threads else "round"
    params = sorted({param for _, param in rows}, key=lambda p: (len(p), p))
    for param in params:
        by_name = {name: r for (name, p), r in rows.items() if p == param}
        base = by_name.get("pushbus")
        if group == "w1_fanout":
            print(f"**N = {int(param):,}**\n")
        print(f"| contender | median time / {per} | {unit} | pushbus is x times faster | noise (MAD) |")
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


def load_memory():
    """W4 as benches/memory.rs wrote it, or None."""
    path = target_dir() / "criterion" / "w4_memory.json"
    if len(sys.argv) > 1:
        path = Path(sys.argv[1]) / "w4_memory.json"
    if not path.exists():
        return None
    memory = json.loads(path.read_text())
    memory["mtime"] = path.stat().st_mtime
    return memory


def w4_tables(memory):
    print(f"### W4 (a): heap per idle subscription ({memory['subscriptions']:,} subscriptions)\n")
    print("Includes a `Vec` holding each subscription's handle (column 3).\n")
    print("| contender | heap bytes / subscription | of which the handle | blocks / subscription |")
    print("|---|---:|---:|---:|")
    for row in memory["idle_subscription"]:
        print(f"| {row['name']} | {row['bytes']:.1f} | {row['handle_bytes']} | {row['blocks']:.2f} |")
    retained = memory["retained_message"]
    print(f"\n### W4 (b): pushbus bytes per retained message "
          f"({memory['messages']:,} x {memory['payload_bytes']}-byte payloads)\n")
    print("| heap bytes / message | overhead over the payload | blocks / message |")
    print("|---:|---:|---:|")
    print(f"| {retained['bytes']:.1f} | {retained['overhead']:.1f} | {retained['blocks']:.2f} |\n")


def rows_at(results, group, param=None):
    return {name: r for (name, p), r in results.get(group, {}).items() if param is None or p == param}


def w1_cells(results, group):
    """{target label: cell} for one W1 variant."""
    w1 = rows_at(results, group, W1_PARAM)
    cells = {}
    if "pushbus" not in w1:
        return cells
    for peer, target in W1_TARGETS:
        if peer in w1:
            ratio = w1["pushbus"]["per_s"] / w1[peer]["per_s"]
            cells[f"W1 at 10,000 subscriptions: pushbus >= {target:g}x {peer}"] = (
                f"{ratio:.2f}x, {verdict(ratio >= target)}"
            )
    if "pushbus_c_abi" in w1:
        share = w1["pushbus_c_abi"]["per_s"] / w1["pushbus"]["per_s"]
        cells["C ABI (issue 3): >= 2/3 of the Rust API on W1 at 10,000"] = (
            f"{share:.2f}, {verdict(share >= C_ABI_TARGET)}"
        )
    return cells


def w2_cells(results, group):
    w2 = rows_at(results, group)
    cells = {}
    if "pushbus" not in w2:
        return cells
    for label, ours, names, target in (
        (f"W2: pushbus >= {W2_TARGET:g}x the best peer", "pushbus", W2_PEERS, True),
        ("W2, for information: pushbus / the peers' best case", "pushbus", W2_BEST_CASE, False),
        ("W2, for information: pushbus with a Publisher per topic / the peers' best case",
         "pushbus_publishers", W2_BEST_CASE, False),
    ):
        present = [name for name in names if name in w2]
        if ours not in w2 or not present:
            continue
        best = max(present, key=lambda name: w2[name]["per_s"])
        ratio = w2[ours]["per_s"] / w2[best]["per_s"]
        judged = f", {verdict(ratio >= W2_TARGET)}" if target else ""
        cells[label] = f"{ratio:.2f}x ({best}){judged}"
    return cells


def targets(results, memory):
    print("### Targets (ratios from this run)\n")
    columns = [(label, {**w1_cells(results, w1), **w2_cells(results, w2)}) for label, w1, w2 in VARIANTS]
    labels = []
    for _, cells in columns:
        labels += [label for label in cells if label not in labels]
    # W1 first, then W2, then the C ABI, as the issues list them.
    first_seen = {label: index for index, label in enumerate(labels)}
    labels.sort(key=lambda label: (label.startswith("C ABI"), label.startswith("W2"), first_seen[label]))
    single = []
    w3 = rows_at(results, "w3_publish")
    if "0_subs" in w3 and "10000_subs_1_poller" in w3:
        ratio = w3["10000_subs_1_poller"]["ns"] / w3["0_subs"]["ns"]
        single.append((f"W3: publish with 10,000 lagging subscriptions (one poller) within "
                       f"{W3_TARGET:g}x of 0 subscriptions", f"{ratio:.2f}x, {verdict(ratio <= W3_TARGET)}"))
    if memory:
        limits = memory["targets"]
        bytes_ = next(row["bytes"] for row in memory["idle_subscription"] if row["key"] == "pushbus")
        limit = limits["subscription_bytes"]
        single.append((f"W4: heap per idle subscription <= {limit:g} B",
                       f"{bytes_:.1f} B, {verdict(bytes_ <= limit)}"))
        overhead = memory["retained_message"]["overhead"]
        limit = limits["message_overhead_bytes"]
        single.append((f"W4: overhead per retained message <= {limit:g} B",
                       f"{overhead:.1f} B, {verdict(overhead <= limit)}"))
    print("| target | " + " | ".join(label for label, _ in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for label in labels:
        print(f"| {label} | " + " | ".join(cells.get(label, "-") for _, cells in columns) + " |")
    for label, cell in single:
        print(f"| {label} | {cell} | " + " | ".join("-" for _ in columns[1:]) + " |")
    print()


def main():
    root = criterion_dir()
    results = load(root)
    memory = load_memory()
    if not results and not memory:
        sys.exit(f"no results under {root}: run `cargo bench` first")
    mtimes = [r["mtime"] for rows in results.values() for r in rows.values()]
    if memory:
        mtimes.append(memory["mtime"])
    stamp = lambda t: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))
    print(f"<!-- from {root}, results written {stamp(min(mtimes))} to {stamp(max(mtimes))} -->\n")
    for group in WORKLOADS:
        if group not in results:
            continue
        if group == "w3_publish":
            w3_table(results[group])
        else:
            speedup_tables(group, results[group])
    if memory:
        w4_tables(memory)
    else:
        print("(no W4 results: run `cargo bench --bench memory`)\n")
    targets(results, memory)


if __name__ == "__main__":
    main()
