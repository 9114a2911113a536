"""Evaluation of a decoder on a dataset (the trainer's val / holdout AP, compress.py's grid).

`coco_ap`: COCO-style box AP from arrays, computed by coco_eval.py (the mirror of the app's evaluator).
`predict`: AdaMixer's inference (docs/model.md §4) — last stage, σ(logits) flattened, top-k (k = 100 = L), label = idx %
K, box = boxes[idx // K] mapped back to original pixels by / scale and clipped to the image. No NMS.
`evaluate`: predict over a dataset.DetectionDataset (or any object with the same `batches`/`ids`/`coco`) → coco_ap.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from .coco_eval import MAX_DETS, evaluate_coco

# gts[image_id] = (boxes [M, 4] xyxy, labels [M], areas [M] or None)
# dets[image_id] = (boxes [D, 4] xyxy, scores [D], labels [D])
Gts = Dict[int, Tuple[np.ndarray, np.ndarray, 'np.ndarray | None']]
Dets = Dict[int, Tuple[np.ndarray, np.ndarray, np.ndarray]]


def coco_ap(gts: Gts, dets: Dets, num_classes: int = 80, max_dets: int = 100) -> Dict[str, float]:
    """COCO-style AP over the images of `gts` (dets of other images are ignored), by `coco_eval.evaluate_coco`
    (the Python mirror of the app's evaluator, src/eval/coco.ts). Keys: AP, AP50, AP75, APs, APm, APl, AR100
    (percent). Labels are contiguous indices 0..num_classes-1."""
    if max_dets != MAX_DETS[-1]:
        raise ValueError(f"coco_ap: only maxDets {MAX_DETS[-1]} is supported (COCO's)")
    gt = {'images': [], 'annotations': [], 'categories': [{'id': k, 'name': str(k)} for k in range(num_classes)]}
    det_list = []
    for iid, (gboxes, glabels, gareas) in gts.items():
        gt['images'].append({'id': int(iid)})
        gboxes = np.asarray(gboxes, dtype=np.float64).reshape(-1, 4)
        glabels = np.asarray(glabels).reshape(-1).astype(np.int64)
        for n, (b, k) in enumerate(zip(gboxes, glabels)):
            a = {
                'id': len(gt['annotations']) + 1,
                'image_id': int(iid),
                'category_id': int(k),
                'bbox': [b[0], b[1], b[2] - b[0], b[3] - b[1]],
            }
            if gareas is not None:
                a['area'] = float(np.asarray(gareas).reshape(-1)[n])
            gt['annotations'].append(a)
        if iid in dets:
            dboxes, dscores, dlabels = dets[iid]
            dboxes = np.asarray(dboxes, dtype=np.float64).reshape(-1, 4)
            for b, sc, k in zip(dboxes, np.asarray(dscores).reshape(-1), np.asarray(dlabels).reshape(-1)):
                det_list.append(
                    {
                        'image_id': int(iid),
                        'category_id': int(k),
                        'bbox': [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                        'score': float(sc),
                    }
                )
    r = evaluate_coco(gt, det_list)
    return {k: r[k] for k in ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR100')}


@torch.no_grad()
def predict(
    last_stage: Dict[str, torch.Tensor],
    scales: torch.Tensor,
    orig_sizes: torch.Tensor,
    offsets: 'torch.Tensor | None' = None,
    k: int = 100,
) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """AdaMixer inference on the last stage's outputs → per image (boxes [k, 4] xyxy original pixels, scores [k],
    labels [k]), k = min(k, L·K). The default 100 is COCO's maxDets and the app's (src/model/detector.ts); with
    the paper's and web preset's L = 100 queries it is the spec's k = L."""
    logits, boxes = last_stage['logits'], last_stage['boxes']
    B, L, K = logits.shape
    k = min(k, L * K)
    scores = logits.sigmoid().reshape(B, L * K)
    top, idx = scores.topk(k, dim=1)
    labels = idx % K
    q = torch.div(idx, K, rounding_mode='floor')
    sel = torch.gather(boxes, 1, q[..., None].expand(B, k, 4)).double()
    if offsets is not None:
        sel = sel + offsets.to(sel).repeat(1, 2)[:, None, :]
    sel = sel / scales.to(sel)[:, None, None]
    wh = orig_sizes.to(sel)
    sel[..., 0::2] = sel[..., 0::2].clamp(min=0).minimum(wh[:, None, 0:1])
    sel[..., 1::2] = sel[..., 1::2].clamp(min=0).minimum(wh[:, None, 1:2])
    return [(sel[b].cpu().numpy(), top[b].double().cpu().numpy(), labels[b].cpu().numpy()) for b in range(B)]


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    dataset,
    batch_size: int,
    device: torch.device,
    on_batch: Optional[Callable[[], None]] = None,
    all_stages: bool = False,
) -> Dict[str, float]:
    """COCO-style AP of the last stage on `dataset` (no augmentation), boxes in original pixels. on_batch: called
    after each batch (a progress bar). all_stages: also 'stage_AP', the AP of every stage's predictions."""
    was_training = model.training
    model.eval()
    dets: List[dict] = []
    for batch in dataset.batches(list(range(len(dataset))), batch_size, epoch=0):
        b = batch.to(device)
        outs = model(b.levels, b.image_size, b.proposals, b.valid)
        outs = outs if all_stages else outs[-1:]
        dets += [{} for _ in range(len(outs) - len(dets))]
        for d, o in zip(dets, outs):
            d.update(zip(batch.image_ids, predict(o, b.scales, b.orig_sizes)))
        if on_batch is not None:
            on_batch()
    model.train(was_training)
    recs = {iid: dataset.coco.images[iid] for iid in dataset.ids}
    gts = {iid: (r.boxes, r.labels, r.areas) for iid, r in recs.items()}
    res = coco_ap(gts, dets[-1])
    if all_stages:
        res['stage_AP'] = [coco_ap(gts, d)['AP'] for d in dets]
    return res
