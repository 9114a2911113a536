"""How sure is an AP difference between two detectors on the same photos? A paired bootstrap over images.

    python3 -m training.lors_studio.compare --annotations instances_val.json --dets A.json --dets B.json \\
        [--resamples 200] [--seed 0] [--json OUT]

A.json / B.json: COCO results lists ({image_id, category_id, bbox [x, y, w, h], score}), e.g. from
`npm run eval -- … --save-dets FILE` (the app's own inference). Each resample draws the val images with replacement
(the same draw for both detectors) and computes both COCO APs (coco_eval.py, the mirror of the app's evaluator);
the output gives each AP on the full set, AP(B) − AP(A), and the 2.5 / 97.5 percentiles of the resampled difference.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Dict, List, Sequence

import numpy as np

from . import data as D
from .evaluate import coco_ap


def load_dets(path: str) -> Dict[int, tuple]:
    """COCO results list → dets[image_id] = (boxes xyxy, scores, contiguous labels)."""
    with open(path, encoding='utf-8') as f:
        rows = json.load(f)
    if not isinstance(rows, list):
        raise ValueError(f'{path}: expected a COCO results list')
    by: Dict[int, List[dict]] = {}
    for r in rows:
        by.setdefault(int(r['image_id']), []).append(r)
    out = {}
    for iid, rs in by.items():
        b = np.array([r['bbox'] for r in rs], np.float64).reshape(-1, 4)
        out[iid] = (
            np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], 1),
            np.array([r['score'] for r in rs]),
            np.array([D.CATEGORY_ID_TO_INDEX[int(r['category_id'])] for r in rs]),
        )
    return out


def paired_bootstrap(
    gts: Dict[int, tuple], dets: Sequence[Dict[int, tuple]], resamples: int = 200, seed: int = 0
) -> dict:
    """AP of each detector on all images of gts, and `resamples` paired image resamples of AP(dets[1]) − AP(dets[0])."""
    ids = sorted(gts)
    full = [coco_ap(gts, d)['AP'] for d in dets]
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(resamples):
        pick = rng.integers(0, len(ids), len(ids))
        g = {n: gts[ids[i]] for n, i in enumerate(pick)}
        aps = [coco_ap(g, {n: d[ids[i]] for n, i in enumerate(pick) if ids[i] in d})['AP'] for d in dets]
        diffs.append(aps[1] - aps[0])
    d = np.array(diffs)
    return {
        'AP': full,
        'difference': full[1] - full[0],
        'resamples': resamples,
        'seed': seed,
        'ci95': [float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))] if resamples else None,
        'sd': float(d.std()) if resamples else None,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        prog='python3 -m training.lors_studio.compare',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument('--annotations', required=True)
    ap.add_argument('--dets', action='append', required=True, help='COCO results JSON; give it twice (A, then B)')
    ap.add_argument('--resamples', type=int, default=200)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--json', default=None)
    a = ap.parse_args(argv)
    if len(a.dets) != 2:
        ap.error('--dets must be given exactly twice')
    coco = D.CocoAnnotations(a.annotations)
    gts = {iid: (rec.boxes, rec.labels, rec.areas) for iid, rec in coco.images.items()}
    r = paired_bootstrap(gts, [load_dets(p) for p in a.dets], a.resamples, a.seed)
    r['dets'] = a.dets
    print(
        f'AP A {r["AP"][0]:.2f}, B {r["AP"][1]:.2f}; B − A {r["difference"]:+.2f}'
        + (
            f', 95% paired-bootstrap interval [{r["ci95"][0]:+.2f}, {r["ci95"][1]:+.2f}] over {a.resamples} '
            f'resamples of the {len(gts)} images'
            if r['ci95']
            else ''
        )
    )
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(r, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
