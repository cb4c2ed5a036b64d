#!/usr/bin/env python3
"""Reads wrk's output (run with --latency) on standard input and prints one line:
"requests_per_second p50_ms p99_ms". Exits non-zero when any answer was not 2xx or 3xx.
Shared by the benchmark scripts in this folder."""

import re
import sys


def milliseconds(text, label):
    match = re.search(r"^\s*" + label + r"\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def main():
    text = sys.stdin.read()
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if errors:
        sys.exit("bench: %s requests failed" % errors.group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    print("%.0f %.3f %.3f" % (rps, milliseconds(text, "50%"), milliseconds(text, "99%")))


if __name__ == "__main__":
    main()
