#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into fuzz/corpus/<target>/ (one file each,
named by the SHA-1 of its content, as libFuzzer names its own).

The seeds are meaningful inputs: tokens signed with the fuzz targets' fixed key, the
config.json examples of the README, valid and invalid API bodies, X-Forwarded-For lists and
refresh tokens. Run it, then run the targets and minimise (see fuzz/README.md).
"""

import base64
import hashlib
import hmac
import json
import os
import sys

KEY = b"tessera-fuzz-key-0123456789abcdef"
NOW = 1_700_000_000
ISSUED_HEADER = b'{"alg":"HS256","typ":"at+jwt"}'
MARK = "\U0001F511"  # tessera_fuzz::SECRET_MARK

HERE = os.path.dirname(os.path.abspath(__file__))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(header: bytes, claims: bytes) -> str:
    signing_input = f"{b64(header)}.{b64(claims)}"
    tag = hmac.new(KEY, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(tag)}"


def claims(**changes) -> dict:
    base = {
        "iss": "https://tessera.test", "aud": "tessera-api", "sub": "0b6f5d1e-user",
        "sid": "7c1f-session", "iat": NOW - 5, "nbf": NOW - 5, "exp": NOW + 900,
        "jti": "AAAAAAAAAAAAAAAAAAAAAA", "name": "ada", "roles": ["admin"],
    }
    for name, value in changes.items():
        if value is None:
            base.pop(name, None)
        else:
            base[name] = value
    return base


def j(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def token_seeds():
    valid = sign(ISSUED_HEADER, j(claims()))
    head, payload, tag = valid.split(".")
    none_head = b64(b'{"alg":"none","typ":"at+jwt"}')
    raw = [
        valid,
        f"{head}.{payload}.{tag[:-1]}A",
        f"{head}.{payload}",
        f"{head}.{payload}.{tag}.",
        f"{none_head}.{payload}.",
        f"{head}.{payload}.{tag}=",
        f"{head} .{payload}.{tag}",
        "a.b.c.d.e",
        "",
        "." * 40,
    ]
    yield from (b"\x00" + t.encode() for t in raw)
    bodies = [
        claims(),
        claims(aud=["other", "tessera-api"]),
        claims(aud=[]),
        claims(exp=str(NOW + 900)),
        claims(exp=NOW - 3600),
        claims(nbf=NOW + 3600),
        claims(iat=NOW + 3600),
        claims(exp=2**63 - 1, nbf=-(2**63), iat=-(2**63)),
        claims(exp=1.5e9),
        claims(iss="https://evil.test"),
        claims(sub=""),
        claims(sid=None),
        claims(roles=["a", 1]),
        claims(name="\u00e9\u2603", extra={"nested": [1, {"a": None}]}),
    ]
    yield from (b"\x01" + j(c) for c in bodies)
    yield b"\x01" + b'{"exp":1,"exp":2}'
    yield b"\x01" + b'{"iss":"https:\\/\\/tessera.test","sub":"\\u0041"}'
    yield b"\x01" + b"[1,2]"
    yield b"\x01" + b"\xff\xfe"
    headers = [
        ISSUED_HEADER,
        b'{"typ":"at+jwt","alg":"HS256"}',
        b'{"alg":"HS256","typ":"at+jwt","kid":"k1"}',
        b'{"alg":"HS256","typ":"JWT"}',
        b'{"alg":"HS256","typ":"application/at+jwt"}',
        b'{"alg":"HS256","typ":"at+jwt","crit":["exp"]}',
        b'{"alg":"HS256","typ":"at+jwt","jku":"https://x"}',
        b'{"alg":"hs256","typ":"at+jwt"}',
        b'{"alg":"HS256","alg":"HS256","typ":"at+jwt"}',
    ]
    for header in headers:
        yield b"\x02" + bytes([len(header)]) + header + j(claims())


def refresh_seeds():
    valid = b64(bytes(range(32)))
    yield valid.encode()
    yield b64(b"\xff" * 32).encode()
    yield (valid[:-1] + "B").encode()  # non-canonical trailing bits
    yield (valid + "=").encode()
    yield valid[:-1].encode()
    yield valid.replace("A", "+").encode()
    yield (valid + "\n" + "01" + "00" * 71).encode()
    yield (valid + "\n").encode() + b"\x01" + bytes(12) + bytes(59)
    yield (valid + "\n").encode() + b"\x02" + bytes(71)


def config_seeds():
    files = [
        {"AYANOVA_JWT_SECRET": "My32CharacterSecretKey0123456789"},
        {"TESSERA_JWT_ISSUER": "from-file", "TESSERA_LOG": "warn"},
        {"TESSERA_JWT_SECRET": "short" + MARK, "TESSERA_JWT_SECRET_POLICY": "pad"},
        {"TESSERA_JWT_SECRET": MARK * 3 + "x" * 40, "TESSERA_JWT_SECRET_POLICY": "strict"},
        {"TESSERA_JWT_SECRET": "a" + MARK, "AYANOVA_JWT_SECRET": "b" + MARK},
        {"TESSERA_JWT_SECRET": " " + MARK + " "},
        {"TESSERA_ADMIN_PASSWORD": "pw" + MARK},
        {"TESSERA_ADMIN_PASSWORD": "correct horse battery " + MARK},
        {"TESSERA_DATABASE_URL": "sqlite:///var/lib/tessera/tessera.db"},
        {"TESSERA_DATABASE_URL": "postgres://u:p" + MARK + "@h/db"},
        {"TESSERA_DATABASE_URL": "sqlite://tessera.db?mode=rwc"},
        {"TESSERA_LISTEN": "[::1]:0", "TESSERA_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"},
        {"TESSERA_JWT_EXPIRATION_MINUTES": 15, "TESSERA_REFRESH_IDLE_MINUTES": 10,
         "TESSERA_REFRESH_ABSOLUTE_MINUTES": 5},
        {"TESSERA_JWT_LEEWAY_SECONDS": 61, "TESSERA_SINGLE_SESSION": "yes"},
        {"TESSERA_LOGIN_MAX_ACCOUNT_FAILURES": 100, "TESSERA_LOGIN_FAILURE_WINDOW_SECONDS": 60},
        {"TESSERA_SINGLE_SESSION": True, "TESSERA_UNKNWON": 1, "Logging": {"a": [1]}},
        {"TESSERA_LOG": "info,tessera=debug", "TESSERA_JWT_AUDIENCE": ""},
        {"TESSERA_JWT_LEEWAY_SECONDS": 1.5, "TESSERA_LOG": None, "TESSERA_LISTEN": []},
    ]
    for f in files:
        yield json.dumps(f, ensure_ascii=False).encode()
    yield "\ufeff{\"TESSERA_LOG\": \"debug\"}".encode()
    yield b'{\n  "TESSERA_LOG": "info",\n  oops\n}'
    yield b"[1, 2]"
    yield b'{"TESSERA_JWT_LEEWAY_SECONDS": 18446744073709551616}'
    # Found by the secret check: a URL password holding / was shown.
    yield ('{"TESSERA_DATABASE_URL": "postgres://u:p/' + MARK + '@h/db"}').encode()


def cli_seeds():
    argvs = [
        ["tessera", "--AYANOVA_JWT_SECRET=02847This_is_my_secret_key456576"],
        ["tessera", "--TESSERA_LOG", "debug", "serve"],
        ["tessera", "serve", "--TESSERA_LOG=debug", "--port-file", "p"],
        ["tessera", "config", "check", "--TESSERA_JWT_SECRET=" + MARK + "k" * 40],
        ["tessera", "--TESSERA_JWT_SECRET", "x" + MARK, "--TESSERA_JWT_SECRET_POLICY=strict"],
        ["tessera", "--TESSERA_ADMIN_PASSWORD=" + MARK, "user", "list"],
        ["tessera", "--TESSERA_JWT_SECRET=a=b=c", "--AYANOVA_JWT_SECRET", "x y"],
        ["tessera", "--TESSERA_LOG"],
        ["tessera", "--TESSERA_A", "--TESSERA_B"],
        ["tessera", "serve", "--", "--TESSERA_LOG=debug"],
        ["tessera", "--TESSERA_TRUSTED_PROXIES=10.0.0.0/8,::1", "--TESSERA_LISTEN=0.0.0.0:0"],
        ["tessera", "--TESSERA_JWT_EXPIRATION_MINUTES=99999", "--TESSERA_UNKNOWN=1"],
    ]
    for argv in argvs:
        yield "\0".join(argv).encode()
    yield b"tessera\0--TESSERA_JWT_SECRET=\xff\xfe"
    yield b"tessera\0--TESSERA_LOG\0\xff"
    yield b"tessera\0file-\xff.txt"


def body_seeds():
    login = 0
    refresh = 1
    create = 2
    update = 3
    json_ct = 0
    charset = 1
    plain = 3
    none = 4
    typed = 5

    def seed(route, content_type, body):
        return bytes([route + 4 * content_type]) + body

    yield seed(login, json_ct, b'{"username":"admin","password":"correct horse battery"}')
    yield seed(login, charset, b'{"username":"admin","password":"x","refresh_cookie":true}')
    yield seed(login, json_ct, b'{"username":"admin"}')
    yield seed(login, json_ct, b'{"username":1,"password":[]}')
    yield seed(login, json_ct, b'{"username":"a","password":"' + MARK.encode() + b'"')
    yield seed(login, plain, b'{"username":"a","password":"b"}')
    yield seed(login, none, b"username=a&password=b")
    yield seed(refresh, json_ct, b'{"refresh_token":"' + b64(bytes(32)).encode() + b'"}')
    yield seed(refresh, none, b"")
    yield seed(refresh, json_ct, b"")
    yield seed(refresh, json_ct, b"null")
    yield seed(create, json_ct, b'{"username":"Ada@Example.org","password":"12345678",'
                                b'"roles":["admin","ops:read"],"active":false}')
    yield seed(create, json_ct, b'{"username":"","password":"short"}')
    yield seed(create, json_ct, b'{"username":"ada","password":"12345678","roles":["Bad Role"]}')
    yield seed(create, json_ct, b'{"username":"ada","password":"12345678","extra":1}')
    yield seed(update, json_ct, b'{"active":true,"roles":[],"password":"a new password"}')
    yield seed(update, json_ct, b'{"roles":["r1","r1","r2"]}')
    yield seed(update, json_ct, b"{}")
    yield seed(update, typed, b"application/json; charset=latin1\n{}")
    yield seed(update, typed, b"APPLICATION/JSON\n{\"active\":null}")
    yield seed(create, json_ct, b"{" + b'"username":"a",' * 200 + b"}")


def forwarded_seeds():
    yield b"127.0.0.1, 10.0.0.0/8\n127.0.0.1\n203.0.113.9, 10.1.1.1"
    yield b"127.0.0.1, 10.0.0.0/8\n198.51.100.7\n203.0.113.9"
    yield b"127.0.0.1\n127.0.0.1\n1.1.1.1, 203.0.113.9"
    yield b"127.0.0.1\n127.0.0.1\nnonsense, 10.2.2.2"
    yield b"127.0.0.1, 10.0.0.0/8\n127.0.0.1\n203.0.113.1\n10.3.3.3"
    yield b"::1, fd00::/8\n::1\n2001:db8::1, fd12::1"
    yield b"0.0.0.0/0\n::ffff:10.0.0.1\n[2001:db8::1]:443, 192.0.2.60:8080"
    yield b"10.0.0.0/33, ::/129\n10.0.0.1\n1.2.3.4"
    yield b"10.0.0.0/+8\n10.0.0.1\n"
    yield b"::/0\n::\n\xff\xfe, 1.2.3.4\n\t5.6.7.8 ,"
    # Found by this target: an IPv4-mapped range did not contain its own address.
    yield b"\xc2\xb0,\xc2\xb0,::ffff:10.0.0.1\n[200\xc2\xb0,"
    yield b"::ffff:127.0.0.1\n127.0.0.1\n203.0.113.9"


TARGETS = {
    "access_token": token_seeds,
    "refresh_token": refresh_seeds,
    "config_file": config_seeds,
    "cli_args": cli_seeds,
    "http_bodies": body_seeds,
    "forwarded_for": forwarded_seeds,
}


def main() -> int:
    for target, seeds in TARGETS.items():
        folder = os.path.join(HERE, "corpus", target)
        os.makedirs(folder, exist_ok=True)
        count = 0
        for data in seeds():
            name = hashlib.sha1(data).hexdigest()
            with open(os.path.join(folder, name), "wb") as out:
                out.write(data)
            count += 1
        print(f"{target}: {count} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
