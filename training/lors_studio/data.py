"""The data on disk for training the decoders: COCO annotations and the frozen-backbone feature caches
(dataset.py makes samples and batches of them).

Feature cache (written by `npm run features`, read here with a numpy memmap):
  `<dir>/<name>-s<size>[-flip].f16`  raw little-endian float16, shape [N, P, C] (C = 128 NanoDet channels),
      P = sum_l H_l*W_l over strides 8, 16, 32; each level NHWC-flattened row-major, levels in stride order.
  `<dir>/<name>-s<size>[-flip].json` (also accepted: `<...>.f16.json`)
      { size, strides, channels, dtype: "float16", positions: P, levelShapes: [[H, W], ...], flip: bool,
        images: [{ id, file_name, width, height, scale }] }
  width/height are the ORIGINAL photo size, scale = size / max(width, height). The photo was letterboxed:
  resized unpadded to round(w*scale) x round(h*scale) (the json's resizedWidth/resizedHeight when present),
  padded bottom/right to size x size. A `flip` cache holds the features of the horizontally mirrored photo
  (boxes: x1' = W - x2, x2' = W - x1 in original pixels).
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

# COCO category id of each contiguous index 0..79: 1..90 less the ten ids COCO left unused (src/model/cocoFormat.ts).
COCO_CATEGORY_IDS: Tuple[int, ...] = tuple(i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83))
CATEGORY_ID_TO_INDEX: Dict[int, int] = {cid: i for i, cid in enumerate(COCO_CATEGORY_IDS)}
NUM_CLASSES = 80


def category_index(category_id: int) -> int:
    try:
        return CATEGORY_ID_TO_INDEX[int(category_id)]
    except KeyError:
        raise ValueError(f"category id {category_id} is not one of COCO's 80 detection categories") from None


# ---------------------------------------------------------------------------------------------------------------
# COCO annotations


@dataclass
class ImageRecord:
    id: int
    file_name: str
    width: int
    height: int
    boxes: np.ndarray  # [M, 4] float64 xyxy in original pixels
    labels: np.ndarray  # [M] int64 contiguous 0..79
    areas: np.ndarray  # [M] float64 (COCO 'area' when present, else w*h) for the S/M/L split of the AP


class CocoAnnotations:
    """COCO detection json → per image xyxy boxes (original pixels) and contiguous labels. Crowd regions are ignored."""

    def __init__(self, path: str, images_dir: Optional[str] = None):
        if not os.path.isfile(path):
            raise FileNotFoundError(f'annotations file not found: {path}')
        with open(path, 'r', encoding='utf-8') as f:
            data = json.load(f)
        for key in ('images', 'annotations'):
            if key not in data:
                raise ValueError(f"{path}: not a COCO detection file (no '{key}' list)")
        self.path = path
        per_image: Dict[int, List[Tuple[List[float], int, float]]] = {}
        for a in data['annotations']:
            if a.get('iscrowd', 0):
                continue
            x, y, w, h = (float(v) for v in a['bbox'])
            if w <= 0 or h <= 0:
                continue
            area = float(a.get('area', w * h)) or w * h
            per_image.setdefault(int(a['image_id']), []).append(
                ([x, y, x + w, y + h], category_index(a['category_id']), area)
            )
        self.images: Dict[int, ImageRecord] = {}
        for im in data['images']:
            iid = int(im['id'])
            anns = per_image.get(iid, [])
            boxes = np.array([b for b, _, _ in anns], dtype=np.float64).reshape(-1, 4)
            labels = np.array([c for _, c, _ in anns], dtype=np.int64)
            areas = np.array([ar for _, _, ar in anns], dtype=np.float64)
            self.images[iid] = ImageRecord(
                iid, str(im.get('file_name', f'{iid}.jpg')), int(im['width']), int(im['height']), boxes, labels, areas
            )
        if images_dir is not None and not os.path.isdir(images_dir):
            raise FileNotFoundError(f'images directory not found: {images_dir}')
        self.images_dir = images_dir

    def __len__(self) -> int:
        return len(self.images)

    def ids(self) -> List[int]:
        return sorted(self.images)


# ---------------------------------------------------------------------------------------------------------------
# Feature caches


class FeatureCache:
    """One `<name>-s<size>[-flip].f16` file + its json, memory-mapped."""

    def __init__(self, json_path: str):
        with open(json_path, 'r', encoding='utf-8') as f:
            meta = json.load(f)
        for key in ('size', 'strides', 'channels', 'positions', 'levelShapes', 'images'):
            if key not in meta:
                raise ValueError(f"{json_path}: feature-cache json lacks '{key}'")
        if meta.get('dtype', 'float16') != 'float16':
            raise ValueError(f'{json_path}: dtype {meta.get("dtype")!r} is not supported (expected float16)')
        base = json_path[:-5]
        data_path = base if base.endswith('.f16') else base + '.f16'
        if not os.path.isfile(data_path):
            raise FileNotFoundError(f'{json_path}: data file {data_path} not found')
        self.json_path, self.data_path, self.meta = json_path, data_path, meta
        self.size = int(meta['size'])
        self.flip = bool(meta.get('flip', False))
        self.strides = [int(s) for s in meta['strides']]
        self.channels = int(meta['channels'])
        self.level_shapes = [(int(h), int(w)) for h, w in meta['levelShapes']]
        if len(self.level_shapes) != len(self.strides):
            raise ValueError(f'{json_path}: {len(self.level_shapes)} levelShapes for {len(self.strides)} strides')
        self.positions = int(meta['positions'])
        if sum(h * w for h, w in self.level_shapes) != self.positions:
            raise ValueError(f'{json_path}: positions {self.positions} != sum of levelShapes')
        self.images = meta['images']
        n = len(self.images)
        expected = n * self.positions * self.channels * 2
        actual = os.path.getsize(data_path)
        if actual != expected:
            raise ValueError(
                f'{data_path}: {actual} bytes, expected {expected} = {n} images x {self.positions} positions '
                f'x {self.channels} channels x 2 (truncated or written for another json?)'
            )
        self.array = np.memmap(data_path, dtype='<f2', mode='r', shape=(n, self.positions, self.channels))
        self.row_of: Dict[int, int] = {int(im['id']): i for i, im in enumerate(self.images)}
        self.offsets = np.cumsum([0] + [h * w for h, w in self.level_shapes]).tolist()
        # Query proposals (`npm run proposals`): [N, count, 5] = x1, y1, x2, y2, score; score < 0 = none.
        self.proposals: Optional[np.ndarray] = None
        prop_path = data_path[:-4] + '.proposals.f32'
        if os.path.isfile(prop_path):
            size = os.path.getsize(prop_path)
            if size % (n * 5 * 4) != 0 or size == 0:
                raise ValueError(f'{prop_path}: {size} bytes is not {n} images x count x 5 float32 (stale file?)')
            self.proposals = np.memmap(prop_path, dtype='<f4', mode='r', shape=(n, size // (n * 20), 5))
        # NanoDet's 80 class scores of each proposal (`--distill` targets): [N, count, 80] float16.
        self.proposal_scores: Optional[np.ndarray] = None
        scores_path = data_path[:-4] + '.proposal-scores.f16'
        if self.proposals is not None and os.path.isfile(scores_path):
            count = self.proposals.shape[1]
            size = os.path.getsize(scores_path)
            if size != n * count * NUM_CLASSES * 2:
                raise ValueError(
                    f'{scores_path}: {size} bytes is not {n} images x {count} proposals x {NUM_CLASSES} float16 '
                    '(stale file? run npm run proposals again)'
                )
            self.proposal_scores = np.memmap(scores_path, dtype='<f2', mode='r', shape=(n, count, NUM_CLASSES))

    @property
    def name(self) -> str:
        return os.path.basename(self.data_path)

    def info(self, image_id: int) -> dict:
        return self.images[self.row_of[image_id]]

    def image_proposals(self, image_id: int) -> np.ndarray:
        """[n, 4] xyxy input pixels of this cache's frame, best first (the rows with a score)."""
        if self.proposals is None:
            raise ValueError(
                f'{self.name}: no query proposals next to it (run: npm run proposals -- --features {self.json_path})'
            )
        p = self.proposals[self.row_of[image_id]]
        return np.array(p[p[:, 4] >= 0, :4], dtype=np.float32)

    def image_proposal_scores(self, image_id: int) -> np.ndarray:
        """[n, 80] NanoDet's class scores of the rows `image_proposals` returns, in the same order."""
        if self.proposal_scores is None:
            raise ValueError(
                f'{self.name}: no proposal class scores next to it (run: npm run proposals -- --features '
                f'{self.json_path})'
            )
        row = self.row_of[image_id]
        return np.array(self.proposal_scores[row][self.proposals[row][:, 4] >= 0], dtype=np.float32)

    def levels(self, image_id: int) -> List[np.ndarray]:
        """float16 views [H_l, W_l, C] of one image's maps (no copy)."""
        row = self.array[self.row_of[image_id]]
        return [
            row[self.offsets[l] : self.offsets[l + 1]].reshape(h, w, self.channels)
            for l, (h, w) in enumerate(self.level_shapes)
        ]


def find_caches(paths: Sequence[str] | str) -> List[FeatureCache]:
    """Caches in the given directories / json files / .f16 files (a comma-separated string is accepted)."""
    if isinstance(paths, str):
        paths = [p for p in paths.split(',') if p]
    jsons: List[str] = []
    for p in paths:
        if os.path.isdir(p):
            found = sorted(
                j
                for j in glob.glob(os.path.join(p, '*.json'))
                if os.path.isfile(j[:-5] if j[:-5].endswith('.f16') else j[:-5] + '.f16')
            )
            if not found:
                raise FileNotFoundError(f'no feature cache (<name>-s<size>.f16 + .json) in {p}')
            jsons.extend(found)
        elif p.endswith('.json') and os.path.isfile(p):
            jsons.append(p)
        elif p.endswith('.f16') and os.path.isfile(p):
            j = p[:-4] + '.json' if os.path.isfile(p[:-4] + '.json') else p + '.json'
            jsons.append(j)
        else:
            raise FileNotFoundError(f'feature cache not found: {p}')
    caches = [FeatureCache(j) for j in jsons]
    ch = {c.channels for c in caches}
    st = {tuple(c.strides) for c in caches}
    if len(ch) > 1 or len(st) > 1:
        raise ValueError(
            f'feature caches disagree on channels/strides: {[(c.name, c.channels, c.strides) for c in caches]}'
        )
    return caches


def write_feature_cache(
    out_dir: str,
    name: str,
    size: int,
    features: np.ndarray,
    images: List[dict],
    level_shapes: List[Tuple[int, int]],
    strides=(8, 16, 32),
    flip: bool = False,
) -> str:
    """Writes a cache in the format above (used by the tests' synthetic caches). Returns the json path."""
    os.makedirs(out_dir, exist_ok=True)
    n, p, c = features.shape
    if n != len(images) or p != sum(h * w for h, w in level_shapes):
        raise ValueError('features shape does not match images / level_shapes')
    stem = os.path.join(out_dir, f'{name}-s{size}{"-flip" if flip else ""}')
    features.astype('<f2').tofile(stem + '.f16')
    meta = dict(
        size=size,
        strides=list(strides),
        channels=c,
        dtype='float16',
        positions=p,
        levelShapes=[list(s) for s in level_shapes],
        flip=flip,
        images=images,
    )
    with open(stem + '.json', 'w', encoding='utf-8') as f:
        json.dump(meta, f)
    return stem + '.json'
