#!/usr/bin/env bash
# Model-checks tests/model/handoff.pml with spin (exhaustive search).
#
#   run_spin.sh verify    every configuration must verify: no assertion
#                         violation, no invalid end state, search completed
#   run_spin.sh liveness  <> finished under weak fairness (2 workers x 2 mergers)
#   run_spin.sh planted   every planted bug must be caught (errors > 0)
#
# Environment: SPIN (default: spin), CC (default: gcc), SPIN_MEMLIM_MB (default 2048),
# SPIN_MEMLIM_MB_DEEP (the deep configurations; default 12288).
set -euo pipefail

mode=${1:-verify}
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
model="$here/handoff.pml"
spin=${SPIN:-spin}
cc=${CC:-gcc}
memlim=${SPIN_MEMLIM_MB:-2048}
work=$(mktemp -d "${TMPDIR:-/tmp}/spill-spin.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$model" "$work/handoff.pml"
cd "$work"

# check NAME "SPIN_DEFINES" "PAN_CFLAGS" "PAN_RUNTIME_FLAGS" EXPECT(pass|fail)
failures=0
check() {
    local name=$1 defs=$2 cflags=$3 rflags=$4 expect=$5 out t0 t1
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$spin" -a $defs handoff.pml >spin.log 2>&1 || { cat spin.log; echo "FAIL $name: spin -a failed"; failures=$((failures + 1)); return; }
    # shellcheck disable=SC2086
    "$cc" ${PAN_OPT:--O2} -w $cflags -DCOLLAPSE -DMEMLIM="$memlim" -o pan pan.c 2>cc.log || { cat cc.log; echo "FAIL $name: compiling pan.c failed"; failures=$((failures + 1)); return; }
    # shellcheck disable=SC2086
    out=$(./pan -m1000000 -w24 $rflags 2>&1) || true
    t1=$(date +%s.%N)
    local errors states secs
    errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' <<<"$out" | head -n1)
    states=$(sed -n 's/^ *\([0-9e.+]*\) states, stored.*/\1/p' <<<"$out" | head -n1)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    local incomplete=0
    if grep -q -e 'Search not completed' -e 'reached -DMEMLIM' -e 'max search depth too small' <<<"$out"; then incomplete=1; fi
    if [[ -z $errors ]]; then
        echo "$out"
        echo "FAIL $name: could not read pan's result"
        failures=$((failures + 1))
        return
    fi
    if [[ $expect == pass ]]; then
        if [[ $errors != 0 || $incomplete != 0 ]]; then
            echo "$out"
            [[ $errors != 0 ]] && "$spin" -t -p -g handoff.pml $defs 2>&1 | tail -n 60 || true
            echo "FAIL $name: errors=$errors incomplete=$incomplete"
            failures=$((failures + 1))
            return
        fi
        echo "ok   $name: verified, $states states, ${secs}s"
    else
        if [[ $errors == 0 ]]; then
            echo "$out"
            echo "FAIL $name: the planted bug was NOT caught ($states states)"
            failures=$((failures + 1))
            return
        fi
        echo "ok   $name: planted bug caught after $states states, ${secs}s: $(grep -m1 -e 'pan:1:' <<<"$out" | cut -c1-160)"
    fi
}

safety='-DSAFETY'
case $mode in
verify)
    # CAP=1, MAXPUSH=2: tasks overflow their ring (the first-eviction spill) and merge backs evict.
    check "2 workers x 1 collector (collect)"           "-DR=2 -DM=1 -DCAP=1"                      "$safety" "" pass
    check "2 workers x 1 collector (collect), CAP=2"    "-DR=2 -DM=1 -DCAP=2"                      "$safety" "" pass
    check "2 workers x 1 collector (collect_ordered)"   "-DR=2 -DM=1 -DCAP=1 -DORDERED"            "$safety" "" pass
    check "2 workers x 2 mergers (split_mergers)"       "-DR=2 -DM=2 -DCAP=1"                      "$safety" "" pass
    check "2 workers x 2 mergers (sequenced mergers)"   "-DR=2 -DM=2 -DCAP=1 -DMAXPUSH=1 -DORDERED" "$safety" "" pass
    ;;
deep)
    # With the owner two rounds ahead, three rounds take far more states than
    # two: give the search room (the machine has 24 GiB).
    memlim=${SPIN_MEMLIM_MB_DEEP:-12288}
    check "2 workers x 1 collector, 3 rounds (collect)" "-DR=3 -DM=1"                              "$safety" "" pass
    check "2 workers x 2 sequenced mergers, tasks overflowing" "-DR=2 -DM=2 -DCAP=1 -DMAXPUSH=2 -DORDERED" "$safety" "" pass
    ;;
liveness)
    check "2 workers x 1 collector: <> finished (weak fairness)" "-DR=2 -DM=1 -DCAP=1 -DLIVENESS" "" "-a -f -N finish" pass
    check "2 workers x 2 mergers: <> finished (weak fairness)"   "-DR=2 -DM=2 -DCAP=1 -DLIVENESS" "" "-a -f -N finish" pass
    ;;
planted)
    export PAN_OPT=-O0   # few states: compiling pan.c dominates
    check "bug 1 (take without CAS), 1 collector"     "-DR=2 -DM=1 -DPLANTED_BUG=1"            "$safety" "" fail
    check "bug 1 (take without CAS), 2 mergers"       "-DR=2 -DM=2 -DPLANTED_BUG=1"            "$safety" "" fail
    check "bug 2 (batch_seq before word), ordered"    "-DR=2 -DM=1 -DORDERED -DPLANTED_BUG=2"  "$safety" "" fail
    check "bug 3 (word loaded before batch_seq)"      "-DR=2 -DM=1 -DORDERED -DPLANTED_BUG=3"  "$safety" "" fail
    check "bug 4 (merge back without CAS), 1 collector" "-DR=2 -DM=1 -DPLANTED_BUG=4"          "$safety" "" fail
    check "bug 4 (merge back without CAS), 2 mergers" "-DR=2 -DM=2 -DPLANTED_BUG=4"            "$safety" "" fail
    check "bug 5 (no spill at the first eviction)"    "-DR=2 -DM=1 -DCAP=1 -DPLANTED_BUG=5"    "$safety" "" fail
    ;;
*)
    echo "usage: $0 verify|deep|liveness|planted" >&2
    exit 2
    ;;
esac

if ((failures != 0)); then
    echo "$failures check(s) failed"
    exit 1
fi
