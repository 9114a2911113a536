#!/usr/bin/env bash
# CPU dry run of the GPU training recipe (scripts/gpu-train.sh), part of `npm test` (~1.5 min on 2 cores):
# `features shrink` of the first 8 train and val photos of coco-subset (with stripped annotations), NanoDet's graph
# copied beside them, split into parts as for several device calls (scripts/gpu-data-split.sh), then gpu-train.sh with DEVICE=cpu LIMIT=8 (photos loaded, proposals by the PyTorch backbone,
# pixel-space augmentation, a 1-step timing probe, 1 epoch of both decoders side by side with score distillation, 4
# photos held out (the export is chosen on them) and a moving average of the weights, val,
# float16 exports packed into parts): the parts must unpack into two loadable exports and logs with the throughput
# and the distillation term.
# Needs ../shared/data/coco-subset beside the checkout (override with COCO_SUBSET=DIR). KEEP=1 keeps the temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-/usr/bin/python3}
DATA=${COCO_SUBSET:-../shared/data/coco-subset}
T0=$(date +%s)
say() { echo "[gpu-train-smoke $(( $(date +%s) - T0 ))s] $*" >&2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lors-gpu-smoke.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then say "keeping $TMP"; else trap 'rm -rf "$TMP"' EXIT; fi
G=$TMP/gpu-data
say "1/3 shrink 8 train + 8 val photos"
for S in train val; do
  "$PY" -m training.lors_studio.features shrink --images "$DATA/$S" --annotations "$DATA/annotations/instances_$S.json" \
    --out "$G/$S" --annotations-out "$G/ann/instances_$S.json" --limit 8 --quiet
done
cp -r public/models/nanodet "$G/nanodet"
# Split as for a device call (parts as small as NanoDet's weight file here), then merged again by gpu-train.sh.
PART_BYTES=$(( $(stat -c %s "$G/nanodet/nanodet.bin") + 65536 )) bash scripts/gpu-data-split.sh "$G" >&2
PARTS=("$G"-[0-9]*)
[ "${#PARTS[@]}" -ge 2 ] || { echo "gpu-train-smoke: expected several parts, got ${PARTS[*]}" >&2; exit 1; }
say "2/3 gpu-train.sh on the CPU, from ${#PARTS[@]} parts"
WORK=$TMP/work OUT=$TMP/out DEVICE=cpu LIMIT=8 BATCH=4 MAX_EPOCHS=1 BUDGET_S=900 DISTILL=2 PYTHON="$PY" \
  EXTRA="--warm-steps 1 --probe-steps 1 --val-points 0 --log-every 1 --threads 2 --holdout 4 --ema 0.9" \
  bash scripts/gpu-train.sh "${PARTS[@]}" > "$TMP/run.log" 2>&1 || { tail -40 "$TMP/run.log" >&2; exit 1; }
grep -E "^probe:|^trained|done at" "$TMP/run.log" >&2
say "3/3 unpack and load the exports"
mkdir -p "$TMP/unpacked" && cat "$TMP"/out/models.tar.part-* | tar xf - -C "$TMP/unpacked"
"$PY" - "$TMP/unpacked" <<'PYEOF'
import json, sys
from training.lors_studio.export import load_weights
root = sys.argv[1]
for v in ("vanilla", "lors"):
    cfg, sd = load_weights(f"{root}/export-{v}")
    summary = json.load(open(f"{root}/logs/{v}-summary.json"))
    assert cfg.variant == v and cfg.query_init == "nanodet" and cfg.pos_scale == 312, (v, cfg)
    assert summary["steps"] == 2, summary       # the probe's 2 steps (8 photos − 4 held out = 1 step per epoch)
    meta = json.load(open(f"{root}/export-{v}/model.json"))["meta"]
    assert meta["bestBy"] == "holdout" and meta["recipe"]["ema"] == 0.9 and summary["best_step"] == 2, (meta, summary)
    log = [json.loads(l) for l in open(f"{root}/logs/{v}-log.jsonl")]
    assert [r["type"] for r in log if r["type"] in ("probe", "throughput")] == ["probe", "throughput"], log
    assert all("AP" in r["holdout"] for r in log if r["type"] == "epoch"), log
    steps = [r for r in log if r["type"] == "step"]
    assert steps and all(r["loss_distill"] > 0 for r in steps), steps  # DISTILL=2: the teacher term is on
    assert summary["photos_per_s"] > 0 and "peak_gpu_mem_gib" in summary, summary
    print(f"gpu-train-smoke: {v}: {len(sd)} tensors, {summary['steps']} steps, best holdout AP {summary['best']:.2f}",
          file=sys.stderr)
PYEOF
say "OK"
