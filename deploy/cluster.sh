#!/usr/bin/env bash
# Three tessera instances on one PostgreSQL database behind nginx, all on loopback, and a
# smoke test through the balancer; everything it starts is stopped when it exits.
#
#   deploy/cluster.sh [--binary PATH] [--database-url URL] [--port PORT]
#
#   --binary PATH        the tessera binary (default: `tessera` on the PATH)
#   --database-url URL   a postgres:// database to use and leave in place (default: a fresh
#                        postgres://postgres@127.0.0.1:5432/tessera_cluster_<random>, dropped
#                        at the end)
#   --port PORT          nginx's port on 127.0.0.1 (default: a free one)
#
# The instances listen on free loopback ports (port 0, read back from their output) with one
# generated TESSERA_JWT_SECRET and admin password, and trust X-Forwarded-For from 127.0.0.1
# only. nginx runs as the invoking user from deploy/nginx/tessera-cluster.conf, rendered with
# those ports, with its pid, logs and temporary files in a temporary directory.
#
# Prints one line, `cluster: ok: …` or `cluster: FAILED at STEP: …`; exits 0 on success only.
# Needs nginx (Debian: apt-get install nginx-light), curl and python3.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
binary=tessera
database_url=
port=
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --binary=*) binary=${1#*=}; shift ;;
    --database-url) database_url=${2:?--database-url needs a URL}; shift 2 ;;
    --database-url=*) database_url=${1#*=}; shift ;;
    --port) port=${2:?--port needs a number}; shift 2 ;;
    --port=*) port=${1#*=}; shift ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cluster: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

step="setup"
reported=
# Prints the failing step and exits non-zero; the EXIT trap stops everything.
fail() {
  reported=1
  echo "cluster: FAILED at $step: $*"
  exit 1
}

# --- what it needs -------------------------------------------------------------------------
command -v curl >/dev/null || fail "curl is not installed"
command -v python3 >/dev/null || fail "python3 is not installed"
nginx=$(command -v nginx || true)
if [ -z "$nginx" ] && [ -x /usr/sbin/nginx ]; then nginx=/usr/sbin/nginx; fi
[ -n "$nginx" ] || fail "nginx is not installed (Debian/Ubuntu: apt-get install -y nginx-light)"
if [[ "$binary" == */* ]]; then
  [ -x "$binary" ] || fail "--binary $binary is not an executable file"
  binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
else
  binary=$(command -v "$binary") || fail "no tessera on the PATH (give --binary PATH)"
fi
if [ -n "$port" ] && ! [[ "$port" =~ ^[0-9]+$ && "$port" -ge 1 && "$port" -le 65535 ]]; then
  fail "--port must be a number from 1 to 65535, not '$port'"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/tessera-cluster.XXXXXX")
pids=()
nginx_pid=
created_database=

# Drops the database this script created, over PostgreSQL's wire protocol (trust
# authentication, as for the default URL), so no client beyond python3 is needed.
drop_database() {
  python3 - "$1" <<'PY'
import socket, struct, sys
name = sys.argv[1]
def message(kind, body):
    return kind + struct.pack("!I", len(body) + 4) + body
def read_until_ready(sock):
    errors = []
    while True:
        head = b""
        while len(head) < 5:
            chunk = sock.recv(5 - len(head))
            if not chunk:
                raise SystemExit("connection closed")
            head += chunk
        kind, length = head[:1], struct.unpack("!I", head[1:])[0] - 4
        body = b""
        while len(body) < length:
            body += sock.recv(length - len(body))
        if kind == b"E":
            fields = dict((f[:1], f[1:]) for f in body.split(b"\0") if f)
            errors.append(fields.get(b"M", b"?").decode())
        if kind == b"R" and struct.unpack("!I", body[:4])[0] != 0:
            raise SystemExit("the server asks for a password; drop %s yourself" % name)
        if kind == b"Z":
            return errors
with socket.create_connection(("127.0.0.1", 5432), timeout=10) as sock:
    params = b"user\0postgres\0database\0postgres\0\0"
    sock.sendall(struct.pack("!II", len(params) + 8, 196608) + params)
    if read_until_ready(sock):
        raise SystemExit("cannot connect to PostgreSQL")
    quoted = '"' + name.replace('"', '""') + '"'
    sock.sendall(message(b"Q", ("DROP DATABASE IF EXISTS %s WITH (FORCE)" % quoted).encode() + b"\0"))
    errors = read_until_ready(sock)
    sock.sendall(message(b"X", b""))
    if errors:
        raise SystemExit("; ".join(errors))
PY
}

# Stops a process: SIGTERM, then SIGKILL when it is still there after 15 s.
stop() {
  local pid=$1 deadline=$((SECONDS + 15))
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # A command that failed under `set -e` did not say which step it was in.
  if [ "$status" -ne 0 ] && [ -z "$reported" ]; then
    echo "cluster: FAILED at $step: a command exited with status $status"
  fi
  if [ -n "$nginx_pid" ]; then stop "$nginx_pid"; fi
  for pid in "${pids[@]}"; do stop "$pid"; done
  if [ "$status" -ne 0 ]; then
    for log in "$work"/tessera-*.log "$work"/nginx/error.log; do
      [ -s "$log" ] && { echo "--- last lines of $(basename "$log")"; tail -n 15 "$log"; } >&2
    done
  fi
  if [ -n "$created_database" ]; then
    drop_database "$created_database" ||
      echo "cluster: could not drop the database $created_database; drop it yourself" >&2
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'reported=1; echo "cluster: FAILED at $step: interrupted"; exit 130' INT
trap 'reported=1; echo "cluster: FAILED at $step: terminated"; exit 143' TERM

# A free TCP port on 127.0.0.1 (for nginx; the instances bind port 0 themselves).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# json FILE EXPRESSION: EXPRESSION evaluated on the JSON document in FILE as `d`.
json() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# http METHOD URL [TOKEN] [BODY]: the status code; the body is left in $work/body.json.
http() {
  local args=(-s -o "$work/body.json" -w '%{http_code}' -X "$1" "$2")
  if [ -n "${3:-}" ]; then args+=(-H "authorization: Bearer $3"); fi
  if [ -n "${4:-}" ]; then args+=(-H 'content-type: application/json' --data-binary "$4"); fi
  curl "${args[@]}" || true
}

# --- database, secret, instances ------------------------------------------------------------
step="create the database"
if [ -z "$database_url" ]; then
  name="tessera_cluster_$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
  database_url="postgres://postgres@127.0.0.1:5432/$name"
  created_database=$name
fi
secret=$("$binary" gen-secret) || fail "tessera gen-secret failed"
admin_password=$("$binary" gen-secret) || fail "tessera gen-secret failed"
export TESSERA_DATABASE_URL="$database_url"
export TESSERA_JWT_SECRET="$secret"
export TESSERA_ADMIN_PASSWORD="$admin_password"
export TESSERA_TRUSTED_PROXIES=127.0.0.1
export TESSERA_LISTEN=127.0.0.1:0
(cd "$work" && "$binary" migrate) >"$work/migrate.log" 2>&1 ||
  fail "tessera migrate: $(tail -n 3 "$work/migrate.log")"

step="start three instances"
for n in 1 2 3; do
  # Created here, so it can be read before the instance has written anything.
  : >"$work/tessera-$n.log"
  (cd "$work" && exec "$binary" serve) >"$work/tessera-$n.log" 2>&1 &
  pids+=($!)
done
ports=()
for n in 1 2 3; do
  deadline=$((SECONDS + 60))
  bound=
  while [ -z "$bound" ]; do
    bound=$(sed -n 's|^tessera listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$work/tessera-$n.log")
    [ -n "$bound" ] && break
    kill -0 "${pids[$((n - 1))]}" 2>/dev/null || fail "instance $n exited: $(tail -n 3 "$work/tessera-$n.log")"
    [ "$SECONDS" -lt "$deadline" ] || fail "instance $n did not listen within 60 s"
    sleep 0.1
  done
  ports+=("$bound")
done

# --- nginx -----------------------------------------------------------------------------------
step="start nginx"
[ -n "$port" ] || port=$(free_port)
mkdir -p "$work/nginx/tmp"
sed -e "s|127\.0\.0\.1:8080|127.0.0.1:$port|" \
  -e "s|127\.0\.0\.1:8421|127.0.0.1:${ports[0]}|" \
  -e "s|127\.0\.0\.1:8422|127.0.0.1:${ports[1]}|" \
  -e "s|127\.0\.0\.1:8423|127.0.0.1:${ports[2]}|" \
  -e "s|/var/log/nginx/|$work/nginx/|" \
  "$here/nginx/tessera-cluster.conf" >"$work/nginx/tessera-cluster.conf"
for p in "$port" "${ports[@]}"; do
  grep -q "127\.0\.0\.1:$p\b" "$work/nginx/tessera-cluster.conf" ||
    fail "deploy/nginx/tessera-cluster.conf no longer names 127.0.0.1:8080 and :8421-:8423"
done
{
  echo "daemon off;"
  echo "worker_processes 1;"
  echo "pid $work/nginx/nginx.pid;"
  echo "error_log $work/nginx/error.log warn;"
  # Run as root, nginx would hand its workers to nobody, who cannot enter the work directory.
  if [ "$(id -u)" -eq 0 ]; then echo "user $(id -un) $(id -gn);"; fi
  echo "events { worker_connections 256; }"
  echo "http {"
  for kind in client_body proxy fastcgi uwsgi scgi; do
    echo "  ${kind}_temp_path $work/nginx/tmp/$kind;"
  done
  echo "  include $work/nginx/tessera-cluster.conf;"
  echo "}"
} >"$work/nginx/nginx.conf"
nginx_args=(-p "$work/nginx" -c "$work/nginx/nginx.conf")
# -e (nginx 1.19.5+) keeps nginx from opening its compiled-in error log before the config.
if "$nginx" -h 2>&1 | grep -q -- '^ *-e '; then nginx_args+=(-e "$work/nginx/error.log"); fi
"$nginx" "${nginx_args[@]}" -t >"$work/nginx/test.log" 2>&1 ||
  fail "nginx -t refused the config: $(grep -v '^$' "$work/nginx/test.log" | tail -n 2)"
"$nginx" "${nginx_args[@]}" >>"$work/nginx/error.log" 2>&1 &
nginx_pid=$!
lb="http://127.0.0.1:$port"
deadline=$((SECONDS + 30))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$lb/healthz" || true)" = 200 ]; do
  kill -0 "$nginx_pid" 2>/dev/null || fail "nginx exited: $(tail -n 2 "$work/nginx/error.log")"
  [ "$SECONDS" -lt "$deadline" ] || fail "nginx did not answer /healthz on $lb within 30 s"
  sleep 0.1
done

# Which instance ports served the access-log lines after line $1 that match $2.
served_by() {
  tail -n +"$(($1 + 1))" "$work/nginx/tessera-access.log" | grep -F "$2" |
    sed -n 's/.* upstream=127\.0\.0\.1:\([0-9]*\) .*/\1/p' | sort -u | tr '\n' ' '
}
# Asserts that every instance port is in the list $1.
every_instance() {
  for p in "${ports[@]}"; do
    [[ " $1 " == *" $p "* ]] || return 1
  done
}
log_lines() { wc -l <"$work/nginx/tessera-access.log"; }

# --- the smoke test ------------------------------------------------------------------------
step="log in as admin through the balancer"
status=$(http POST "$lb/api/auth/login" "" \
  "{\"username\":\"admin\",\"password\":\"$admin_password\"}")
[ "$status" = 200 ] || fail "POST /api/auth/login answered $status"
admin_token=$(json "$work/body.json" 'd["access_token"]')

step="create a user through the balancer"
username="smoke_$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
user_password=$("$binary" gen-secret)
status=$(http POST "$lb/api/users" "$admin_token" \
  "{\"username\":\"$username\",\"password\":\"$user_password\"}")
[ "$status" = 201 ] || fail "POST /api/users answered $status: $(cat "$work/body.json")"
user_id=$(json "$work/body.json" 'd["id"]')

step="log the user in through the balancer"
status=$(http POST "$lb/api/auth/login" "" \
  "{\"username\":\"$username\",\"password\":\"$user_password\"}")
[ "$status" = 200 ] || fail "POST /api/auth/login answered $status"
user_token=$(json "$work/body.json" 'd["access_token"]')

step="a page of this site logs in with the cookie through the balancer"
# The cross-site check compares Origin with the Host nginx passes on: its port must survive.
browser_login() {
  curl -s -o "$work/body.json" -w '%{http_code}' -X POST "$lb/api/auth/login" \
    -H "origin: $1" -H 'sec-fetch-site: same-origin' -H 'content-type: application/json' \
    --data-binary "{\"username\":\"$username\",\"password\":\"$user_password\",\"refresh_cookie\":true}" || true
}
status=$(browser_login "$lb")
[ "$status" = 200 ] || fail "a same-origin cookie login through the balancer answered $status: $(cat "$work/body.json")"
status=$(browser_login "http://elsewhere.example")
[ "$status" = 403 ] || fail "a cookie login from another origin answered $status, not 403"

step="the user's token is accepted by every instance"
mark=$(log_lines)
for _ in 1 2 3 4 5 6; do
  status=$(http GET "$lb/api/auth/me" "$user_token")
  [ "$status" = 200 ] || fail "GET /api/auth/me through the balancer answered $status"
  [ "$(json "$work/body.json" 'd["user"]["username"]')" = "$username" ] ||
    fail "GET /api/auth/me through the balancer named another user"
done
seen=$(served_by "$mark" '"GET /api/auth/me ')
every_instance "$seen" ||
  fail "the balancer sent /api/auth/me to instances on ports [$seen], not all of [${ports[*]}]"
for p in "${ports[@]}"; do
  status=$(http GET "http://127.0.0.1:$p/api/auth/me" "$user_token")
  [ "$status" = 200 ] || fail "GET /api/auth/me on the instance on port $p answered $status"
done

step="deactivate the user through the balancer"
status=$(http PATCH "$lb/api/users/$user_id" "$admin_token" '{"active":false}')
[ "$status" = 200 ] || fail "PATCH /api/users/{id} answered $status"
[ "$(json "$work/body.json" 'd["active"]')" = False ] || fail "the user is still active"

step="the deactivated user's token is refused by every instance"
mark=$(log_lines)
for i in 1 2 3 4 5 6; do
  status=$(http GET "$lb/api/auth/me" "$user_token")
  [ "$status" = 401 ] ||
    fail "request $i after the deactivation: GET /api/auth/me through the balancer answered $status (served by port $(tail -n 1 "$work/nginx/tessera-access.log" | sed -n 's/.* upstream=127\.0\.0\.1:\([0-9]*\) .*/\1/p'))"
done
seen=$(served_by "$mark" '"GET /api/auth/me ')
every_instance "$seen" ||
  fail "the balancer sent /api/auth/me to instances on ports [$seen], not all of [${ports[*]}]"
for p in "${ports[@]}"; do
  status=$(http GET "http://127.0.0.1:$p/api/auth/me" "$user_token")
  [ "$status" = 401 ] || fail "GET /api/auth/me on the instance on port $p answered $status"
done

step="done"
reported=1
echo "cluster: ok: 3 instances (ports ${ports[*]}) behind nginx on 127.0.0.1:$port;" \
  "a user's token was accepted by each, then refused by each after its deactivation"
