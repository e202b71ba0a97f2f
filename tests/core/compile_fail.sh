#!/bin/sh
# Proves that SpillRing rejects a capacity that is not a power of two at
# compile time: the snippet with N = 8 must compile (control), the same
# snippet with N = 6 must fail with the static_assert's message.
# usage: compile_fail.sh <include dir> <c++ compiler command...>
set -u
inc=$1
shift
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
snippet() {
    printf '#include <spill/spill_ring.hpp>\nint main() { spill::SpillRing<int, %s> r; r.push(1); return r.size() == 1 ? 0 : 1; }\n' "$1" > "$tmp/ring_$1.cpp"
}
snippet 8
snippet 6
if ! "$@" -std=c++20 -fsyntax-only -I"$inc" "$tmp/ring_8.cpp" 2> "$tmp/err8.txt"; then
    echo "control snippet (N = 8) does not compile:"; cat "$tmp/err8.txt"; exit 1
fi
if "$@" -std=c++20 -fsyntax-only -I"$inc" "$tmp/ring_6.cpp" 2> "$tmp/err6.txt"; then
    echo "SpillRing<int, 6> compiled: a non-power-of-two capacity was not rejected"; exit 1
fi
if ! grep -q "capacity N must be a power of two" "$tmp/err6.txt"; then
    echo "SpillRing<int, 6> failed for another reason:"; cat "$tmp/err6.txt"; exit 1
fi
echo "SpillRing<int, 6> rejected at compile time: capacity N must be a power of two"
