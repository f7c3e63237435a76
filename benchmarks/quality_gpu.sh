#!/usr/bin/env bash
# The quality benchmark on one GPU (recipes/smollm2-135m-gpu/config_quality.yaml): the two sets run side by side
# (a 135M model leaves most of an H100 idle; three runs at 128 notes/step each do not fit in 80 GB), each training
# its three variants and then scoring every row (MiniLM fine-tuned for as many batches of 64 pairs as NoteLLM).
# Training pairs: every pair of each set's training split; Debian is scored on the claim-sized 3,000-note pool.
# Defaults: the steps of benchmarks/RESULTS.md (Debian 700: round 32 on an H200, which added the hybrid rows with
# `--lexical NoteLLM=0.5 --lexical minilm-finetuned=0.5`).
#   bash benchmarks/quality_gpu.sh [OUT] [DEBIAN_STEPS] [MOVIELENS_STEPS]
set -euo pipefail
out=${1:-outputs/quality-gpu}
debian_steps=${2:-700}
movielens_steps=${3:-300}
python=${PYTHON:-python}
mkdir -p "$out"

quality() {
  "$python" benchmarks/quality.py --config recipes/smollm2-135m-gpu/config_quality.yaml --train-pairs 1000000 \
    --out "$out" --generation-notes 100 --minilm-max-tokens 256 "$@"
}
declare -A sets=([debian]="--data debian --pool 3000 --steps $debian_steps --minilm-steps $debian_steps"
                 [movielens]="--data movielens --pool 1019 --steps $movielens_steps --minilm-steps $movielens_steps")
for name in "${!sets[@]}"; do  # data sets and the converted backbone, once, before the parallel runs
  # shellcheck disable=SC2086
  quality ${sets[$name]} --train-only --variants ""
done
pids=()
for name in "${!sets[@]}"; do
  # shellcheck disable=SC2086
  quality ${sets[$name]} >"$out/$name.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
tail -n 30 "$out"/*.log
