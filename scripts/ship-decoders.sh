#!/usr/bin/env bash
# From two finished training runs to the shipped decoders and every measured file the docs quote:
#   bash scripts/ship-decoders.sh RUNS FEATS OUT
# RUNS: folder with the runs vanilla/ and lors/ of train.py (their exports: RUNS/export-vanilla, RUNS/export-lors, the
# best checkpoint by holdout AP as float16 files, written by --export-best); FEATS: folder with the val feature cache
# and its proposals (npm run features / proposals); OUT: where the measurements go (evals, detections, bootstrap,
# Table 5, grid parts). Writes public/models/{vanilla,lors,lors-from-vanilla} (int8, deflated), compression.json,
# docs/compression.png, docs/curves-{vanilla,lors}.png. Two processes at a time (this VM has 2 cores).
# LIMIT=N evaluates only the first N val photos (a dry run of the pipeline; never ship its numbers). NOTE="..." adds a
# line to metrics.json's notes. A run trained in stretches: join them first (python3 -m training.lors_studio.runlog join).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:?runs folder}
FEATS=${2:?val feature cache folder}
OUT=${3:?output folder}
D=${DATA:-../shared/data/coco-subset}
ANN=$D/annotations/instances_val.json
PY=${PYTHON:-/usr/bin/python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ -z "${OPENBLAS_CORETYPE+x}" ] && grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX; fi
LIM=(); PYLIM=()
if [ -n "${LIMIT:-}" ]; then LIM=(--limit "$LIMIT"); PYLIM=(--limit "$LIMIT"); fi
mkdir -p "$OUT"
M=public/models
W=$OUT/float16

# 1. The shipped forms: ordered LORS (sliceable), the vanilla model compressed into LORS, then int8 + deflate.
$PY -m training.lors_studio.compress order --weights "$RUNS/export-lors" --out "$W/lors" --float16
$PY -m training.lors_studio.compress lorsify --weights "$RUNS/export-vanilla" --out "$W/lors-from-vanilla" --float16
cp -r "$RUNS/export-vanilla" "$W/vanilla"
for m in vanilla lors lors-from-vanilla; do
  npm run -s encode-weights -- --weights "$W/$m" --out "$M/$m" --encoding int8 --deflate --force
done

# 2. The app's own inference on val (wasm), with detections for the bootstrap.
ev() { npm run -s eval -- --images "$D/val" --annotations "$ANN" "${LIM[@]}" --json "$OUT/eval-$1.json" --save-dets "$OUT/dets-$1.json" "${@:2}"; }
ev vanilla --model vanilla > "$OUT/eval-vanilla.log" 2>&1 &
ev lors --model lors > "$OUT/eval-lors.log" 2>&1 &
wait
ev nanodet --model nanodet > "$OUT/eval-nanodet.log" 2>&1 &
ev lors-from-vanilla --model lors --lors-source compressed > "$OUT/eval-lors-from-vanilla.log" 2>&1 &
wait

# 3. Paired bootstrap over the val photos: LORS vs vanilla, each decoder vs NanoDet's head.
for pair in "vanilla lors" "nanodet vanilla" "nanodet lors"; do
  set -- $pair
  $PY -m training.lors_studio.compare --annotations "$ANN" --dets "$OUT/dets-$1.json" --dets "$OUT/dets-$2.json" \
    --json "$OUT/bootstrap-$2-vs-$1.json" | tail -3
done

# 4. AP vs parameters of the slices (both sources in parallel), Table 5, curves.
grid() {
  $PY -m training.lors_studio.compress grid --trained "$M/lors" --from-vanilla "$M/lors-from-vanilla" --vanilla "$M/vanilla" \
    --features "$FEATS" --annotations "$ANN" --threads 1 "${PYLIM[@]}" --only "$1" --json "$OUT/grid-$1.json"
}
grid trained > "$OUT/grid-trained.log" 2>&1 &
grid compressed > "$OUT/grid-compressed.log" 2>&1 &
wait
$PY -m training.lors_studio.compress merge "$OUT/grid-trained.json" "$OUT/grid-compressed.json" --json "$M/compression.json"
$PY -m training.lors_studio.plot --compression "$M/compression.json" docs/compression.png
$PY -m training.lors_studio.ablation --weights "$M/lors" --features "$FEATS" --annotations "$ANN" --threads 2 \
  --json "$OUT/table5.json" "${PYLIM[@]}"
for v in vanilla lors; do
  $PY -m training.lors_studio.plot "$RUNS/$v/log.jsonl" "docs/curves-$v.png"
done

# 5. metrics.json from the runs and the evals; the previous shipped decoders' figures move under "before".
git show HEAD:public/models/metrics.json > "$OUT/metrics-before.json"
mkdir -p "$OUT/runs"
for v in vanilla lors; do ln -sfn "$(cd "$RUNS/$v" && pwd)" "$OUT/runs/web-$v"; done
npx tsx scripts/collect-metrics.ts --runs "$OUT/runs" --evals "$OUT" --train-machine "${TRAIN_MACHINE:-this machine}" \
  > "$OUT/collect-metrics.log"
$PY scripts/metrics-before.py "$M/metrics.json" "$OUT/metrics-before.json" "$RUNS" ${NOTE:+"$NOTE"}
echo "shipped: $M/{vanilla,lors,lors-from-vanilla}; measurements in $OUT"
