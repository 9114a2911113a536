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
import json
import math
import os
import random
import signal
import sys
import time
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from . import checkpoint as C
from . import data as D
from . import dataset as DS
from . import optim
from .config import make_config, parse_groups
from .distributed import Dist
from .ema import Ema
from .evaluate import evaluate
from .export import export, load_checkpoint
from .losses import Distill, detection_losses
from .model import AdaMixerDecoder
from .plot import plot_curves
from .runlog import Progress, RunLog

LOG_NAME = 'log.jsonl'
PLOT_NAME = 'curves.png'


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
        help='hold out N training images (seeded by --seed), report their AP as "holdout" and choose the best '
        'checkpoint on it',
    )
    d.add_argument('--val-limit', type=int, default=None, help='use only the first N validation images')
    d.add_argument('--flip-prob', type=float, default=0.5)
    d.add_argument('--crop-prob', type=float, default=0.5, help='probability of a stride-32 crop (0 = off)')
    d.add_argument('--crop-min', type=float, default=0.5, help='smallest crop side as a fraction of the image')
    d.add_argument('--min-box', type=float, default=2.0, help='boxes narrower after a crop (px) are dropped')
    o = p.add_argument_group('optimisation')
    o.add_argument('--epochs', type=int, default=12)
    o.add_argument('--batch-size', type=int, default=4, help='images per step and process')
    optim.add_arguments(o, lr=2.5e-5, warmup=500, schedule='epochs')
    o.add_argument('--warmup-ratio', type=float, default=0.001)
    o.add_argument(
        '--warmup-frac', type=float, default=None, help='warm-up as a fraction of the total steps (overrides --warmup)'
    )
    o.add_argument(
        '--steps',
        type=optim.int_list,
        default=[8, 11],
        help='epochs (0-based) from which lr ×0.1, e.g. 8,11 (--schedule epochs)',
    )
    o.add_argument(
        '--distill',
        type=float,
        default=0.0,
        help="weight of score distillation: each query learns its NanoDet proposal's 80 class scores (quality focal "
        'loss, every stage; needs --query-init nanodet and `npm run proposals`); 0 = off (default)',
    )
    o.add_argument('--distill-beta', type=float, default=2.0, help="the quality focal loss's β (default 2)")
    o.add_argument(
        '--ema',
        type=float,
        default=None,
        metavar='D',
        help='evaluate, choose and export an exponential moving average of the weights with decay D (e.g. 0.999)',
    )
    o.add_argument('--seed', type=int, default=0)
    o.add_argument('--max-steps', type=int, default=None, help='stop after this many steps in total')
    r = p.add_argument_group('run')
    r.add_argument('--out', required=True, help='run directory (checkpoints, log.jsonl, curves.png)')
    r.add_argument('--resume', action='store_true', help='continue from OUT/last.pt')
    r.add_argument(
        '--init', metavar='DIR', help="start from the weights in DIR (model.json + shards; the run's config)"
    )
    r.add_argument(
        '--checkpoint-every',
        type=int,
        default=0,
        help='also write OUT/last.pt every N steps (0 = only at the end of an epoch); SIGTERM/SIGINT save and stop',
    )
    r.add_argument('--device', default='auto', help='auto | cpu | cuda | cuda:N')
    r.add_argument(
        '--threads', type=int, default=None, help='torch CPU threads per process (default: cores / processes)'
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
    return p


def build_config(args):
    groups = {k: parse_groups(getattr(args, k)) if getattr(args, k) else None for k in ('groups', 'groups_t')}
    cfg = make_config(args.preset, args.variant, rank_a=args.rank_a, rank_t=args.rank_t, stages=args.stages, **groups)
    cfg.query_init, cfg.pos_scale = args.query_init, float(args.pos_scale)
    return cfg


def recipe_meta(args) -> dict:
    """What the exported weights record of how they were trained (inference does not depend on it)."""
    return {
        'epochs': args.epochs,
        'batchSize': args.batch_size,
        'lr': args.lr,
        'schedule': args.schedule,
        'distill': args.distill,
        'distillBeta': args.distill_beta,
        'ema': args.ema,
        'init': os.path.basename(os.path.normpath(args.init)) if args.init else None,
        'holdout': args.holdout,
    }


def datasets(args, queries: Optional[int]):
    """(train, val or None, holdout or None): the holdout images are taken out of train."""
    aug = {k: getattr(args, k) for k in ('flip_prob', 'crop_prob', 'crop_min', 'min_box', 'seed', 'limit')}
    caches, coco = D.find_caches(args.features), D.CocoAnnotations(args.annotations, args.images)
    train = DS.DetectionDataset(caches, coco, train=True, proposals=queries, teacher=args.distill > 0, **aug)
    val = holdout = None
    if args.val_features:
        caches, coco = D.find_caches(args.val_features), D.CocoAnnotations(args.val_annotations)
        val = DS.DetectionDataset(caches, coco, train=False, limit=args.val_limit, proposals=queries)
    if args.holdout:
        kept, held = DS.split_holdout(train.ids, args.holdout, args.seed)
        holdout = DS.DetectionDataset(train.all_caches, train.coco, train=False, proposals=queries, ids=held)
        train.ids = kept
    return train, val, holdout


def _probe_unused(model, batch, device) -> List[str]:
    """Names of parameters that get no gradient from one forward/backward (gradients are cleared afterwards)."""
    b = batch.to(device)
    outs = model(b.levels, b.image_size, b.proposals, b.valid)
    loss, _ = detection_losses(outs, b.boxes, b.labels, b.image_size, avg_factor=1.0)
    loss.backward()
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    model.zero_grad(set_to_none=True)
    return unused


class Trainer:
    """One run: data, model (DDP-wrapped with several processes), optimiser, position (epoch, step, best) and log."""

    def __init__(self, args, model_factory: Callable = AdaMixerDecoder):
        self.args = a = args
        self.dist = dist = Dist(a.device)
        self.device = dev = dist.device
        self.threads = a.threads or max(1, (os.cpu_count() or 1) // max(1, dist.local_world))
        if dev.type == 'cpu':
            torch.set_num_threads(self.threads)
        elif not a.no_tf32:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        random.seed(a.seed)
        np.random.seed(a.seed)
        torch.manual_seed(a.seed)
        self.cfg = build_config(a)
        self.cfg_json = self.cfg.to_json()
        if dist.main:
            os.makedirs(a.out, exist_ok=True)
        dist.barrier()
        queries = self.cfg.decoder.queries if self.cfg.query_init == 'nanodet' else None
        self.train_set, self.val_set, self.holdout_set = datasets(a, queries)
        self.sampler = torch.utils.data.distributed.DistributedSampler(
            range(len(self.train_set)), num_replicas=dist.world, rank=dist.rank, shuffle=True, seed=a.seed
        )
        self.steps_per_epoch = math.ceil(len(self.sampler) / a.batch_size)

        torch.manual_seed(a.seed)
        self.core = model_factory(self.cfg).to(dev)
        self.core.train()
        if a.init and not a.resume:
            C.init_from(self.core, a.init, self.cfg_json)
        self.params = [p for p in self.core.parameters() if p.requires_grad]
        self.optimizer = optim.adamw(self.core, a.lr, a.weight_decay, a.private_lr_mult)
        self.last_path = os.path.join(a.out, C.LAST)
        self.epoch0, self.step, self.best, self.best_epoch, averaged = 0, 0, None, None, None
        if a.resume:
            self.epoch0, self.step, self.best, self.best_epoch, averaged = C.resume(
                self.last_path, self.core, self.optimizer, self.cfg_json, self.steps_per_epoch, dev
            )
        self.ema = Ema(self.core, a.ema, averaged) if a.ema else None
        self.log_path = os.path.join(a.out, LOG_NAME)
        self.log = RunLog(self.log_path if dist.main else None)
        self.model = self._wrap()
        self.planned = a.epochs * self.steps_per_epoch  # the schedule's length (--max-steps only stops)
        self.warmup = round(a.warmup_frac * self.planned) if a.warmup_frac is not None else a.warmup
        self.total = self.planned if a.max_steps is None else min(self.planned, a.max_steps)
        self.best_by = 'holdout' if self.holdout_set is not None else 'val'
        self.first_loss = self.last_loss = None
        self.t_run = time.time()

    def _wrap(self):
        """The model as DDP with several processes (find_unused_parameters probed once with 'auto')."""
        a, dist, model = self.args, self.dist, self.core
        if not dist.enabled:
            return model
        find_unused = a.find_unused == 'yes'
        if a.find_unused == 'auto':
            first = next(self.train_set.batches(list(self.sampler)[: a.batch_size], a.batch_size, epoch=self.epoch0))
            unused = _probe_unused(model, first, self.device)
            find_unused = any(f > 0 for f in dist.mean([float(n in unused) for n, _ in model.named_parameters()]))
            if find_unused and dist.main:
                more = '...' if len(unused) > 8 else ''
                print(
                    f'DDP: parameters without gradient: {unused[:8]}{more}; find_unused_parameters=True',
                    file=sys.stderr,
                )
        kw = dict(device_ids=[self.device.index]) if self.device.type == 'cuda' else {}
        return torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=find_unused, **kw)

    def save(self, path: str, epoch_done: int):
        at = {'epoch': epoch_done, 'step': self.step, 'best': self.best, 'best_epoch': self.best_epoch}
        averaged = self.ema.shadow if self.ema else None
        C.save(
            path,
            self.core,
            self.optimizer,
            self.cfg_json,
            vars(self.args),
            averaged,
            **at,
            steps_per_epoch=self.steps_per_epoch,
        )

    def log_start(self):
        a, ds = self.args, self.train_set
        self.log(
            {
                'type': 'start',
                'config': self.cfg_json,
                'params': sum(p.numel() for p in self.core.parameters()),
                'train_images': len(ds),
                'val_images': len(self.val_set) if self.val_set else 0,
                'holdout_images': len(self.holdout_set) if self.holdout_set else 0,
                'holdout_ids': self.holdout_set.ids if self.holdout_set else [],
                'world': self.dist.world,
                'device': str(self.device),
                'threads': self.threads,
                'steps_per_epoch': self.steps_per_epoch,
                'sizes': ds.sizes,
                'args': vars(a),
            }
        )

    def fit(self) -> bool:
        """Trains to the end, --max-steps or SIGTERM / SIGINT (the step finishes, last.pt is saved); returns whether
        it stopped inside an epoch."""
        a, dist = self.args, self.dist
        if dist.main and self.step == 0:
            self.log_start()
            if a.init and (self.val_set or self.holdout_set):  # the curve's starting point
                self.log(
                    {'type': 'epoch', 'epoch': 0, 'step': 0, **self.evaluate(), 'best': None, 'best_by': self.best_by}
                )
        dist.barrier()
        stop: List[int] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda n, _f: stop.append(n))
        bar = Progress(
            max(0, self.total - self.step), self.cfg.variant, enabled=self.dist.main and not self.args.no_progress
        )
        stopped = False
        for epoch in range(self.epoch0, self.args.epochs):
            if self.step >= self.total:
                break
            if not self.train_epoch(epoch, bar, stop):
                stopped = True
                break
            self.end_epoch(epoch)
        bar.close()
        if stopped:  # save the position so that --resume continues from here
            if self.dist.main:
                self.save(self.last_path, self.step // self.steps_per_epoch)
            self.dist.barrier()
        return stopped

    def train_epoch(self, epoch: int, bar: Progress, stop: List[int]) -> bool:
        """The epoch's batches from the current step on; False when stopped before its end."""
        a, spe = self.args, self.steps_per_epoch
        self.sampler.set_epoch(epoch)
        skip = self.step - epoch * spe  # > 0 when resuming mid-epoch
        window: List[Dict[str, float]] = []
        t_step = time.time()
        for bi, batch in enumerate(
            self.train_set.batches(list(self.sampler), a.batch_size, epoch, start=skip), start=skip
        ):
            if self.step >= self.total or stop:
                return False
            lr = optim.learning_rate(
                self.step, epoch, a.lr, self.warmup, a.warmup_ratio, a.steps, a.schedule, self.planned, a.drops
            )
            optim.set_lr(self.optimizer, lr)
            b = batch.to(self.device)
            outs = self.model(b.levels, b.image_size, b.proposals, b.valid)
            kd = None if b.teacher is None else Distill(b.teacher, b.teacher_mask, a.distill, a.distill_beta)
            loss, terms = detection_losses(outs, b.boxes, b.labels, b.image_size, distill=kd)
            if not math.isfinite(terms['loss']):
                raise FloatingPointError(f'step {self.step}: loss is {terms["loss"]}')
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = float(torch.nn.utils.clip_grad_norm_(self.params, a.clip)) if a.clip > 0 else float('nan')
            self.optimizer.step()
            if self.ema:
                self.ema.update(self.core)
            self.step += 1
            now = time.time()
            terms['s_per_step'], terms['grad_norm'], t_step = now - t_step, gnorm, now
            window.append(terms)
            if self.first_loss is None:
                self.first_loss = terms['loss']
            if self.step % a.log_every == 0 or self.step == self.total or bi == spe - 1:
                keys = [k for k in window[0] if k != 'avg_factor']
                avg = self.dist.mean([float(np.mean([w[k] for w in window])) for k in keys])
                rec = {
                    'type': 'step',
                    'step': self.step,
                    'epoch': epoch + (bi + 1) / spe,
                    'lr': lr,
                    **dict(zip(keys, avg)),
                }
                self.log(rec)
                self.last_loss, window = rec['loss'], []
            bar.update(1, epoch=epoch, loss=terms['loss'], lr=lr)
            if a.checkpoint_every > 0 and self.step % a.checkpoint_every == 0 and bi < spe - 1 and self.dist.main:
                self.save(self.last_path, self.step // spe)
        return True

    def evaluate(self) -> dict:
        """AP of the holdout and val sets (None for a set the run does not have); with --ema those of the averaged
        weights, and the optimiser's own under 'trained'."""
        if self.ema is None:
            return self._evaluate()
        with self.ema.applied(self.core):
            res = self._evaluate()
        # Before the first step the average is the optimiser's weights: no second evaluation.
        return {**res, 'trained': res if self.step == 0 else self._evaluate()}

    def _evaluate(self) -> dict:
        res, bs = {'val': None, 'holdout': None}, self.args.eval_batch_size or 2 * self.args.batch_size
        for name, ds in (('holdout', self.holdout_set), ('val', self.val_set)):
            if ds is not None:
                vbar = Progress(math.ceil(len(ds) / bs), name, enabled=not self.args.no_progress)
                res[name] = evaluate(self.core, ds, bs, self.device, on_batch=vbar.update, all_stages=True)
                vbar.close()
        return res

    def end_epoch(self, epoch: int):
        """Validation (every --val-every epochs and after the last), the epoch's log line, last.pt and best.pt."""
        a, dist = self.args, self.dist
        res = {'val': None, 'holdout': None}
        if (self.val_set or self.holdout_set) and ((epoch + 1) % max(1, a.val_every) == 0 or epoch + 1 == a.epochs):
            if dist.main:
                res = self.evaluate()
                score = res[self.best_by]['AP']
                if self.best is None or score > self.best:
                    self.best, self.best_epoch = score, epoch + 1
            dist.barrier()
        if dist.main:
            self.log(
                {
                    'type': 'epoch',
                    'epoch': epoch + 1,
                    'step': self.step,
                    **res,
                    'best': self.best,
                    'best_by': self.best_by,
                }
            )
            self.save(self.last_path, epoch + 1)
            if res[self.best_by] is not None and self.best_epoch == epoch + 1:
                self.save(os.path.join(a.out, C.BEST), epoch + 1)
            if res[self.best_by] is not None:
                aps = ', '.join(f'{k} AP {v["AP"]:.2f}' for k, v in res.items() if v and k != 'trained')
                print(
                    f'\nepoch {epoch + 1}: {aps}; best {self.best_by} AP {self.best:.2f} at epoch {self.best_epoch}',
                    file=sys.stderr,
                )
        dist.barrier()

    def finish(self) -> dict:
        """summary.json (with the weights' hash), curves, the export of the best (else last) checkpoint."""
        a, dist = self.args, self.dist
        summary = {
            'steps': self.step,
            'first_loss': self.first_loss,
            'last_loss': self.last_loss,
            'best': self.best,
            'best_epoch': self.best_epoch,
            'best_by': self.best_by,
            'out': a.out,
            'wall_s': round(time.time() - self.t_run, 1),
        }
        digest = C.state_hash(self.core.state_dict())
        if dist.enabled:  # each rank records its weights' hash: the replicas must agree (tests/test_ddp.py)
            rec = {'rank': dist.rank, 'world': dist.world, 'step': self.step, 'hash': digest}
            with open(os.path.join(a.out, f'rank{dist.rank}.json'), 'w', encoding='utf-8') as f:
                json.dump(rec, f)
        if dist.main:
            summary['hash'] = digest
            if not a.no_plot and os.path.isfile(self.log_path):
                try:
                    plot_curves(
                        self.log_path, os.path.join(a.out, PLOT_NAME), title=f'{self.cfg.preset} {self.cfg.variant}'
                    )
                except Exception as e:  # the plot must never lose a finished run
                    print(f'warning: plot failed: {e}', file=sys.stderr)
            if a.export_best:
                summary['exported'] = self.export_best()
            with open(os.path.join(a.out, 'summary.json'), 'w', encoding='utf-8') as f:
                json.dump(summary, f, indent=1)
        self.log.close()
        dist.close()
        return summary

    def export_best(self) -> str:
        a = self.args
        src = os.path.join(a.out, C.BEST)
        src = src if os.path.isfile(src) else self.last_path
        ck = load_checkpoint(src)
        meta = {
            'source': 'trained',
            'checkpoint': os.path.abspath(src),
            'epoch': ck['epoch'],
            'step': ck['step'],
            'bestAP': ck.get('best'),
            'bestBy': 'holdout' if a.holdout else 'val',
            'seed': a.seed,
            'preset': a.preset,
            'variant': a.variant,
            'recipe': recipe_meta(a),
        }
        export(ck['model'], ck['cfg'], a.export_best, float16=a.float16, meta=meta)
        return a.export_best


def main(argv: Optional[List[str]] = None, model_factory: Callable = AdaMixerDecoder) -> dict:
    """Trains; model_factory(cfg) builds the model (tests pass their own)."""
    args = build_parser().parse_args(argv)
    if args.batch_size < 1 or args.epochs < 1:
        raise SystemExit('--batch-size and --epochs must be ≥ 1')
    if (args.val_features is None) != (args.val_annotations is None):
        raise SystemExit('--val-features and --val-annotations go together')
    if args.distill > 0 and args.query_init != 'nanodet':
        raise SystemExit('--distill needs --query-init nanodet (the teacher scores are those of the proposals)')
    trainer = Trainer(args, model_factory)
    trainer.fit()
    return trainer.finish()


if __name__ == '__main__':
    main()
