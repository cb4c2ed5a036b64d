#!/usr/bin/env bash
# Authenticated request rate against baselines measured in the same run.
#
# Starts the release binary on a fresh SQLite database (loopback only), pinned to core 0,
# logs in once, then drives it with wrk pinned to core 1:
#   1. GET /healthz (no I/O, no auth): the same server's no-auth baseline;
#   2. GET /api/auth/me (signature, claims, user active, session live);
#   3. GET /me of bench/naive (axum + jsonwebtoken, no user, no session), running beside
#      it on the same core, with the same token;
#   4. GET /api/auth/me again while a login flood (8 connections posting the right
#      password) keeps password hashing saturated.
# The four alternate for ROUNDS rounds; the report gives medians, and the ratios: the median
# of each round's ratio (the two measured back to back), with their range.
#
# Usage: cargo build --release -p tessera -p naive-jwt-server && bash bench/http.sh [SECONDS] [CONNECTIONS] [ROUNDS]
# Needs wrk (Debian package `wrk`), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-5}
connections=${2:-32}
rounds=${3:-3}
binary=target/release/tessera
naive=target/release/naive-jwt-server
for built in "$binary" "$naive"; do
  [ -x "$built" ] || { echo "bench: build first: cargo build --release -p tessera -p naive-jwt-server" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }

cores=$(nproc)
server_core=0
client_core=$((cores > 1 ? 1 : 0))
work=$(mktemp -d)
server_pid=
naive_pid=
cleanup() {
  for pid in $server_pid $naive_pid; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
password="bench-password-$RANDOM$RANDOM"
# 32 characters, so the HMAC key is exactly the secret's bytes for both servers.
secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
root=$(pwd)

# Starts a server pinned to the server core and waits for its "listening" line.
start_server() {
  (
    cd "$work"
    exec taskset -c "$server_core" "$@" >"$work/server.out" 2>"$work/server.err"
  ) &
  server_pid=$!
  for _ in $(seq 100); do
    grep -q "listening" "$work/server.out" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$work/server.err" >&2
  exit 1
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

TESSERA_LOG=warn TESSERA_LISTEN="127.0.0.1:$port" TESSERA_DATABASE_URL="sqlite://$work/bench.db" \
  TESSERA_ADMIN_PASSWORD="$password" TESSERA_JWT_SECRET="$secret" \
  start_server "$root/$binary" serve
base="http://127.0.0.1:$port"

token=$(curl -sf -X POST "$base/api/auth/login" -H 'content-type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$password\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
curl -sf "$base/api/auth/me" -H "authorization: Bearer $token" >/dev/null

# Runs wrk on the client core and prints "requests_per_second p50_ms p99_ms".
measure() {
  local path=$1; shift
  taskset -c "$client_core" wrk -t1 -c"$connections" -d"${seconds}s" --latency "$@" "$base$path" |
    python3 "$root/bench/wrk_summary.py"
}

# The naive baseline runs beside it on the same core: jsonwebtoken only, no user, no session.
naive_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(
  cd "$work"
  exec taskset -c "$server_core" "$root/$naive" "127.0.0.1:$naive_port" "$secret" tessera tessera >"$work/naive.out" 2>&1
) &
naive_pid=$!
for _ in $(seq 100); do grep -q "listening" "$work/naive.out" 2>/dev/null && break; sleep 0.1; done
naive_base="http://127.0.0.1:$naive_port"
curl -sf "$naive_base/me" -H "authorization: Bearer $token" >/dev/null || { echo "bench: the naive server refused the token" >&2; exit 1; }

cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"username":"admin","password":"$password"}'
wrk.headers["Content-Type"] = "application/json"
LUA

# One measurement of /api/auth/me while a login flood keeps password hashing saturated.
measure_during_flood() {
  taskset -c "$client_core" wrk -t1 -c8 -d"$((seconds + 3))s" -s "$work/login.lua" "$base/api/auth/login" >"$work/flood.out" &
  local flood_pid=$!
  sleep 1.5
  measure /api/auth/me -H "authorization: Bearer $token"
  wait "$flood_pid"
  python3 -c '
import re, sys
text = open(sys.argv[1]).read()
total = int(re.search(r"(\d+) requests in", text).group(1))
refused = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
refused = int(refused.group(1)) if refused else 0
print(total - refused, refused, file=open(sys.argv[2], "a"))
' "$work/flood.out" "$work/logins.txt"
}

# Warm up, then alternate the four measurements so that drift of the machine affects all.
taskset -c "$client_core" wrk -t1 -c"$connections" -d2s "$base/healthz" >/dev/null
taskset -c "$client_core" wrk -t1 -c"$connections" -d2s -H "authorization: Bearer $token" "$base/api/auth/me" >/dev/null
taskset -c "$client_core" wrk -t1 -c"$connections" -d2s -H "authorization: Bearer $token" "$naive_base/me" >/dev/null
: >"$work/rounds.txt"
: >"$work/logins.txt"
for _ in $(seq "$rounds"); do
  {
    echo "open $(measure /healthz)"
    echo "auth $(measure /api/auth/me -H "authorization: Bearer $token")"
    echo "naive $(base=$naive_base measure /me -H "authorization: Bearer $token")"
    echo "flood $(measure_during_flood)"
  } >>"$work/rounds.txt"
done
kill "$naive_pid" 2>/dev/null || true
wait "$naive_pid" 2>/dev/null || true
stop_server

python3 - "$work/rounds.txt" "$work/logins.txt" "$seconds" "$connections" "$rounds" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, *values = line.split()
    rows.setdefault(name, []).append(tuple(map(float, values)))
served = refused = 0
for line in open(sys.argv[2]):
    ok, no = map(int, line.split())
    served, refused = served + ok, refused + no
seconds, connections, rounds = sys.argv[3], sys.argv[4], sys.argv[5]
def median(name, column):
    return statistics.median(row[column] for row in rows[name])
print(f"server on 1 core, wrk on another, {connections} connections, {seconds} s per measurement, "
      f"medians of {rounds} alternating rounds")
print("| endpoint | req/s | p50 ms | p99 ms |")
print("| --- | ---: | ---: | ---: |")
labels = {
    "open": "tessera GET /healthz (no auth, no I/O)",
    "auth": "tessera GET /api/auth/me (full check)",
    "naive": "naive axum + jsonwebtoken GET /me",
    "flood": "tessera GET /api/auth/me during a login flood",
}
for name, label in labels.items():
    print(f"| {label} | {median(name, 0):,.0f} | {median(name, 1):.3f} | {median(name, 2):.3f} |")
def paired(over):
    # Each round measures both back to back, so a round's ratio is the least disturbed by the
    # machine's drift between rounds; the median of those is the figure.
    ratios = sorted(a[0] / b[0] for a, b in zip(rows["auth"], rows[over]))
    return statistics.median(ratios), ratios[0], ratios[-1]
for over, label, target in (("open", "authenticated / no-auth", ">= 0.85"),
                            ("naive", "tessera full check / naive jsonwebtoken-only", ">= 1.00")):
    middle, low, high = paired(over)
    print(f"{label}: {middle:.2f} (median of per-round ratios, range {low:.2f}-{high:.2f}; "
          f"ratio of medians {median('auth', 0) / median(over, 0):.2f}; target {target})")
print(f"p99 during the login flood / unloaded p99: {median('flood', 2) / median('auth', 2):.2f} (target <= 2.00); "
      f"flood: {served} logins served, {refused} refused with 503")
for name in labels:
    print(f"  {name} req/s per round: " + ", ".join(f"{row[0]:,.0f}" for row in rows[name]))
EOF
