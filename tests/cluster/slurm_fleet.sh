#!/bin/bash
# The fleet test: the README's Slurm job array (harness/spill-sweep.sbatch)
# on a real one-node Slurm cluster started here from Debian's packages.
#
#   slurm_fleet.sh SPILL_BENCH        (meson test --setup=full slurm_fleet)
#
# 1. munged with a key made for this run, slurmctld and slurmd with a
#    slurm.conf made from slurm.conf.in (this node's name and CPUs as
#    `slurmd -C` reports them, free ports, every file in one temporary
#    folder, 127.0.0.1 only);
# 2. sbatch harness/spill-sweep.sbatch over tests/cluster/sweep as a 3-task
#    array, wait for it (SPILL_FLEET_TIMEOUT seconds, default 300);
# 3. spill-bench merge the shards, run the same sweep in one process, and
#    check (same_points.py) that the merged file holds exactly its points,
#    each passed, each shard the points p % 3 == i;
# 4. stop the daemons (by the process ids this script started) and remove
#    the folder.
#
# When the cluster cannot start here (a package missing, not root, a daemon
# that will not run) the test says why (with the daemon's last log lines)
# and fails in CI (CI=true); elsewhere it is a loud skip (exit 77). A job
# that fails or a wrong merged file is a failure everywhere.
# SPILL_FLEET_KEEP=1 keeps the folder for a look afterwards.
set -euo pipefail

bench=${1:?usage: slurm_fleet.sh SPILL_BENCH}
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
root=${SPILL_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
script=$root/harness/spill-sweep.sbatch
sweep=$here/sweep
shards=3
timeout=${SPILL_FLEET_TIMEOUT:-300}
[[ -x $bench ]] || { echo "slurm_fleet: spill-bench '$bench' is not an executable file" >&2; exit 2; }
bench=$(readlink -f "$bench")
[[ $timeout =~ ^[1-9][0-9]*$ ]] || { echo "slurm_fleet: SPILL_FLEET_TIMEOUT '$timeout' is not a positive number of seconds" >&2; exit 2; }

# Settings of a Slurm job that runs this test, or of the caller's shell, are
# not ours: the job array gets only what this script gives it.
while read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(SLURM|SBATCH|SRUN|SALLOC|SQUEUE|SINFO)_' || true)
unset SPILL_SHARDS

dir=
pids=()
jobid=
say() { echo "slurm_fleet: $*"; }

cleanup() {
    local rc=$?
    if [[ -n $jobid && -n $dir ]]; then
        scancel "$jobid" 2>/dev/null || true
        for _ in $(seq 20); do
            [[ -z $(squeue -h -j "$jobid" 2>/dev/null) ]] && break
            sleep 0.5
        done
    fi
    local k
    for ((k = ${#pids[@]} - 1; k >= 0; k--)); do  # slurmd, slurmctld, then munged
        kill "${pids[k]}" 2>/dev/null || true
    done
    for ((k = ${#pids[@]} - 1; k >= 0; k--)); do
        for _ in $(seq 50); do kill -0 "${pids[k]}" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "${pids[k]}" 2>/dev/null || true
        wait "${pids[k]}" 2>/dev/null || true
    done
    if [[ -n $dir ]]; then
        if [[ ${SPILL_FLEET_KEEP:-0} == 1 ]]; then
            say "kept $dir (SPILL_FLEET_KEEP=1)"
        else
            rm -rf "$dir"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The last lines of each daemon's log, for a reason (without the lines about
# the MPI plugins Debian ships but this test does not use).
logs() {
    local f
    for f in "$dir"/log/{munged,slurmctld,slurmd}.log; do
        [[ -s $f ]] || continue
        echo "--- last lines of $f"
        grep -v -e 'pmix' -e 'MPI: Cannot create context' "$f" | tail -n 12
    done
}

# The last line a daemon logged.
last_line() { grep -v -e 'pmix' -e 'MPI: Cannot create context' "$dir/log/$1.log" 2>/dev/null | tail -n 1; }

# The cluster cannot run here: a failure in CI, a loud skip elsewhere.
unavailable() {
    [[ -n $dir ]] && logs
    if [[ ${CI:-} == true ]]; then
        echo "REQUIRED CHECK NOT RUN: slurm fleet: $* (CI=true: this is a failure)"
        exit 1
    fi
    echo "SKIP (required in CI): slurm fleet: $*"
    exit 77
}

fail() {
    [[ -n $dir ]] && logs
    echo "FAILED: slurm fleet: $*"
    exit 1
}

# ---- what the cluster needs ------------------------------------------------
missing=()
for tool in munged:munge mungekey:munge munge:munge unmunge:munge slurmctld:slurmctld slurmd:slurmd \
            sbatch:slurm-client squeue:slurm-client scontrol:slurm-client sinfo:slurm-client scancel:slurm-client; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool%%:*} (Debian package ${tool##*:})")
done
((${#missing[@]} == 0)) || unavailable "not installed: ${missing[*]}; ./bench installs them"
[[ $(id -u) == 0 ]] || unavailable "slurmd must run as root to start jobs (this is uid $(id -u))"

# The README shows the very script this test submits.
/usr/bin/python3 "$here/readme_script.py" "$root/harness/README.md" "$script" || fail "harness/README.md does not show $script"

# ---- one folder for everything ---------------------------------------------
dir=$(mktemp -d "${TMPDIR:-/tmp}/spill-fleet.XXXXXX")
chmod 755 "$dir"  # munged wants its socket's folders searchable by everyone
mkdir -p "$dir"/{munge,state,spool,log,shards,work}
host=$(hostname -s)

# ---- munge -----------------------------------------------------------------
mungekey --create --keyfile="$dir/munge/munge.key" >"$dir/log/mungekey.log" 2>&1 || unavailable "mungekey could not make a key"
munged --foreground --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munged.seed" >"$dir/log/munged.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    munge -n -S "$dir/munge/munge.socket" 2>/dev/null | unmunge -S "$dir/munge/munge.socket" >/dev/null 2>&1 && break
    kill -0 "${pids[0]}" 2>/dev/null || unavailable "munged exited: $(last_line munged)"
    sleep 0.1
done
munge -n -S "$dir/munge/munge.socket" 2>/dev/null | unmunge -S "$dir/munge/munge.socket" >/dev/null 2>&1 \
    || unavailable "munged does not answer on $dir/munge/munge.socket after 10 s"
say "munged up (pid ${pids[0]})"

# ---- slurm.conf ------------------------------------------------------------
node=$(slurmd -C 2>"$dir/log/slurmd-C.log" | head -n 1) || true
[[ $node == NodeName=* ]] || unavailable "slurmd -C does not describe this node: $(head -c 300 "$dir/log/slurmd-C.log")"
node=$(sed -E 's/ RealMemory=[0-9]+//' <<<"$node")
read -r ctld_port slurmd_port < <(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
sed -e "s|@HOST@|$host|g" -e "s|@DIR@|$dir|g" -e "s|@CTLD_PORT@|$ctld_port|g" \
    -e "s|@SLURMD_PORT@|$slurmd_port|g" -e "s|@NODE@|$node|g" "$here/slurm.conf.in" >"$dir/slurm.conf"
if grep -n '@[A-Z_]*@' "$dir/slurm.conf"; then fail "slurm.conf.in has a name this script does not fill in"; fi
export SLURM_CONF=$dir/slurm.conf
cpus=$(sed -nE 's/.* CPUs=([0-9]+).*/\1/p' <<<"$node")
say "node: $node; ports $ctld_port (slurmctld), $slurmd_port (slurmd)"

# ---- slurmctld, slurmd -----------------------------------------------------
slurmctld -D -i -f "$SLURM_CONF" >"$dir/log/slurmctld.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    scontrol ping 2>/dev/null | grep -q 'is UP' && break
    kill -0 "${pids[1]}" 2>/dev/null || unavailable "slurmctld exited: $(last_line slurmctld)"
    sleep 0.2
done
scontrol ping 2>/dev/null | grep -q 'is UP' || unavailable "slurmctld does not answer after 20 s"
say "slurmctld up (pid ${pids[1]})"

slurmd -D -f "$SLURM_CONF" >"$dir/log/slurmd.log" 2>&1 &
pids+=($!)
state=
for _ in $(seq 150); do
    state=$(sinfo -h -N -n "$host" -o '%T' 2>/dev/null || true)
    [[ $state == idle ]] && break
    kill -0 "${pids[2]}" 2>/dev/null || unavailable "slurmd exited: $(last_line slurmd)"
    sleep 0.2
done
[[ $state == idle ]] || unavailable "node $host is '${state:-unknown}', not idle, 30 s after slurmd started: $(sinfo -h -R 2>/dev/null)"
say "slurmd up (pid ${pids[2]}); node $host idle with $cpus CPUs"

# ---- the job array ---------------------------------------------------------
# The README's script, as written; only what differs on a one-node test
# cluster is given on the command line (which overrides #SBATCH lines): the
# array size, CPUs per task, a short time limit and where the logs go.
submitted=$SECONDS
jobid=$(cd "$dir/work" && SPILL_BENCH=$bench SPILL_SWEEP=$sweep SPILL_OUT=$dir/shards \
    sbatch --parsable --array=0-$((shards - 1)) --cpus-per-task="$cpus" --time=10 \
        --output="$dir/log/task-%a.out" "$script" 2>"$dir/log/sbatch.err") \
    || fail "sbatch refused the job: $(cat "$dir/log/sbatch.err")"
jobid=${jobid%%;*}
say "submitted job array $jobid ($shards tasks)"
while [[ -n $(squeue -h -j "$jobid" 2>/dev/null) ]]; do
    if ((SECONDS - submitted > timeout)); then
        squeue -j "$jobid" || true
        fail "job array $jobid not finished after $timeout s (SPILL_FLEET_TIMEOUT)"
    fi
    sleep 1
done
say "job array done in $((SECONDS - submitted)) s"
tasks=$(scontrol -o show job "$jobid" 2>/dev/null || true)
bad=$(grep -v 'JobState=COMPLETED .*ExitCode=0:0' <<<"$tasks" || true)
count=$(grep -c 'JobState=' <<<"$tasks" || true)
if [[ -n $bad || $count != "$shards" ]]; then
    for f in "$dir"/log/task-*.out; do echo "--- ${f##*/}"; tail -n 15 "$f"; done
    fail "expected $shards tasks COMPLETED with exit code 0:0, scontrol shows $count: $(sed -E 's/.*(JobId=[0-9]+ ArrayJobId=[0-9]+ ArrayTaskId=[0-9]+).*(JobState=[A-Z_]+).*(ExitCode=[0-9:]+).*/\1 \2 \3/' <<<"$tasks" | tr '\n' ';')"
fi

# ---- merge, and the same sweep in one process ------------------------------
shard_files=()
for ((i = 0; i < shards; i++)); do shard_files+=("$dir/shards/shard-$i.json"); done
"$bench" merge "$dir/merged.json" "${shard_files[@]}" || fail "spill-bench merge failed"
"$bench" sweep "$sweep" --out "$dir/single.json" --quiet >"$dir/log/single.out" 2>&1 \
    || { tail -n 20 "$dir/log/single.out"; fail "the sweep in one process failed"; }
/usr/bin/python3 "$here/same_points.py" --merged "$dir/merged.json" --single "$dir/single.json" \
    --host "$host" "${shard_files[@]}" || fail "the merged file is not the sweep run in one process"
say "passed in $SECONDS s"
