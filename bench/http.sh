#!/usr/bin/env bash
# Authenticated request rate against baselines measured in the same run.
#
# Starts the release binary on a fresh SQLite database (loopback only), pinned to core 0,
# logs in once, then drives it with wrk pinned to core 1:
#   1. GET /healthz (no I/O, no auth): the same server's no-auth baseline;
#   2. GET /api/auth/me (signature, claims, user active, session live);
#   3. GET /api/auth/me again while a login flood (8 connections posting the right
#      password) keeps password hashing saturated;
# then stops it and starts bench/naive (axum + jsonwebtoken, no user, no session) on the
# same core and measures GET /me with the same token. Prints requests per second, p50 and
# p99 for each, and the ratios.
#
# Usage: cargo build --release -p tessera -p naive-jwt-server && bash bench/http.sh [SECONDS] [CONNECTIONS]
# Needs wrk (Debian package `wrk`), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
connections=${2:-32}
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
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
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
    python3 -c '
import re, sys
text = sys.stdin.read()
def ms(label):
    m = re.search(r"^\s*" + label + r"\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if errors:
    sys.exit("bench: %s requests failed" % errors.group(1))
print("%.0f %.3f %.3f" % (rps, ms("50%"), ms("99%")))
'
}

# Warm up both paths once, then measure.
taskset -c "$client_core" wrk -t1 -c"$connections" -d2s "$base/healthz" >/dev/null
taskset -c "$client_core" wrk -t1 -c"$connections" -d2s -H "authorization: Bearer $token" "$base/api/auth/me" >/dev/null
read -r open_rps open_p50 open_p99 < <(measure /healthz)
read -r auth_rps auth_p50 auth_p99 < <(measure /api/auth/me -H "authorization: Bearer $token")

# The same measurement while a login flood keeps password hashing saturated.
cat >"$work/login.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"username":"admin","password":"$password"}'
wrk.headers["Content-Type"] = "application/json"
LUA
taskset -c "$client_core" wrk -t1 -c8 -d"$((seconds + 4))s" -s "$work/login.lua" "$base/api/auth/login" >"$work/flood.out" &
flood_pid=$!
sleep 2
read -r flood_rps flood_p50 flood_p99 < <(measure /api/auth/me -H "authorization: Bearer $token")
wait "$flood_pid"
flood_logins=$(python3 -c '
import re, sys
text = open(sys.argv[1]).read()
total = int(re.search(r"(\d+) requests in", text).group(1))
refused = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
refused = int(refused.group(1)) if refused else 0
print(total - refused, refused)
' "$work/flood.out")
stop_server

# The naive baseline on the same core: jsonwebtoken only, no user, no session.
naive_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_server "$root/$naive" "127.0.0.1:$naive_port" "$secret" tessera tessera
base="http://127.0.0.1:$naive_port"
curl -sf "$base/me" -H "authorization: Bearer $token" >/dev/null || { echo "bench: the naive server refused the token" >&2; exit 1; }
taskset -c "$client_core" wrk -t1 -c"$connections" -d2s -H "authorization: Bearer $token" "$base/me" >/dev/null
read -r naive_rps naive_p50 naive_p99 < <(measure /me -H "authorization: Bearer $token")
stop_server

python3 - "$open_rps" "$open_p50" "$open_p99" "$auth_rps" "$auth_p50" "$auth_p99" \
  "$flood_rps" "$flood_p50" "$flood_p99" "$naive_rps" "$naive_p50" "$naive_p99" \
  "$seconds" "$connections" $flood_logins <<'EOF'
import sys
v = list(map(float, sys.argv[1:13]))
(o_rps, o50, o99, a_rps, a50, a99, f_rps, f50, f99, n_rps, n50, n99) = v
seconds, connections, logins_ok, logins_refused = sys.argv[13], sys.argv[14], sys.argv[15], sys.argv[16]
print(f"server on 1 core, wrk on another, {connections} connections, {seconds} s each")
print("| endpoint | req/s | p50 ms | p99 ms |")
print("| --- | ---: | ---: | ---: |")
print(f"| tessera GET /healthz (no auth, no I/O) | {o_rps:,.0f} | {o50:.3f} | {o99:.3f} |")
print(f"| tessera GET /api/auth/me (full check) | {a_rps:,.0f} | {a50:.3f} | {a99:.3f} |")
print(f"| tessera GET /api/auth/me during a login flood | {f_rps:,.0f} | {f50:.3f} | {f99:.3f} |")
print(f"| naive axum + jsonwebtoken GET /me | {n_rps:,.0f} | {n50:.3f} | {n99:.3f} |")
print(f"authenticated / no-auth: {a_rps / o_rps:.2f} (target >= 0.85)")
print(f"tessera full check / naive jsonwebtoken-only: {a_rps / n_rps:.2f} (target >= 1.00)")
print(f"p99 during the login flood / unloaded p99: {f99 / a99:.2f} (target <= 2.00); "
      f"flood: {logins_ok} logins served, {logins_refused} refused with 503")
EOF
