#!/usr/bin/env bash
# Run a spikefit job on a Slurm allocation: Ray head on the first node, Ray workers on the
# others (one srun step each), then the job itself on the head node.
#
#   sbatch deploy/slurm.sh jobs/quickstart.toml            # extra args go to `spikefit run`
#
# Token authentication (Ray 2.60 default): all nodes must share one token. This script writes a
# fresh token to a private file on the (shared) submit directory and exports RAY_AUTH_TOKEN,
# which srun passes to every step, so head, workers and the driver all use the same value.
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
# shellcheck disable=SC1091
source "$VENV/bin/activate"

mapfile -t NODES < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
HEAD=${NODES[0]}
HEAD_IP=$(srun --nodes=1 --ntasks=1 -w "$HEAD" hostname --ip-address | awk '{print $1}')
ADDRESS="$HEAD_IP:$PORT"

TOKEN_FILE="$PWD/.ray-token-$SLURM_JOB_ID"
umask 077
python -c "import secrets; print(secrets.token_hex(32))" > "$TOKEN_FILE"
RAY_AUTH_TOKEN=$(cat "$TOKEN_FILE")
export RAY_AUTH_TOKEN
trap 'rm -f "$TOKEN_FILE"' EXIT

CPUS=${SLURM_CPUS_PER_TASK:-1}
GPUS=${SLURM_GPUS_PER_NODE:-0}
GPUS=${GPUS##*:}   # "a100:1" -> "1"

echo "ray head on $HEAD ($ADDRESS), ${#NODES[@]} nodes"
srun --nodes=1 --ntasks=1 -w "$HEAD" \
  ray start --head --node-ip-address="$HEAD_IP" --port="$PORT" \
  --num-cpus="$CPUS" --num-gpus="$GPUS" --block &
sleep 20

for node in "${NODES[@]:1}"; do
  srun --nodes=1 --ntasks=1 -w "$node" \
    ray start --address="$ADDRESS" --num-cpus="$CPUS" --num-gpus="$GPUS" --block &
  sleep 5
done

RAY_ADDRESS="$ADDRESS" ray status || true
status=0
spikefit run "$JOB" --address "$ADDRESS" --no-progress "$@" || status=$?
ray stop || true
exit $status
