"""Per-stage Hungarian matching of queries to ground truth (spec §3, mmdet's HungarianAssigner as AdaMixer uses it).

cost = 2·FocalCost + 5·L1(normalised xyxy) + 2·(−GIoU(absolute xyxy)), with
  p = σ(logit), neg = −log(1 − p + 1e-12)·(1 − α)·p^γ, pos = −log(p + 1e-12)·α·(1 − p)^γ, FocalCost = pos[:, gt] − neg[:, gt]
(α = 0.25, γ = 2), solved with scipy.optimize.linear_sum_assignment on the detached predictions.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from .boxes import giou_pairwise

FOCAL_ALPHA = 0.25  # also the focal loss's (losses.py)
FOCAL_GAMMA = 2.0
COST_CLS = 2.0
COST_L1 = 5.0
COST_GIOU = 2.0


def focal_cost(logits: torch.Tensor, gt_labels: torch.Tensor, alpha: float = FOCAL_ALPHA,
               gamma: float = FOCAL_GAMMA, eps: float = 1e-12) -> torch.Tensor:
    """[L, K] logits, [M] labels → [L, M] (unweighted)."""
    p = logits.sigmoid()
    neg = -(1 - p + eps).log() * (1 - alpha) * p.pow(gamma)
    pos = -(p + eps).log() * alpha * (1 - p).pow(gamma)
    return pos[:, gt_labels] - neg[:, gt_labels]


def match_cost(logits: torch.Tensor, boxes: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor,
               whwh: torch.Tensor) -> torch.Tensor:
    """The weighted cost matrix [L, M]. boxes/gt_boxes: xyxy absolute input pixels; whwh: (w, h, w, h) of the image."""
    logits = logits.float()
    boxes = boxes.float()
    gt_boxes = gt_boxes.to(boxes)
    whwh = whwh.to(boxes)
    c_cls = focal_cost(logits, gt_labels.long())
    c_l1 = torch.cdist(boxes / whwh, gt_boxes / whwh, p=1)
    c_giou = -giou_pairwise(boxes, gt_boxes)
    return COST_CLS * c_cls + COST_L1 * c_l1 + COST_GIOU * c_giou


@torch.no_grad()
def hungarian_match_batch(logits: torch.Tensor, boxes: torch.Tensor, gt_boxes: Sequence[torch.Tensor],
                          gt_labels: Sequence[torch.Tensor], whwh: torch.Tensor) -> List[Tuple[np.ndarray, np.ndarray]]:
    """hungarian_match for every image of a batch (logits [B, L, K], boxes [B, L, 4], whwh [B, 4]) with a single
    device → host copy of all cost matrices (one synchronisation per stage on a GPU)."""
    B, L = logits.shape[:2]
    costs, sizes = [], []
    for b in range(B):
        m = int(gt_boxes[b].shape[0])
        sizes.append(m)
        if m:
            costs.append(match_cost(logits[b], boxes[b], gt_boxes[b], gt_labels[b], whwh[b]).reshape(-1))
    flat = torch.cat(costs).cpu().numpy() if costs else np.zeros(0)
    if not np.isfinite(flat).all():
        raise FloatingPointError("non-finite matching cost (the model produced NaN/inf logits or boxes)")
    out, at = [], 0
    for m in sizes:
        if m == 0:
            out.append((np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)))
            continue
        rows, cols = linear_sum_assignment(flat[at:at + L * m].reshape(L, m))
        at += L * m
        out.append((rows.astype(np.int64), cols.astype(np.int64)))
    return out


def hungarian_match(logits: torch.Tensor, boxes: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor,
                    whwh: torch.Tensor) -> Tuple[np.ndarray, np.ndarray]:
    """One image ([L, K], [L, 4], [M, 4], [M], (w, h) or whwh): (query indices, gt indices), min(L, M) pairs,
    sorted by query index."""
    whwh = whwh.repeat(2) if whwh.numel() == 2 else whwh
    return hungarian_match_batch(logits[None], boxes[None], [gt_boxes], [gt_labels], whwh[None])[0]
