#!/usr/bin/env bash
# Authenticated request rate against the same server's no-auth endpoint, in one run.
#
# Starts the release binary on a fresh SQLite database (loopback only), pinned to core 0,
# logs in once, then drives it with wrk pinned to core 1: first GET /healthz (no I/O, no
# auth), then GET /api/auth/me (signature, claims, user active, session live). Prints
# requests per second, p50 and p99 latency for each, and their ratio.
#
# Usage: cargo build --release && bash bench/http.sh [SECONDS] [CONNECTIONS]
# Needs wrk (Debian package `wrk`), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-10}
connections=${2:-32}
binary=target/release/tessera
[ -x "$binary" ] || { echo "bench: build first: cargo build --release" >&2; exit 1; }
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
(
  cd "$work"
  TESSERA_LOG=warn \
  TESSERA_LISTEN="127.0.0.1:$port" \
  TESSERA_DATABASE_URL="sqlite://$work/bench.db" \
  TESSERA_ADMIN_PASSWORD="$password" \
  TESSERA_JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')" \
  exec taskset -c "$server_core" "$OLDPWD/$binary" serve >"$work/server.out" 2>"$work/server.err"
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
read -r open_rps open_p50 open_p99 < <(measure /healthz)
read -r auth_rps auth_p50 auth_p99 < <(measure /api/auth/me -H "authorization: Bearer $token")

python3 - "$open_rps" "$open_p50" "$open_p99" "$auth_rps" "$auth_p50" "$auth_p99" "$seconds" "$connections" <<'EOF'
import sys
o_rps, o50, o99, a_rps, a50, a99 = map(float, sys.argv[1:7])
seconds, connections = sys.argv[7], sys.argv[8]
print(f"server on 1 core, wrk on another, {connections} connections, {seconds} s each")
print(f"| endpoint | req/s | p50 ms | p99 ms |")
print(f"| --- | ---: | ---: | ---: |")
print(f"| GET /healthz (no auth, no I/O) | {o_rps:,.0f} | {o50:.3f} | {o99:.3f} |")
print(f"| GET /api/auth/me (full check) | {a_rps:,.0f} | {a50:.3f} | {a99:.3f} |")
print(f"authenticated / no-auth: {a_rps / o_rps:.2f}")
EOF
