#!/usr/bin/env bash
# Run a spikefit job on a Slurm allocation: Ray head on the first node (where this batch script
# runs), Ray workers on the others (one srun step each), then the job itself on the head node.
#
#   sbatch deploy/slurm.sh jobs/quickstart.toml            # extra args go to `spikefit run`
#   sbatch --nodes=1 --cpus-per-task=2 --gpus-per-node=0 deploy/slurm.sh JOB   # other sizes
#
# Environment (sbatch passes the submitting shell's): SPIKEFIT_VENV (the venv with spikefit,
# default ./.venv), RAY_PORT (GCS port, 6379), RAY_HEAD_IP (the address workers reach the head
# at, default `hostname --ip-address` of the head), RAY_HEAD_ARGS / RAY_WORKER_ARGS (more
# `ray start` options, e.g. --temp-dir=... or port options, split on spaces).
#
# Token authentication (Ray 2.60 default): all nodes must share one token. This script makes a
# fresh token per job and exports it as RAY_AUTH_TOKEN (never on a command line or in a file);
# srun passes it to every step, so head, workers and the driver all use the same value.
# At the end the script stops its own Ray steps only (never `ray stop`, which would also stop
# other Ray clusters of the same user on these nodes).
#
#SBATCH --job-name=spikefit
#SBATCH --nodes=3
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=16
#SBATCH --gpus-per-node=1
#SBATCH --time=02:00:00
#SBATCH --output=spikefit-%j.log

set -euo pipefail

JOB=${1:?usage: sbatch deploy/slurm.sh jobs/<job>.toml [spikefit run options]}
shift
VENV=${SPIKEFIT_VENV:-$PWD/.venv}
PORT=${RAY_PORT:-6379}
read -r -a HEAD_ARGS <<< "${RAY_HEAD_ARGS:-}"
read -r -a WORKER_ARGS <<< "${RAY_WORKER_ARGS:-}"
# shellcheck disable=SC1091
source "$VENV/bin/activate"

mapfile -t NODES < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
HEAD=${NODES[0]}
HEAD_IP=${RAY_HEAD_IP:-$(hostname --ip-address | awk '{print $1}')}
ADDRESS="$HEAD_IP:$PORT"

RAY_AUTH_TOKEN=$(python -c "import secrets; print(secrets.token_hex(32))")
export RAY_AUTH_TOKEN
export RAY_AUTH_MODE=token   # drivers (ray.init, spikefit run) send the token only in this mode

CPUS=${SLURM_CPUS_PER_TASK:-1}
GPUS=${SLURM_GPUS_PER_NODE:-0}
GPUS=${GPUS##*:}   # "a100:1" -> "1"

# when stopped at the end, Ray nodes shut down at once (no 30 s drain: the job is done)
export RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S=${RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S:-0}
STEPS=()   # the srun processes of the steps running `ray start --block`
stop_ray() {   # SIGTERM to the steps' tasks (not this script): ray start stops its processes
  if ((${#STEPS[@]})); then
    echo "stopping the Ray steps (slurm reports them cancelled)"
    scancel --signal=TERM "$SLURM_JOB_ID" 2>/dev/null || kill "${STEPS[@]}" 2>/dev/null || true
    wait "${STEPS[@]}" 2>/dev/null || true
  fi
}
trap stop_ray EXIT

steps_alive() {
  local pid
  for pid in "${STEPS[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "spikefit: a ray start step exited, see above" >&2; return 1; }
  done
}

echo "ray head on $HEAD ($ADDRESS), ${#NODES[@]} nodes"
srun --nodes=1 --ntasks=1 --cpus-per-task="$CPUS" -w "$HEAD" \
  ray start --head --block --node-ip-address="$HEAD_IP" --port="$PORT" \
  --num-cpus="$CPUS" --num-gpus="$GPUS" "${HEAD_ARGS[@]}" &
STEPS+=($!)
for _ in $(seq 240); do   # until the head's GCS port accepts connections (2 min)
  steps_alive
  (exec 3<>"/dev/tcp/$HEAD_IP/$PORT") 2>/dev/null && break
  sleep 0.5
done

for node in "${NODES[@]:1}"; do
  srun --nodes=1 --ntasks=1 --cpus-per-task="$CPUS" -w "$node" \
    ray start --block --address="$ADDRESS" --num-cpus="$CPUS" --num-gpus="$GPUS" "${WORKER_ARGS[@]}" &
  STEPS+=($!)
done

# until every node has joined (5 min), so the job's workers spread over all of them
python - "$ADDRESS" "${#NODES[@]}" <<'PY'
import sys, time
import ray
address, want = sys.argv[1], int(sys.argv[2])
ray.init(address=address, logging_level="ERROR", log_to_driver=False)
deadline = time.monotonic() + 300
while (alive := sum(n["Alive"] for n in ray.nodes())) < want:
    if time.monotonic() > deadline:
        sys.exit(f"spikefit: only {alive} of {want} Ray nodes joined within 300 s")
    time.sleep(1)
print(f"{alive} Ray nodes up")
PY
steps_alive

status=0
spikefit run "$JOB" --address "$ADDRESS" --no-progress "$@" || status=$?
exit $status
