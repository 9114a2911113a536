#!/bin/bash
# Trains the vanilla and LORS decoders side by side on one CUDA GPU, from a small copy of the data, inside one
# device call (issue #4). Everything the GPU machine needs travels in DATA (git-ignored, made here first):
#   DATA/train/*.webp, DATA/val/*.webp   python3 -m training.lors_studio.features shrink ... (416-px copies)
#   DATA/ann/instances_{train,val}.json  the COCO annotations without segmentations (shrink --annotations-out)
#   DATA/nanodet/                        NanoDet-g's TFJS graph (public/models/nanodet)
# Steps: feature caches (+ flip, + query proposals) with the PyTorch backbone; a 30-step timing probe of both
# models running together; the number of epochs E that fits the time left (BUDGET_S from the start, minus a
# margin for export); then both runs with the same schedule (lr ×0.1 at 2/3 and 11/12 of E, as mmdet's 1×),
# best checkpoint by val AP exported as float16 and packed into ≤ 15 MiB parts under $OUT.
#   OUT=/tmp/out bash scripts/gpu-train.sh [DATA]
# env: BUDGET_S, BATCH, LR, WARMUP, PRIVATE_LR_MULT, MAX_EPOCHS, WORK (default /tmp/lors-gpu); DEVICE=cpu LIMIT=N for a
# local dry run (scripts/gpu-train-smoke.sh)
set -euo pipefail
export PYTHONUNBUFFERED=1
T0=$(date +%s)
DATA=${1:-gpu-data}
OUT=${OUT:?set OUT}
BUDGET_S=${BUDGET_S:-470}
BATCH=${BATCH:-16}
LR=${LR:-2e-4}
WARMUP=${WARMUP:-300}
PLR=${PRIVATE_LR_MULT:-1}
MAX_EPOCHS=${MAX_EPOCHS:-48}
DEVICE=${DEVICE:-cuda}
LIMIT=${LIMIT:+--limit $LIMIT}   # local dry runs only
PY=${PYTHON:-python3}
W=${WORK:-/tmp/lors-gpu}
F=$W/feats
mkdir -p $W $OUT
exec > >(tee $OUT/gpu-train.log) 2>&1
elapsed() { echo $(( $(date +%s) - T0 )); }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
$PY -c "import torch, scipy, PIL; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"

A=$DATA/ann
pids=()
for args in "train $F" "train $F --flip" "val $F/val"; do
  set -- $args
  $PY -m training.lors_studio.features cache --images $DATA/$1 --annotations $A/instances_$1.json --out $2 \
    --name $1 --backbone $DATA/nanodet --device $DEVICE --batch-size 64 --quiet $LIMIT ${3:-} &
  pids+=($!)
done
for p in "${pids[@]}"; do wait $p; done
echo "features done at $(elapsed) s"; ls -la $F $F/val

common() {  # $1 variant, $2 out, then extra args
  local v=$1 o=$2; shift 2
  local extra=()
  [ "$v" = lors ] && extra+=(--private-lr-mult "$PLR")
  $PY -m training.lors_studio.train --preset web --variant $v --query-init nanodet --features $F \
    --annotations $A/instances_train.json --val-features $F/val --val-annotations $A/instances_val.json \
    --batch-size $BATCH --lr $LR --warmup $WARMUP --device $DEVICE --threads 4 --seed 0 --no-progress --no-plot $LIMIT \
    --out $o "${extra[@]}" "$@"
}
# timing probe: both models at once, as in the real runs
pids=()
for v in vanilla lors; do common $v $W/probe-$v --epochs 1 --max-steps 30 --log-every 10 > $W/probe-$v.log 2>&1 & pids+=($!); done
for p in "${pids[@]}"; do wait $p || { tail -30 $W/probe-*.log; exit 1; }; done
SPS=$($PY - $W <<'EOF'
import json, sys
w = sys.argv[1]
rows = [[json.loads(l) for l in open(f'{w}/probe-{v}/log.jsonl') if '"type": "step"' in l] for v in ('vanilla', 'lors')]
print(max(r[-1]['s_per_step'] for r in rows))
EOF
)
STEPS=$($PY -c "import json; print(json.loads(open('$W/probe-lors/log.jsonl').readline())['steps_per_epoch'])")
LEFT=$(( BUDGET_S - $(elapsed) - 45 ))
E=$($PY -c "import math; e = int($LEFT / ($STEPS * $SPS * 1.08 + 4)); print(max(1, min($MAX_EPOCHS, e)))")
S1=$($PY -c "print(max(1, round($E * 2 / 3)))"); S2=$($PY -c "print(max($S1 + 1, round($E * 11 / 12)))")
echo "probe: ${SPS} s/step, $STEPS steps/epoch, ${LEFT} s left → $E epochs, lr ×0.1 at epochs $S1,$S2 (0-based)"
pids=()
for v in vanilla lors; do
  common $v $W/run-$v --epochs $E --steps $S1,$S2 --log-every 20 --export-best $W/export-$v --float16 > $W/run-$v.log 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait $p || { tail -30 $W/run-*.log; }; done
echo "training done at $(elapsed) s"
set +e
mkdir -p $W/logs
for v in vanilla lors; do cp $W/run-$v/log.jsonl $W/logs/$v-log.jsonl; cp $W/run-$v/summary.json $W/logs/$v-summary.json; done
cp $W/run-*.log $W/logs/
(cd $W && tar cf - logs $(ls -d export-vanilla export-lors 2>/dev/null)) | split -b 15M - $OUT/models.tar.part-
ls -la $OUT; echo "all done at $(elapsed) s"
