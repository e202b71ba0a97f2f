#!/usr/bin/env bash
# Builds the libFuzzer targets with clang++ (the main build uses g++) and runs them.
#
#   run_fuzzers.sh replay           each target over its committed corpus only
#   run_fuzzers.sh fuzz [SECONDS]   each target fuzzes for SECONDS (default 20),
#                                   starting from a scratch copy of its corpus
#
# When clang++ cannot build a fuzzer here it says why and exits 77 (a skip
# for meson), or 1 under CI=true: in CI a check that cannot run fails.
# Environment: CLANGXX (default clang++), FUZZ_TARGETS (default: all three),
# CI=true adds -Werror.
set -euo pipefail

mode=${1:-replay}
seconds=${2:-20}
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
root=$(cd "$here/../.." && pwd)
cxx=${CLANGXX:-clang++}
read -r -a targets <<<"${FUZZ_TARGETS:-spill_ring sequenced frame_decoder}"
work=$(mktemp -d "${TMPDIR:-/tmp}/spill-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -I"$root/core/include")
[[ ${CI:-} == true ]] && flags+=(-Werror)

cannot_run() {
    if [[ ${CI:-} == true ]]; then
        echo "FAIL: $*"
        exit 1
    fi
    echo "SKIP: $*"
    exit 77
}
if ! command -v "$cxx" >/dev/null 2>&1; then
    cannot_run "$cxx not found (install clang and libclang-rt-dev for libFuzzer)"
fi
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$work/probe.cpp"
if ! "$cxx" -fsanitize=fuzzer "$work/probe.cpp" -o "$work/probe" 2>"$work/probe.log"; then
    cannot_run "$cxx cannot link -fsanitize=fuzzer here: $(head -n 2 "$work/probe.log")"
fi

export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

failures=0
for t in "${targets[@]}"; do
    src="$here/fuzz_$t.cpp"
    corpus="$here/corpus/$t"
    [[ -f $src && -d $corpus ]] || { echo "FAIL $t: missing $src or $corpus"; failures=$((failures + 1)); continue; }
    "$cxx" "${flags[@]}" "$src" -o "$work/fuzz_$t"
    log="$work/$t.log"
    if [[ $mode == replay ]]; then
        n=$(find "$corpus" -type f | wc -l)
        if "$work/fuzz_$t" -runs=0 -artifact_prefix="$work/" "$corpus" >"$log" 2>&1; then
            echo "ok   $t: replayed $n corpus inputs"
        else
            tail -n 40 "$log"
            echo "FAIL $t: an input of tests/fuzz/corpus/$t crashes (log above)"
            failures=$((failures + 1))
        fi
    elif [[ $mode == fuzz ]]; then
        mkdir -p "$work/corpus-$t" "$work/artifacts-$t"
        cp "$corpus"/* "$work/corpus-$t/" 2>/dev/null || true
        if "$work/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$work/artifacts-$t/" "$work/corpus-$t" >"$log" 2>&1; then
            echo "ok   $t: $(grep -m1 -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" || echo 'done'), corpus $(find "$work/corpus-$t" -type f | wc -l) inputs"
        else
            tail -n 40 "$log"
            for a in "$work/artifacts-$t"/*; do
                [[ -f $a ]] || continue
                echo "crashing input $(basename "$a") (hex): $(od -An -tx1 -v "$a" | tr -d ' \n' | cut -c1-400)"
            done
            echo "FAIL $t: the fuzzer found a crash (add the input above to tests/fuzz/corpus/$t once fixed)"
            failures=$((failures + 1))
        fi
    else
        echo "usage: $0 replay|fuzz [SECONDS]" >&2
        exit 2
    fi
done
((failures == 0))
