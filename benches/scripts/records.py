#!/usr/bin/env python3
"""Records for the results file of benches/scripts/run.sh (one JSON object a
line), besides those the benchmark binaries print themselves:

    records.py machine --mode quick --server c [--end]
        the machine, the date, the load and every contender's version
        (with --end: the date and load when the run ended);
    records.py criterion DIR...
        W1 and W2 in process from criterion's results under each DIR (the
        library's `cargo bench` and benches/peers' zmq_inproc bench), read
        with benches/report.py's loader, and W4 in process from the
        library's benches/memory.rs (DIR/w4_memory.json).

Standard library only.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benches"))
import report as library_report  # noqa: E402  (benches/report.py)

# Criterion group -> workload, for the single-threaded rounds every
# contender runs (benches/fanout.rs and benches/peers/benches/zmq_inproc.rs).
CRITERION_GROUPS = {"w1_fanout": "w1", "w2_topics": "w2"}
CRATES = ["tokio", "crossbeam-channel", "bus", "criterion", "zmq", "redis", "async-nats", "hdrhistogram"]


def command_output(*argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (done.stdout + done.stderr).strip() or None


def first_line(path, prefix):
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def crate_versions():
    versions = {}
    for lock in (ROOT / "Cargo.lock", ROOT / "benches/peers/Cargo.lock"):
        for package in tomllib.loads(lock.read_text()).get("package", []):
            if package["name"] in CRATES:
                versions[package["name"]] = package["version"]
    return versions


def machine(args):
    record = {
        "workload": "machine",
        "phase": "end" if args.end else "start",
        "mode": args.mode,
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "loadavg": os.getloadavg(),
    }
    if not args.end:
        git = lambda *a: command_output("git", "-C", str(ROOT), *a)
        record.update({
            "nproc": os.cpu_count(),
            "cpu": first_line("/proc/cpuinfo", "model name"),
            "mem_total": first_line("/proc/meminfo", "MemTotal"),
            "kernel": platform.release(),
            "commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted_files": len((git("status", "--porcelain") or "").splitlines()),
            "pushbus_server": args.server,
            "versions": {
                "rustc": command_output("rustc", "--version"),
                "redis-server": command_output("redis-server", "--version"),
                "nats-server": command_output("nats-server", "--version"),
                "nginx": command_output("nginx", "-v"),
                "libnginx-mod-nchan": command_output("dpkg-query", "-W", "-f=${Version}", "libnginx-mod-nchan"),
                "libzmq5": command_output("dpkg-query", "-W", "-f=${Version}", "libzmq5"),
                "node": command_output("node", "--version") if args.server == "node" else None,
                **crate_versions(),
            },
        })
    print(json.dumps(record))


def criterion(args):
    for directory in map(Path, args.dirs):
        for group, rows in library_report.load(directory).items():
            workload = CRITERION_GROUPS.get(group)
            if workload is None:
                continue
            for (contender, param), result in sorted(rows.items()):
                print(json.dumps({
                    "workload": workload,
                    "contender": contender,
                    "transport": "in-process",
                    "param": int(param),
                    "deliveries_per_s": result["per_s"],
                    "noise": result["noise"],
                    "method": "criterion: publish 64, drain all, one thread",
                }))
        path = directory / "w4_memory.json"
        if path.exists():
            memory = json.loads(path.read_text())
            for row in memory["idle_subscription"]:
                print(json.dumps({
                    "workload": "w4",
                    "contender": row["key"],
                    "transport": "in-process",
                    "param": memory["subscriptions"],
                    "bytes_per_subscriber": row["bytes"],
                    "method": "counting allocator",
                }))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    about = commands.add_parser("machine")
    about.add_argument("--mode", required=True)
    about.add_argument("--server", required=True)
    about.add_argument("--end", action="store_true")
    about.set_defaults(run=machine)
    collect = commands.add_parser("criterion")
    collect.add_argument("dirs", nargs="+")
    collect.set_defaults(run=criterion)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
