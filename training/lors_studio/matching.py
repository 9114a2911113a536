"""Per-stage Hungarian matching of queries to ground truth (docs/model.md §4, mmdet's HungarianAssigner as AdaMixer uses
it).

cost = 2·FocalCost + 5·L1(normalised xyxy) + 2·(−GIoU(absolute xyxy)), with
  p = σ(logit), neg = −log(1 − p + 1e-12)·(1 − α)·p^γ, pos = −log(p + 1e-12)·α·(1 − p)^γ,
  FocalCost = pos[:, gt] − neg[:, gt]
(α = 0.25, γ = 2), solved with scipy.optimize.linear_sum_assignment on the detached predictions.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from .boxes import giou_pairwise

FOCAL_ALPHA = 0.25  # also the focal loss's (losses.py)
FOCAL_GAMMA = 2.0
COST_CLS = 2.0
COST_L1 = 5.0
COST_GIOU = 2.0


def focal_cost(
    logits: torch.Tensor,
    gt_labels: torch.Tensor,
    alpha: float = FOCAL_ALPHA,
    gamma: float = FOCAL_GAMMA,
    eps: float = 1e-12,
) -> torch.Tensor:
    """[..., L, K] logits, [..., M] labels → [..., L, M] (unweighted)."""
    p = logits.sigmoid()
    neg = -(1 - p + eps).log() * (1 - alpha) * p.pow(gamma)
    pos = -(p + eps).log() * alpha * (1 - p).pow(gamma)
    idx = gt_labels.long().unsqueeze(-2).expand(*logits.shape[:-1], gt_labels.shape[-1])
    return pos.gather(-1, idx) - neg.gather(-1, idx)


def match_cost(
    logits: torch.Tensor, boxes: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor, whwh: torch.Tensor
) -> torch.Tensor:
    """The weighted cost matrices [..., L, M] (any leading dims: stages, images). boxes [..., L, 4] / gt_boxes
    [..., M, 4]: xyxy absolute input pixels; whwh [..., 4]: (w, h, w, h) of the image."""
    logits, boxes = logits.float(), boxes.float()
    gt_boxes = gt_boxes.to(boxes)
    whwh = whwh.to(boxes)[..., None, :]
    c_l1 = torch.cdist(boxes / whwh, gt_boxes / whwh, p=1)
    return COST_CLS * focal_cost(logits, gt_labels) + COST_L1 * c_l1 - COST_GIOU * giou_pairwise(boxes, gt_boxes)


def pad_gt(
    gt_boxes: Sequence[torch.Tensor], gt_labels: Sequence[torch.Tensor], device=None
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-image lists ([M_b, 4], [M_b]) → padded (boxes [B, M, 4] float32, labels [B, M] int64, −1 = none)."""
    B, M = len(gt_boxes), max([int(g.shape[0]) for g in gt_boxes] + [0])
    device = device if device is not None else (gt_boxes[0].device if B else None)
    boxes = torch.zeros(B, M, 4, device=device)
    labels = torch.full((B, M), -1, dtype=torch.long, device=device)
    for b, (g, l) in enumerate(zip(gt_boxes, gt_labels)):
        boxes[b, : len(g)] = g.to(boxes)
        labels[b, : len(g)] = l.to(labels)
    return boxes, labels


@torch.no_grad()
def start_assign(
    logits: torch.Tensor, boxes: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor, whwh: torch.Tensor
):
    """Queues the cost matrices of every stage and image (built batched on the device) and their copy to the host
    (pinned memory on CUDA, non-blocking, with an event), so the caller can queue more GPU work before
    finish_assign waits for it. Shapes: see hungarian_assign."""
    S, B, L = logits.shape[:3]
    M = gt_boxes.shape[1]
    cost = (
        match_cost(
            logits,
            boxes,
            gt_boxes.expand(S, -1, -1, -1),
            gt_labels.clamp(min=0).expand(S, -1, -1),
            whwh.expand(S, -1, -1),
        )
        if M
        else logits.new_zeros(S, B, L, 0)
    )
    flat = torch.cat([cost.reshape(-1).float(), (gt_labels >= 0).sum(1).float()])
    if flat.is_cuda:
        host = torch.empty(flat.shape, dtype=flat.dtype, pin_memory=True)
        host.copy_(flat, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        return host, event, (S, B, L, M)
    return flat, None, (S, B, L, M)


def finish_assign(handle) -> Tuple[np.ndarray, np.ndarray]:
    """Waits for start_assign's copy, then solves each image's assignment on the CPU (linear_sum_assignment)."""
    host, event, (S, B, L, M) = handle
    if event is not None:
        event.synchronize()
    host = host.numpy()
    counts = host[S * B * L * M :].astype(np.int64)
    cost = host[: S * B * L * M].reshape(S, B, L, M)
    if not np.isfinite(cost).all():  # padded columns are finite too (zero boxes, label 0)
        raise FloatingPointError('non-finite matching cost (the model produced NaN/inf logits or boxes)')
    n = np.minimum(counts, L)
    rows, cols = [], []
    for si in range(S):
        for b in np.flatnonzero(counts):
            r, c = linear_sum_assignment(cost[si, b, :, : counts[b]])
            rows.append(r)
            cols.append(c)
    k = int(n.sum())
    if not rows:
        return np.zeros((4, 0), np.int64), counts
    return np.stack(
        [np.repeat(np.arange(S), k), np.tile(np.repeat(np.arange(B), n), S), np.concatenate(rows), np.concatenate(cols)]
    ).astype(np.int64), counts


def hungarian_assign(
    logits: torch.Tensor, boxes: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor, whwh: torch.Tensor
) -> Tuple[np.ndarray, np.ndarray]:
    """Every stage and image at once: logits [S, B, L, K], boxes [S, B, L, 4]; gt_boxes [B, M, 4], gt_labels [B, M]
    (−1 = none; an image's boxes first); whwh [B, 4]. The cost matrices are built batched on the device, copied to
    the host once (the only synchronisation), and only the assignment runs on the CPU (linear_sum_assignment).
    Returns (pairs [4, n] int64 = stage, image, query, gt index; gt counts [B])."""
    return finish_assign(start_assign(logits, boxes, gt_boxes, gt_labels, whwh))
