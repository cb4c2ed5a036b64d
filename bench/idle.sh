#!/usr/bin/env bash
# Authenticated request rate with 1,000 idle keep-alive connections held open, against none.
#
# Starts the release binary on a fresh SQLite database (loopback only), pinned to core 0,
# logs in once, then alternates two measurements of GET /api/auth/me with wrk pinned to
# core 1:
#   1. with no other connection open;
#   2. while a holder (python3) keeps IDLE connections open: each sent one request and then
#      waits, as browsers and proxies keep connections between requests. They come from 20
#      loopback addresses (127.0.0.2 to 127.0.0.21), so none reaches the per-client cap.
# The report gives the medians and the median of each round's ratio (the two measured back
# to back), with their range. The server's idle timeout is raised for the run so the held
# connections stay for all of it.
#
# Usage: cargo build --release -p tessera && bash bench/idle.sh [SECONDS] [CONNECTIONS] [ROUNDS] [IDLE]
# TESSERA_BINARY=target/debug/tessera runs it against another build (for a quick check).
# Needs wrk (Debian package `wrk`), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-5}
connections=${2:-32}
rounds=${3:-5}
idle=${4:-1000}
binary=${TESSERA_BINARY:-target/release/tessera}
[ -x "$binary" ] || { echo "bench: build first: cargo build --release -p tessera" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }

cores=$(nproc)
server_core=0
client_core=$((cores > 1 ? 1 : 0))
work=$(mktemp -d)
server_pid=
holder_pid=
stop_holder() {
  if [ -n "$holder_pid" ]; then
    kill "$holder_pid" 2>/dev/null || true
    wait "$holder_pid" 2>/dev/null || true
    holder_pid=
  fi
}
cleanup() {
  stop_holder
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
password="bench-password-$RANDOM$RANDOM"
secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
root=$(pwd)
[[ "$binary" = /* ]] || binary="$root/$binary"

(
  cd "$work"
  TESSERA_LOG=warn TESSERA_LISTEN="127.0.0.1:$port" TESSERA_DATABASE_URL="sqlite://$work/bench.db" \
    TESSERA_ADMIN_PASSWORD="$password" TESSERA_JWT_SECRET="$secret" TESSERA_IDLE_TIMEOUT_SECONDS=3600 \
    exec taskset -c "$server_core" "$binary" serve >"$work/server.out" 2>"$work/server.err"
) &
server_pid=$!
for _ in $(seq 100); do
  grep -q "listening" "$work/server.out" 2>/dev/null && break
  sleep 0.1
done
grep -q "listening" "$work/server.out" || { cat "$work/server.err" >&2; exit 1; }
base="http://127.0.0.1:$port"

token=$(curl -sf -X POST "$base/api/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$password\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
curl -sf "$base/api/auth/me" -H "authorization: Bearer $token" >/dev/null

# The holder: opens the connections, makes one request on each, prints "ready N" and waits.
cat >"$work/hold.py" <<'PY'
import resource, signal, socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 64)), hard))
held = []
for i in range(count):
    s = socket.socket()
    s.bind(("127.0.0.%d" % (2 + i % 20), 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("hold: connection %d closed: %r" % (i, answer))
        answer += chunk
    if not answer.startswith(b"HTTP/1.1 200"):
        sys.exit("hold: connection %d refused: %r" % (i, answer[:80]))
    held.append(s)
print("ready", len(held), flush=True)
signal.pause()
PY

# Starts the holder and waits until its connections are open and idle.
start_holder() {
  python3 "$work/hold.py" "$port" "$idle" >"$work/hold.out" &
  holder_pid=$!
  for _ in $(seq 600); do
    grep -q "^ready" "$work/hold.out" 2>/dev/null && return 0
    kill -0 "$holder_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench: the holder could not open $idle connections" >&2
  exit 1
}

# Runs wrk on the client core and prints "requests_per_second p50_ms p99_ms".
measure() {
  taskset -c "$client_core" wrk -t1 -c"$connections" -d"${seconds}s" --latency \
    -H "authorization: Bearer $token" "$base/api/auth/me" |
    python3 "$root/bench/wrk_summary.py"
}

# Warm up, then alternate, swapping the order every round so that drift affects both.
taskset -c "$client_core" wrk -t1 -c"$connections" -d2s -H "authorization: Bearer $token" "$base/api/auth/me" >/dev/null
: >"$work/rounds.txt"
for round in $(seq "$rounds"); do
  if [ $((round % 2)) -eq 1 ]; then
    echo "none $round $(measure)" >>"$work/rounds.txt"
    start_holder
    echo "idle $round $(measure)" >>"$work/rounds.txt"
    stop_holder
  else
    start_holder
    echo "idle $round $(measure)" >>"$work/rounds.txt"
    stop_holder
    echo "none $round $(measure)" >>"$work/rounds.txt"
  fi
done

python3 - "$work/rounds.txt" "$seconds" "$connections" "$rounds" "$idle" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, round_, *values = line.split()
    rows.setdefault(name, {})[int(round_)] = tuple(map(float, values))
seconds, connections, rounds, idle = sys.argv[2:6]
def median(name, column):
    return statistics.median(row[column] for row in rows[name].values())
print(f"server on 1 core, wrk on another, {connections} connections, {seconds} s per measurement, "
      f"medians of {rounds} alternating rounds")
print("| GET /api/auth/me | req/s | p50 ms | p99 ms |")
print("| --- | ---: | ---: | ---: |")
for name, label in (("none", "no other connection"), ("idle", f"{idle} idle connections held")):
    print(f"| {label} | {median(name, 0):,.0f} | {median(name, 1):.3f} | {median(name, 2):.3f} |")
ratios = sorted(rows["idle"][r][0] / rows["none"][r][0] for r in rows["none"])
print(f"with {idle} idle / with none: {statistics.median(ratios):.2f} "
      f"(median of per-round ratios, range {ratios[0]:.2f}-{ratios[-1]:.2f})")
for name in ("none", "idle"):
    print(f"  {name} req/s per round: " + ", ".join(f"{rows[name][r][0]:,.0f}" for r in sorted(rows[name])))
PY
