"""AdaMixer's training losses (spec §3): sigmoid focal (α 0.25, γ 2, weight 2), L1 on normalised xyxy (weight 5)
and GIoU (weight 2), per stage on that stage's Hungarian matching, each divided by avg_factor = number of matched
queries (mean over DDP ranks, at least 1), summed over the stages (stage weights 1)."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from .boxes import giou_aligned
from .matching import FOCAL_ALPHA, FOCAL_GAMMA, hungarian_match_batch

W_CLS = 2.0
W_L1 = 5.0
W_GIOU = 2.0


# ---------------------------------------------------------------------------------------------------------------
# Loss terms (unweighted sums; the caller divides by avg_factor and applies the weights)

def sigmoid_focal_loss_sum(logits: torch.Tensor, targets: torch.Tensor, alpha: float = FOCAL_ALPHA,
                           gamma: float = FOCAL_GAMMA) -> torch.Tensor:
    """Σ over all entries of the sigmoid focal loss (mmdet's form):
    BCE(p, t) · (α t + (1−α)(1−t)) · ((1−p) t + p (1−t))^γ."""
    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    pt = (1 - p) * targets + p * (1 - targets)
    w = (alpha * targets + (1 - alpha) * (1 - targets)) * pt.pow(gamma)
    return (ce * w).sum()


def l1_sum(pred_norm: torch.Tensor, target_norm: torch.Tensor) -> torch.Tensor:
    return (pred_norm - target_norm).abs().sum()


def giou_loss_sum(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if pred.numel() == 0:
        return pred.sum() * 0
    return (1 - giou_aligned(pred, target)).sum()


# ---------------------------------------------------------------------------------------------------------------

def reduce_avg_factor(num_matched: float, device: torch.device) -> float:
    """Mean of num_matched over the DDP ranks (mmdet's reduce_mean), guarded ≥ 1."""
    t = torch.tensor(float(num_matched), dtype=torch.float32, device=device)
    if torch.distributed.is_available() and torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
        torch.distributed.all_reduce(t)
        t = t / torch.distributed.get_world_size()
    return max(float(t.item()), 1.0)


def detection_losses(stage_outputs: Sequence[Dict[str, torch.Tensor]], gt_boxes: List[torch.Tensor],
                     gt_labels: List[torch.Tensor], image_size: torch.Tensor,
                     avg_factor: Optional[float] = None) -> Tuple[torch.Tensor, Dict[str, float]]:
    """Total loss (a scalar to backprop) and a dict of floats for logging: loss_cls, loss_l1, loss_giou (summed over
    stages), s{i} (each stage's total), avg_factor.

    stage_outputs[i]: dict(logits [B, L, K], boxes [B, L, 4] xyxy input pixels). gt_boxes[b]: [M_b, 4] xyxy input
    pixels, gt_labels[b]: [M_b]. image_size: [B, 2] (w, h) used to normalise the boxes for L1."""
    first = stage_outputs[0]["logits"]
    B, L, K = first.shape
    device = first.device
    if avg_factor is None:
        avg_factor = reduce_avg_factor(sum(min(L, int(g.shape[0])) for g in gt_boxes), device)
    whwh = image_size.to(device=device, dtype=first.dtype).repeat(1, 2)  # [B, 4]
    total = first.new_zeros(())
    parts: List[torch.Tensor] = []  # per stage: cls, l1, giou (detached; one host copy at the end)
    for si, out in enumerate(stage_outputs):
        logits, boxes = out["logits"], out["boxes"]
        targets = torch.zeros_like(logits)
        pred_sel, gt_sel, norm_sel = [], [], []
        matches = hungarian_match_batch(logits.detach(), boxes.detach(), gt_boxes, gt_labels, whwh)
        for b, (pi, gi) in enumerate(matches):
            gb, gl = gt_boxes[b], gt_labels[b]
            if len(pi) == 0:
                continue
            pi_t = torch.as_tensor(pi, dtype=torch.long, device=device)
            gi_t = torch.as_tensor(gi, dtype=torch.long, device=device)
            targets[b, pi_t, gl[gi_t]] = 1.0
            pred_sel.append(boxes[b, pi_t])
            gt_sel.append(gb[gi_t].to(boxes.dtype))
            norm_sel.append(whwh[b].expand(len(pi), 4))
        loss_cls = W_CLS * sigmoid_focal_loss_sum(logits, targets) / avg_factor
        if pred_sel:
            pb, tb, nz = torch.cat(pred_sel), torch.cat(gt_sel), torch.cat(norm_sel)
            loss_l1 = W_L1 * l1_sum(pb / nz, tb / nz) / avg_factor
            loss_giou = W_GIOU * giou_loss_sum(pb, tb) / avg_factor
        else:  # no gt in the batch: keep the box branch in the graph with a zero loss
            loss_l1 = boxes.sum() * 0.0
            loss_giou = boxes.sum() * 0.0
        total = total + loss_cls + loss_l1 + loss_giou
        parts.append(torch.stack([loss_cls.detach(), loss_l1.detach(), loss_giou.detach()]))
    per_stage = torch.stack(parts).double().cpu().numpy()  # [stages, 3]
    log: Dict[str, float] = {"loss": float(per_stage.sum()), "loss_cls": float(per_stage[:, 0].sum()),
                             "loss_l1": float(per_stage[:, 1].sum()), "loss_giou": float(per_stage[:, 2].sum())}
    for si, row in enumerate(per_stage):
        log[f"s{si}"] = float(row.sum())
    log["avg_factor"] = float(avg_factor)
    return total, log
