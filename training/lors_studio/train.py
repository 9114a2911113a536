"""Trains a vanilla or LORS AdaMixer decoder on cached frozen-backbone features (docs/model.md §4).

Single process (CPU or one GPU):
    python3 -m training.lors_studio.train --preset web --variant lors --features FEAT_DIR \\
        --annotations train.json --val-features VAL_DIR --val-annotations val.json --epochs 12 --batch-size 4 \\
        --out runs/web-lors
Several processes (gloo on CPU, nccl on GPU; --batch-size is per process):
    torchrun --nproc_per_node 2 -m training.lors_studio.train ...

AdamW (lr 2.5e-5, weight decay 1e-4), linear warm-up over --warmup iterations from ratio 0.001, then --schedule:
`epochs` (default) lr ×0.1 at the epochs in --steps (0-based epoch index ≥ step, as mmcv); `step` lr ×0.1 at the
fractions --drops of the run's total steps; `cosine` half a cosine over the total steps down to 1% of the lr.
Global-norm clipping at --clip. --holdout N keeps N train images (seeded) out of training and reports their AP
("holdout"); the best checkpoint is then chosen on it, so a recipe can be chosen on train data only. Every epoch: val AP
(rank 0), RUN_DIR/last.pt and RUN_DIR/best.pt (by val AP). --resume continues from RUN_DIR/last.pt, also from the
middle of an epoch (after --max-steps). RUN_DIR/log.jsonl gets {"type": "step", ...} and {"type": "epoch", ...}
lines, RUN_DIR/curves.png the loss / val-AP curves.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib
import json
import math
import os
import random
import re
import signal
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from . import data as D
from .config import make_config, parse_groups
from .evaluate import evaluate
from .export import export, load_checkpoint, load_weights
from .losses import Distill, detection_losses
from .model import AdaMixerDecoder
from .plot import plot_curves

CHECKPOINT_LAST = 'last.pt'
CHECKPOINT_BEST = 'best.pt'
LOG_NAME = 'log.jsonl'
PLOT_NAME = 'curves.png'


# ---------------------------------------------------------------------------------------------------------------
# CLI


def _int_list(s: str) -> List[int]:
    try:
        return [int(x) for x in s.split(',') if x.strip() != '']
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a comma list of integers, got {s!r}') from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='python3 -m training.lors_studio.train',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m = p.add_argument_group('model')
    m.add_argument('--preset', default='web', help='paper | web | tiny (default web)')
    m.add_argument('--variant', default='lors', help='vanilla | vanilla4x32 | lors (default lors)')
    m.add_argument('--rank-a', type=int, default=None, help="LORS^A rank r (default: the preset's)")
    m.add_argument('--rank-t', type=int, default=None, help="LORS^T rank r (default: the preset's)")
    m.add_argument('--groups', default=None, help='LORS^A K: one value or per stage, e.g. 1,1,2,2,3,3')
    m.add_argument('--groups-t', default=None, help='LORS^T K: one value or per stage')
    m.add_argument('--stages', type=int, default=None, help="number of decoder stages (default: the preset's)")
    m.add_argument(
        '--query-init',
        default='image',
        choices=['image', 'nanodet'],
        help="initial query boxes: whole image (AdaMixer, default) or NanoDet-g's head proposals (needs "
        '`npm run proposals` next to every feature cache)',
    )
    m.add_argument(
        '--pos-scale',
        type=float,
        default=1000.0,
        help="divisor of the box centre x, y in the box encoding (config posScale, docs/model.md §3.1): AdaMixer's "
        '1000 (default) suits ~1333-px inputs; 312 = 1000·416/1333 is its 416-px equivalent',
    )
    d = p.add_argument_group('data')
    d.add_argument(
        '--features',
        required=True,
        help='feature-cache dir(s) / .json / .f16 (comma-separated); '
        'plain, -flip and several sizes are used for augmentation',
    )
    d.add_argument('--annotations', required=True, help='COCO json of the training images')
    d.add_argument('--images', default=None, help='image dir (only checked; the features are cached)')
    d.add_argument('--val-features', default=None, help='feature cache(s) of the validation images')
    d.add_argument('--val-annotations', default=None, help='COCO json of the validation images')
    d.add_argument('--limit', type=int, default=None, help='use only the first N training images')
    d.add_argument(
        '--holdout',
        type=int,
        default=0,
        help='hold out N training images (seeded by --seed), report '
        'their AP as "holdout" and choose the best checkpoint on it',
    )
    d.add_argument('--val-limit', type=int, default=None, help='use only the first N validation images')
    d.add_argument('--flip-prob', type=float, default=0.5)
    d.add_argument('--crop-prob', type=float, default=0.5, help='probability of a stride-32 crop (0 = off)')
    d.add_argument('--crop-min', type=float, default=0.5, help='smallest crop side as a fraction of the image')
    d.add_argument('--min-box', type=float, default=2.0, help='boxes narrower after a crop (px) are dropped')
    o = p.add_argument_group('optimisation')
    o.add_argument('--epochs', type=int, default=12)
    o.add_argument('--batch-size', type=int, default=4, help='images per step and process')
    o.add_argument('--lr', type=float, default=2.5e-5)
    o.add_argument('--weight-decay', type=float, default=1e-4)
    o.add_argument('--warmup', type=int, default=500, help='linear warm-up iterations')
    o.add_argument('--warmup-ratio', type=float, default=0.001)
    o.add_argument(
        '--steps',
        type=_int_list,
        default=[8, 11],
        help='epochs (0-based) from which lr ×0.1, e.g. 8,11 (--schedule epochs)',
    )
    o.add_argument(
        '--schedule',
        default='epochs',
        choices=SCHEDULES,
        help="lr after warm-up: epochs (--steps), step (--drops) or cosine over the run's total steps",
    )
    o.add_argument(
        '--drops',
        type=_float_list,
        default=[2 / 3, 8 / 9],
        help='--schedule step: fractions of the total steps from which lr ×0.1 (default 0.667,0.889)',
    )
    o.add_argument(
        '--warmup-frac', type=float, default=None, help='warm-up as a fraction of the total steps (overrides --warmup)'
    )
    o.add_argument(
        '--private-lr-mult',
        type=float,
        default=1.0,
        help='LORS: learning-rate factor for the stage-private low-rank factors (E generator, ml, mr, sl, '
        'sr, B, A); default 1',
    )
    o.add_argument(
        '--distill',
        type=float,
        default=0.0,
        help="weight of score distillation: each query learns its NanoDet proposal's 80 class scores (quality focal "
        'loss, every stage; needs --query-init nanodet and `npm run proposals`); 0 = off (default)',
    )
    o.add_argument('--distill-beta', type=float, default=2.0, help="the quality focal loss's β (default 2)")
    o.add_argument('--clip', type=float, default=1.0, help='global L2 gradient-norm limit (0 = off)')
    o.add_argument('--seed', type=int, default=0)
    o.add_argument('--max-steps', type=int, default=None, help='stop after this many steps in total')
    r = p.add_argument_group('run')
    r.add_argument('--out', required=True, help='run directory (checkpoints, log.jsonl, curves.png)')
    r.add_argument('--resume', action='store_true', help='continue from OUT/last.pt')
    r.add_argument(
        '--init',
        default=None,
        metavar='DIR',
        help="start from the weights in this folder (model.json + shards; its config must be the run's)",
    )
    r.add_argument(
        '--checkpoint-every',
        type=int,
        default=0,
        help='also write OUT/last.pt every N steps (0 = only at the end of an epoch); SIGTERM/SIGINT save and stop',
    )
    r.add_argument('--device', default='auto', help='auto | cpu | cuda | cuda:N')
    r.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch CPU threads per process (default: cores / processes on this node)',
    )
    r.add_argument('--log-every', type=int, default=10, help='steps per log.jsonl line')
    r.add_argument('--val-every', type=int, default=1, help='validate every N epochs (and after the last)')
    r.add_argument('--eval-batch-size', type=int, default=None)
    r.add_argument(
        '--find-unused',
        default='auto',
        choices=['auto', 'yes', 'no'],
        help='DDP find_unused_parameters (auto: probe once which parameters get gradients)',
    )
    r.add_argument('--no-tf32', action='store_true', help='CUDA: keep full fp32 matmuls')
    r.add_argument('--no-plot', action='store_true')
    r.add_argument('--no-progress', action='store_true')
    r.add_argument('--export-best', default=None, metavar='DIR', help='export the best (else last) weights here')
    r.add_argument('--float16', action='store_true', help='export float16 shards')
    r.add_argument('--model-factory', default=None, help=argparse.SUPPRESS)  # 'module:callable(cfg)', tests only
    return p


# ---------------------------------------------------------------------------------------------------------------
# Schedule

SCHEDULES = ('epochs', 'step', 'cosine')
COSINE_FLOOR = 0.01


def _float_list(s: str) -> List[float]:
    try:
        return [float(x) for x in s.split(',') if x.strip() != '']
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a comma list of numbers, got {s!r}') from None


def learning_rate(
    step: int,
    epoch: int,
    base: float,
    warmup: int,
    warmup_ratio: float,
    milestones: List[int],
    schedule: str = 'epochs',
    total: int = 0,
    drops: Sequence[float] = (2 / 3, 8 / 9),
) -> float:
    """Linear warm-up (mmcv's: from warmup_ratio·lr over `warmup` iterations) times the schedule's factor, with
    step = 0-based global iteration, epoch = 0-based epoch, total = the run's planned steps:
    epochs: ×0.1 per milestone epoch reached (mmcv's step policy); step: ×0.1 per fraction in `drops` of `total`
    reached; cosine: COSINE_FLOOR + (1 − COSINE_FLOOR)·(1 + cos(π·step/total))/2."""
    if schedule == 'epochs':
        lr = base * (0.1 ** sum(1 for s in milestones if epoch >= s))
    elif schedule == 'step':
        lr = base * (0.1 ** sum(1 for f in drops if step >= f * total))
    elif schedule == 'cosine':
        lr = base * (
            COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * min(step, total) / max(1, total)))
        )
    else:
        raise ValueError(f'unknown schedule {schedule!r} (one of {SCHEDULES})')
    if warmup > 0 and step < warmup:
        k = (1 - step / warmup) * (1 - warmup_ratio)
        lr = lr * (1 - k)
    return lr


def is_private_factor(name: str) -> bool:
    """The stage-private low-rank factors of LORS (Eq. 10-12): Linear_E,i and ml/mr/sl/sr of LORS^A, B/A of LORS^T
    (not the per-stage bias or LayerNorm, which vanilla has too)."""
    return re.fullmatch(r'stages\.\d+\.(lorsA\.(generator\.(weight|bias)|ml|mr|sl|sr)|lorsT\.(A|B))', name) is not None


def param_groups(model: torch.nn.Module, private_lr_mult: float = 1.0) -> List[dict]:
    """AdamW parameter groups with an "lr_mult": the LORS private factors get private_lr_mult, all others 1.
    (Their zero-initialised E / B make the private path start at 0 and, at the shared lr, grow far slower than
    the shared weights; see training/README.)"""
    if not (private_lr_mult > 0 and math.isfinite(private_lr_mult)):
        raise ValueError(f'private_lr_mult must be a positive number, got {private_lr_mult}')
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    private = [p for n, p in named if is_private_factor(n)]
    other = [p for n, p in named if not is_private_factor(n)]
    groups = [{'params': other, 'lr_mult': 1.0}]
    if private:
        groups.append({'params': private, 'lr_mult': float(private_lr_mult)})
    return groups


# ---------------------------------------------------------------------------------------------------------------
# Progress bar (tqdm-free)


class Progress:
    """A bar with ETA on stderr: redrawn in place on a tty, else one line per 30 s (and at the end)."""

    def __init__(self, total: int, desc: str = '', enabled: bool = True, stream=None):
        self.total, self.desc, self.enabled = max(total, 1), desc, enabled
        self.stream = stream or sys.stderr
        self.n, self.t0, self.last = 0, time.time(), 0.0
        self.tty = hasattr(self.stream, 'isatty') and self.stream.isatty()

    def update(self, n: int = 1, **info):
        self.n += n
        now = time.time()
        if not self.enabled or (self.n < self.total and now - self.last < (0.5 if self.tty else 30.0)):
            return
        self.last, rate = now, (now - self.t0) / self.n
        eta = int(rate * max(0, self.total - self.n))
        fill = 24 * min(self.n, self.total) // self.total
        extra = ' '.join(f'{k} {v:.4g}' if isinstance(v, float) else f'{k} {v}' for k, v in info.items())
        line = (
            f'{self.desc} [{"#" * fill}{"-" * (24 - fill)}] {self.n}/{self.total} {rate:.2f}s/it '
            f'ETA {eta // 3600}:{eta // 60 % 60:02d}:{eta % 60:02d} {extra}'
        )
        self.stream.write(
            ('\r' + line + '\x1b[K' + ('\n' if self.n >= self.total else '')) if self.tty else line + '\n'
        )
        self.stream.flush()

    def close(self):
        if self.enabled and self.tty and self.n < self.total:
            self.stream.write('\n')


# ---------------------------------------------------------------------------------------------------------------
# Distributed helpers


class Dist:
    def __init__(self, device_arg: str):
        self.world = int(os.environ.get('WORLD_SIZE', '1'))
        self.rank = int(os.environ.get('RANK', '0'))
        self.local_rank = int(os.environ.get('LOCAL_RANK', '0'))
        self.local_world = int(os.environ.get('LOCAL_WORLD_SIZE', str(self.world)))
        want_cuda = device_arg.startswith('cuda') or (device_arg == 'auto' and torch.cuda.is_available())
        if want_cuda and not torch.cuda.is_available():
            raise SystemExit(f'--device {device_arg}: CUDA is not available')
        if want_cuda:
            idx = self.local_rank if device_arg in ('auto', 'cuda') else int(device_arg.split(':')[1])
            self.device = torch.device('cuda', idx)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device('cpu')
        self.enabled = self.world > 1
        if self.enabled and not torch.distributed.is_initialized():
            backend = 'nccl' if self.device.type == 'cuda' else 'gloo'
            torch.distributed.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=60))

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self):
        if self.enabled:
            if self.device.type == 'cuda':
                torch.distributed.barrier(device_ids=[self.device.index])
            else:
                torch.distributed.barrier()

    def mean(self, values: List[float]) -> List[float]:
        if not self.enabled:
            return values
        t = torch.tensor(
            values, dtype=torch.float64 if self.device.type == 'cpu' else torch.float32, device=self.device
        )
        torch.distributed.all_reduce(t)
        return (t / self.world).tolist()

    def close(self):
        if self.enabled and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


# ---------------------------------------------------------------------------------------------------------------
# Model / checkpoints


def build_config(args):
    groups = parse_groups(args.groups) if args.groups else None
    groups_t = parse_groups(args.groups_t) if args.groups_t else None
    cfg = make_config(
        args.preset,
        args.variant,
        rank_a=args.rank_a,
        rank_t=args.rank_t,
        groups=groups,
        groups_t=groups_t,
        stages=args.stages,
    )
    cfg.query_init = getattr(args, 'query_init', 'image')
    cfg.pos_scale = float(getattr(args, 'pos_scale', cfg.pos_scale))
    return cfg


def build_model(cfg, factory: Optional[str] = None) -> torch.nn.Module:
    if factory:
        mod, _, fn = factory.partition(':')
        return getattr(importlib.import_module(mod), fn)(cfg)
    return AdaMixerDecoder(cfg)


def state_hash(state: Dict[str, torch.Tensor]) -> str:
    """SHA-256 over the state_dict's names and float32 bytes (order-independent of device)."""
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].detach().cpu().contiguous().float().numpy().tobytes())
    return h.hexdigest()


def _atomic_save(obj, path: str):
    tmp = path + '.tmp'
    torch.save(obj, tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------------------
# Training


def recipe_meta(args) -> dict:
    """What the exported weights record of how they were trained (inference does not depend on it)."""
    return {
        'epochs': args.epochs,
        'batchSize': args.batch_size,
        'lr': args.lr,
        'schedule': args.schedule,
        'distill': args.distill,
        'distillBeta': args.distill_beta,
        'init': os.path.basename(os.path.normpath(args.init)) if args.init else None,
        'holdout': args.holdout,
    }


def _probe_unused(model, batch, device) -> List[str]:
    """Names of parameters that get no gradient from one forward/backward (gradients are cleared afterwards)."""
    b = batch.to(device)
    outs = model(b.levels, b.image_size, b.proposals, b.valid)
    loss, _ = detection_losses(outs, b.boxes, b.labels, b.image_size, avg_factor=1.0)
    loss.backward()
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    model.zero_grad(set_to_none=True)
    return unused


def main(argv: Optional[List[str]] = None) -> dict:
    args = build_parser().parse_args(argv)
    if args.batch_size < 1 or args.epochs < 1:
        raise SystemExit('--batch-size and --epochs must be ≥ 1')
    if (args.val_features is None) != (args.val_annotations is None):
        raise SystemExit('--val-features and --val-annotations go together')
    if args.distill > 0 and args.query_init != 'nanodet':
        raise SystemExit('--distill needs --query-init nanodet (the teacher scores are those of the proposals)')
    dist = Dist(args.device)
    device = dist.device
    threads = args.threads or max(1, (os.cpu_count() or 1) // max(1, dist.local_world))
    if device.type == 'cpu':
        torch.set_num_threads(threads)
    elif not args.no_tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    cfg = build_config(args)
    cfg_json = cfg.to_json()
    out = args.out
    if dist.main:
        os.makedirs(out, exist_ok=True)
    dist.barrier()

    # data
    queries = cfg.decoder.queries if cfg.query_init == 'nanodet' else None
    train_set = D.DetectionDataset(
        D.find_caches(args.features),
        D.CocoAnnotations(args.annotations, args.images),
        train=True,
        flip_prob=args.flip_prob,
        crop_prob=args.crop_prob,
        crop_min=args.crop_min,
        min_box=args.min_box,
        seed=args.seed,
        limit=args.limit,
        proposals=queries,
        teacher=args.distill > 0,
    )
    val_set = None
    if args.val_features:
        val_set = D.DetectionDataset(
            D.find_caches(args.val_features),
            D.CocoAnnotations(args.val_annotations),
            train=False,
            limit=args.val_limit,
            proposals=queries,
        )
    holdout_set = None
    if args.holdout:
        kept, held = D.split_holdout(train_set.ids, args.holdout, args.seed)
        holdout_set = D.DetectionDataset(train_set.all_caches, train_set.coco, train=False, proposals=queries, ids=held)
        train_set.ids = kept
    sampler = torch.utils.data.distributed.DistributedSampler(
        range(len(train_set)), num_replicas=dist.world, rank=dist.rank, shuffle=True, seed=args.seed, drop_last=False
    )
    steps_per_epoch = math.ceil(len(sampler) / args.batch_size)

    # model + optimiser
    torch.manual_seed(args.seed)
    model = build_model(cfg, args.model_factory).to(device)
    model.train()
    if args.init and not args.resume:
        init_cfg, init_sd = load_weights(args.init)
        if init_cfg.to_json() != cfg_json:
            raise SystemExit(
                f"--init {args.init}: its config {json.dumps(init_cfg.to_json())} is not the run's "
                f'{json.dumps(cfg_json)}'
            )
        model.load_state_dict(init_sd)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(param_groups(model, args.private_lr_mult), lr=args.lr, weight_decay=args.weight_decay)

    start_epoch, step, best, best_epoch = 0, 0, None, None
    last_path = os.path.join(out, CHECKPOINT_LAST)
    if args.resume:
        if not os.path.isfile(last_path):
            raise SystemExit(f'--resume: {last_path} does not exist')
        ck = load_checkpoint(last_path, map_location=device)
        if ck['config'] != cfg_json:
            raise SystemExit(
                f'--resume: {last_path} was trained with config {json.dumps(ck["config"])}, not {json.dumps(cfg_json)}'
            )
        if ck.get('steps_per_epoch', steps_per_epoch) != steps_per_epoch:
            raise SystemExit(
                f'--resume: {last_path} had {ck["steps_per_epoch"]} steps per epoch, now '
                f'{steps_per_epoch} (different data, --limit, --batch-size or process count)'
            )
        model.load_state_dict(ck['model'])
        if ck.get('optimizer') is not None:
            optimizer.load_state_dict(ck['optimizer'])
        start_epoch, step, best, best_epoch = int(ck['epoch']), int(ck['step']), ck.get('best'), ck.get('best_epoch')

    log_path = os.path.join(out, LOG_NAME)
    log_f = open(log_path, 'a', encoding='utf-8') if dist.main else None

    t_run = time.time()

    def log(rec: dict):
        if log_f is not None:
            rec = {**rec, 'time': round(time.time(), 3)}  # wall clock (unix s): run time = last - first
            log_f.write(json.dumps(rec) + '\n')
            log_f.flush()

    def checkpoint(epoch_done: int, path: str):
        _atomic_save(
            {
                'model': model_core.state_dict(),
                'config': cfg_json,
                'optimizer': optimizer.state_dict(),
                'epoch': epoch_done,
                'step': step,
                'best': best,
                'best_epoch': best_epoch,
                'steps_per_epoch': steps_per_epoch,
                'args': vars(args),
                'time': datetime.datetime.now().isoformat(timespec='seconds'),
            },
            path,
        )

    model_core = model
    if dist.enabled:
        find_unused = args.find_unused == 'yes'
        if args.find_unused == 'auto':
            first = next(train_set.batches(list(sampler)[: args.batch_size], args.batch_size, epoch=start_epoch))
            unused = _probe_unused(model, first, device)
            flags = dist.mean([1.0 if n in unused else 0.0 for n, _ in model.named_parameters()])
            find_unused = any(f > 0 for f in flags)
            if find_unused and dist.main:
                print(
                    f'DDP: parameters without gradient: {unused[:8]}{"..." if len(unused) > 8 else ""}; '
                    'find_unused_parameters=True',
                    file=sys.stderr,
                )
        ddp_kw = dict(device_ids=[device.index]) if device.type == 'cuda' else {}
        model = torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=find_unused, **ddp_kw)

    total_steps = planned_steps = args.epochs * steps_per_epoch  # the schedule's length (--max-steps only stops)
    warmup = round(args.warmup_frac * planned_steps) if args.warmup_frac is not None else args.warmup
    if args.max_steps is not None:
        total_steps = min(total_steps, args.max_steps)
    if dist.main and step == 0:
        n_params = sum(p.numel() for p in model_core.parameters())
        log(
            {
                'type': 'start',
                'config': cfg_json,
                'params': n_params,
                'train_images': len(train_set),
                'val_images': len(val_set) if val_set else 0,
                'holdout_images': len(holdout_set) if holdout_set else 0,
                'holdout_ids': holdout_set.ids if holdout_set else [],
                'world': dist.world,
                'device': str(device),
                'threads': threads,
                'steps_per_epoch': steps_per_epoch,
                'sizes': train_set.sizes,
                'args': vars(args),
            }
        )
    eval_bs = args.eval_batch_size or 2 * args.batch_size
    best_by = 'holdout' if holdout_set is not None else 'val'

    def evaluate_splits() -> dict:
        res = {'val': None, 'holdout': None}
        for name, ds in (('holdout', holdout_set), ('val', val_set)):
            if ds is not None:
                vbar = Progress(math.ceil(len(ds) / eval_bs), name, enabled=not args.no_progress)
                res[name] = evaluate(model_core, ds, eval_bs, device, on_batch=vbar.update, all_stages=True)
                vbar.close()
        return res

    if args.init and step == 0 and dist.main and (val_set or holdout_set):  # the curve's starting point
        log({'type': 'epoch', 'epoch': 0, 'step': 0, **evaluate_splits(), 'best': None, 'best_by': best_by})
    dist.barrier()
    bar = Progress(max(0, total_steps - step), f'{cfg.variant}', enabled=dist.main and not args.no_progress)
    window: List[Dict[str, float]] = []
    first_loss = None
    last_loss = None
    stopped = False
    t_step = time.time()
    stop_signal: List[int] = []  # SIGTERM / SIGINT: finish the step, save last.pt, stop
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda n, _f: stop_signal.append(n))

    for epoch in range(start_epoch, args.epochs):
        if step >= total_steps:
            break
        sampler.set_epoch(epoch)
        indices = list(sampler)
        skip = step - epoch * steps_per_epoch  # > 0 when resuming mid-epoch
        for bi, batch in enumerate(train_set.batches(indices, args.batch_size, epoch, start=skip), start=skip):
            if step >= total_steps or stop_signal:
                stopped = True
                break
            lr = learning_rate(
                step, epoch, args.lr, warmup, args.warmup_ratio, args.steps, args.schedule, planned_steps, args.drops
            )
            for g in optimizer.param_groups:
                g['lr'] = lr * g['lr_mult']
            b = batch.to(device)
            outs = model(b.levels, b.image_size, b.proposals, b.valid)
            kd = None if b.teacher is None else Distill(b.teacher, b.teacher_mask, args.distill, args.distill_beta)
            loss, terms = detection_losses(outs, b.boxes, b.labels, b.image_size, distill=kd)
            if not math.isfinite(terms['loss']):
                raise FloatingPointError(f'step {step}: loss is {terms["loss"]}')
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = float(torch.nn.utils.clip_grad_norm_(params, args.clip)) if args.clip > 0 else float('nan')
            optimizer.step()
            step += 1
            now = time.time()
            terms['s_per_step'] = now - t_step
            terms['grad_norm'] = gnorm
            t_step = now
            window.append(terms)
            if first_loss is None:
                first_loss = terms['loss']
            if step % args.log_every == 0 or step == total_steps or bi == steps_per_epoch - 1:
                keys = [k for k in window[0] if k not in ('avg_factor',)]
                avg = dist.mean([float(np.mean([w[k] for w in window])) for k in keys])
                rec = {'type': 'step', 'step': step, 'epoch': epoch + (bi + 1) / steps_per_epoch, 'lr': lr}
                rec.update({k: v for k, v in zip(keys, avg)})
                log(rec)
                last_loss = rec['loss']
                window = []
            bar.update(1, epoch=epoch, loss=terms['loss'], lr=lr)
            if args.checkpoint_every > 0 and step % args.checkpoint_every == 0 and bi < steps_per_epoch - 1:
                if dist.main:
                    checkpoint(step // steps_per_epoch, last_path)
        else:
            # epoch finished
            res = {'val': None, 'holdout': None}
            if (val_set or holdout_set) and ((epoch + 1) % max(1, args.val_every) == 0 or epoch + 1 == args.epochs):
                if dist.main:
                    res = evaluate_splits()
                    score = res[best_by]['AP']
                    if best is None or score > best:
                        best, best_epoch = score, epoch + 1
                dist.barrier()
            if dist.main:
                log({'type': 'epoch', 'epoch': epoch + 1, 'step': step, **res, 'best': best, 'best_by': best_by})
                checkpoint(epoch + 1, last_path)
                if res[best_by] is not None and best_epoch == epoch + 1:
                    checkpoint(epoch + 1, os.path.join(out, CHECKPOINT_BEST))
                if res[best_by] is not None:
                    print(
                        f'\nepoch {epoch + 1}: '
                        + ', '.join(f'{k} AP {v["AP"]:.2f}' for k, v in res.items() if v)
                        + f'; best {best_by} AP {best:.2f} at epoch {best_epoch}',
                        file=sys.stderr,
                    )
            dist.barrier()
            continue
        break  # inner loop stopped at --max-steps
    bar.close()

    if stopped:
        # stopped inside an epoch: save the position so --resume continues from here
        if dist.main:
            checkpoint(step // steps_per_epoch, last_path)
        dist.barrier()

    summary = {
        'steps': step,
        'first_loss': first_loss,
        'last_loss': last_loss,
        'best': best,
        'best_epoch': best_epoch,
        'best_by': best_by,
        'out': out,
        'wall_s': round(time.time() - t_run, 1),
    }
    if dist.enabled:  # each rank records its weights' hash: the replicas must agree (tests/test_ddp.py)
        with open(os.path.join(out, f'rank{dist.rank}.json'), 'w', encoding='utf-8') as f:
            json.dump(
                {'rank': dist.rank, 'world': dist.world, 'step': step, 'hash': state_hash(model_core.state_dict())}, f
            )
    if dist.main:
        summary['hash'] = state_hash(model_core.state_dict())
        if not args.no_plot and os.path.isfile(log_path):
            try:
                plot_curves(log_path, os.path.join(out, PLOT_NAME), title=f'{cfg.preset} {cfg.variant}')
            except Exception as e:  # the plot must never lose a finished run
                print(f'warning: plot failed: {e}', file=sys.stderr)
        if args.export_best:
            src = os.path.join(out, CHECKPOINT_BEST)
            if not os.path.isfile(src):
                src = last_path
            ck = load_checkpoint(src)
            export(
                ck['model'],
                ck['cfg'],
                args.export_best,
                float16=args.float16,
                meta={
                    'source': 'trained',
                    'checkpoint': os.path.abspath(src),
                    'epoch': ck['epoch'],
                    'step': ck['step'],
                    'valAP': ck.get('best'),
                    'seed': args.seed,
                    'preset': args.preset,
                    'variant': args.variant,
                    'recipe': recipe_meta(args),
                },
            )
            summary['exported'] = args.export_best
        with open(os.path.join(out, 'summary.json'), 'w', encoding='utf-8') as f:
            json.dump(summary, f, indent=1)
    if log_f is not None:
        log_f.close()
    dist.close()
    return summary


if __name__ == '__main__':
    main()
