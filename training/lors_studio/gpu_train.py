"""The GPU trainer: the vanilla and LORS decoders trained side by side in ONE process on one stream of batches, the
photos resident on the GPU, augmented in pixel space there, and NanoDet-g's features recomputed per batch by the
PyTorch port of the frozen backbone (backbone.py). Run by scripts/gpu-train.sh (training/README.md, "GPU").

    python3 -m training.lors_studio.gpu_train --data gpu-data --work /tmp/lors-gpu --budget-s 520

DATA holds `train/`, `val/` (the 416-px WebP copies of `features shrink`), `ann/instances_{train,val}.json` and
`nanodet/` (the app's TFJS graph). Per step (no host synchronisation but the matching's cost-matrix copy):
- a batch of photo indices (seeded permutation per epoch, full batches only: fixed shapes for torch.compile);
- augmentation on the device: horizontal flip, random rescale (scale-min..scale-max of the letterbox scale, the
  letterbox kept at 416: larger images are cut to 416, smaller ones padded), a random image-space crop (probability
  crop-prob, each side crop-min..1 of the rescaled image), mild photometric jitter (brightness, contrast,
  saturation), all by one bilinear resampling per photo; boxes (and NanoDet's query proposals, computed once per
  photo at load) take the same flip / scale / shift, are clipped to the window and dropped under min-box px
  (proposals under 1 px are replaced by whole-window boxes, as data.pad_proposals does); a photo left with no box
  falls back to its unscaled, uncropped view. The crop is a real image crop: the features inside the window are
  those of the window alone, as at inference (the cached path's feature-space crop only approximates this);
- NanoDet-g on the batch (fp32/TF32, no gradient), then each decoder: forward under bf16 autocast (CUDA), the
  stage losses with batched cost matrices (losses.stage_losses), backward, global-norm clipping, AdamW (fused on
  CUDA), the lr of train.learning_rate (short linear warm-up, then --schedule step|cosine over the run's steps).
The batch is large (default 128) with the lr scaled by the square-root rule from the shipped recipe's 2e-4 at 16
photos (AdamW's usual rule; linear scaling overshoots with Adam): lr = lr-ref · sqrt(batch / lr-ref-batch).
A timing probe (the run's first steps, after a warm-up that includes compilation) sets the number of epochs that
fits --budget-s; photos/s and peak GPU memory go to each run's log.jsonl and summary.json. Val AP (reporting only)
is computed at a few points and at the end; the final weights are exported (float16).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import backbone as BB
from . import data as D
from .config import make_config
from .evaluate import evaluate
from .export import export
from .losses import stage_losses
from .matching import finish_assign, start_assign
from .model import AdaMixerDecoder
from .plot import plot_curves
from .train import SCHEDULES, _float_list, learning_rate, param_groups, state_hash

S = BB.NANODET_SIZE
VAL_COST = 0.6  # a val batch (backbone + every decoder's forward, no augmentation or backward) / a training step
MEAN_BGR = torch.tensor(BB.NANODET_MEAN_BGR)
STD_BGR = torch.tensor(BB.NANODET_STD_BGR)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='python3 -m training.lors_studio.gpu_train',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument('--data', required=True)
    p.add_argument('--work', required=True, help='run folders run-<variant>/ and exports export-<variant>/ go here')
    p.add_argument('--variants', default='vanilla,lors')
    p.add_argument('--preset', default='web')
    p.add_argument('--query-init', default='nanodet', choices=['image', 'nanodet'])
    p.add_argument(
        '--pos-scale',
        type=float,
        default=312.0,
        help="box-encoding divisor of x, y (416-px equivalent of AdaMixer's 1000 at ~1333 px)",
    )
    p.add_argument('--batch-size', type=int, default=128)
    p.add_argument('--lr', type=float, default=None, help='default: lr-ref · sqrt(batch / lr-ref-batch)')
    p.add_argument('--lr-ref', type=float, default=2e-4)
    p.add_argument('--lr-ref-batch', type=int, default=16)
    p.add_argument('--weight-decay', type=float, default=1e-4)
    p.add_argument('--clip', type=float, default=1.0)
    p.add_argument('--warmup', type=int, default=100, help='linear warm-up steps')
    p.add_argument('--schedule', default='step', choices=[s for s in SCHEDULES if s != 'epochs'])
    p.add_argument('--drops', type=_float_list, default=[2 / 3, 8 / 9])
    p.add_argument('--epochs', type=int, default=None, help='fixed epoch count (default: from the timing probe)')
    p.add_argument('--max-epochs', type=int, default=400)
    p.add_argument('--budget-s', type=float, default=520.0, help='seconds from --t0 for everything but packing')
    p.add_argument('--t0', type=float, default=None, help='unix time the budget counts from (default: now)')
    p.add_argument('--margin-s', type=float, default=40.0, help='kept for the final val, export and curves')
    p.add_argument('--probe-steps', type=int, default=20)
    p.add_argument('--warm-steps', type=int, default=5, help="steps before the probe's clock starts (compilation)")
    p.add_argument('--val-points', type=int, default=4, help='validations spread over the run (plus the last)')
    p.add_argument('--flip-prob', type=float, default=0.5)
    p.add_argument('--scale-min', type=float, default=0.5)
    p.add_argument('--scale-max', type=float, default=1.5)
    p.add_argument('--crop-prob', type=float, default=0.5)
    p.add_argument('--crop-min', type=float, default=0.5)
    p.add_argument('--jitter', type=float, default=0.2, help='photometric jitter amplitude (0 = off)')
    p.add_argument('--min-box', type=float, default=2.0)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--limit', type=int, default=None)
    p.add_argument('--val-limit', type=int, default=None)
    p.add_argument('--device', default='auto')
    p.add_argument('--threads', type=int, default=None)
    p.add_argument(
        '--compile',
        action='store_true',
        help='torch.compile the decoders (CUDA, torch ≥ 2; falls back '
        "to eager if compilation fails; its time counts in the probe's warm-up and the budget)",
    )
    p.add_argument('--no-bf16', action='store_true', help='no bf16 autocast of the decoders (CUDA only anyway)')
    p.add_argument('--float16', action='store_true', help='export float16 shards')
    p.add_argument('--log-every', type=int, default=50)
    return p


# ---------------------------------------------------------------------------------------------------------------
# Photos on the device


class Photos:
    """One split: the letterbox-resized photos as uint8 [N, 416, 416, 3] (top-left, zeros elsewhere), their image
    sizes [N, 2] (w, h), boxes [N, M, 4] in letterbox pixels with labels [N, M] (−1 = none), NanoDet's query
    proposals [N, P, 5] (score < 0 = none), all on `device`."""

    def __init__(
        self,
        images_dir: str,
        annotations: str,
        graph: BB.NanoDetGraph,
        device,
        proposals: int,
        limit: Optional[int] = None,
        skip_empty: bool = False,
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
        self.props = self._proposals(graph, proposals) if proposals else None

    def normalised(self, idx: torch.Tensor) -> torch.Tensor:
        """The plain letterboxed network input [B, 3, 416, 416] (BGR, mean/std, 0 = padding)."""
        return to_input(self.u8[idx].permute(0, 3, 1, 2).float(), content_mask(self.size[idx]))

    @torch.no_grad()
    def _proposals(self, graph: BB.NanoDetGraph, count: int, batch: int = 64) -> torch.Tensor:
        out = torch.zeros(len(self.ids), count, 5)
        size = self.size.cpu().tolist()
        with ThreadPoolExecutor(max_workers=min(16, os.cpu_count() or 1)) as pool:
            for b0 in range(0, len(self.ids), batch):
                idx = torch.arange(b0, min(b0 + batch, len(self.ids)), device=self.u8.device)
                _, scores, logits = graph.run(self.normalised(idx), head=True)
                sc, lg = [s.cpu() for s in scores], [g.cpu() for g in logits]
                rows = pool.map(
                    lambda j: BB.head_proposals(
                        [s[j] for s in sc], [g[j] for g in lg], size[b0 + j][0], size[b0 + j][1], count
                    ),
                    range(len(idx)),
                )
                out[b0 : b0 + len(idx)] = torch.from_numpy(np.stack(list(rows)))
        return out.to(self.u8.device)


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


@torch.no_grad()
def augment(ph: Photos, idx: torch.Tensor, gen: torch.Generator, a, queries: Optional[int]):
    """One training batch, augmented on the device (module docstring). Returns (input [B, 3, 416, 416], image size
    [B, 2], boxes [B, M, 4], labels [B, M] (−1 = none, valid first), proposals [B, L, 4] or None)."""
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
    props = None
    if queries:
        p = ph.props[idx]
        pb = _transform_boxes(p[..., :4], size, flip, s, x0, y0, cw, ch)
        ok = (p[..., 4] >= 0) & ((pb[..., 2] - pb[..., 0]) >= 1) & ((pb[..., 3] - pb[..., 1]) >= 1)
        pb = pb.gather(1, _valid_first(ok)[..., None].expand(-1, -1, 4))[:, :queries]
        whole = torch.stack([torch.zeros_like(cw), torch.zeros_like(ch), cw, ch], -1)[:, None]
        props = torch.where(ok.sum(1)[:, None, None] > torch.arange(pb.shape[1], device=dev)[None, :, None], pb, whole)
        if props.shape[1] < queries:
            props = torch.cat([props, whole.expand(-1, queries - props.shape[1], -1)], 1)
    return x, torch.stack([cw, ch], 1), bx, labels, props


class EvalSet:
    """A Photos split as evaluate.evaluate's dataset: plain letterboxed photos, features by the backbone per batch."""

    def __init__(self, ph: Photos, graph: BB.NanoDetGraph, queries: Optional[int]):
        self.ph, self.graph, self.queries, self.ids, self.coco = ph, graph, queries, ph.ids, ph.coco

    def __len__(self) -> int:
        return len(self.ids)

    def batches(self, indices, batch_size: int, epoch: int = 0):
        ph = self.ph
        for b0 in range(0, len(indices), batch_size):
            idx = torch.as_tensor(indices[b0 : b0 + batch_size], device=ph.u8.device)
            levels, _, _ = self.graph.run(ph.normalised(idx), head=False)
            props = None
            if self.queries:
                p = ph.props[idx]
                whole = F.pad(ph.size[idx], (2, 0))[:, None]
                keep = (p[..., 4] >= 0)[..., None]
                props = torch.where(keep, p[..., :4], whole)[:, : self.queries]
                if props.shape[1] < self.queries:
                    props = torch.cat([props, whole.expand(-1, self.queries - props.shape[1], -1)], 1)
            yield D.Batch(
                levels, ph.size[idx], [], [], [self.ids[i] for i in idx.tolist()], ph.scale[idx], ph.orig[idx], props
            )


# ---------------------------------------------------------------------------------------------------------------


class Run:
    """One decoder's model, optimiser, compiled forward and log."""

    def __init__(self, variant: str, a, device, out_dir: str):
        torch.manual_seed(a.seed)
        self.cfg = make_config(a.preset, variant)
        self.cfg.query_init, self.cfg.pos_scale = a.query_init, a.pos_scale
        self.model = AdaMixerDecoder(self.cfg).to(device).train()
        kw = (
            {'fused': True}
            if device.type == 'cuda' and 'fused' in torch.optim.AdamW.__init__.__code__.co_varnames
            else {}
        )
        self.opt = torch.optim.AdamW(param_groups(self.model), lr=a.lr, weight_decay=a.weight_decay, **kw)
        self.fwd = self.model
        if device.type == 'cuda' and a.compile and hasattr(torch, 'compile'):
            self.fwd = torch.compile(self.model)
        self.out = out_dir
        os.makedirs(out_dir, exist_ok=True)
        self.log_f = open(os.path.join(out_dir, 'log.jsonl'), 'w', encoding='utf-8')
        self.acc: Optional[torch.Tensor] = None  # running sums on the device: stage terms, grad norm
        self.n = 0

    def log(self, rec: dict):
        self.log_f.write(json.dumps({**rec, 'time': round(time.time(), 3)}) + '\n')
        self.log_f.flush()

    def forward(self, levels, image_size, boxes, labels, props, lr: float, amp: bool):
        """Queues the forward pass and the matching costs' copy to the host (matching.start_assign)."""
        for g in self.opt.param_groups:
            g['lr'] = lr * g['lr_mult']
        try:
            if amp:
                with torch.autocast('cuda', dtype=torch.bfloat16):
                    outs = self.fwd(levels, image_size, props)
            else:
                outs = self.fwd(levels, image_size, props)
        except Exception as e:  # noqa: BLE001 - a failed compilation must not lose the run: fall back to eager
            if self.fwd is self.model:
                raise
            print(
                f'warning: torch.compile failed ({type(e).__name__}: {e}); {self.cfg.variant} runs eagerly',
                file=sys.stderr,
            )
            self.fwd = self.model
            return self.forward(levels, image_size, boxes, labels, props, lr, amp)
        stacked = [torch.stack([o[k] for o in outs]).detach().float() for k in ('logits', 'boxes')]
        self.pending = outs, start_assign(*stacked, boxes, labels, image_size.repeat(1, 2))

    def backward(self, image_size, boxes, labels, clip: float):
        """Waits for the costs, assigns on the CPU, then queues the loss, backward and optimiser step."""
        outs, handle = self.pending
        loss, parts, _ = stage_losses(outs, boxes, labels, image_size, assigned=finish_assign(handle))
        self.pending = None
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.opt.step()
        row = torch.cat([parts.reshape(-1), gnorm.reshape(1).to(parts)])
        self.acc = row if self.acc is None else self.acc + row
        self.n += 1

    def flush(self, step: int, epoch: float, lr: float, photos_per_s: Optional[float]):
        """One log line from the device sums (one host copy every --log-every steps)."""
        if not self.n:
            return
        v = (self.acc / self.n).double().cpu().numpy()
        st = v[:-1].reshape(-1, 4)  # per stage: cls, l1, giou, distill
        rec = {
            'type': 'step',
            'step': step,
            'epoch': epoch,
            'lr': lr,
            'loss': float(st.sum()),
            'loss_cls': float(st[:, 0].sum()),
            'loss_l1': float(st[:, 1].sum()),
            'loss_giou': float(st[:, 2].sum()),
            **{f's{i}': float(r.sum()) for i, r in enumerate(st)},
            'grad_norm': float(v[-1]),
            'photos_per_s': None if photos_per_s is None else round(photos_per_s, 1),
        }
        self.log(rec)
        self.acc, self.n = None, 0
        return rec


def main(argv: Optional[List[str]] = None) -> dict:
    a = build_parser().parse_args(argv)
    t0 = a.t0 or time.time()
    device = torch.device(a.device if a.device != 'auto' else ('cuda' if torch.cuda.is_available() else 'cpu'))
    if device.type == 'cpu':
        torch.set_num_threads(a.threads or os.cpu_count() or 1)
    else:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats(device)
    amp = device.type == 'cuda' and not a.no_bf16
    if a.lr is None:  # square-root batch scaling of the reference lr (AdamW)
        a.lr = a.lr_ref * math.sqrt(a.batch_size / a.lr_ref_batch)
    variants = [v for v in a.variants.split(',') if v]
    queries = make_config(a.preset, variants[0]).decoder.queries if a.query_init == 'nanodet' else None

    graph = BB.NanoDetGraph(os.path.join(a.data, 'nanodet'), device=device)
    ann = os.path.join(a.data, 'ann')
    train = Photos(
        os.path.join(a.data, 'train'),
        os.path.join(ann, 'instances_train.json'),
        graph,
        device,
        queries or 0,
        a.limit,
        skip_empty=True,
    )
    val = Photos(
        os.path.join(a.data, 'val'), os.path.join(ann, 'instances_val.json'), graph, device, queries or 0, a.val_limit
    )
    val_set = EvalSet(val, graph, queries)
    t_data = time.time() - t0
    print(f'data: {len(train.ids)} train + {len(val.ids)} val photos on {device} in {t_data:.0f} s', file=sys.stderr)

    runs = [Run(v, a, device, os.path.join(a.work, f'run-{v}')) for v in variants]
    n = len(train.ids)
    bs = min(a.batch_size, n)
    steps_per_epoch = n // bs  # full batches only
    gen = torch.Generator(device=device)
    gen.manual_seed(a.seed)
    start = {
        'type': 'start',
        'train_images': n,
        'val_images': len(val.ids),
        'device': str(device),
        'gpu': torch.cuda.get_device_name(device) if device.type == 'cuda' else None,
        'torch': torch.__version__,
        'steps_per_epoch': steps_per_epoch,
        'batch_size': bs,
        'lr': a.lr,
        'bf16': amp,
        'data_s': round(t_data, 1),
        'args': vars(a),
    }
    for r in runs:
        r.log(
            {
                **start,
                'config': r.cfg.to_json(),
                'params': sum(p.numel() for p in r.model.parameters()),
                'compiled': r.fwd is not r.model,
            }
        )

    def batches():
        epoch = 0
        while True:
            g = torch.Generator().manual_seed(a.seed * 100003 + epoch)
            perm = torch.randperm(n, generator=g)[: steps_per_epoch * bs].to(device)
            for k in range(steps_per_epoch):
                yield epoch, perm[k * bs : (k + 1) * bs]
            epoch += 1

    def validate(epoch: int, step: int):
        for r in runs:
            res = evaluate(r.model, val_set, 2 * bs if device.type == 'cuda' else bs, device)
            r.log({'type': 'epoch', 'epoch': epoch, 'step': step, 'val': res, 'best': None})
            print(
                f'{r.cfg.variant}: epoch {epoch} step {step}: val AP {res["AP"]:.2f} (AP50 {res["AP50"]:.2f})',
                file=sys.stderr,
            )

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    total = a.epochs * steps_per_epoch if a.epochs else None
    val_at: set = set()
    t_loop, t_probe, t_val_sum, step, stream = time.time(), None, 0.0, 0, batches()
    probe_rate = None
    while total is None or step < total:
        epoch, idx = next(stream)
        lr = learning_rate(step, epoch, a.lr, a.warmup, 0.001, [], a.schedule, total or 10**9, a.drops)
        x, size, boxes, labels, props = augment(train, idx, gen, a, queries)
        with torch.no_grad():
            levels, _, _ = graph.run(x, head=False)
        for r in runs:  # both forwards queued before the first wait: one decoder's CPU matching overlaps the other
            r.forward(levels, size, boxes, labels, props, lr, amp)
        for r in runs:
            r.backward(size, boxes, labels, a.clip)
        step += 1
        if step == a.warm_steps:
            sync()
            t_probe = time.time()
        if total is None and step == a.warm_steps + a.probe_steps:  # the probe sets the number of epochs
            sync()
            sps = (time.time() - t_probe) / a.probe_steps
            probe_rate = bs / sps
            t_val = len(val.ids) / bs * sps * VAL_COST  # one validation, estimated from the step time
            left = a.budget_s - (time.time() - t0) - a.margin_s - t_val * a.val_points
            e = max(1, min(a.max_epochs, int((left / sps + step) / steps_per_epoch)))
            total = max(step, e * steps_per_epoch)
            print(
                f'probe: {sps * 1000:.1f} ms/step ({probe_rate:.4g} photos/s per decoder, {len(runs)} decoders), '
                f'val ~{t_val:.1f} s, {left:.0f} s left → {e} epochs = {total} steps',
                file=sys.stderr,
            )
            for r in runs:
                r.log(
                    {
                        'type': 'probe',
                        's_per_step': sps,
                        'photos_per_s': round(probe_rate, 1),
                        'epochs': e,
                        'total_steps': total,
                        'val_s_estimate': round(t_val, 2),
                    }
                )
            val_at = {round(total * (k + 1) / (a.val_points + 1)) for k in range(a.val_points)} - {total}
        if step % a.log_every == 0 or step == total:
            for r in runs:
                r.flush(step, step / steps_per_epoch, lr, probe_rate)
        if step in val_at:
            t_val = time.time()
            validate(round(step / steps_per_epoch), step)
            t_val_sum += time.time() - t_val
    sync()
    t_train = time.time() - t_loop - t_val_sum
    validate(total // steps_per_epoch, step)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == 'cuda' else None
    rate = step * bs / t_train
    summary = {}
    for r in runs:
        r.log(
            {
                'type': 'throughput',
                'photos_per_s': round(rate, 1),
                'probe_photos_per_s': probe_rate,
                'decoders': len(runs),
                'peak_gpu_mem_gib': None if peak is None else round(peak, 2),
                'train_s': round(t_train, 1),
            }
        )
        exp = os.path.join(a.work, f'export-{r.cfg.variant}')
        last = [json.loads(l) for l in open(os.path.join(r.out, 'log.jsonl')) if '"type": "epoch"' in l][-1]
        export(
            r.model.state_dict(),
            r.cfg,
            exp,
            float16=a.float16,
            meta={
                'source': 'trained',
                'trainer': 'training/lors_studio/gpu_train.py',
                'steps': step,
                'epochs': total // steps_per_epoch,
                'valAP': last['val']['AP'],
                'seed': a.seed,
                'batch': bs,
                'lr': a.lr,
                'augmentation': 'pixel space on the GPU',
            },
        )
        s = {
            'steps': step,
            'epochs': total // steps_per_epoch,
            'best': last['val']['AP'],
            'val': last['val'],
            'photos_per_s': round(rate, 1),
            'probe_photos_per_s': probe_rate,
            'decoders': len(runs),
            'peak_gpu_mem_gib': peak,
            'train_s': round(t_train, 1),
            'wall_s': round(time.time() - t0, 1),
            'exported': exp,
            'hash': state_hash(r.model.state_dict()),
            'compiled': r.fwd is not r.model,
        }
        with open(os.path.join(r.out, 'summary.json'), 'w', encoding='utf-8') as f:
            json.dump(s, f, indent=1)
        r.log_f.close()
        try:
            plot_curves(
                os.path.join(r.out, 'log.jsonl'), os.path.join(r.out, 'curves.png'), title=f'{r.cfg.variant} (GPU)'
            )
        except Exception as e:  # noqa: BLE001 - matplotlib may be missing there; the run is not lost for it
            print(f'warning: plot failed: {e}', file=sys.stderr)
        summary[r.cfg.variant] = s
    print(
        f'trained {len(runs)} decoders × {step} steps of {bs} photos in {t_train:.0f} s: {rate:.4g} photos/s per '
        f'decoder, peak GPU memory {peak if peak is None else round(peak, 2)} GiB',
        file=sys.stderr,
    )
    return summary


if __name__ == '__main__':
    main()
