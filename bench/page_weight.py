#!/usr/bin/env python3
"""The weight of every page tessera serves: bytes of HTML, JavaScript and CSS it loads.

Usage: python3 bench/page_weight.py [path/to/tessera]   (default target/release/tessera)

Starts the binary on a temporary SQLite database on a free port, fetches each page and,
transitively, every script, module import and stylesheet it references, and prints one
Markdown table row per page: bytes as sent (no compression is configured) and gzip -9 for
reference. A file shared by several pages (the client module, the stylesheet) is counted in
each page, as a first visit pays for it.
"""

import gzip
import os
import re
import subprocess
import sys
import tempfile
import urllib.request

PAGES = ["/login", "/account", "/sessions", "/password", "/admin/users", "/admin/user?id=00000000-0000-0000-0000-000000000000"]
REFERENCE = re.compile(r"""(?:<script[^>]*\ssrc|<link[^>]*\shref)\s*=\s*["']([^"']+)["']""")
IMPORT = re.compile(r"""(?:^|[;\s])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]""", re.M)


def start(binary):
    workdir = tempfile.mkdtemp(prefix="tessera-weight-")
    env = dict(os.environ)
    env.update({
        "TESSERA_DATABASE_URL": f"sqlite://{workdir}/weight.db",
        "TESSERA_LISTEN": "127.0.0.1:0",
        "TESSERA_JWT_SECRET": "page-weight-bench-secret-0123456",
        "TESSERA_LOG": "warn",
    })
    process = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.startswith("tessera listening on "):
            address = line[len("tessera listening on "):].split()[0].strip()
            return process, address
    raise SystemExit("the server exited before listening")


def fetch(base, path):
    with urllib.request.urlopen(base + path) as answer:
        return answer.headers.get("content-type", ""), answer.read()


def weigh(base, page):
    seen, sizes = set(), {"html": [0, 0], "js": [0, 0], "css": [0, 0]}
    queue = [page]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        kind, body = fetch(base, path)
        key = "html" if "html" in kind else "js" if "javascript" in kind else "css" if "css" in kind else None
        if key is None:
            continue
        sizes[key][0] += len(body)
        sizes[key][1] += len(gzip.compress(body, 9))
        text = body.decode("utf-8", "replace")
        found = REFERENCE.findall(text) if key == "html" else []
        if key == "js":
            found = [next(group for group in match if group) for match in IMPORT.findall(text)]
        queue.extend(ref for ref in found if ref.startswith("/") and not ref.startswith("//"))
    return sizes


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/tessera"
    process, base = start(binary)
    try:
        print("| page | HTML bytes | JS bytes | CSS bytes | total | total gzip -9 |")
        print("|---|---:|---:|---:|---:|---:|")
        for page in PAGES:
            sizes = weigh(base, page)
            total = sum(raw for raw, _ in sizes.values())
            zipped = sum(packed for _, packed in sizes.values())
            name = page.split("?")[0]
            print(f"| `{name}` | {sizes['html'][0]:,} | {sizes['js'][0]:,} | {sizes['css'][0]:,} | {total:,} | {zipped:,} |")
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
