"""AdaMixer's training losses (docs/model.md §4): sigmoid focal (α 0.25, γ 2, weight 2), L1 on normalised xyxy (weight
5) and GIoU (weight 2), per stage on that stage's Hungarian matching, each divided by avg_factor = number of matched
queries (mean over DDP ranks, at least 1), summed over the stages (stage weights 1).

Optional score distillation (docs/model.md §4.1): each query that starts from a NanoDet proposal learns that
proposal's 80 class scores as soft targets, with GFL's quality focal loss, at every stage."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .boxes import giou_aligned
from .matching import FOCAL_ALPHA, FOCAL_GAMMA, hungarian_assign, pad_gt

W_CLS = 2.0
W_L1 = 5.0
W_GIOU = 2.0


# ---------------------------------------------------------------------------------------------------------------
# Loss terms (unweighted sums; the caller divides by avg_factor and applies the weights)


def sigmoid_focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, alpha: float = FOCAL_ALPHA, gamma: float = FOCAL_GAMMA
) -> torch.Tensor:
    """The sigmoid focal loss of every entry (mmdet's form): BCE(p, t) · (α t + (1−α)(1−t)) · ((1−p) t + p (1−t))^γ."""
    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction='none')
    pt = (1 - p) * targets + p * (1 - targets)
    return ce * (alpha * targets + (1 - alpha) * (1 - targets)) * pt.pow(gamma)


def quality_focal_loss(logits: torch.Tensor, targets: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """GFL's quality focal loss of every entry, soft targets t in [0, 1]: BCE(p, t) · |p − t|^β."""
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction='none')
    return ce * (logits.sigmoid() - targets).abs().pow(beta)


# ---------------------------------------------------------------------------------------------------------------


def reduce_avg_factor(num_matched: float, device: torch.device) -> float:
    """Mean of num_matched over the DDP ranks (mmdet's reduce_mean), guarded ≥ 1."""
    if not (
        torch.distributed.is_available()
        and torch.distributed.is_initialized()
        and torch.distributed.get_world_size() > 1
    ):
        return max(float(num_matched), 1.0)  # no device round trip without DDP
    t = torch.tensor(float(num_matched), dtype=torch.float32, device=device)
    torch.distributed.all_reduce(t)
    return max(float(t.item()) / torch.distributed.get_world_size(), 1.0)


def stage_losses(
    stage_outputs: Sequence[Dict[str, torch.Tensor]],
    gt_boxes: torch.Tensor,
    gt_labels: torch.Tensor,
    image_size: torch.Tensor,
    avg_factor: Optional[float] = None,
    assigned=None,
    distill: Optional['Distill'] = None,
) -> Tuple[torch.Tensor, torch.Tensor, float]:
    """The losses of every stage at once, batched on the device: gt_boxes [B, M, 4] xyxy input pixels and gt_labels
    [B, M] (−1 = none, an image's boxes first; matching.pad_gt). Returns (total loss to backprop, per-stage terms
    [S, 4] = cls, l1, giou, distill (0 without `distill`; detached, on the device: no host copy), avg_factor). One
    host synchronisation: the matching's (matching.hungarian_assign; `assigned` = its result when the caller ran it
    already)."""
    logits = torch.stack([o['logits'] for o in stage_outputs]).float()  # [S, B, L, K]
    boxes = torch.stack([o['boxes'] for o in stage_outputs]).float()  # [S, B, L, 4]
    S, B, L, _ = logits.shape
    device = logits.device
    whwh = image_size.to(device=device, dtype=torch.float32).repeat(1, 2)  # [B, 4]
    gt_boxes, gt_labels = gt_boxes.to(device), gt_labels.to(device)
    pairs, counts = assigned or hungarian_assign(logits.detach(), boxes.detach(), gt_boxes, gt_labels, whwh)
    if avg_factor is None:
        avg_factor = reduce_avg_factor(float(np.minimum(counts, L).sum()), device)
    pairs_t = torch.from_numpy(pairs)
    if device.type == 'cuda':  # pinned + non-blocking: a pageable copy would wait for all queued GPU work
        pairs_t = pairs_t.pin_memory()
    s, b, q, g = pairs_t.to(device, non_blocking=True).unbind(0)
    targets = torch.zeros_like(logits)
    targets[s, b, q, gt_labels[b, g]] = 1.0
    cls = W_CLS * sigmoid_focal_loss(logits, targets).sum((1, 2, 3)) / avg_factor
    pred, tgt, nz = boxes[s, b, q], gt_boxes[b, g], whwh[b]
    zero = boxes.sum() * 0.0  # keeps the box branch in the graph when there is no gt
    l1 = (
        W_L1 * (zero + torch.zeros(S, device=device).index_add(0, s, (pred / nz - tgt / nz).abs().sum(-1))) / avg_factor
    )
    giou = W_GIOU * (zero + torch.zeros(S, device=device).index_add(0, s, 1 - giou_aligned(pred, tgt))) / avg_factor
    kd = zero + torch.zeros(S, device=device)
    if distill is not None and distill.weight > 0:
        t = distill.targets.to(device=device, dtype=logits.dtype)  # [B, L, K]
        m = distill.mask.to(device=device, dtype=logits.dtype)  # [B, L]
        q = quality_focal_loss(logits, t.expand_as(logits), distill.beta).sum(-1)  # [S, B, L]
        kd = kd + distill.weight * (q * m).sum((1, 2)) / avg_factor
    parts = torch.stack([cls, l1, giou, kd], 1)
    return parts.sum(), parts.detach(), avg_factor


class Distill:
    """Score distillation inputs: targets [B, L, K] (NanoDet's class scores of query i's proposal), mask [B, L]
    (1 = the query has one), the term's weight and the quality focal loss's β."""

    def __init__(self, targets: torch.Tensor, mask: torch.Tensor, weight: float, beta: float = 2.0):
        self.targets, self.mask, self.weight, self.beta = targets, mask, float(weight), float(beta)


def detection_losses(
    stage_outputs: Sequence[Dict[str, torch.Tensor]],
    gt_boxes: List[torch.Tensor],
    gt_labels: List[torch.Tensor],
    image_size: torch.Tensor,
    avg_factor: Optional[float] = None,
    distill: Optional[Distill] = None,
) -> Tuple[torch.Tensor, Dict[str, float]]:
    """Total loss (a scalar to backprop) and a dict of floats for logging: loss_cls, loss_l1, loss_giou, loss_distill
    (summed over stages), s{i} (each stage's total), avg_factor.

    stage_outputs[i]: dict(logits [B, L, K], boxes [B, L, 4] xyxy input pixels). gt_boxes[b]: [M_b, 4] xyxy input
    pixels, gt_labels[b]: [M_b]. image_size: [B, 2] (w, h) used to normalise the boxes for L1."""
    device = stage_outputs[0]['logits'].device
    total, parts, avg_factor = stage_losses(
        stage_outputs, *pad_gt(gt_boxes, gt_labels, device), image_size, avg_factor, distill=distill
    )
    per_stage = parts.double().cpu().numpy()  # [stages, 4]
    log: Dict[str, float] = {
        'loss': float(per_stage.sum()),
        'loss_cls': float(per_stage[:, 0].sum()),
        'loss_l1': float(per_stage[:, 1].sum()),
        'loss_giou': float(per_stage[:, 2].sum()),
    }
    if distill is not None:
        log['loss_distill'] = float(per_stage[:, 3].sum())
    for si, row in enumerate(per_stage):
        log[f's{si}'] = float(row.sum())
    log['avg_factor'] = float(avg_factor)
    return total, log
