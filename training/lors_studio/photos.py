"""The GPU trainer's data: photos resident on the device and their augmentation in pixel space (gpu_train.py).

Augmentation: horizontal flip, random rescale (scale-min..scale-max of the letterbox scale, the letterbox kept at
416: larger images are cut to 416, smaller ones padded), a random image-space crop (probability crop-prob, each side
crop-min..1 of the rescaled image), mild photometric jitter (brightness, contrast, saturation), all by one bilinear
resampling per photo; boxes (and NanoDet's query proposals, computed once per photo at load) take the same flip /
scale / shift, are clipped to the window and dropped under min-box px (proposals under 1 px are replaced by
whole-window boxes, as dataset.pad_proposals does); a photo left with no box falls back to its unscaled, uncropped
view. The crop is a real image crop: the features inside the window are those of the window alone, as at inference
(the cached path's feature-space crop only approximates this). The proposals' class scores (score distillation)
follow the proposal rows; a flipped photo's proposals are mirrored with their scores, not recomputed.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import backbone as BB
from . import data as D
from . import dataset as DS

S = BB.NANODET_SIZE
MEAN_BGR = torch.tensor(BB.NANODET_MEAN_BGR)
STD_BGR = torch.tensor(BB.NANODET_STD_BGR)


class Photos:
    """One split: the letterbox-resized photos as uint8 [N, 416, 416, 3] (top-left, zeros elsewhere), their image
    sizes [N, 2] (w, h), boxes [N, M, 4] in letterbox pixels with labels [N, M] (−1 = none), NanoDet's query
    proposals [N, P, 5] (score < 0 = none) and, with `scores`, their 80 class scores [N, P, 80] (float16, as the
    cached path's .proposal-scores.f16), all on `device`."""

    def __init__(
        self,
        images_dir: str,
        annotations: str,
        graph: BB.NanoDetGraph,
        device,
        proposals: int,
        limit: Optional[int] = None,
        skip_empty: bool = False,
        scores: bool = False,
    ):
        self.coco = D.CocoAnnotations(annotations)
        ids = [i for i in self.coco.ids() if not skip_empty or len(self.coco.images[i].labels)]
        self.ids = ids[:limit] if limit else ids
        recs = [self.coco.images[i] for i in self.ids]
        geo = [BB.letterbox_geometry(r.width, r.height, S) for r in recs]

        def load(k: int) -> np.ndarray:
            r, (_, w, h) = recs[k], geo[k]
            for name in (os.path.splitext(r.file_name)[0] + '.webp', r.file_name):
                path = os.path.join(images_dir, name)
                if os.path.isfile(path):
                    with Image.open(path) as im:
                        rgb = np.array(im.convert('RGB'))
                    break
            else:
                raise FileNotFoundError(f'{images_dir}: no {r.file_name} (nor its .webp copy)')
            if rgb.shape[:2] != (h, w):  # an original photo: the app's resize (a `shrink` copy already has it)
                rgb = (
                    BB.resize_bilinear(torch.from_numpy(rgb.copy()).float(), w, h).round().clamp(0, 255).byte().numpy()
                )
            return rgb

        n = len(recs)
        self.u8 = torch.zeros(n, S, S, 3, dtype=torch.uint8)
        with ThreadPoolExecutor(max_workers=min(16, os.cpu_count() or 1)) as pool:
            for k, rgb in enumerate(pool.map(load, range(n))):
                self.u8[k, : rgb.shape[0], : rgb.shape[1]] = torch.from_numpy(rgb)
        self.u8 = self.u8.to(device)
        self.size = torch.tensor([[w, h] for _, w, h in geo], dtype=torch.float32, device=device)
        self.scale = torch.tensor([s for s, _, _ in geo], dtype=torch.float64, device=device)
        self.orig = torch.tensor([[r.width, r.height] for r in recs], dtype=torch.float32, device=device)
        m = max([len(r.labels) for r in recs] + [1])
        boxes = np.zeros((n, m, 4), np.float32)
        labels = np.full((n, m), -1, np.int64)
        for k, (r, (s, _, _)) in enumerate(zip(recs, geo)):
            boxes[k, : len(r.labels)] = r.boxes * s
            labels[k, : len(r.labels)] = r.labels
        self.boxes, self.labels = torch.from_numpy(boxes).to(device), torch.from_numpy(labels).to(device)
        self.props = self.prop_scores = None
        if proposals:
            self.props, self.prop_scores = self._proposals(graph, proposals, scores)

    def normalised(self, idx: torch.Tensor) -> torch.Tensor:
        """The plain letterboxed network input [B, 3, 416, 416] (BGR, mean/std, 0 = padding)."""
        return to_input(self.u8[idx].permute(0, 3, 1, 2).float(), content_mask(self.size[idx]))

    @torch.no_grad()
    def _proposals(self, graph: BB.NanoDetGraph, count: int, scores: bool, batch: int = 64):
        """(proposals [N, count, 5], their class scores [N, count, 80] float16 or None), on the device."""
        out = torch.zeros(len(self.ids), count, 5)
        classes = torch.zeros(len(self.ids), count, D.NUM_CLASSES, dtype=torch.float16) if scores else None
        size = self.size.cpu().tolist()
        with ThreadPoolExecutor(max_workers=min(16, os.cpu_count() or 1)) as pool:
            for b0 in range(0, len(self.ids), batch):
                idx = torch.arange(b0, min(b0 + batch, len(self.ids)), device=self.u8.device)
                _, heads, logits = graph.run(self.normalised(idx), head=True)
                sc, lg = [s.cpu() for s in heads], [g.cpu() for g in logits]

                def one(j: int):
                    w, h = size[b0 + j]
                    return BB.head_proposals([s[j] for s in sc], [g[j] for g in lg], w, h, count, with_classes=scores)

                rows = list(pool.map(one, range(len(idx))))
                if scores:
                    classes[b0 : b0 + len(idx)] = torch.from_numpy(np.stack([c for _, c in rows]))
                    rows = [r for r, _ in rows]
                out[b0 : b0 + len(idx)] = torch.from_numpy(np.stack(rows))
        dev = self.u8.device
        return out.to(dev), None if classes is None else classes.to(dev)


def content_mask(size: torch.Tensor) -> torch.Tensor:
    """[B, 2] (w, h) → [B, 1, 416, 416] float: 1 inside each image part."""
    r = torch.arange(S, device=size.device, dtype=size.dtype) + 0.5
    return ((r[None, :, None] < size[:, 1, None, None]) & (r[None, None, :] < size[:, 0, None, None])).to(size)[:, None]


def to_input(rgb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """RGB float [B, 3, H, W] in 0..255 → NanoDet's input (BGR, mean/std), 0 (the letterbox padding) outside mask."""
    dev = rgb.device
    return (rgb.flip(1) - MEAN_BGR.to(dev)[:, None, None]) / STD_BGR.to(dev)[:, None, None] * mask


def _transform_boxes(b: torch.Tensor, size, flip, s, x0, y0, cw, ch) -> torch.Tensor:
    """[B, N, 4] letterbox xyxy → flipped in the image part, scaled by s, shifted by (x0, y0), clipped to the window."""
    x1 = torch.where(flip[:, None], size[:, 0:1] - b[..., 2], b[..., 0])
    x2 = torch.where(flip[:, None], size[:, 0:1] - b[..., 0], b[..., 2])
    out = torch.stack([x1, b[..., 1], x2, b[..., 3]], -1) * s[:, None, None]
    out = out - torch.stack([x0, y0, x0, y0], -1)[:, None]
    lim = torch.stack([cw, ch, cw, ch], -1)[:, None]
    return torch.minimum(out.clamp(min=0), lim)


def _valid_first(valid: torch.Tensor) -> torch.Tensor:
    """Gather index that puts each row's valid entries first, in their order."""
    return torch.sort((~valid).to(torch.uint8), dim=1, stable=True).indices


def _area(b: torch.Tensor) -> torch.Tensor:
    return (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)


@torch.no_grad()
def augment(ph: Photos, idx: torch.Tensor, gen: torch.Generator, a, queries: Optional[int], teacher: bool = False):
    """One training batch, augmented on the device (module docstring). Returns (input [B, 3, 416, 416], image size
    [B, 2], boxes [B, M, 4], labels [B, M] (−1 = none, valid first), proposals [B, L, 4] or None, teacher or None);
    teacher (needs the proposals' class scores): (targets [B, L, 80], each query's proposal's scores, zeros for
    padded queries; mask [B, L], 0 for padded queries and proposals the crop cut to under
    dataset.TEACHER_MIN_KEPT of their area)."""
    dev = ph.u8.device
    B = idx.shape[0]
    u = torch.rand(B, 9, generator=gen, device=dev)
    size = ph.size[idx]
    w, h = size[:, 0], size[:, 1]
    flip = u[:, 0] < a.flip_prob
    s = a.scale_min + (a.scale_max - a.scale_min) * u[:, 1]
    crop = u[:, 2] < a.crop_prob
    fw = torch.where(crop, a.crop_min + (1 - a.crop_min) * u[:, 3], torch.ones_like(s))
    fh = torch.where(crop, a.crop_min + (1 - a.crop_min) * u[:, 4], torch.ones_like(s))
    boxes, labels = ph.boxes[idx], ph.labels[idx]

    def geometry(s, fw, fh):
        cw = (fw * s * w).floor().clamp(1, S)
        ch = (fh * s * h).floor().clamp(1, S)
        return cw, ch, u[:, 5] * (s * w - cw).clamp(min=0), u[:, 6] * (s * h - ch).clamp(min=0)

    def keep(bx):
        return (labels >= 0) & ((bx[..., 2] - bx[..., 0]) >= a.min_box) & ((bx[..., 3] - bx[..., 1]) >= a.min_box)

    cw, ch, x0, y0 = geometry(s, fw, fh)
    valid = keep(_transform_boxes(boxes, size, flip, s, x0, y0, cw, ch))
    lost = (valid.sum(1) == 0) & ((labels >= 0).sum(1) > 0)  # fall back to the plain (maybe flipped) view
    one = torch.ones_like(s)
    s, fw, fh = torch.where(lost, one, s), torch.where(lost, one, fw), torch.where(lost, one, fh)
    cw, ch, x0, y0 = geometry(s, fw, fh)
    bx = _transform_boxes(boxes, size, flip, s, x0, y0, cw, ch)
    valid = keep(bx)
    order = _valid_first(valid)
    bx = bx.gather(1, order[..., None].expand(-1, -1, 4))
    labels = torch.where(valid, labels, torch.full_like(labels, -1)).gather(1, order)

    # pixels: jitter the photo, then one bilinear resampling per output pixel (centres at +0.5)
    rgb = ph.u8[idx].permute(0, 3, 1, 2).float()
    if a.jitter > 0:
        j = (u[:, 7:9] * 2 - 1) * a.jitter  # brightness, contrast
        sat = 1 + (torch.rand(B, generator=gen, device=dev) * 2 - 1) * a.jitter
        gray = rgb.mean(1, keepdim=True)
        rgb = gray + (rgb - gray) * sat[:, None, None, None]
        mean = gray.mean((2, 3), keepdim=True)
        rgb = ((rgb - mean) * (1 + j[:, 1, None, None, None]) + mean + j[:, 0, None, None, None] * 255).clamp(0, 255)
    src = to_input(rgb, content_mask(size))
    r = torch.arange(S, device=dev, dtype=torch.float32) + 0.5
    xs = (r[None, :] + x0[:, None]) / s[:, None]  # [B, W] source x in letterbox pixels
    xs = torch.where(flip[:, None], w[:, None] - xs, xs)
    ys = (r[None, :] + y0[:, None]) / s[:, None]
    grid = torch.stack([(xs / S * 2 - 1)[:, None, :].expand(B, S, S), (ys / S * 2 - 1)[:, :, None].expand(B, S, S)], -1)
    x = F.grid_sample(src, grid, mode='bilinear', padding_mode='zeros', align_corners=False)
    x = x * content_mask(torch.stack([cw, ch], 1))
    props = kd = None
    if queries:
        p = ph.props[idx]
        pb = _transform_boxes(p[..., :4], size, flip, s, x0, y0, cw, ch)
        ok = (p[..., 4] >= 0) & ((pb[..., 2] - pb[..., 0]) >= 1) & ((pb[..., 3] - pb[..., 1]) >= 1)
        rows = _valid_first(ok)[:, :queries]  # the kept proposals' rows, best first, as dataset.pad_proposals
        pb = pb.gather(1, rows[..., None].expand(-1, -1, 4))
        real = ok.sum(1)[:, None] > torch.arange(pb.shape[1], device=dev)[None]
        whole = torch.stack([torch.zeros_like(cw), torch.zeros_like(ch), cw, ch], -1)[:, None]
        props = torch.where(real[..., None], pb, whole)
        pad = queries - props.shape[1]
        if pad > 0:
            props = torch.cat([props, whole.expand(-1, pad, -1)], 1)
        if teacher:  # the scores follow the proposal rows; kept area in output pixels vs the source box scaled by s
            src = p[..., :4].gather(1, rows[..., None].expand(-1, -1, 4))
            kept = _area(pb) / (_area(src) * s[:, None] ** 2).clamp(min=1e-6)
            t = ph.prop_scores[idx].float().gather(1, rows[..., None].expand(-1, -1, D.NUM_CLASSES)) * real[..., None]
            m = (real & (kept >= DS.TEACHER_MIN_KEPT)).float()
            kd = F.pad(t, (0, 0, 0, max(pad, 0))), F.pad(m, (0, max(pad, 0)))
    return x, torch.stack([cw, ch], 1), bx, labels, props, kd


class EvalSet:
    """A Photos split as evaluate.evaluate's dataset: plain letterboxed photos, features by the backbone per batch."""

    def __init__(self, ph: Photos, graph: BB.NanoDetGraph, queries: Optional[int], rows: Optional[List[int]] = None):
        self.ph, self.graph, self.queries, self.coco = ph, graph, queries, ph.coco
        self.rows = list(range(len(ph.ids))) if rows is None else rows  # the split's rows of ph (a holdout: some)
        self.ids = [ph.ids[r] for r in self.rows]

    def __len__(self) -> int:
        return len(self.ids)

    def batches(self, indices, batch_size: int, epoch: int = 0):
        ph = self.ph
        for b0 in range(0, len(indices), batch_size):
            idx = torch.as_tensor([self.rows[i] for i in indices[b0 : b0 + batch_size]], device=ph.u8.device)
            levels, _, _ = self.graph.run(ph.normalised(idx), head=False)
            props = None
            if self.queries:
                p = ph.props[idx]
                whole = F.pad(ph.size[idx], (2, 0))[:, None]
                keep = (p[..., 4] >= 0)[..., None]
                props = torch.where(keep, p[..., :4], whole)[:, : self.queries]
                if props.shape[1] < self.queries:
                    props = torch.cat([props, whole.expand(-1, self.queries - props.shape[1], -1)], 1)
            yield DS.Batch(
                levels, ph.size[idx], [], [], [ph.ids[i] for i in idx.tolist()], ph.scale[idx], ph.orig[idx], props
            )
