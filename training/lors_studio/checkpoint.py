"""Training checkpoints: the writer (atomic), resuming a run, starting from exported weights, and the state hash.
The one reader is export.load_checkpoint; a checkpoint is a dict {'model', 'config', 'optimizer', 'epoch', 'step',
'best', 'best_epoch', 'steps_per_epoch', 'args', 'time'} and, in a run with --ema, 'trained'. 'model' is always the
weights the run evaluates and exports: the average with --ema (ema.py), whose optimiser weights are then 'trained'."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from typing import Dict, Optional, Tuple

import torch

from .export import load_checkpoint, load_weights

LAST = 'last.pt'
BEST = 'best.pt'


def state_hash(state: Dict[str, torch.Tensor]) -> str:
    """SHA-256 over the state_dict's names and float32 bytes (order-independent of device)."""
    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(state[k].detach().cpu().contiguous().float().numpy().tobytes())
    return h.hexdigest()


def atomic_save(obj, path: str) -> None:
    """torch.save to a temporary file, then renamed: a stop mid-write never leaves a broken checkpoint."""
    tmp = path + '.tmp'
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save(path: str, model, optimizer, config: dict, args: dict, averaged=None, **position) -> None:
    """Writes a checkpoint; `averaged`: the --ema weights (or None); `position`: epoch, step, best, best_epoch,
    steps_per_epoch."""
    time = datetime.datetime.now().isoformat(timespec='seconds')
    ck = {'model': model.state_dict(), 'config': config, 'optimizer': optimizer.state_dict(), **position}
    if averaged is not None:
        ck['model'], ck['trained'] = averaged, ck['model']
    atomic_save({**ck, 'args': args, 'time': time}, path)


def resume(
    path: str, model, optimizer, config: dict, steps_per_epoch: int, device
) -> Tuple[int, int, Optional[float], Optional[int], Optional[Dict[str, torch.Tensor]]]:
    """Loads `path` into model and optimizer after checking it is the same run; returns (epoch, step, best,
    best_epoch, the --ema average or None)."""
    if not os.path.isfile(path):
        raise SystemExit(f'--resume: {path} does not exist')
    ck = load_checkpoint(path, map_location=device)
    if ck['config'] != config:
        raise SystemExit(
            f'--resume: {path} was trained with config {json.dumps(ck["config"])}, not {json.dumps(config)}'
        )
    if ck.get('steps_per_epoch', steps_per_epoch) != steps_per_epoch:
        raise SystemExit(
            f'--resume: {path} had {ck["steps_per_epoch"]} steps per epoch, now '
            f'{steps_per_epoch} (different data, --limit, --batch-size or process count)'
        )
    averaged = ck['model'] if 'trained' in ck else None
    model.load_state_dict(ck.get('trained', ck['model']))
    if ck.get('optimizer') is not None:
        optimizer.load_state_dict(ck['optimizer'])
    return int(ck['epoch']), int(ck['step']), ck.get('best'), ck.get('best_epoch'), averaged


def init_from(model, directory: str, config: dict) -> None:
    """Loads exported weights (`--init DIR`) into model; their config must be the run's."""
    cfg, sd = load_weights(directory)
    if cfg.to_json() != config:
        raise SystemExit(
            f"--init {directory}: its config {json.dumps(cfg.to_json())} is not the run's {json.dumps(config)}"
        )
    model.load_state_dict(sd)
