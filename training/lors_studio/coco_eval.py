"""COCO bounding-box evaluation, numpy only: the Python mirror of src/eval/coco.ts.

Equivalent to pycocotools' ``COCOeval(gt, dt, 'bbox')`` + ``evaluate(); accumulate(); summarize()`` (IoU
thresholds .50:.05:.95, 101-point interpolated precision, maxDets 1/10/100, areas all/small/medium/large, crowd
GTs matched as "ignore", greedy matching by score, categories without GT left out of the means), without needing
pycocotools. See src/eval/coco.ts for the rules in full; both are tested on test/fixtures/coco-eval-cases.json.

GT area: the annotation's ``area`` field when present, else bbox w*h (official COCO's ``area`` is the mask area;
the project's coco-subset has ``area`` = w*h). The 100-detection cap is per image AND category, as in pycocotools.

``evaluate_coco(gt_dict, dets) -> dict`` with keys AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl
(percentages 0..100, -1 where undefined) and perClass ({category name: AP} for the categories that have GT).
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = ['evaluate_coco', 'IOU_THRESHOLDS', 'RECALL_THRESHOLDS', 'MAX_DETS', 'AREA_RANGES']

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101, endpoint=True)
MAX_DETS = (1, 10, 100)
AREA_RANGES: Dict[str, Tuple[float, float]] = {
    'all': (0.0, 1e10),
    'small': (0.0, 32.0**2),
    'medium': (32.0**2, 96.0**2),
    'large': (96.0**2, 1e10),
}
_AREAS = [AREA_RANGES[k] for k in ('all', 'small', 'medium', 'large')]
_EPS = np.spacing(1)


def _box(bbox: Any, what: str) -> Tuple[float, float, float, float]:
    ok = isinstance(bbox, (list, tuple)) and len(bbox) == 4
    if ok:
        try:
            vals = tuple(float(v) for v in bbox)
        except (TypeError, ValueError):
            ok = False
    if not ok or not all(math.isfinite(v) for v in vals):
        raise ValueError(f'{what}: bbox must be 4 finite numbers [x, y, w, h], got {bbox!r}')
    if vals[2] < 0 or vals[3] < 0:
        raise ValueError(f'{what}: bbox width/height must be >= 0, got {bbox!r}')
    return vals  # type: ignore[return-value]


def _iou(d: Tuple[float, ...], g: Tuple[float, ...], crowd: bool) -> float:
    w = min(d[0] + d[2], g[0] + g[2]) - max(d[0], g[0])
    if w <= 0:
        return 0.0
    h = min(d[1] + d[3], g[1] + g[3]) - max(d[1], g[1])
    if h <= 0:
        return 0.0
    inter = w * h
    union = d[2] * d[3] if crowd else d[2] * d[3] + g[2] * g[3] - inter
    return inter / union


def _evaluate_img(gts: List[dict], dts: List[dict], ious: np.ndarray, rng: Tuple[float, float]) -> dict:
    lo, hi = rng
    T, G, D = len(IOU_THRESHOLDS), len(gts), len(dts)
    g_ign_raw = np.array([g['crowd'] or g['area'] < lo or g['area'] > hi for g in gts], dtype=bool)
    g_order = np.argsort(g_ign_raw.astype(np.int64), kind='mergesort')
    g_ign = g_ign_raw[g_order]
    g_crowd = [gts[j]['crowd'] for j in g_order]
    gt_m = np.zeros((T, G), dtype=bool)
    dt_m = np.zeros((T, D), dtype=bool)
    dt_ig = np.zeros((T, D), dtype=bool)
    if G and D:
        ious = ious[:, g_order]
        for t, thr in enumerate(IOU_THRESHOLDS):
            for d in range(D):
                best = min(thr, 1 - 1e-10)
                m = -1
                for g in range(G):
                    if gt_m[t, g] and not g_crowd[g]:
                        continue
                    if m > -1 and not g_ign[m] and g_ign[g]:
                        break
                    if ious[d, g] < best:
                        continue
                    best = ious[d, g]
                    m = g
                if m == -1:
                    continue
                dt_ig[t, d] = g_ign[m]
                dt_m[t, d] = True
                gt_m[t, m] = True
    out_of_range = np.array([d['area'] < lo or d['area'] > hi for d in dts], dtype=bool).reshape(1, D)
    dt_ig = dt_ig | (~dt_m & out_of_range)
    return {
        'scores': np.array([d['score'] for d in dts], dtype=np.float64),
        'matched': dt_m,
        'ignored': dt_ig,
        'npig': int(np.count_nonzero(~g_ign)),
    }


def _accumulate_one(entries: List[dict], max_det: int) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    npig = sum(e['npig'] for e in entries)
    if npig == 0:
        return None
    T, R = len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS)
    scores = np.concatenate([e['scores'][:max_det] for e in entries])
    order = np.argsort(-scores, kind='mergesort')
    dtm = np.concatenate([e['matched'][:, :max_det] for e in entries], axis=1)[:, order]
    dtig = np.concatenate([e['ignored'][:, :max_det] for e in entries], axis=1)[:, order]
    tps = np.cumsum(dtm & ~dtig, axis=1).astype(np.float64)
    fps = np.cumsum(~dtm & ~dtig, axis=1).astype(np.float64)
    nd = len(scores)
    precision = np.zeros((T, R))
    recall = np.zeros(T)
    for t in range(T):
        rc = tps[t] / npig
        pr = tps[t] / (fps[t] + tps[t] + _EPS)
        recall[t] = rc[-1] if nd else 0.0
        # Monotone from the right: pr[i] = max(pr[i:]).
        if nd:
            pr = np.maximum.accumulate(pr[::-1])[::-1]
        idx = np.searchsorted(rc, RECALL_THRESHOLDS, side='left')
        valid = idx < nd
        precision[t, valid] = pr[idx[valid]]
    return precision, recall


def evaluate_coco(gt_dict: Mapping[str, Any], dets: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """COCO bbox metrics of ``dets`` (COCO results format) against ``gt_dict`` (COCO instances format)."""
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(gt_dict.get(key) if isinstance(gt_dict, Mapping) else None, (list, tuple)):
            raise ValueError('evaluate_coco: ground truth must have lists "images", "annotations" and "categories"')
    img_ids = sorted({int(im['id']) for im in gt_dict['images']})
    cats: Dict[int, Mapping[str, Any]] = {}
    for c in gt_dict['categories']:
        cats.setdefault(int(c['id']), c)
    cat_ids = sorted(cats)
    img_index = {v: i for i, v in enumerate(img_ids)}
    cat_index = {v: k for k, v in enumerate(cat_ids)}
    I, K = len(img_ids), len(cat_ids)

    gts: Dict[Tuple[int, int], List[dict]] = {}
    dts: Dict[Tuple[int, int], List[dict]] = {}
    for n, a in enumerate(gt_dict['annotations']):
        what = f'evaluate_coco: GT annotation #{n} (id {a.get("id", "?")})'
        if a.get('image_id') not in img_index:
            raise ValueError(f'{what}: image_id {a.get("image_id")!r} is not in gt.images')
        if a.get('category_id') not in cat_index:
            raise ValueError(f'{what}: category_id {a.get("category_id")!r} is not in gt.categories')
        b = _box(a.get('bbox'), what)
        area = a.get('area')
        if area is not None and not math.isfinite(float(area)):
            raise ValueError(f'{what}: area must be a finite number')
        key = (cat_index[a['category_id']], img_index[a['image_id']])
        gts.setdefault(key, []).append(
            {'box': b, 'area': float(area) if area is not None else b[2] * b[3], 'crowd': bool(a.get('iscrowd', 0))}
        )
    for n, d in enumerate(dets):
        what = f'evaluate_coco: detection #{n}'
        if d.get('image_id') not in img_index:
            raise ValueError(f'{what}: image_id {d.get("image_id")!r} is not in gt.images')
        if d.get('category_id') not in cat_index:
            raise ValueError(f'{what}: category_id {d.get("category_id")!r} is not in gt.categories')
        score = d.get('score')
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise ValueError(f'{what}: score must be a finite number')
        b = _box(d.get('bbox'), what)
        key = (cat_index[d['category_id']], img_index[d['image_id']])
        dts.setdefault(key, []).append({'box': b, 'area': b[2] * b[3], 'score': float(score)})

    A, M = len(_AREAS), len(MAX_DETS)
    precision = -np.ones((len(IOU_THRESHOLDS), len(RECALL_THRESHOLDS), K, A, M))
    recall = -np.ones((len(IOU_THRESHOLDS), K, A, M))
    for k in range(K):
        per_area: List[List[dict]] = [[] for _ in range(A)]
        for i in range(I):
            g = gts.get((k, i), [])
            d_all = dts.get((k, i), [])
            if not g and not d_all:
                continue
            order = np.argsort([-x['score'] for x in d_all], kind='mergesort')[: MAX_DETS[-1]]
            d = [d_all[j] for j in order]
            ious = np.array(
                [[_iou(dd['box'], gg['box'], gg['crowd']) for gg in g] for dd in d], dtype=np.float64
            ).reshape(len(d), len(g))
            for a in range(A):
                per_area[a].append(_evaluate_img(g, d, ious, _AREAS[a]))
        for a in range(A):
            if not per_area[a]:
                continue
            for m, max_det in enumerate(MAX_DETS):
                res = _accumulate_one(per_area[a], max_det)
                if res is not None:
                    precision[:, :, k, a, m], recall[:, k, a, m] = res

    def summary(s: np.ndarray) -> float:
        v = s[s > -1]
        return -1.0 if v.size == 0 else 100.0 * float(np.mean(v))

    t50 = int(np.where(IOU_THRESHOLDS == 0.5)[0][0])
    t75 = int(np.where(IOU_THRESHOLDS == 0.75)[0][0])
    per_class: Dict[str, float] = {}
    for k, cid in enumerate(cat_ids):
        p = precision[:, :, k, 0, -1]
        if (p > -1).any():
            per_class[str(cats[cid]['name'])] = 100.0 * float(np.mean(p[p > -1]))
    return {
        'AP': summary(precision[:, :, :, 0, -1]),
        'AP50': summary(precision[t50, :, :, 0, -1]),
        'AP75': summary(precision[t75, :, :, 0, -1]),
        'APs': summary(precision[:, :, :, 1, -1]),
        'APm': summary(precision[:, :, :, 2, -1]),
        'APl': summary(precision[:, :, :, 3, -1]),
        'AR1': summary(recall[:, :, 0, 0]),
        'AR10': summary(recall[:, :, 0, 1]),
        'AR100': summary(recall[:, :, 0, 2]),
        'ARs': summary(recall[:, :, 1, 2]),
        'ARm': summary(recall[:, :, 2, 2]),
        'ARl': summary(recall[:, :, 3, 2]),
        'perClass': per_class,
    }
