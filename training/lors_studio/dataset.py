"""Samples and batches for training the decoders on the feature caches (data.py), with the augmentation.

Boxes handed to the model/loss are xyxy in letterboxed *input* pixels (original pixels * scale), and
`image_size` is (w, h) of the resized unpadded image (after a crop: of the crop window's image part).

Augmentation (training only):
- horizontal flip: pick the image's flip cache (when one holds the image) with probability `flip_prob`;
- scale jitter: when caches of several sizes hold the image, each *batch* picks one size at random;
- crop jitter in feature space: with probability `crop_prob`, crop a window whose size and offset are multiples
  of 32 px (one cell at stride 32, 4 at stride 8) out of the letterboxed maps; boxes are shifted, clipped to the
  window's image part and kept if both sides are at least `min_box` px (else another window is tried; after 10
  failures the sample is not cropped). `image_size` becomes the window's image part.
A batch's maps are zero-padded bottom/right to the largest map of the batch (per level); `Batch.valid` then
records each sample's own extent, and the model's neck normalises each sample over that window only (so a crop
gets exactly the neck output of the window alone, as at inference) and zeroes the padding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .data import CocoAnnotations, FeatureCache

CROP_UNIT = 32  # px: crops are aligned to the coarsest stride


@dataclass
class Sample:
    image_id: int
    levels: List[np.ndarray]  # [H_l, W_l, C] (float16 views or copies)
    image_size: Tuple[float, float]  # (w, h) of the image part, input pixels
    boxes: np.ndarray  # [M, 4] xyxy input pixels
    labels: np.ndarray  # [M]
    scale: float
    orig_size: Tuple[int, int]  # (W, H) original pixels
    offset: Tuple[int, int] = (0, 0)  # crop window origin (input pixels)
    flipped: bool = False
    proposals: Optional[np.ndarray] = None  # [L, 4] xyxy input pixels, padded with whole-image boxes
    teacher: Optional[np.ndarray] = None  # [L, 80] NanoDet's class scores of each query's proposal
    teacher_mask: Optional[np.ndarray] = None  # [L] 1 where the query has a teacher (a real proposal)


@dataclass
class Batch:
    levels: List[torch.Tensor]  # [B, H_l, W_l, C] float32
    image_size: torch.Tensor  # [B, 2] (w, h)
    boxes: List[torch.Tensor]  # [M_b, 4] float32 xyxy input pixels
    labels: List[torch.Tensor]  # [M_b] int64
    image_ids: List[int]
    scales: torch.Tensor  # [B]
    orig_sizes: torch.Tensor  # [B, 2] (W, H)
    proposals: Optional[torch.Tensor] = None  # [B, L, 4] xyxy input pixels (queryInit 'nanodet')
    valid: Optional[torch.Tensor] = None  # [B, n_levels, 2] (rows, cols) of each sample's maps; None = all full
    teacher: Optional[torch.Tensor] = None  # [B, L, 80] NanoDet's class scores per query (`--distill`)
    teacher_mask: Optional[torch.Tensor] = None  # [B, L]

    def to(self, device) -> 'Batch':
        nb = device.type == 'cuda'
        opt = lambda t: None if t is None else t.to(device)  # noqa: E731
        return Batch(
            [t.to(device, non_blocking=nb) for t in self.levels],
            self.image_size.to(device),
            [t.to(device) for t in self.boxes],
            [t.to(device) for t in self.labels],
            self.image_ids,
            self.scales.to(device),
            self.orig_sizes.to(device),
            opt(self.proposals),
            opt(self.valid),
            opt(self.teacher),
            opt(self.teacher_mask),
        )


def collate(samples: List[Sample]) -> Batch:
    n_levels = len(samples[0].levels)
    stack = lambda k: (  # noqa: E731
        None if getattr(samples[0], k) is None else torch.from_numpy(np.stack([getattr(s, k) for s in samples]))
    )
    levels = []
    valid = torch.tensor([[s.levels[l].shape[:2] for l in range(n_levels)] for s in samples], dtype=torch.long)
    for l in range(n_levels):
        hs = max(s.levels[l].shape[0] for s in samples)
        ws = max(s.levels[l].shape[1] for s in samples)
        c = samples[0].levels[l].shape[2]
        out = np.zeros((len(samples), hs, ws, c), dtype=np.float32)
        for b, s in enumerate(samples):
            a = s.levels[l]
            out[b, : a.shape[0], : a.shape[1]] = a
        levels.append(torch.from_numpy(out))
    return Batch(
        levels=levels,
        image_size=torch.tensor([s.image_size for s in samples], dtype=torch.float32),
        boxes=[torch.from_numpy(s.boxes.astype(np.float32)).reshape(-1, 4) for s in samples],
        labels=[torch.from_numpy(s.labels.astype(np.int64)) for s in samples],
        image_ids=[s.image_id for s in samples],
        scales=torch.tensor([s.scale for s in samples], dtype=torch.float64),
        orig_sizes=torch.tensor([s.orig_size for s in samples], dtype=torch.float32),
        proposals=(
            torch.from_numpy(np.stack([s.proposals for s in samples])) if samples[0].proposals is not None else None
        ),
        valid=None
        if all(tuple(v) == tuple(l.shape[1:3]) for vs in valid for v, l in zip(vs.tolist(), levels))
        else valid,
        teacher=stack('teacher'),
        teacher_mask=stack('teacher_mask'),
    )


def _area(b: np.ndarray) -> np.ndarray:
    return (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)


def _kept_proposals(p: np.ndarray, offset: Tuple[int, int], iw: float, ih: float, queries: int):
    """(boxes [m, 4] shifted and clipped to the window, their rows in p, kept area / original area), m ≤ queries."""
    b = p - np.array([offset[0], offset[1], offset[0], offset[1]], dtype=np.float32)
    b[:, [0, 2]] = b[:, [0, 2]].clip(0, iw)
    b[:, [1, 3]] = b[:, [1, 3]].clip(0, ih)
    rows = np.flatnonzero(((b[:, 2] - b[:, 0]) >= 1) & ((b[:, 3] - b[:, 1]) >= 1))[:queries]
    return b[rows], rows, _area(b[rows]) / np.maximum(_area(p[rows]), 1e-6)


def pad_proposals(p: np.ndarray, offset: Tuple[int, int], iw: float, ih: float, queries: int) -> np.ndarray:
    """[n, 4] proposals of the full image → [queries, 4] for the (cropped) sample: shifted by the crop origin, clipped
    to [0, iw] x [0, ih], those under 1 px on a side dropped, the first `queries` kept, the rest whole-image boxes."""
    b, _, _ = _kept_proposals(p, offset, iw, ih, queries)
    out = np.tile(np.array([[0, 0, iw, ih]], dtype=np.float32), (queries, 1))
    out[: len(b)] = b
    return out


TEACHER_MIN_KEPT = 0.5  # a proposal cut to less than this share of its area by a crop teaches nothing


def pad_teacher(
    p: np.ndarray, scores: np.ndarray, offset: Tuple[int, int], iw: float, ih: float, queries: int
) -> Tuple[np.ndarray, np.ndarray]:
    """The distillation targets of the queries `pad_proposals` makes: ([queries, 80] NanoDet's class scores of each
    query's proposal, [queries] mask). The mask is 0 for padded queries and for proposals a crop cut to under
    TEACHER_MIN_KEPT of their area (their scores describe a box the sample no longer shows)."""
    _, rows, kept = _kept_proposals(p, offset, iw, ih, queries)
    t = np.zeros((queries, scores.shape[1]), np.float32)
    m = np.zeros(queries, np.float32)
    t[: len(rows)] = scores[rows]
    m[: len(rows)] = kept >= TEACHER_MIN_KEPT
    return t, m


def split_holdout(ids: Sequence[int], n: int, seed: int) -> Tuple[List[int], List[int]]:
    """(kept, held out): n of `ids` drawn by a generator seeded with (seed, 'holdout'), so the split is the same on
    every run, rank and resume of a recipe with that seed; both lists sorted."""
    if not 0 <= n < len(ids):
        raise ValueError(f'--holdout {n}: needs 0 ≤ N < the {len(ids)} training images')
    held = set(np.random.default_rng((seed, 0x401D)).choice(np.asarray(ids), size=n, replace=False).tolist())
    return sorted(i for i in ids if i not in held), sorted(held)


class DetectionDataset:
    """Images that are in both the annotations and a plain (non-flip) cache, with the augmentation above.

    `get(index, size, rng)` builds one sample; `batches(indices, batch_size, epoch)` yields collated batches with
    one random size per batch. Randomness comes only from `np.random.default_rng((seed, epoch, batch index))`, so
    a run is reproducible and resumable.
    """

    def __init__(
        self,
        caches: List[FeatureCache],
        coco: CocoAnnotations,
        train: bool,
        flip_prob: float = 0.5,
        crop_prob: float = 0.5,
        crop_min: float = 0.5,
        min_box: float = 2.0,
        seed: int = 0,
        limit: Optional[int] = None,
        size: Optional[int] = None,
        skip_empty: Optional[bool] = None,
        proposals: Optional[int] = None,
        ids: Optional[Sequence[int]] = None,
        teacher: bool = False,
    ):
        """proposals: L (the model's query count) to attach NanoDet query proposals to every sample (queryInit
        'nanodet'); every cache used must then have its `.proposals.f32`. ids: only these images (e.g. a holdout).
        teacher: attach NanoDet's class scores of each query's proposal (`.proposal-scores.f16`; needs proposals)."""
        self.coco, self.train, self.queries, self.all_caches = coco, train, proposals, caches
        self.teacher = teacher
        if teacher and proposals is None:
            raise ValueError('teacher scores need the NanoDet proposals (queryInit nanodet)')
        self.flip_prob, self.crop_prob, self.crop_min, self.min_box, self.seed = (
            flip_prob,
            crop_prob,
            crop_min,
            min_box,
            seed,
        )
        plain = [c for c in caches if not c.flip]
        if not plain:
            raise ValueError('no plain (non-flip) feature cache given')
        if size is not None:
            plain = [c for c in plain if c.size == size]
            if not plain:
                raise ValueError(f'no plain feature cache of size {size} (have {sorted({c.size for c in caches})})')
        if not train:  # evaluation: one size, the largest unless asked
            plain = [max(plain, key=lambda c: c.size)]
        self.plain: Dict[int, List[FeatureCache]] = {}
        for c in plain:
            self.plain.setdefault(c.size, []).append(c)
        self.flipped: Dict[int, List[FeatureCache]] = {}
        if train:
            for c in caches:
                if c.flip and c.size in self.plain:
                    self.flipped.setdefault(c.size, []).append(c)
        self.sizes = sorted(self.plain)
        skip_empty = train if skip_empty is None else skip_empty
        only = None if ids is None else set(int(i) for i in ids)
        ids = set()
        for cs in self.plain.values():
            for c in cs:
                ids.update(c.row_of)
        missing = [i for i in ids if i not in coco.images]
        ids = sorted(i for i in ids if i in coco.images and (not skip_empty or len(coco.images[i].labels) > 0))
        if limit is not None:
            ids = ids[:limit]
        if only is not None:
            ids = [i for i in ids if i in only]
        if not ids:
            raise ValueError(
                f'no image of the feature caches is in {coco.path}'
                + (f' ({len(missing)} cache images are not annotated there)' if missing else '')
            )
        self.ids = ids
        if proposals is not None:
            used = [c for cs in list(self.plain.values()) + list(self.flipped.values()) for c in cs]
            lacking = [c.name for c in used if c.proposals is None]
            if lacking:
                raise ValueError(
                    f'query proposals missing for {", ".join(lacking)} (run: npm run proposals -- '
                    f'--features <cache dir>)'
                )
            lacking = [c.name for c in used if teacher and c.proposal_scores is None]
            if lacking:
                raise ValueError(
                    f'proposal class scores missing for {", ".join(lacking)} (run: npm run proposals -- '
                    f'--features <cache dir>)'
                )

    def __len__(self) -> int:
        return len(self.ids)

    def _find(self, pool: Dict[int, List[FeatureCache]], size: int, image_id: int) -> Optional[FeatureCache]:
        for c in pool.get(size, []):
            if image_id in c.row_of:
                return c
        return None

    def get(self, index: int, size: Optional[int] = None, rng: Optional[np.random.Generator] = None) -> Sample:
        image_id = self.ids[index]
        rec = self.coco.images[image_id]
        size = size if size is not None else self.sizes[-1]
        cache = self._find(self.plain, size, image_id)
        if cache is None:  # this size lacks the image: take any size that has it
            cache = next(c for s in self.sizes for c in self.plain[s] if image_id in c.row_of)
        flipped = False
        if self.train and rng is not None and rng.random() < self.flip_prob:
            fc = self._find(self.flipped, cache.size, image_id)
            if fc is not None:
                cache, flipped = fc, True
        info = cache.info(image_id)
        W, H, scale = float(info['width']), float(info['height']), float(info['scale'])
        if (int(W), int(H)) != (rec.width, rec.height):
            raise ValueError(
                f'image {image_id}: cache {cache.name} says {int(W)}x{int(H)}, annotations say {rec.width}x{rec.height}'
            )
        boxes = rec.boxes.copy()
        if flipped:
            boxes[:, [0, 2]] = W - boxes[:, [2, 0]]
        boxes *= scale
        iw = float(info.get('resizedWidth', round(W * scale)))
        ih = float(info.get('resizedHeight', round(H * scale)))
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, iw)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, ih)
        labels = rec.labels.copy()
        levels = cache.levels(image_id)
        offset = (0, 0)
        if self.train and rng is not None and self.crop_prob > 0 and rng.random() < self.crop_prob:
            crop = self._crop(levels, cache.strides, boxes, labels, iw, ih, rng)
            if crop is not None:
                levels, boxes, labels, iw, ih, offset = crop
        props = teacher = teacher_mask = None
        if self.queries is not None:
            p = cache.image_proposals(image_id)
            props = pad_proposals(p, offset, iw, ih, self.queries)
            if self.teacher:
                teacher, teacher_mask = pad_teacher(
                    p, cache.image_proposal_scores(image_id), offset, iw, ih, self.queries
                )
        return Sample(
            image_id,
            levels,
            (iw, ih),
            boxes,
            labels,
            scale,
            (rec.width, rec.height),
            offset,
            flipped,
            props,
            teacher,
            teacher_mask,
        )

    def _crop(self, levels, strides, boxes, labels, iw, ih, rng):
        u = CROP_UNIT
        cells_w, cells_h = math.ceil(iw / u), math.ceil(ih / u)  # content extent in 32-px cells
        map_w = levels[-1].shape[1] * strides[-1]
        map_h = levels[-1].shape[0] * strides[-1]
        cells_w, cells_h = min(cells_w, map_w // u), min(cells_h, map_h // u)
        if cells_w < 2 or cells_h < 2:
            return None
        for _ in range(10):
            cw = int(rng.integers(max(1, math.ceil(self.crop_min * cells_w)), cells_w + 1))
            ch = int(rng.integers(max(1, math.ceil(self.crop_min * cells_h)), cells_h + 1))
            if cw == cells_w and ch == cells_h:
                continue
            x0 = int(rng.integers(0, cells_w - cw + 1)) * u
            y0 = int(rng.integers(0, cells_h - ch + 1)) * u
            nw, nh = min(cw * u, iw - x0), min(ch * u, ih - y0)
            if nw <= 0 or nh <= 0:
                continue
            b = boxes - np.array([x0, y0, x0, y0], dtype=boxes.dtype)
            b[:, [0, 2]] = b[:, [0, 2]].clip(0, nw)
            b[:, [1, 3]] = b[:, [1, 3]].clip(0, nh)
            keep = ((b[:, 2] - b[:, 0]) >= self.min_box) & ((b[:, 3] - b[:, 1]) >= self.min_box)
            if not keep.any():
                continue
            new_levels = []
            for lv, s in zip(levels, strides):
                ys, xs = y0 // s, x0 // s
                new_levels.append(lv[ys : ys + ch * u // s, xs : xs + cw * u // s])
            return new_levels, b[keep], labels[keep], float(nw), float(nh), (x0, y0)
        return None

    def batches(self, indices: Sequence[int], batch_size: int, epoch: int, start: int = 0) -> Iterator[Batch]:
        """Batches of `indices` in order, from batch number `start` (the same batches as without skipping)."""
        for bi in range(start * batch_size, len(indices), batch_size):
            chunk = indices[bi : bi + batch_size]
            if self.train:
                rng = np.random.default_rng((self.seed, epoch, bi // batch_size, int(chunk[0])))
                size = self.sizes[int(rng.integers(len(self.sizes)))]
                yield collate([self.get(int(i), size, rng) for i in chunk])
            else:
                yield collate([self.get(int(i)) for i in chunk])
