#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each on the committed corpus (fuzz/corpus/<target>/),
# one after the other, and prints per target the executions per second, the coverage reached
# (libFuzzer's final cov: and ft: figures), the corpus size and whether it crashed.
# Exits non-zero when any target crashed; the crashing inputs are in fuzz/artifacts/<target>/.
#
# New inputs go to fuzz/target/new-corpus/<target>/, so the committed corpus does not change.
# With --merge, they are folded into the committed corpus afterwards and it is minimised
# (cargo fuzz cmin).
#
# usage: fuzz/run.sh SECONDS [--merge]
set -euo pipefail

seconds="${1:-}"
merge="${2:-}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { [[ -n "$merge" ]] && [[ "$merge" != "--merge" ]]; }; then
    echo "usage: fuzz/run.sh SECONDS [--merge]" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed; install it with: cargo install cargo-fuzz" >&2
    exit 2
fi

cd "$(dirname "$0")"
# Root `cargo fmt --all` does not reach this workspace; say so when it needs formatting.
if ! cargo fmt --all -- --check >/dev/null 2>&1; then
    echo "warning: the fuzz targets need formatting: cargo fmt --manifest-path fuzz/Cargo.toml --all" >&2
fi
# Without a sanitizer: this works on a stable toolchain.
fuzz=(cargo fuzz)
flags=(--sanitizer none)
"${fuzz[@]}" build "${flags[@]}"

# Inputs longer than the default 4 KiB reach the 8 KiB token cap and the 16 KiB body limit.
max_len() {
    case "$1" in
        access_token) echo 9000 ;;
        http_bodies) echo 17408 ;;
        *) echo 4096 ;;
    esac
}

summary=()
crashed=0
for target in $("${fuzz[@]}" list); do
    corpus="corpus/$target"
    fresh="target/new-corpus/$target"
    log="target/run-$target.log"
    mkdir -p "$corpus" "$fresh" "artifacts/$target"
    echo "== $target: ${seconds}s"
    status=0
    "${fuzz[@]}" run "${flags[@]}" "$target" "$fresh" "$corpus" -- \
        -max_total_time="$seconds" -max_len="$(max_len "$target")" \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    final="$(grep -E '(DONE|pulse|NEW|REDUCE|INITED).*cov: ' "$log" | tail -n 1 || true)"
    cov="$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$final")"
    ft="$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$final")"
    execs="$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log" | tail -n 1)"
    files="$(find "$corpus" -type f | wc -l)"
    bytes="$(find "$corpus" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')"
    outcome="ok"
    if [[ "$status" -ne 0 ]]; then
        outcome="CRASHED (exit $status; see fuzz/$log and fuzz/artifacts/$target/)"
        crashed=1
        tail -n 30 "$log" >&2
    fi
    summary+=("$(printf '%-14s %9s %7s %8s %6s %9s  %s' "$target" "${execs:-?}" "${cov:-?}" \
        "${ft:-?}" "$files" "$bytes" "$outcome")")
    if [[ "$merge" == "--merge" && "$status" -eq 0 ]]; then
        cp -n "$fresh"/* "$corpus"/ 2>/dev/null || true
        # The smallest set of inputs covering every edge (not every hit count), so the
        # committed corpus stays small; the seeds are always kept.
        "${fuzz[@]}" cmin "${flags[@]}" "$target" "$corpus" -- -max_len="$(max_len "$target")" \
            -set_cover_merge=1 -use_counters=0 >"target/cmin-$target.log" 2>&1
        rm -rf "$fresh"
        python3 seeds.py >/dev/null
    fi
done

echo
printf '%-14s %9s %7s %8s %6s %9s  %s\n' target "exec/s" cov ft files bytes outcome
printf '%s\n' "${summary[@]}"
exit "$crashed"
