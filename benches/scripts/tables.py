#!/usr/bin/env python3
"""Prints the markdown of BENCHMARKS.md's "pushbus against its peers"
section from a results file of benches/scripts/run.sh:

    python3 benches/scripts/tables.py benches/results/quick.jsonl

One table per workload, every contender of the run, and a column
"pushbus advantage": how many times better pushbus did than that row's
contender on the same transport (deliveries per second: pushbus / peer;
latency, memory and time: peer / pushbus), so above 1 means pushbus is
ahead. Then the issue's targets (W1, W2, W4, W5: pushbus ahead of every
contender), met or not, row by row.

Standard library only.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from report import fmt_rate  # noqa: E402  (benches/report.py)

# Names shown for the contenders' keys, in table order.
NAMES = {
    "pushbus": "pushbus, Rust API",
    "pushbus_c_abi": "pushbus, C ABI",
    "tokio": "tokio broadcast",
    "crossbeam": "crossbeam-channel (a channel per subscriber)",
    "bus": "bus",
    "zmq_inproc": "ZeroMQ inproc PUB/SUB",
    "nchan": "nchan (nginx), SSE",
    "redis": "Redis pub/sub",
    "nats": "NATS core",
}
# Rows shown for information only: no target counts them.
NOT_COUNTED = {
    "pushbus_ring1": "pushbus, 1-message ring (what replay costs)",
    "pushbus_publishers": "pushbus, a Publisher per topic (no name lookup)",
    "tokio_by_index": "tokio, no name lookup (the peer's best case)",
    "pushbus_topics": "pushbus, 10,000 topics (includes each topic)",
}
TRANSPORTS = ["in-process", "loopback"]
# Which way is better, per measured field.
HIGHER_IS_BETTER = {"deliveries_per_s": True, "sustained_rate": True}


def is_pushbus(record):
    """The pushbus row of its transport (in process: the Rust API)."""
    name = record["contender"]
    return name == "pushbus" or name.startswith("pushbus (")


def name_of(contender):
    if contender.startswith("pushbus ("):
        return f"pushbus: {contender[len('pushbus ('):-1]}, SSE"
    return NAMES.get(contender) or NOT_COUNTED.get(contender) or contender


def order(contender):
    if contender.startswith("pushbus ("):
        return -1
    keys = list(NAMES) + list(NOT_COUNTED)
    return keys.index(contender) if contender in keys else len(keys)


# Cases run.sh measures in several rounds: (workload, transport).
IN_ROUNDS = {("w1", "loopback"), ("w2", "loopback")}


def load(path):
    """The machine records, and the measurements with one record a case
    (see `medians`)."""
    records = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    machine = [r for r in records if r["workload"] == "machine"]
    return machine, medians([r for r in records if r["workload"] != "machine"])


def medians(records):
    """Each case measured in rounds (IN_ROUNDS) as one record: the round
    with the median rate (the lower middle one of an even count), with
    every successful round's rate, lowest first, in `rounds`. A failed
    round stays a record of its own, for `failures`."""
    out, cases = [], {}
    for r in records:
        if (r["workload"], r["transport"]) in IN_ROUNDS and "error" not in r:
            key = (r["workload"], r["transport"], r["contender"], r["param"])
            if key not in cases:
                cases[key] = []
                out.append(cases[key])
            cases[key].append(r)
        else:
            out.append(r)
    for i, item in enumerate(out):
        if isinstance(item, list):
            rounds = sorted(item, key=lambda r: r["deliveries_per_s"])
            median = dict(rounds[(len(rounds) - 1) // 2])
            median["rounds"] = [r["deliveries_per_s"] for r in rounds]
            out[i] = median
    return out


def measured(records):
    """The records of measurements that succeeded."""
    return [r for r in records if "error" not in r]


def select(records, workload, transport=None):
    return [r for r in measured(records)
            if r["workload"] == workload and (transport is None or r["transport"] == transport)]


def advantage(pushbus, peer, field):
    """How many times better pushbus did than `peer` on `field`."""
    if not pushbus or not peer or not pushbus.get(field) or not peer.get(field):
        return None
    ratio = pushbus[field] / peer[field]
    return ratio if HIGHER_IS_BETTER.get(field, False) else 1 / ratio


def ranked(rows):
    """The rows in contender order, and pushbus's among them (None if none)."""
    rows = sorted(rows, key=lambda r: order(r["contender"]))
    return rows, next((r for r in rows if is_pushbus(r)), None)


def ratio_cell(base, r, field):
    """The pushbus-advantage cell of row `r`: empty on pushbus's own row."""
    return "" if r is base else fmt_ratio(advantage(base, r, field))


def spread(record):
    """The lowest and highest rate of a case measured in rounds."""
    rounds = record.get("rounds")
    if not rounds or len(rounds) < 2:
        return ""
    return f" [{fmt_rate(rounds[0])}–{fmt_rate(rounds[-1])}]"


def fmt_ratio(ratio):
    return "-" if ratio is None else f"{ratio:.2f}x"


def fmt_bytes(value):
    return f"{value:,.0f} B" if value >= 100 else f"{value:.1f} B"


def fmt_us(value):
    return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.0f} µs"


# A row whose load client used at least this share of a core was limited by
# the client: the server's number is a lower bound.
CLIENT_BOUND = 0.9


def client_bound(record):
    return (record.get("client_cpu") or 0) >= CLIENT_BOUND


def flags(record):
    """Marks a row that lost deliveries, or whose server could not take
    the publish rate (its latencies then include a growing backlog)."""
    if record.get("rate_kept") is False:
        return " (could not take the rate)"
    lost = record.get("lost") or record.get("missing") or 0
    incomplete = record.get("complete") is False
    return f" (lost {lost:,})" if lost or incomplete else ""


def header(machine):
    start = next((m for m in machine if m["phase"] == "start"), None)
    end = next((m for m in machine if m["phase"] == "end"), None)
    if not start:
        return
    versions = start["versions"]
    print(f"Run `{start['mode']}` on {start['date']}"
          + (f" to {end['date'][11:]}" if end else "")
          + f", commit `{start['commit']}` ({start['uncommitted_files']} files not committed); "
          f"{start['nproc']} CPUs ({start['cpu']}), {start['mem_total']}, Linux {start['kernel']}; "
          f"load average {start['loadavg'][0]:.2f} at the start"
          + (f", {end['loadavg'][0]:.2f} at the end" if end else "") + ".\n")
    print("Versions: " + "; ".join(f"{name} {value}" for name, value in versions.items() if value) + ".\n")


def throughput(records, workload, title):
    print(f"### {title}\n")
    for transport in TRANSPORTS:
        rows = select(records, workload, transport)
        if not rows:
            continue
        params = sorted({r["param"] for r in rows})
        table = {}
        for r in rows:
            table.setdefault(r["contender"], {})[r["param"]] = r
        base = next((cells for name, cells in table.items() if is_pushbus({"contender": name})), {})
        unit = "subscribers" if workload == "w1" else "topics"
        print(f"**{transport}**, deliveries per second (pushbus advantage)\n")
        print("| contender | " + " | ".join(f"{p:,} {unit}" for p in params) + " |")
        print("|---|" + "---:|" * len(params))
        for name in sorted(table, key=order):
            cells = []
            for p in params:
                r = table[name].get(p)
                if r is None:
                    cells.append("-")
                    continue
                ratio = "" if base.get(p) is r else f" ({fmt_ratio(advantage(base.get(p), r, 'deliveries_per_s'))})"
                bound = " ‡" if client_bound(r) else ""
                cells.append(f"{fmt_rate(r['deliveries_per_s'])}/s{ratio}{flags(r)}{bound}{spread(r)}")
            print(f"| {name_of(name)} | " + " | ".join(cells) + " |")
        counts = sorted({len(r["rounds"]) for r in rows if len(r.get("rounds", [])) > 1})
        if counts:
            print(f"\nEach cell is the median of {' or '.join(map(str, counts))} rounds, every contender "
                  "measured in turn in each round; the lowest and highest in brackets.")
        if any(client_bound(r) for r in rows):
            which = " (in the median round)" if counts else ""
            print(f"\n‡ the load client used {CLIENT_BOUND:.0%} of a core or more{which}: "
                  "that number is a lower bound for the server (client and server share the 2 cores).")
        print()


def latency(records):
    rows = select(records, "w3")
    if not rows:
        return
    rate = rows[0].get("rate", 0)
    print(f"### W3: latency, {rate:,.0f} messages/s to {rows[0]['param']} subscribers\n")
    print("| contender | transport | p50 | p99 | p99.9 | pushbus advantage at p99 | publisher behind schedule |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for transport in TRANSPORTS:
        group, base = ranked(select(rows, "w3", transport))
        for r in group:
            if not r["samples"]:
                print(f"| {name_of(r['contender'])}{flags(r)} | {transport} | - | - | - | - | "
                      f"over {r['publish_behind_ms']:.0f} ms |")
                continue
            ratio = "" if r is base else fmt_ratio(advantage(base, r, "p99_us") if base and base["samples"] else None)
            print(f"| {name_of(r['contender'])}{flags(r)} | {transport} | {fmt_us(r['p50_us'])} | "
                  f"{fmt_us(r['p99_us'])} | {fmt_us(r['p999_us'])} | {ratio} | {r['publish_behind_ms']:.1f} ms |")
    print()


def memory(records):
    rows = select(records, "w4")
    if not rows:
        return
    print("### W4: memory per idle subscription (in process) or connection (loopback)\n")
    print("| contender | transport | measured by | subscriptions | bytes each | pushbus advantage |")
    print("|---|---|---|---:|---:|---:|")
    for transport in TRANSPORTS:
        for method in sorted({r.get("method", "resident memory (VmRSS)") for r in select(rows, "w4", transport)}):
            group, base = ranked(r for r in select(rows, "w4", transport)
                                 if r.get("method", "resident memory (VmRSS)") == method)
            for r in group:
                ratio = ratio_cell(base, r, "bytes_per_subscriber")
                print(f"| {name_of(r['contender'])} | {transport} | {method} | {r['param']:,} | "
                      f"{fmt_bytes(r['bytes_per_subscriber'])} | {ratio} |")
    print()


def capacity(records):
    rows = select(records, "w5")
    if not rows:
        return
    print(f"### W5: end-to-end SSE, {rows[0]['param']:,} connections, publish rate stepped up "
          f"(x{rows[0]['factor']:g} a step) until deliveries stop keeping up\n")
    print("| server | highest sustained rate | deliveries/s | p99 at that rate | pushbus advantage |")
    print("|---|---:|---:|---:|---:|")
    rows, base = ranked(rows)
    for r in rows:
        if not r["sustained_rate"]:
            print(f"| {name_of(r['contender'])} | below {r['below_rate']:g}/s | - | - | - |")
            continue
        ratio = ratio_cell(base, r, "sustained_rate")
        print(f"| {name_of(r['contender'])} | {r['sustained_rate']:,.0f} msg/s | "
              f"{fmt_rate(r['deliveries_per_s'])}/s | {fmt_us(r['p99_us'])} | {ratio} |")
    steps = select(records, "w5_step")
    failed = [s for s in steps if not s["kept_up"]]
    for s in failed:
        why = []
        if s["delivered_fraction"] < 1:
            why.append(f"{s['delivered_fraction']:.1%} delivered within 1 s of the step's end")
        if s["gaps"]:
            why.append("gaps")
        if s["publish_behind_ms"] > 100:
            why.append(f"publishers {s['publish_behind_ms']:.0f} ms behind (POSTs answered too slowly)")
        print(f"\n{name_of(s['contender'])} stopped keeping up at {s['rate']:,.0f} msg/s: "
              + (", ".join(why) or "p99 too high") + f" (load client at {s['client_cpu']:.0%} of a core).")
    print()


def storm(records):
    rows = select(records, "w6")
    if not rows:
        return
    r0 = rows[0]
    print(f"### W6: resume storm, {r0['param']:,} SSE clients reconnect at once, "
          f"{r0['behind']:,} messages behind\n")
    print("| server | all caught up after | median client | p99 client | failed | pushbus advantage |")
    print("|---|---:|---:|---:|---:|---:|")
    rows, base = ranked(rows)
    for r in rows:
        ratio = ratio_cell(base, r, "seconds_all_caught_up")
        print(f"| {name_of(r['contender'])} | {r['seconds_all_caught_up']:.2f} s | {r['p50_client_s']:.2f} s | "
              f"{r['p99_client_s']:.2f} s | {r['failed']} | {ratio} |")
    print()


def targets(records):
    """Issue 8: pushbus ahead of every contender on W1, W2, W4 and W5."""
    print("### Targets: pushbus ahead of every contender on W1, W2, W4, W5\n")
    print("| workload | transport | case | verdict | contenders ahead of pushbus |")
    print("|---|---|---|---|---|")
    checks = [("W1", "w1", "deliveries_per_s"), ("W2", "w2", "deliveries_per_s"),
              ("W4", "w4", "bytes_per_subscriber"), ("W5", "w5", "sustained_rate")]
    for label, workload, field in checks:
        for transport in TRANSPORTS:
            rows = [r for r in select(records, workload, transport)
                    if r["contender"] not in NOT_COUNTED and r["contender"] != "pushbus_c_abi"]
            cases = sorted({(r["param"], r.get("method", "")) for r in rows})
            for param, method in cases:
                group = [r for r in rows if r["param"] == param and r.get("method", "") == method]
                base = next((r for r in group if is_pushbus(r)), None)
                if base is None or len(group) < 2:
                    continue
                ahead = [(r, advantage(base, r, field)) for r in group if r is not base]
                ahead = [(r, ratio) for r, ratio in ahead if ratio is not None and ratio < 1]
                verdict = "**NOT met**" if ahead else "met"
                who = ", ".join(f"{name_of(r['contender'])} ({1 / ratio:.2f}x)" for r, ratio in ahead) or "-"
                case = f"{param:,}" + (f", {method}" if method else "")
                print(f"| {label} | {transport} | {case} | {verdict} | {who} |")
    print()


def failures(records):
    failed = [r for r in records if "error" in r]
    if failed:
        print("### Measurements that failed\n")
        for r in failed:
            print(f"- {name_of(r['contender'])}, {r['workload'].upper()} at {r['param']:,}: {r['error']}")
        print()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: tables.py RESULTS.jsonl")
    machine, records = load(sys.argv[1])
    header(machine)
    throughput(records, "w1", "W1: fan-out, one topic, 64-byte payloads")
    throughput(records, "w2", "W2: many topics, one subscriber each (10,000 in process, 1,000 over loopback)")
    latency(records)
    memory(records)
    capacity(records)
    storm(records)
    targets(records)
    failures(records)


if __name__ == "__main__":
    main()
