"""Verifies tessera's access tokens the way a Python resource server would: through the
server's JWKS with PyJWT's PyJWKClient, its caches on (the key set kept 300 seconds; an
unknown `kid` refetches the set).

Usage: python3 verify_pyjwt.py JWKS_URL ISSUER AUDIENCE ALGORITHM
Reads one token per line on standard input and writes one JSON line per token:
{"ok": true, "kid": "…"} or {"ok": false, "kid": "…", "error": "…"}. A line "stats" answers
with the number of key-set fetches made so far, {"fetches": N}.
"""

import json
import sys

import jwt
from jwt import PyJWKClient


class CountingClient(PyJWKClient):
    """PyJWKClient that counts the key-set fetches it makes."""

    fetches = 0

    def fetch_data(self):
        CountingClient.fetches += 1
        return super().fetch_data()


def main() -> int:
    if len(sys.argv) != 5:
        print("usage: python3 verify_pyjwt.py JWKS_URL ISSUER AUDIENCE ALGORITHM", file=sys.stderr)
        return 2
    url, issuer, audience, algorithm = sys.argv[1:]
    client = CountingClient(url, cache_jwk_set=True, lifespan=300, cache_keys=True)
    for line in sys.stdin:
        token = line.strip()
        if not token:
            continue
        if token == "stats":
            print(json.dumps({"fetches": CountingClient.fetches}), flush=True)
            continue
        kid = None
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = client.get_signing_key_from_jwt(token)
            jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=audience,
                issuer=issuer,
                options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub"]},
            )
            print(json.dumps({"ok": True, "kid": kid}), flush=True)
        except Exception as error:  # every failure is reported, none ends the run
            print(json.dumps({"ok": False, "kid": kid, "error": f"{type(error).__name__}: {error}"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
