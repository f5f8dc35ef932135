#!/usr/bin/env bash
# The Slurm recipe on a real Slurm: installs Debian's slurm-wlm and munge if they are absent,
# starts a one-node cluster on this machine (munged, slurmctld and slurmd, on the loopback
# address, with a generated slurm.conf, keys, state and logs under a temporary directory),
# submits deploy/slurm/dealsim-array.sbatch as an array of 8 shards and
# deploy/slurm/dealsim-merge.sbatch after it (--dependency=afterok), and checks that the merged
# summary.csv, timeseries.csv, comparison.csv and sensitivity.csv are byte-identical to one run
# in one go. Then, as after a failed task: a shard directory removed, merge names the missing
# index, the shard is re-submitted alone (--array=3 with DEALSIM_SHARD_COUNT=8), and the merge
# matches again. On success or failure it cancels its jobs, stops the daemons it started (by
# their PIDs) and removes its files; every wait is bounded, and a wait that runs out prints the
# daemons' logs and fails.
#
#   scripts/test-slurm.sh [DEALSIM_BINARY]    (default: $CARGO_TARGET_DIR or target, release/dealsim)
#
# Needs root (apt-get, daemons). SLURM_TEST_PATHS (default 120000: 8 chunks of 16,384 paths, one
# per shard, the last partial) and SLURM_TEST_TIMEOUT (seconds per wait, default 180) tune it.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
binary=${1:-${CARGO_TARGET_DIR:-target}/release/dealsim}
[[ -x $binary ]] || { echo "test-slurm: no dealsim binary at $binary (cargo build --release)" >&2; exit 1; }
dealsim=$(realpath "$binary")
paths=${SLURM_TEST_PATHS:-120000}
limit=${SLURM_TEST_TIMEOUT:-180}
shards=8
started=$(date +%s)

if ! command -v slurmctld > /dev/null || ! command -v slurmd > /dev/null || ! command -v sbatch > /dev/null \
  || ! command -v munged > /dev/null; then
  echo "test-slurm: installing slurm-wlm and munge from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq
  timeout 900 apt-get install -y -qq slurm-wlm munge > /dev/null
  echo "test-slurm: installed in $(($(date +%s) - started)) s"
fi

work=$(mktemp -d)
chmod 700 "$work"
mkdir -p "$work/state" "$work/spool" "$work/logs" "$work/runs"
daemons=()  # "name:pid" of each daemon this script started

logs() {
  for log in "$work"/*.log "$work"/*.out "$work"/logs/*; do
    [[ -f $log ]] || continue
    echo "----- $log (last 40 lines)"
    tail -n 40 "$log"
  done
}

cleanup() {
  local status=$?
  set +e
  trap - EXIT
  if [[ ${SLURM_CONF:-} && -f $SLURM_CONF ]] && ((${#daemons[@]} > 0)); then
    # Jobs first, so no slurmstepd or dealsim outlives the cluster.
    local jobs
    mapfile -t jobs < <(timeout 5 squeue -h -o %A 2> /dev/null | sort -u)
    ((${#jobs[@]} > 0)) && timeout 10 scancel --full --quiet "${jobs[@]}"
    for _ in $(seq 20); do
      [[ -z $(timeout 5 squeue -h -o %A 2> /dev/null) ]] && break
      sleep 1
    done
  fi
  for ((i = ${#daemons[@]} - 1; i >= 0; i--)); do
    local pid=${daemons[i]#*:}
    kill "$pid" 2> /dev/null || continue
    for _ in $(seq 50); do
      kill -0 "$pid" 2> /dev/null || break
      sleep 0.2
    done
    kill -9 "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
  done
  if ((status != 0)); then
    echo "test-slurm: FAILED (exit $status); the cluster's logs:" >&2
    logs >&2
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for DESCRIPTION COMMAND...: runs COMMAND each second until it succeeds, for $limit s.
wait_for() {
  local what=$1
  shift
  for _ in $(seq "$limit"); do
    "$@" > /dev/null 2>&1 && return 0
    sleep 1
  done
  echo "test-slurm: timed out after $limit s waiting for $what" >&2
  return 1
}

# Two TCP ports nothing listens on, for slurmctld and slurmd.
listening() {
  local hex
  hex=$(printf '%04X' "$1")
  grep -qE ":$hex [0-9A-F]+:0000 0A" /proc/net/tcp /proc/net/tcp6 2> /dev/null
}
port=$((20000 + RANDOM % 30000))
while listening "$port" || listening $((port + 1)); do
  port=$((port + 2))
done

# munged, with its own key, socket, seed, pid and log files.
head -c 1024 /dev/urandom > "$work/munge.key"
chmod 400 "$work/munge.key"
munged --foreground --force --key-file="$work/munge.key" --socket="$work/munge.socket" \
  --pid-file="$work/munged.pid" --seed-file="$work/munge.seed" --log-file="$work/munged.log" \
  > "$work/munged.out" 2>&1 &
daemons+=("munged:$!")
wait_for "munged's socket" test -S "$work/munge.socket"

node=$(hostname -s)
cat > "$work/slurm.conf" << EOF
ClusterName=dealsimtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$work/slurm.conf
slurmctld -D -f "$SLURM_CONF" > "$work/slurmctld.out" 2>&1 &
daemons+=("slurmctld:$!")
slurmd -D -f "$SLURM_CONF" -N "$node" > "$work/slurmd.out" 2>&1 &
daemons+=("slurmd:$!")
node_idle() { [[ $(sinfo -h -n "$node" -o %t) == idle ]]; }
wait_for "the node to be idle" node_idle
echo "test-slurm: cluster up in $(($(date +%s) - started)) s (controller on 127.0.0.1:$port)"

scenario=$repo/scenarios/base.toml
run=$work/runs/base
export DEALSIM=$dealsim
submit() { sbatch --parsable --chdir="$work" --output="$work/logs/%x-%A_%a.out" "$@"; }
queue_empty() { [[ -z $(squeue -h -o %A) ]]; }
job_state() { scontrol show job -o "$1" | grep -o 'JobState=[A-Z_]*' | sort -u | tr '\n' ' '; }
compare() {
  for file in summary.csv timeseries.csv comparison.csv sensitivity.csv; do
    [[ -f $work/whole/$file || -f $run/merged/$file ]] || continue
    cmp "$work/whole/$file" "$run/merged/$file"
  done
}

array=$(submit --array=0-$((shards - 1)) deploy/slurm/dealsim-array.sbatch "$scenario" "$run" --paths "$paths")
merge=$(submit --dependency=afterok:"$array" deploy/slurm/dealsim-merge.sbatch "$scenario" "$run" --no-charts)
echo "test-slurm: submitted array job $array ($shards shards of $paths paths) and merge job $merge"
"$dealsim" run "$scenario" --paths "$paths" --no-charts --out "$work/whole" > "$work/logs/whole.out"
wait_for "the array and the merge to finish" queue_empty
for job in "$array" "$merge"; do
  [[ $(job_state "$job") == "JobState=COMPLETED " ]] || { echo "job $job: $(job_state "$job")" >&2; exit 1; }
done
compare
echo "test-slurm: the $shards shards Slurm ran and merged are byte-identical to one run"

# A lost shard: merge names it; re-submitted alone, it completes the run again.
rm -r "$run/shard-3"
if "$dealsim" merge "$scenario" "$run" --no-charts > /dev/null 2> "$work/logs/missing.err"; then
  echo "test-slurm: a merge without shard 3 succeeded" >&2
  exit 1
fi
grep -q "1 of the 8 shards is missing: index 3 (--shard 4/8)" "$work/logs/missing.err" || {
  cat "$work/logs/missing.err" >&2
  exit 1
}
rerun=$(submit --array=3 --export=ALL,DEALSIM_SHARD_COUNT=$shards deploy/slurm/dealsim-array.sbatch "$scenario" "$run" \
  --paths "$paths")
wait_for "the re-run of shard 3" queue_empty
[[ $(job_state "$rerun") == "JobState=COMPLETED " ]] || { echo "job $rerun: $(job_state "$rerun")" >&2; exit 1; }
"$dealsim" merge "$scenario" "$run" --no-charts > /dev/null
compare
echo "test-slurm: shard 3 re-run alone (--array=3, DEALSIM_SHARD_COUNT=$shards) completes the run: identical again"
echo "test-slurm: ok in $(($(date +%s) - started)) s"
