#!/usr/bin/env python3
"""Draws the peer benchmarks' charts (SVG) from a results file of
benches/scripts/run.sh, one per workload, pushbus in the same colour in
every chart:

    charts.py benches/results/quick.jsonl benches/results/charts

Needs matplotlib (benches/scripts/charts.sh installs it in a venv).
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402

from tables import NOT_COUNTED, TRANSPORTS, is_pushbus, load, name_of, order, select  # noqa: E402

PUSHBUS_COLOUR = "#d62728"
PEER_COLOURS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def colours(names):
    """pushbus red, the peers each their own colour."""
    peers = iter(PEER_COLOURS * 2)
    return {name: PUSHBUS_COLOUR if is_pushbus({"contender": name}) else next(peers) for name in names}


def counted(rows):
    return sorted((r for r in rows if r["contender"] not in NOT_COUNTED), key=lambda r: order(r["contender"]))


def grouped_bars(axis, rows, field, groups, label_of_group):
    """Bars of `field`, one group per value of `groups(r)`, one bar per contender."""
    names = sorted({r["contender"] for r in rows}, key=order)
    keys = sorted({groups(r) for r in rows})
    colour = colours(names)
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        mine = {groups(r): r for r in rows if r["contender"] == name}
        heights = [mine[k][field] if k in mine else 0 for k in keys]
        xs = [k + (i - (len(names) - 1) / 2) * width for k in range(len(keys))]
        axis.bar(xs, heights, width, label=name_of(name), color=colour[name], yerr=spreads(mine, keys, field))
    axis.set_xticks(range(len(keys)), [label_of_group(k) for k in keys])


def spreads(records, keys, field):
    """Error bars from the lowest to the highest round of cases measured in
    rounds (tables.medians), or None when there are none."""
    if not any(len(records[k].get("rounds", [])) > 1 for k in keys if k in records):
        return None
    low, high = [], []
    for k in keys:
        r = records.get(k, {})
        rounds = r.get("rounds") or [r.get(field, 0)] * 2
        low.append(r.get(field, 0) - rounds[0])
        high.append(rounds[-1] - r.get(field, 0))
    return [low, high]


def below(axis, **options):
    """The legend under the plot, where it hides no bar."""
    axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, **options)


def save(figure, path):
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    print(f"wrote {path}")


def throughput_chart(records, workload, title, unit, out):
    panels = [t for t in TRANSPORTS if select(records, workload, t)]
    if not panels:
        return
    figure, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5.5), squeeze=False)
    for axis, transport in zip(axes[0], panels):
        rows = counted(select(records, workload, transport))
        grouped_bars(axis, rows, "deliveries_per_s", lambda r: r["param"], lambda p: f"{p:,} {unit}")
        axis.set_yscale("log")
        axis.set_ylabel("deliveries per second (log)")
        axis.set_title(f"{title}: {transport}")
        below(axis)
        axis.grid(axis="y", alpha=0.3)
    save(figure, out / f"{workload}.svg")


def latency_chart(records, out):
    panels = [t for t in TRANSPORTS if select(records, "w3", t)]
    if not panels:
        return
    figure, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), squeeze=False)
    for axis, transport in zip(axes[0], panels):
        # A server that could not take the rate before the measured part
        # began has no latency to draw.
        rows = [r for r in counted(select(records, "w3", transport)) if r["samples"]]
        names = [r["contender"] for r in rows]
        colour = colours(names)
        for i, field in enumerate(["p50_us", "p99_us", "p999_us"]):
            xs = [k + (i - 1) * 0.27 for k in range(len(rows))]
            axis.bar(xs, [r[field] for r in rows], 0.27, color=[colour[n] for n in names],
                     alpha=[0.45, 0.75, 1.0][i])
        axis.set_xticks(range(len(rows)), [name_of(n) for n in names], rotation=15, ha="right", fontsize=7)
        axis.set_yscale("log")
        axis.set_ylabel("µs, publish to receive (log; lower is better)")
        axis.set_title(f"W3 latency at {rows[0]['rate']:,.0f} msg/s, {rows[0]['param']} subscribers: {transport}\n"
                       "bars per contender: p50, p99, p99.9 (light to dark)", fontsize=10)
        axis.grid(axis="y", alpha=0.3)
    save(figure, out / "w3.svg")


def memory_chart(records, out):
    rows = counted(select(records, "w4"))
    if not rows:
        return
    labels = [f"{name_of(r['contender'])} ({r['transport']}, {r.get('method', 'VmRSS')})" for r in rows]
    colour = colours([r["contender"] for r in rows])
    figure, axis = plt.subplots(figsize=(9, 0.35 * len(rows) + 1.5))
    axis.barh(range(len(rows)), [r["bytes_per_subscriber"] for r in rows],
              color=[colour[r["contender"]] for r in rows])
    axis.set_yticks(range(len(rows)), labels, fontsize=7)
    axis.invert_yaxis()
    axis.set_xscale("log")
    axis.set_xlabel("bytes per idle subscription or connection (log; lower is better)")
    axis.set_title("W4 memory per idle subscriber")
    axis.grid(axis="x", alpha=0.3)
    save(figure, out / "w4.svg")


def capacity_chart(records, out):
    steps = select(records, "w5_step")
    if not steps:
        return
    names = sorted({s["contender"] for s in steps}, key=order)
    colour = colours(names)
    figure, axis = plt.subplots(figsize=(7.5, 4.5))
    for name in names:
        mine = [s for s in steps if s["contender"] == name]
        axis.plot([s["deliveries_per_s"] for s in mine], [s["p99_us"] / 1000 for s in mine], "-",
                  color=colour[name], label=name_of(name))
        for s in mine:
            axis.plot(s["deliveries_per_s"], s["p99_us"] / 1000, "o" if s["kept_up"] else "x",
                      color=colour[name], markersize=7)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("offered deliveries per second (log)")
    axis.set_ylabel("p99 latency, ms (log)")
    axis.set_title(f"W5 end-to-end SSE, {steps[0]['param']:,} connections (o kept up, x did not)")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    save(figure, out / "w5.svg")


def storm_chart(records, out):
    rows = sorted(select(records, "w6"), key=lambda r: order(r["contender"]))
    if not rows:
        return
    colour = colours([r["contender"] for r in rows])
    figure, axis = plt.subplots(figsize=(6, 3))
    axis.barh(range(len(rows)), [r["seconds_all_caught_up"] for r in rows],
              color=[colour[r["contender"]] for r in rows])
    axis.set_yticks(range(len(rows)), [name_of(r["contender"]) for r in rows], fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("seconds until every client has caught up (lower is better)")
    axis.set_title(f"W6 resume storm: {rows[0]['param']:,} clients, {rows[0]['behind']:,} messages behind")
    save(figure, out / "w6.svg")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: charts.py RESULTS.jsonl OUT_DIR")
    _, records = load(sys.argv[1])
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    throughput_chart(records, "w1", "W1 fan-out, one topic", "subs", out)
    throughput_chart(records, "w2", "W2 topics x 1 subscriber", "topics", out)
    latency_chart(records, out)
    memory_chart(records, out)
    capacity_chart(records, out)
    storm_chart(records, out)


if __name__ == "__main__":
    main()
