#!/bin/bash
# Trains the vanilla and LORS decoders side by side on one CUDA GPU, from a small copy of the data, inside one
# device call: python3 -m training.lors_studio.gpu_train (one process, both decoders on the same batches; photos
# resident on the GPU, pixel-space augmentation there, NanoDet-g's features recomputed per batch, bf16 autocast,
# batched matching costs; a timing probe sets the epochs that fit BUDGET_S), then the float16 exports, logs and
# curves are packed into ≤ 15 MiB parts under $OUT. Everything the GPU machine needs travels in DATA (git-ignored,
# made here first, 57 MiB):
#   DATA/train/*.webp, DATA/val/*.webp   python3 -m training.lors_studio.features shrink ... (416-px copies)
#   DATA/ann/instances_{train,val}.json  the COCO annotations without segmentations (shrink --annotations-out)
#   DATA/nanodet/                        NanoDet-g's TFJS graph (public/models/nanodet)
#   OUT=out BUDGET_S=520 bash scripts/gpu-train.sh gpu-data
# or, when DATA does not travel beside the checkout in one call, its parts (scripts/gpu-data-split.sh):
#   OUT=out BUDGET_S=480 bash scripts/gpu-train.sh gpu-data-1 gpu-data-2 gpu-data-3
# env: BUDGET_S (seconds from the start for everything but packing), BATCH (128), LR (default: 2e-4·sqrt(BATCH/16)),
# WARMUP (100 steps), SCHEDULE (step|cosine), POS_SCALE (312), MAX_EPOCHS, COMPILE=1 (torch.compile), DISTILL=W
# (score distillation weight; DISTILL_BETA, default 2), INIT=DIR (each variant starts from DIR/<variant>, exported
# weights), EXTRA (more gpu_train arguments), WORK (default /tmp/lors-gpu); DEVICE=cpu LIMIT=N for a local dry run
# (scripts/gpu-train-smoke.sh).
set -euo pipefail
export PYTHONUNBUFFERED=1
T0=$(date +%s)
OUT=${OUT:?set OUT}
PY=${PYTHON:-python3}
W=${WORK:-/tmp/lors-gpu}
mkdir -p "$W" "$OUT"
exec > >(tee "$OUT/gpu-train.log") 2>&1
DATA=${1:-gpu-data}
if [ $# -gt 1 ]; then # parts of one folder (scripts/gpu-data-split.sh): merged by symbolic links
  DATA=$W/data
  rm -rf "$DATA" && mkdir -p "$DATA"
  for part in "$@"; do
    [ -d "$part" ] || { echo "gpu-train: $part is missing (a fresh machine? send the parts again, one call each)"; exit 2; }
    cp -rs "$(cd "$part" && pwd)/." "$DATA/"
  done
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c "import torch, scipy, PIL; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
args=(--data "$DATA" --work "$W" --t0 "$T0" --budget-s "${BUDGET_S:-520}" --batch-size "${BATCH:-128}"
      --warmup "${WARMUP:-100}" --schedule "${SCHEDULE:-step}" --pos-scale "${POS_SCALE:-312}"
      --max-epochs "${MAX_EPOCHS:-400}" --device "${DEVICE:-cuda}" --seed 0 --float16)
[ -n "${LR:-}" ] && args+=(--lr "$LR")
[ "${COMPILE:-0}" = 1 ] && args+=(--compile)
[ -n "${DISTILL:-}" ] && args+=(--distill "$DISTILL" --distill-beta "${DISTILL_BETA:-2}")
[ -n "${INIT:-}" ] && args+=(--init "$INIT")
[ -n "${LIMIT:-}" ] && args+=(--limit "$LIMIT" --val-limit "$LIMIT")
set +e
$PY -m training.lors_studio.gpu_train "${args[@]}" ${EXTRA:-}
rc=$?
echo "training finished (rc $rc) at $(( $(date +%s) - T0 )) s"
mkdir -p "$W/logs"
for v in vanilla lors; do
  for f in log.jsonl summary.json curves.png; do cp "$W/run-$v/$f" "$W/logs/$v-$f" 2>/dev/null; done
done
(cd "$W" && tar cf - logs $(ls -d export-vanilla export-lors 2>/dev/null)) | split -b 15M - "$OUT/models.tar.part-"
ls -la "$OUT"; echo "all done at $(( $(date +%s) - T0 )) s"
exit $rc
