#!/usr/bin/env bash
# End-to-end smoke of the training pipeline (part of `npm test` via test:py or on its own; < 2 min on 2 cores):
#   1. a subset annotation file of the first $SMOKE_IMAGES train images of coco-subset (in a temp dir)
#   2. `npm run features` (tfjs NanoDet) at $SMOKE_SIZE, plain and --flip, and `npm run proposals` on them
#   3. train the tiny LORS preset with --query-init nanodet for $SMOKE_STEPS steps (PyTorch, CPU) and assert the loss
#      went down (the whole-image query path is covered by the unit tests)
#   4. export the weights (training/lors_studio/export.py)
#   5. `npm run eval` of the exported weights on the same images (the TS evaluation)
# Needs ../shared/data/coco-subset beside the checkout (override with COCO_SUBSET=DIR). KEEP=1 keeps the temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-/usr/bin/python3}
DATA=${COCO_SUBSET:-../shared/data/coco-subset}
N=${SMOKE_IMAGES:-8}
SIZE=${SMOKE_SIZE:-256}
STEPS=${SMOKE_STEPS:-40}
BS=2
EPOCHS=$(( (STEPS * BS + N - 1) / N ))
T0=$(date +%s)
say() { echo "[train-smoke $(( $(date +%s) - T0 ))s] $*" >&2; }

if [ ! -d "$DATA/train" ] || [ ! -f "$DATA/annotations/instances_train.json" ]; then
  echo "train-smoke: $DATA/train or $DATA/annotations/instances_train.json not found (set COCO_SUBSET=DIR)" >&2
  exit 1
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lors-train-smoke.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then say "keeping $TMP"; else trap 'rm -rf "$TMP"' EXIT; fi

# npm run <script>, or tsx directly while package.json lacks the script
npm_run() {
  local script=$1 file=$2; shift 2
  if node -e "process.exit(require('./package.json').scripts['$script'] ? 0 : 1)"; then
    npm run --silent "$script" -- "$@"
  else
    say "(package.json has no '$script' script yet: running $file with tsx)"
    npx --no-install tsx "$file" "$@"
  fi
}

say "1/5 subset annotations: first $N train images"
"$PY" - "$DATA/annotations/instances_train.json" "$TMP/smoke.json" "$N" <<'PYEOF'
import json, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = json.load(open(src))
ims = sorted(d["images"], key=lambda i: i["id"])[:n]
ids = {i["id"] for i in ims}
json.dump({"images": ims, "annotations": [a for a in d["annotations"] if a["image_id"] in ids],
           "categories": d["categories"]}, open(dst, "w"))
PYEOF

say "2/5 features at $SIZE (plain + flip)"
npm_run features src/cli/features.ts --images "$DATA/train" --annotations "$TMP/smoke.json" --size "$SIZE" --out "$TMP/feat" --name smoke 2>"$TMP/features.log" \
  || { cat "$TMP/features.log" >&2; exit 1; }
npm_run features src/cli/features.ts --images "$DATA/train" --annotations "$TMP/smoke.json" --size "$SIZE" --flip --out "$TMP/feat" --name smoke 2>>"$TMP/features.log" \
  || { cat "$TMP/features.log" >&2; exit 1; }

npm_run proposals src/cli/proposals.ts --features "$TMP/feat" 2>>"$TMP/features.log" \
  || { cat "$TMP/features.log" >&2; exit 1; }

say "3/5 train tiny LORS: $STEPS steps ($EPOCHS epochs of $N images, batch $BS)"
EXPORT_ARGS=()
if [ -f training/lors_studio/export.py ]; then EXPORT_ARGS=(--export-best "$TMP/model"); fi
bash scripts/train.sh --preset tiny --variant lors --query-init nanodet --features "$TMP/feat" --annotations "$TMP/smoke.json" \
  --val-features "$TMP/feat" --val-annotations "$TMP/smoke.json" --epochs "$EPOCHS" --max-steps "$STEPS" \
  --batch-size "$BS" --lr 1e-3 --warmup 5 --steps 1000 --log-every 2 --val-every "$EPOCHS" --seed 0 \
  --threads 1 --device cpu --no-progress --out "$TMP/run" "${EXPORT_ARGS[@]}"
"$PY" - "$TMP/run/log.jsonl" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
# The classification loss: with NanoDet's proposals as initial boxes the box losses start near their floor and
# mostly follow the random crops of these 8 photos, so the total is too noisy over 40 steps.
loss = [r["loss_cls"] for r in rows if r["type"] == "step"]
total = [r["loss"] for r in rows if r["type"] == "step"]
if len(loss) < 6:
    sys.exit(f"train-smoke: only {len(loss)} loss records in the log")
first, last = sum(loss[:3]) / 3, sum(loss[-3:]) / 3
print(f"train-smoke: classification loss {first:.2f} -> {last:.2f} (total {sum(total[:3]) / 3:.2f} -> "
      f"{sum(total[-3:]) / 3:.2f}) over {len(loss)} records", file=sys.stderr)
if not last < 0.9 * first:
    sys.exit(f"train-smoke: FAIL: the classification loss did not go down (first {first:.3f}, last {last:.3f})")
PYEOF
for f in last.pt log.jsonl curves.png; do
  [ -f "$TMP/run/$f" ] || { echo "train-smoke: FAIL: $TMP/run/$f missing" >&2; exit 1; }
done

say "4/5 export"
if [ ${#EXPORT_ARGS[@]} -eq 0 ]; then
  say "SKIPPED: training/lors_studio/export.py does not exist yet"
else
  [ -f "$TMP/model/model.json" ] || { echo "train-smoke: FAIL: export wrote no $TMP/model/model.json" >&2; exit 1; }
fi

# ---- 5/5 FINAL STEP: the TypeScript evaluation of the exported weights (src/cli/eval.ts, another helper's) ----
say "5/5 npm run eval on the exported weights"
if [ ${#EXPORT_ARGS[@]} -eq 0 ] || [ ! -f src/cli/eval.ts ]; then
  say "SKIPPED: needs training/lors_studio/export.py and src/cli/eval.ts"
else
  npm_run eval src/cli/eval.ts --images "$DATA/train" --annotations "$TMP/smoke.json" --model lors --weights "$TMP/model" \
    --size "$SIZE" --json "$TMP/eval.json" --quiet
  # The TS pipeline (NanoDet features in fp32 → tfjs decoder → COCO eval) must agree with the Python validation of
  # the same weights on the cached fp16 features (PyTorch decoder → evaluate.py).
  "$PY" - "$TMP/eval.json" "$TMP/run/log.jsonl" <<'PYEOF'
import json, sys
ts = json.load(open(sys.argv[1]))
val = [json.loads(l) for l in open(sys.argv[2]) if '"type": "epoch"' in l]
py = [r["val"] for r in val if r.get("val")][-1]
print(f"train-smoke: AP tfjs {ts['AP']:.3f} vs PyTorch {py['AP']:.3f}; AP50 {ts['AP50']:.3f} vs {py['AP50']:.3f}", file=sys.stderr)
if abs(ts["AP"] - py["AP"]) > 1.0 or abs(ts["AP50"] - py["AP50"]) > 2.0:
    sys.exit("train-smoke: FAIL: the app's evaluation and the trainer's validation disagree on the same weights")
PYEOF
fi
say "OK"
