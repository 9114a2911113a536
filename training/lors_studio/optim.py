"""The optimiser of both trainers: AdamW with parameter groups (the LORS private factors may get their own lr factor),
the learning-rate schedules and their command-line arguments."""

from __future__ import annotations

import argparse
import math
import re
from typing import List, Sequence

import torch

SCHEDULES = ('epochs', 'step', 'cosine')
COSINE_FLOOR = 0.01


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


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Each parameter group's lr = lr × its "lr_mult"."""
    for g in optimizer.param_groups:
        g['lr'] = lr * g['lr_mult']


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


def adamw(model: torch.nn.Module, lr: float, weight_decay: float, private_lr_mult: float = 1.0, fused=False):
    """AdamW over param_groups(model); fused (CUDA, torch ≥ 2) where asked and available."""
    kw = {'fused': True} if fused and 'fused' in torch.optim.AdamW.__init__.__code__.co_varnames else {}
    return torch.optim.AdamW(param_groups(model, private_lr_mult), lr=lr, weight_decay=weight_decay, **kw)


# ---------------------------------------------------------------------------------------------------------------
# Command line


def int_list(s: str) -> List[int]:
    try:
        return [int(x) for x in s.split(',') if x.strip() != '']
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a comma list of integers, got {s!r}') from None


def float_list(s: str) -> List[float]:
    try:
        return [float(x) for x in s.split(',') if x.strip() != '']
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a comma list of numbers, got {s!r}') from None


def add_arguments(p, lr, warmup: int, schedule: str, schedules: Sequence[str] = SCHEDULES, lr_help: str = '') -> None:
    """The optimiser's arguments, shared by both trainers (their defaults differ)."""
    p.add_argument('--lr', type=float, default=lr, help=lr_help or None)
    p.add_argument('--weight-decay', type=float, default=1e-4)
    p.add_argument('--warmup', type=int, default=warmup, help='linear warm-up iterations')
    p.add_argument(
        '--schedule',
        default=schedule,
        choices=list(schedules),
        help="lr after warm-up: epochs (--steps), step (--drops) or cosine over the run's total steps",
    )
    p.add_argument(
        '--drops',
        type=float_list,
        default=[2 / 3, 8 / 9],
        help='--schedule step: fractions of the total steps from which lr ×0.1 (default 0.667,0.889)',
    )
    p.add_argument(
        '--private-lr-mult',
        type=float,
        default=1.0,
        help='LORS: learning-rate factor for the stage-private low-rank factors (E generator, ml, mr, sl, '
        'sr, B, A); default 1',
    )
    p.add_argument('--clip', type=float, default=1.0, help='global L2 gradient-norm limit (0 = off)')
