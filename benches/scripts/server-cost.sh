#!/usr/bin/env bash
# What one loopback workload costs the C chat server a delivery, from
# counters a busy neighbour does not skew the way it skews throughput:
# write and read syscalls (/proc/<pid>/io syscw, syscr) and CPU
# (/proc/<pid>/stat utime, stime), divided by the deliveries pushbus counted
# (pushbus_delivered_total from /metrics). Used for BENCHMARKS.md, issue 8.
#
#   flock /tmp/pushbus-bench.lock benches/scripts/server-cost.sh BINARY WORKLOAD [ARGS...]
#   e.g. ... server-cost.sh target/examples/c/chat-server w1 --subscribers 1000
#
# BINARY is a build of examples/c (`make server-c`); the load client is
# target/bench-peers/release/loadclient (benches/scripts/run.sh builds it).
# The server listens on the first free port from 18700 and is stopped by pid.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
binary="${1:?usage: $0 BINARY WORKLOAD [ARGS...]}"
shift
port=18700
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done

REPLAY_MESSAGES=2048 "$binary" --port "$port" >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

# Prints "syscw syscr utime stime delivered" for the server now.
sample() {
  local io stat delivered
  io=$(awk '/^syscw/{w=$2} /^syscr/{r=$2} END{print w, r}' "/proc/$pid/io")
  stat=$(awk '{print $14, $15}' "/proc/$pid/stat")
  delivered=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '/^pushbus_delivered_total /{print $2}')
  echo "$io $stat $delivered"
}

before=$(sample)
"$root/target/bench-peers/release/loadclient" --target "pushbus=127.0.0.1:$port" --label cost \
  --server-pid "$pid" --warmup 0.5 --seconds 2 "$@" >/dev/null
after=$(sample)
python3 - "$(getconf CLK_TCK)" "$before" "$after" "$*" <<'EOF'
import sys
tick, before, after, what = int(sys.argv[1]), sys.argv[2].split(), sys.argv[3].split(), sys.argv[4]
w, r, user, system, delivered = (int(a) - int(b) for a, b in zip(after, before))
print(f"{what}: {delivered} deliveries, {w / delivered:.4f} writes and {r / delivered:.4f} reads a delivery, "
      f"{(user + system) / tick / delivered * 1e6:.3f} us CPU a delivery ({user / tick / delivered * 1e6:.3f} user)")
EOF
