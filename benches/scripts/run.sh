#!/usr/bin/env bash
# pushbus against the peers a user would pick instead, in one run on this
# machine (issue 8): `make bench` (quick) or `make bench-full`.
#
#   benches/scripts/run.sh [quick|full]
#
# 1. the library's criterion benches (`cargo bench`: W1-W4 in process, with
#    tokio, crossbeam and bus) and ZeroMQ inproc in the same rounds
#    (benches/peers/benches/zmq_inproc.rs);
# 2. in-process W3 latency and ZeroMQ's W4 heap (the `inproc` binary);
# 3. over loopback, servers started here and stopped by pid: pushbus's
#    chat server (SSE), nchan (SSE), Redis pub/sub, NATS core, driven by the
#    `loadclient` binary: W4, W3, then W5 and W6 for the SSE servers, one
#    server at a time; then W1 and W2 in rounds (3, or 5 in full mode),
#    each round measuring every contender in turn;
# 4. benches/results/<mode>.jsonl (one JSON record a line), then the
#    tables (benches/scripts/tables.py: benches/results/<mode>.md) and
#    charts (benches/scripts/charts.sh: benches/results/charts/<mode>/).
#
# Environment: SERVER (the pushbus chat server: c by default, or node,
# rust, python), CONTENDERS (the loopback servers, default
# "pushbus nchan redis nats"), SKIP_CRITERION=1 (reuse the criterion results
# already under target/), BASE_PORT (servers listen on the first free ports
# from 18400).
# Installs what is missing from apt (redis-server, nats-server, nginx with
# libnginx-mod-nchan, libzmq3-dev) and, for the charts, matplotlib from
# PyPI into a venv under target/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
mode="${1:-quick}"
case "$mode" in
  quick) seconds=1; warmup=0.5; round_warmup=0.3; step_seconds=1; factor=1.6;  rounds=3; full_env=() ;;
  full)  seconds=5; warmup=1;   round_warmup=1;   step_seconds=3; factor=1.25; rounds=5; full_env=(PUSHBUS_BENCH_FULL=1) ;;
  *) echo "usage: $0 [quick|full]" >&2; exit 2 ;;
esac
SERVER="${SERVER:-c}"
CONTENDERS="${CONTENDERS:-pushbus nchan redis nats}"
BASE_PORT="${BASE_PORT:-18400}"
# Every pushbus room and nchan channel keeps this many messages: W6 resumes
# 1,000 back.
REPLAY=2048
# W1, W2: each publishing connection writes this many publishes at once,
# then reads their answers (HTTP and Redis answer each publish; NATS does
# not, and streams anyway), so that no contender is held to a round trip a
# message while another streams, and the load client is not the limit.
PIPELINE=8

peers_target="$root/target/bench-peers"
results="$root/benches/results"
out="$results/$mode.jsonl"
bin="$peers_target/release"
started=$(date +%s)

log() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - started))" >&2; }

if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

# --- system packages -------------------------------------------------------
install_packages() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v nats-server >/dev/null || missing+=(nats-server)
  [ -e /usr/lib/nginx/modules/ngx_nchan_module.so ] || missing+=(nginx libnginx-mod-nchan)
  pkg-config --exists libzmq 2>/dev/null || missing+=(libzmq3-dev pkg-config)
  python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv)
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]}"
  # The packages' scripts would start redis, nginx and nats as services on
  # their default ports; a policy-rc.d that says no keeps them stopped.
  local policy=/usr/sbin/policy-rc.d ours=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && ours=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
  [ "$ours" = 1 ] && rm -f "$policy"
}
install_packages

# --- servers: started here, stopped by pid ----------------------------------
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap stop_all EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The first port from $1 on that nothing listens on (other engineers' and
# tests' servers share this machine's loopback).
free_port() {
  local port="$1"
  until port_free "$port"; do port=$((port + 1)); done
  echo "$port"
}

# Waits until 127.0.0.1:$1 accepts connections (10 s at most) while $2 runs.
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || { echo "the server (pid $2) exited" >&2; return 1; }
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# Starts contender $1 on port $2 in the background; sets server_pid (what
# to stop) and measured_pids (whose memory W4 reads: nginx's workers).
start_server() {
  local name="$1" port="$2" logs="$peers_target/logs"
  mkdir -p "$logs"
  case "$name" in
    pushbus)
      PORT="$port" REPLAY_MESSAGES="$REPLAY" \
        examples/serve.sh "$SERVER" --port "$port" >"$logs/pushbus.log" 2>&1 &
      ;;
    nchan)
      local prefix="$peers_target/nchan"
      mkdir -p "$prefix/body"
      sed -e "s|@PORT@|$port|; s|@PREFIX@|$prefix|g; s|@REPLAY@|$REPLAY|" \
          -e "s|@MODULES@|/usr/lib/nginx/modules|" \
          benches/peers/nchan/nginx.conf.in >"$prefix/nginx.conf"
      nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" >"$logs/nchan.log" 2>&1 &
      ;;
    redis)
      # Pub/sub only: no persistence.
      redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
        --maxclients 16000 >"$logs/redis.log" 2>&1 &
      ;;
    nats)
      nats-server --addr 127.0.0.1 --port "$port" >"$logs/nats.log" 2>&1 &
      ;;
  esac
  server_pid=$!
  pids+=("$server_pid")
  wait_port "$port" "$server_pid"
  measured_pids="$server_pid"
  if [ "$name" = nchan ]; then
    measured_pids="$(tr ' ' ',' <"/proc/$server_pid/task/$server_pid/children" | sed 's/,$//')"
  fi
}

# Runs one loopback measurement. A failure is in the results (the load
# client prints an `error` record) and the run goes on.
measure() {
  local what="$1"
  shift
  log "$label: $what"
  "${client[@]}" "$@" >>"$out" || true
}

# Points `measure` at contender $1's server on port $2 (whose CPU the load
# client records: $3, by default the server start_server started last),
# with $4 seconds of warm-up (by default $warmup).
use_server() {
  label="$1"
  [ "$1" = pushbus ] && label="pushbus ($SERVER server)"
  client=("$bin/loadclient" --target "$1=127.0.0.1:$2" --label "$label"
          --server-pid "${3:-$measured_pids}" --warmup "${4:-$warmup}" --seconds "$seconds")
}

# --- build ------------------------------------------------------------------
log "building (library, the $SERVER chat server, benches/peers)"
cargo build --release --quiet
case " $CONTENDERS " in *" pushbus "*) make --no-print-directory --quiet "server-$SERVER" ;; esac
CARGO_TARGET_DIR="$peers_target" cargo build --release --quiet \
  --manifest-path benches/peers/Cargo.toml --bins --benches

mkdir -p "$results"
: >"$out"
python3 benches/scripts/records.py machine --mode "$mode" --server "$SERVER" >>"$out"

# --- in process ---------------------------------------------------------------
if [ "${SKIP_CRITERION:-0}" != 1 ]; then
  log "cargo bench (the library's criterion benches)"
  env "${full_env[@]}" cargo bench --quiet >"$peers_target/cargo-bench.log" 2>&1 \
    || { tail -30 "$peers_target/cargo-bench.log" >&2; exit 1; }
  log "ZeroMQ inproc in the same rounds"
  env "${full_env[@]}" CARGO_TARGET_DIR="$peers_target" cargo bench --quiet \
    --manifest-path benches/peers/Cargo.toml --bench zmq_inproc >"$peers_target/zmq-bench.log" 2>&1 \
    || { tail -30 "$peers_target/zmq-bench.log" >&2; exit 1; }
fi
python3 benches/scripts/records.py criterion "$root/target/criterion" "$peers_target/criterion" >>"$out"

log "in-process W3 latency and ZeroMQ's W4 heap"
"$bin/inproc" w3 --warmup "$warmup" --seconds "$seconds" >>"$out"
"$bin/inproc" w4 >>"$out"

# --- over loopback ------------------------------------------------------------
# W4, W3, W5, W6: one contender at a time. W4 gets a fresh server of its
# own, so that it measures memory the server has not used before; then
# another for the rest.
port="$BASE_PORT"
for name in $CONTENDERS; do
  port=$(free_port "$port")
  start_server "$name" "$port"
  use_server "$name" "$port"
  measure "W4, 1,000 idle connections" w4 --connections 1000
  stop_all
  port=$(free_port "$port")
  start_server "$name" "$port"
  use_server "$name" "$port"
  measure "W3, 100 subscribers at 10,000 messages/s" w3 --subscribers 100 --rate 10000
  if [ "$name" = pushbus ] || [ "$name" = nchan ]; then
    measure "W5, 1,000 connections, rate x$factor every $step_seconds s" \
      --seconds "$step_seconds" w5 --connections 1000 --start-rate 50 --factor "$factor"
    measure "W6, 1,000 clients resume 1,000 messages back" w6 --clients 1000 --behind 1000
  fi
  stop_all
  port=$((port + 1))
done

# W1 and W2, whose one-second rates over loopback move by a third from one
# measurement to the next here: $rounds rounds, each measuring every
# contender in turn on servers started together, so that a busy neighbour
# weighs on all of them alike; tables.py reports each case's median and
# range. A case that failed is not measured again. Each measurement opens
# its connections and waits until every one has received before its
# warm-up starts, so a shorter warm-up (0.3 s in quick mode) reaches a
# steady rate and keeps `make bench` under five minutes.
declare -A ports server_pids failed
for name in $CONTENDERS; do
  port=$(free_port "$port")
  start_server "$name" "$port"
  ports[$name]=$port server_pids[$name]=$measured_pids
  port=$((port + 1))
done
for round in $(seq "$rounds"); do
  for name in $CONTENDERS; do
    use_server "$name" "${ports[$name]}" "${server_pids[$name]}" "$round_warmup"
    for case in "w1 --subscribers 1" "w1 --subscribers 100" "w1 --subscribers 1000" "w2 --topics 1000"; do
      [ -n "${failed[$name $case]:-}" ] && continue
      read -ra args <<<"$case"
      measure "$case, round $round of $rounds" --pipeline "$PIPELINE" "${args[@]}"
      tail -n 1 "$out" | grep -q '"error"' && failed[$name $case]=1
    done
  done
done
stop_all

python3 benches/scripts/records.py machine --mode "$mode" --server "$SERVER" --end >>"$out"
log "report"
python3 benches/scripts/tables.py "$out" | tee "$results/$mode.md"
bash benches/scripts/charts.sh "$out" "$results/charts/$mode" || echo "charts skipped (see above)" >&2
log "done: $out"
