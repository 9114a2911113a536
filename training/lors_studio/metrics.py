"""A compact COCO-style box AP (the rules of pycocotools' COCOeval for bbox, written from its documented behaviour):

- IoU thresholds .50:.05:.95, 101 recall points, maxDets 100 per image, area ranges all / small (< 32²) /
  medium (32²..96²) / large (> 96²) on the gt's `area` (COCO's 'area' field when present, else w·h);
- per image and category, detections sorted by score (top maxDets), each matched greedily to the unmatched gt with
  the highest IoU ≥ threshold; gts outside the area range are ignored (a detection matched to one is ignored too),
  unmatched detections outside the area range are ignored;
- per category: precision/recall over all images' detections by score, precision made monotone, sampled at the
  101 recall points (0 beyond the reached recall); categories without gt are left out of the mean.
Values are returned in percent (0..100), −1 when nothing defines them (no gt at all).

Also `predict`: AdaMixer's inference (spec §3) — last stage, σ(logits) flattened, top-k (k = 100 = L), label = idx % K,
box = boxes[idx // K] mapped back to original pixels by / scale and clipped to the image. No NMS.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np
import torch

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
AREA_RANGES = {"all": (0.0, 1e10), "small": (0.0, 32.0 ** 2), "medium": (32.0 ** 2, 96.0 ** 2), "large": (96.0 ** 2, 1e10)}

# gts[image_id] = (boxes [M, 4] xyxy, labels [M], areas [M] or None)
# dets[image_id] = (boxes [D, 4] xyxy, scores [D], labels [D])
Gts = Dict[int, Tuple[np.ndarray, np.ndarray, "np.ndarray | None"]]
Dets = Dict[int, Tuple[np.ndarray, np.ndarray, np.ndarray]]


def _iou_matrix(d: np.ndarray, g: np.ndarray) -> np.ndarray:
    lt = np.maximum(d[:, None, :2], g[None, :, :2])
    rb = np.minimum(d[:, None, 2:], g[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    ad = np.clip(d[:, 2] - d[:, 0], 0, None) * np.clip(d[:, 3] - d[:, 1], 0, None)
    ag = np.clip(g[:, 2] - g[:, 0], 0, None) * np.clip(g[:, 3] - g[:, 1], 0, None)
    union = ad[:, None] + ag[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _evaluate_image(db, ds, ious, garea, area_rng):
    """One image × category × area range, dets already sorted by score and cut to maxDets, ious [D, G] →
    (scores [D], matched [T, D] bool, ignored [T, D] bool, number of non-ignored gts)."""
    lo, hi = area_rng
    g_ignore = (garea < lo) | (garea > hi)
    T, D, G = len(IOU_THRESHOLDS), len(db), len(garea)
    matched = np.zeros((T, D), dtype=bool)
    d_ignore = np.zeros((T, D), dtype=bool)
    if D and G:
        gorder = np.argsort(g_ignore, kind="mergesort")  # non-ignored gts first, as pycocotools
        g_ig = g_ignore[gorder].tolist()
        iou_rows = ious[:, gorder].tolist()
        for ti, t in enumerate(IOU_THRESHOLDS.tolist()):
            taken = [False] * G
            left = G
            for di in range(D):
                if left == 0:
                    break
                row = iou_rows[di]
                best, m = min(t, 1 - 1e-10), -1
                for gi in range(G):
                    if taken[gi]:
                        continue
                    if m > -1 and not g_ig[m] and g_ig[gi]:
                        break  # a real gt is matched; the rest are ignored ones
                    if row[gi] < best:
                        continue
                    best, m = row[gi], gi
                if m == -1:
                    continue
                taken[m] = True
                left -= 1
                matched[ti, di] = True
                d_ignore[ti, di] = g_ig[m]
    if D:
        da = np.clip(db[:, 2] - db[:, 0], 0, None) * np.clip(db[:, 3] - db[:, 1], 0, None)
        out = (da < lo) | (da > hi)
        d_ignore |= (~matched) & out[None, :]
    return ds, matched, d_ignore, int((~g_ignore).sum())


def coco_ap(gts: Gts, dets: Dets, num_classes: int = 80, max_dets: int = 100) -> Dict[str, float]:
    """COCO-style AP over the images of `gts` (dets of other images are ignored). Keys: AP, AP50, AP75, APs, APm,
    APl, AR100 (percent)."""
    T, R, A = len(IOU_THRESHOLDS), len(RECALL_POINTS), len(AREA_RANGES)
    precision = -np.ones((T, R, num_classes, A))
    recall = -np.ones((T, num_classes, A))
    # per class: [(det boxes sorted by score and cut to max_dets, their scores, ious [D, G], gt areas)]
    per_class: Dict[int, list] = {}
    for iid, (gboxes, glabels, gareas) in gts.items():
        gboxes = np.asarray(gboxes, dtype=np.float64).reshape(-1, 4)
        glabels = np.asarray(glabels).reshape(-1).astype(np.int64)
        if gareas is None:
            gareas = np.clip(gboxes[:, 2] - gboxes[:, 0], 0, None) * np.clip(gboxes[:, 3] - gboxes[:, 1], 0, None)
        gareas = np.asarray(gareas, dtype=np.float64).reshape(-1)
        if iid in dets:
            dboxes, dscores, dlabels = dets[iid]
            dboxes = np.asarray(dboxes, dtype=np.float64).reshape(-1, 4)
            dscores = np.asarray(dscores, dtype=np.float64).reshape(-1)
            dlabels = np.asarray(dlabels).reshape(-1).astype(np.int64)
        else:
            dboxes, dscores, dlabels = np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64)
        for k in np.union1d(glabels, dlabels).tolist():
            if not 0 <= k < num_classes:
                raise ValueError(f"image {iid}: label {k} outside 0..{num_classes - 1}")
            gm, dm = glabels == k, dlabels == k
            db, ds = dboxes[dm], dscores[dm]
            order = np.argsort(-ds, kind="mergesort")[:max_dets]
            db, ds = db[order], ds[order]
            gb = gboxes[gm]
            ious = _iou_matrix(db, gb) if len(db) and len(gb) else np.zeros((len(db), len(gb)))
            per_class.setdefault(k, []).append((db, ds, ious, gareas[gm]))
    for k, entries in per_class.items():
        for ai, rng in enumerate(AREA_RANGES.values()):
            scores_all, tps_all, ign_all, npig = [], [], [], 0
            for db, ds, ious, ga in entries:
                s, m, ig, n = _evaluate_image(db, ds, ious, ga, rng)
                scores_all.append(s)
                tps_all.append(m)
                ign_all.append(ig)
                npig += n
            if npig == 0:
                continue
            scores = np.concatenate(scores_all)
            order = np.argsort(-scores, kind="mergesort")
            m = np.concatenate(tps_all, axis=1)[:, order]
            ig = np.concatenate(ign_all, axis=1)[:, order]
            tps = np.cumsum(m & ~ig, axis=1).astype(np.float64)
            fps = np.cumsum(~m & ~ig, axis=1).astype(np.float64)
            for ti in range(T):
                tp, fp = tps[ti], fps[ti]
                nd = len(tp)
                rc = tp / npig
                pr = tp / np.maximum(tp + fp, np.spacing(1))
                recall[ti, k, ai] = rc[-1] if nd else 0.0
                q = np.zeros(R)
                if nd:
                    pr = np.maximum.accumulate(pr[::-1])[::-1]  # monotone non-increasing
                    inds = np.searchsorted(rc, RECALL_POINTS, side="left")
                    ok = inds < nd
                    q[ok] = pr[inds[ok]]
                precision[ti, :, k, ai] = q

    def mean(p):
        v = p[p > -1]
        return float(v.mean() * 100) if v.size else -1.0

    t50, t75 = 0, 5
    return {
        "AP": mean(precision[:, :, :, 0]),
        "AP50": mean(precision[t50, :, :, 0]),
        "AP75": mean(precision[t75, :, :, 0]),
        "APs": mean(precision[:, :, :, 1]),
        "APm": mean(precision[:, :, :, 2]),
        "APl": mean(precision[:, :, :, 3]),
        "AR100": mean(recall[:, :, 0]),
    }


@torch.no_grad()
def predict(last_stage: Dict[str, torch.Tensor], scales: torch.Tensor, orig_sizes: torch.Tensor,
            offsets: "torch.Tensor | None" = None, k: int = 100) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """AdaMixer inference on the last stage's outputs → per image (boxes [k, 4] xyxy original pixels, scores [k],
    labels [k]), k = min(k, L·K). The default 100 is COCO's maxDets and the app's (src/model/detector.ts); with
    the paper's and web preset's L = 100 queries it is the spec's k = L."""
    logits, boxes = last_stage["logits"], last_stage["boxes"]
    B, L, K = logits.shape
    k = min(k, L * K)
    scores = logits.sigmoid().reshape(B, L * K)
    top, idx = scores.topk(k, dim=1)
    labels = idx % K
    q = torch.div(idx, K, rounding_mode="floor")
    sel = torch.gather(boxes, 1, q[..., None].expand(B, k, 4)).double()
    if offsets is not None:
        sel = sel + offsets.to(sel).repeat(1, 2)[:, None, :]
    sel = sel / scales.to(sel)[:, None, None]
    wh = orig_sizes.to(sel)
    sel[..., 0::2] = sel[..., 0::2].clamp(min=0).minimum(wh[:, None, 0:1])
    sel[..., 1::2] = sel[..., 1::2].clamp(min=0).minimum(wh[:, None, 1:2])
    return [(sel[b].cpu().numpy(), top[b].double().cpu().numpy(), labels[b].cpu().numpy()) for b in range(B)]
