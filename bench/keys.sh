#!/usr/bin/env bash
# Signing keys and the services around them, each against a baseline measured in the same run.
#
# Starts two release servers on fresh SQLite databases, pinned to core 0: one signing with
# HS256 (the default), one with EdDSA (keys kept in its database); and, beside them on the same
# core, tessera-verify's bench service (crates/tessera-verify/examples/bench_server.rs) reading
# the EdDSA server's JWKS. wrk runs pinned to core 1. Each round measures, back to back:
#   1. GET /healthz on the HS256 server (no auth, no I/O): the no-auth baseline;
#   2. GET /api/auth/me on the HS256 server;
#   3. GET /api/auth/me on the EdDSA server;
#   4. POST /api/oauth/introspect on the HS256 server (an API client, HTTP Basic, a form body);
#   5. GET /open on the bench service (no check);
#   6. GET /protected on the bench service (tessera-verify's layer, the EdDSA token).
# Reports medians and, per ratio, the median of the per-round ratios with their range.
#
# Usage: cargo build --release -p tessera && cargo build --release -p tessera-verify --example bench_server
#        && bash bench/keys.sh [SECONDS] [CONNECTIONS] [ROUNDS]
# Needs wrk (Debian package `wrk`), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-5}
connections=${2:-32}
rounds=${3:-3}
binary=target/release/tessera
service=target/release/examples/bench_server
for built in "$binary" "$service"; do
  [ -x "$built" ] || { echo "bench: build first (see the usage line of bench/keys.sh)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }

cores=$(nproc)
server_core=0
client_core=$((cores > 1 ? 1 : 0))
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
root=$(pwd)
password="bench-password-$RANDOM$RANDOM"

# start NAME COMMAND…: runs it in $work/NAME pinned to the server core, waits for "listening".
start() {
  local name=$1; shift
  mkdir -p "$work/$name"
  (cd "$work/$name" && exec taskset -c "$server_core" "$@" >"$work/$name.out" 2>"$work/$name.err") &
  pids+=($!)
  for _ in $(seq 200); do
    grep -q "listening" "$work/$name.out" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$work/$name.err" >&2
  exit 1
}

hs_port=$(free_port)
ed_port=$(free_port)
svc_port=$(free_port)
TESSERA_LOG=warn TESSERA_LISTEN="127.0.0.1:$hs_port" TESSERA_DATABASE_URL="sqlite://$work/hs.db" \
  TESSERA_ADMIN_PASSWORD="$password" TESSERA_JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')" \
  start hs "$root/$binary" serve
TESSERA_LOG=warn TESSERA_LISTEN="127.0.0.1:$ed_port" TESSERA_DATABASE_URL="sqlite://$work/ed.db" \
  TESSERA_ADMIN_PASSWORD="$password" TESSERA_JWT_ALGORITHM=EdDSA \
  TESSERA_KEY_ENCRYPTION_SECRET="bench-key-encryption-secret-0123456789" \
  start ed "$root/$binary" serve
hs="http://127.0.0.1:$hs_port"
ed="http://127.0.0.1:$ed_port"
start svc "$root/$service" "127.0.0.1:$svc_port" "$ed/.well-known/jwks.json"
svc="http://127.0.0.1:$svc_port"

login() {
  curl -sf -X POST "$1/api/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$password\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
hs_token=$(login "$hs")
ed_token=$(login "$ed")
curl -sf "$svc/protected" -H "authorization: Bearer $ed_token" >/dev/null ||
  { echo "bench: the bench service refused the EdDSA token" >&2; exit 1; }

# An API client for introspection, added with the same settings as the HS256 server.
credentials=$(cd "$work/hs" && TESSERA_LOG=warn TESSERA_DATABASE_URL="sqlite://$work/hs.db" \
  TESSERA_JWT_SECRET=unused-for-this-command-0123456789 "$root/$binary" client add bench 2>/dev/null)
client_id=$(sed -n 's/^client_id: //p' <<<"$credentials")
client_secret=$(sed -n 's/^client_secret: //p' <<<"$credentials")
basic=$(printf '%s:%s' "$client_id" "$client_secret" | base64 -w0)
cat >"$work/introspect.lua" <<LUA
wrk.method = "POST"
wrk.body = "token=$hs_token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
LUA
active=$(curl -sf -X POST "$hs/api/oauth/introspect" -H "authorization: Basic $basic" \
  -H 'content-type: application/x-www-form-urlencoded' --data "token=$hs_token" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["active"])')
[ "$active" = "True" ] || { echo "bench: introspection did not find the token active" >&2; exit 1; }

measure() {
  local url=$1; shift
  taskset -c "$client_core" wrk -t1 -c"$connections" -d"${seconds}s" --latency "$@" "$url" |
    python3 "$root/bench/wrk_summary.py"
}

measure "$hs/healthz" >/dev/null
measure "$svc/open" >/dev/null
: >"$work/results.txt"
for round in $(seq "$rounds"); do
  {
    echo "$round healthz $(measure "$hs/healthz")"
    echo "$round me_hs256 $(measure "$hs/api/auth/me" -H "authorization: Bearer $hs_token")"
    echo "$round me_eddsa $(measure "$ed/api/auth/me" -H "authorization: Bearer $ed_token")"
    echo "$round introspect $(measure "$hs/api/oauth/introspect" -s "$work/introspect.lua")"
    echo "$round open $(measure "$svc/open")"
    echo "$round protected $(measure "$svc/protected" -H "authorization: Bearer $ed_token")"
  } >>"$work/results.txt"
done

python3 - "$work/results.txt" "$seconds" "$connections" "$rounds" <<'PY'
import statistics, sys
path, seconds, connections, rounds = sys.argv[1:]
rows = {}
for line in open(path):
    rnd, name, rps, p50, p99 = line.split()
    rows.setdefault(name, {})[int(rnd)] = (float(rps), float(p50), float(p99))
print(f"bench/keys.sh: {rounds} rounds of {seconds} s, {connections} connections, server core 0, wrk core 1")
print(f"{'measurement':<40} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
labels = {
    "healthz": "GET /healthz (HS256 server)",
    "me_hs256": "GET /api/auth/me, HS256",
    "me_eddsa": "GET /api/auth/me, EdDSA",
    "introspect": "POST /api/oauth/introspect",
    "open": "bench service GET /open",
    "protected": "bench service GET /protected",
}
for name, label in labels.items():
    values = list(rows[name].values())
    med = lambda i: statistics.median(v[i] for v in values)
    print(f"{label:<40} {med(0):>10.0f} {med(1):>8.2f} {med(2):>8.2f}")
def ratio(a, b, label):
    per_round = [rows[a][r][0] / rows[b][r][0] for r in rows[a]]
    print(f"{label:<52} {statistics.median(per_round):.2f} (range {min(per_round):.2f}-{max(per_round):.2f})")
ratio("me_eddsa", "me_hs256", "/api/auth/me EdDSA / HS256")
ratio("introspect", "healthz", "introspection / /healthz")
ratio("me_hs256", "healthz", "/api/auth/me HS256 / /healthz")
ratio("protected", "open", "tessera-verify /protected / /open")
PY
