"""Box math: the parameterisation of AdaMixer queries (docs/model.md §2), the attention's box priors
(docs/model.md §3.1) and the xyxy GIoU of the matching cost and the loss (docs/model.md §4). The bottom of the
import graph: boxes ← matching ← losses.

xyzr: x, y = box centre (input pixels), z = log2(sqrt(w·h)), r = log2(h/w).
"""

from __future__ import annotations

import torch


def decode_xyzr(xyzr: torch.Tensor) -> torch.Tensor:
    """[..., 4] xyzr → [..., 4] xyxy: w = 2^(z − r/2), h = 2^(z + r/2)."""
    x, y, z, r = xyzr.unbind(-1)
    w = torch.pow(2.0, z - 0.5 * r)
    h = torch.pow(2.0, z + 0.5 * r)
    return torch.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], dim=-1)


def xyxy_to_xyzr(xyxy: torch.Tensor) -> torch.Tensor:
    """Inverse of decode_xyzr for boxes with positive width and height."""
    x1, y1, x2, y2 = xyxy.unbind(-1)
    w, h = x2 - x1, y2 - y1
    return torch.stack([(x1 + x2) * 0.5, (y1 + y2) * 0.5, 0.5 * torch.log2(w * h), torch.log2(h / w)], dim=-1)


def initial_xyzr(image_size: torch.Tensor, queries: int, proposals: 'torch.Tensor | None' = None) -> torch.Tensor:
    """The queries' initial boxes [B, L, 4] xyzr (no gradient): whole-image boxes for every query (AdaMixer), or
    `proposals` [B, L, 4] xyxy input pixels (queryInit 'nanodet': the data pipeline pads them with whole-image
    boxes); sides below 1 px are widened to 1 px (as src/model/adamixer/boxes.ts initialXyzr)."""
    if proposals is not None:
        if proposals.dim() != 3 or proposals.shape[0] != image_size.shape[0] or proposals.shape[1:] != (queries, 4):
            raise ValueError(f'proposals must be [{image_size.shape[0]}, {queries}, 4], got {list(proposals.shape)}')
        x1, y1, x2, y2 = proposals.to(image_size.dtype).unbind(-1)
        w, h = (x2 - x1).clamp(min=1.0), (y2 - y1).clamp(min=1.0)
        return torch.stack([(x1 + x2) * 0.5, (y1 + y2) * 0.5, 0.5 * torch.log2(w * h), torch.log2(h / w)], dim=-1)
    w, h = image_size[:, 0], image_size[:, 1]
    xyzr = torch.stack([w * 0.5, h * 0.5, 0.5 * torch.log2(w * h), torch.log2(h / w)], dim=-1)
    return xyzr[:, None, :].expand(-1, queries, -1).contiguous()


def iof_matrix(boxes: torch.Tensor) -> torch.Tensor:
    """[B, L, 4] xyxy → [B, L, L] with iof[b, i, j] = inter(i, j) / max(area(i), 1e-6) (rows: attending query i)."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    area = (x2 - x1) * (y2 - y1)
    iw = (torch.minimum(x2[:, :, None], x2[:, None, :]) - torch.maximum(x1[:, :, None], x1[:, None, :])).clamp(min=0)
    ih = (torch.minimum(y2[:, :, None], y2[:, None, :]) - torch.maximum(y1[:, :, None], y1[:, None, :])).clamp(min=0)
    return (iw * ih) / area.clamp(min=1e-6)[:, :, None]


def position_embedding(xyzr: torch.Tensor, d_query: int, pos_scale: float = 1000.0) -> torch.Tensor:
    """Sinusoidal embedding of xyzr (docs/model.md §3.1): [B, L, 4] → [B, L, d_query].

    v = xyzr / [s, s, 1, 1] with s = pos_scale (config posScale; AdaMixer's 1000); D = d_query/4 per coordinate; freq_m
    = 10000^(2m/D); pe[c·D + 2m] = sin(v_c / freq_m), pe[c·D + 2m + 1] = cos(v_c / freq_m); blocks in order x, y, z, r.
    """
    if d_query % 8 != 0:
        raise ValueError(f'position_embedding needs d_query divisible by 8, got {d_query}')
    D = d_query // 4
    scale = torch.tensor([pos_scale, pos_scale, 1.0, 1.0], dtype=xyzr.dtype, device=xyzr.device)
    v = xyzr / scale  # [B, L, 4]
    m = torch.arange(D // 2, dtype=xyzr.dtype, device=xyzr.device)
    freq = torch.pow(torch.tensor(10000.0, dtype=xyzr.dtype, device=xyzr.device), 2.0 * m / D)  # [D/2]
    a = v[..., None] / freq  # [B, L, 4, D/2]
    pe = torch.stack([torch.sin(a), torch.cos(a)], dim=-1)  # [B, L, 4, D/2, 2]
    return pe.flatten(-3)


def box_area(b: torch.Tensor) -> torch.Tensor:
    return (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)


def giou_aligned(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """GIoU of a[i] and b[i] ([N, 4] each) → [N]."""
    lt = torch.max(a[:, :2], b[:, :2])
    rb = torch.min(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    union = box_area(a) + box_area(b) - inter
    iou = inter / union.clamp(min=eps)
    elt = torch.min(a[:, :2], b[:, :2])
    erb = torch.max(a[:, 2:], b[:, 2:])
    enclose = (erb - elt).clamp(min=0).prod(-1)
    return iou - (enclose - union) / enclose.clamp(min=eps)


def giou_pairwise(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """GIoU of every a[..., i] with every b[..., j] ([..., N, 4], [..., M, 4], same leading dims) → [..., N, M]."""
    a, b = a[..., :, None, :], b[..., None, :, :]
    lt = torch.max(a[..., :2], b[..., :2])
    rb = torch.min(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    union = box_area(a) + box_area(b) - inter
    iou = inter / union.clamp(min=eps)
    enclose = (torch.max(a[..., 2:], b[..., 2:]) - torch.min(a[..., :2], b[..., :2])).clamp(min=0).prod(-1)
    return iou - (enclose - union) / enclose.clamp(min=eps)


__all__ = [
    'decode_xyzr',
    'xyxy_to_xyzr',
    'initial_xyzr',
    'iof_matrix',
    'position_embedding',
    'box_area',
    'giou_aligned',
    'giou_pairwise',
]
