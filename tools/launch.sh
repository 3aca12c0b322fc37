#!/usr/bin/env bash
# Data-parallel launcher for the dfer training programs:
#   tools/launch.sh [--nproc N] [--nnodes M --node-rank R --master ADDR:PORT] [--max-restarts K]
#                   PROGRAM [program arguments...]
# PROGRAM is a path or a name in build/bin (dfer-finetune, dfer-pretrain, ...). It runs PyTorch's
# own launcher, `torchrun --no-python`, from the project's virtual environment (or $DFER_TORCHRUN);
# without one it starts the N local processes itself with the variables torchrun would set
# (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), and stops them all
# when one fails. N defaults to the number of GPUs nvidia-smi lists, else 1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage() { sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

nproc="" nnodes=1 node_rank=0 master="" restarts=0
while [ $# -gt 0 ]; do
  case "$1" in
    --nproc|--nproc-per-node|--nproc_per_node) nproc="$2"; shift 2 ;;
    --nnodes) nnodes="$2"; shift 2 ;;
    --node-rank|--node_rank) node_rank="$2"; shift 2 ;;
    --master) master="$2"; shift 2 ;;
    --max-restarts|--max_restarts) restarts="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    --) shift; break ;;
    -*) echo "launch.sh: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage
program="$1"; shift
if [[ "$program" != */* ]] && [ -x "$ROOT/build/bin/$program" ]; then program="$ROOT/build/bin/$program"; fi
[ -x "$program" ] || { echo "launch.sh: '$program' is not an executable" >&2; exit 2; }
if [ -z "$nproc" ]; then
  nproc=$( (nvidia-smi -L 2>/dev/null || true) | grep -c '^GPU' || true)
  [ "$nproc" -ge 1 ] 2>/dev/null || nproc=1
fi
[ "$nnodes" -gt 1 ] && [ -z "$master" ] && {
  echo "launch.sh: --nnodes $nnodes needs --master ADDR:PORT (the host of node rank 0)" >&2; exit 2; }

torchrun="${DFER_TORCHRUN:-$ROOT/.venv/bin/torchrun}"
if [ -x "$torchrun" ] && "$torchrun" --help >/dev/null 2>&1; then
  if [ "$nnodes" -eq 1 ] && [ -z "$master" ]; then
    rdzv=(--standalone)  # a free local port, chosen by torchrun
  else
    rdzv=(--nnodes "$nnodes" --node-rank "$node_rank" --rdzv-backend c10d --rdzv-endpoint "$master")
  fi
  exec "$torchrun" --no-python "${rdzv[@]}" --nproc-per-node "$nproc" \
    --max-restarts "$restarts" "$program" "$@"
fi

# No torchrun: one node only, processes started here.
[ "$nnodes" -eq 1 ] || { echo "launch.sh: several nodes need torchrun (tools/test.sh installs it) or srun" >&2; exit 2; }
echo "launch.sh: no torchrun at $torchrun; starting $nproc processes directly" >&2
addr="${master%:*}"; port="${master##*:}"
[ -n "$master" ] || { addr=127.0.0.1; port=$((29500 + RANDOM % 1000)); }
pids=()
for ((r = 0; r < nproc; r++)); do
  RANK=$r LOCAL_RANK=$r WORLD_SIZE=$nproc LOCAL_WORLD_SIZE=$nproc MASTER_ADDR=$addr \
    MASTER_PORT=$port OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" "$program" "$@" &
  pids+=($!)
done
trap 'kill -TERM "${pids[@]}" 2>/dev/null || true' INT TERM
status=0
for ((left = nproc; left > 0; left--)); do
  code=0
  wait -n "${pids[@]}" || code=$?
  if [ "$code" -ne 0 ] && [ "$status" -eq 0 ]; then
    status=$code
    echo "launch.sh: a process exited with $code; stopping the others" >&2
    kill -TERM "${pids[@]}" 2>/dev/null || true
  fi
done
exit "$status"
