#!/usr/bin/env bash
# Rows of the GPU quality benchmark on Debian (round 32's command: the claim-sized 3,000-note pool, 700 x 64 pairs of
# recipes/smollm2-135m-gpu/config_quality.yaml), each variant trained and then scored by its own process, the
# variants side by side on one GPU: a 135M model leaves most of it idle (an H200 ran three runs at 2.06 steps/s each,
# 6.2 together, where round 32's single run made 3.5). Each row's hybrid with TF-IDF is scored at weight 0.5, the one
# Debian dev chose for NoteLLM (round 19; not for w/o GCL, which is not an encoder to serve). The host's cores are split between the runs. Compare the
# rows with round 32's on the same pool and pairs:
#   python benchmarks/compare_rows.py --reference "OUT/<variant, other than letters and digits as _>/debian/report/results.json:<variant>" \
#       --row benchmarks/results/debian/round32_gpu_h200_test_pool.json:minilm-finetuned
#   bash benchmarks/quality_gpu_rows.sh OUT VARIANT [VARIANT ...]   (e.g. "NoteLLM w/o CSFT" "lexical block")
# STEPS, POOL and EXTRA (recipe flags for every run, e.g. a smoke test's "--bf16 false") override the defaults.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: bash benchmarks/quality_gpu_rows.sh OUT VARIANT [VARIANT ...]" >&2
  exit 2
fi
out=$1
shift
python=${PYTHON:-python}
steps=${STEPS:-700}
quality=("$python" benchmarks/quality.py --config recipes/smollm2-135m-gpu/config_quality.yaml --data debian
         --pool "${POOL:-3000}" --train-pairs 1000000 --steps "$steps" --minilm-steps "$steps" --minilm-max-tokens 256
         --generation-notes 100 --baselines "" --extra "${EXTRA:-}")
mkdir -p "$out"
"${quality[@]}" --train-only --variants "" --out "$out/data"  # the data set and the converted backbone, once
threads=$(( $(nproc) > $# ? $(nproc) / $# : 1 ))
pids=()
for variant in "$@"; do
  slug=${variant//[^A-Za-z0-9]/_}
  hybrid=(--lexical "$variant=0.5")
  [ "$variant" = "NoteLLM w/o GCL" ] && hybrid=()
  OMP_NUM_THREADS=$threads "${quality[@]}" --variants "$variant" "${hybrid[@]}" --out "$out/$slug" \
    >"$out/$slug.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
tail -n 12 "$out"/*.log
exit $status
