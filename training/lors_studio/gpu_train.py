"""The GPU trainer: the vanilla and LORS decoders trained side by side in ONE process on one stream of batches, the
photos resident on the GPU, augmented in pixel space there, and NanoDet-g's features recomputed per batch by the
PyTorch port of the frozen backbone (backbone.py). Run by scripts/gpu-train.sh (training/README.md, "GPU").

    python3 -m training.lors_studio.gpu_train --data gpu-data --work /tmp/lors-gpu --budget-s 520

DATA holds `train/`, `val/` (the 416-px WebP copies of `features shrink`), `ann/instances_{train,val}.json` and
`nanodet/` (the app's TFJS graph). Per step (no host synchronisation but the matching's cost-matrix copy):
- a batch of photo indices (seeded permutation per epoch, full batches only: fixed shapes for torch.compile);
- augmentation on the device (photos.augment: flip, rescale, crop, photometric jitter; boxes and proposals follow);
- NanoDet-g on the batch (fp32/TF32, no gradient), then each decoder: forward under bf16 autocast (CUDA), the
  stage losses with batched cost matrices (losses.stage_losses), backward, global-norm clipping, AdamW (fused on
  CUDA), the lr of optim.learning_rate (short linear warm-up, then --schedule step|cosine over the run's steps).
--distill W: each query started from NanoDet proposal i also learns that proposal's 80 class scores (computed with
the proposals at load, the rows carried through flip, scale and crop with their boxes: a flipped photo's proposals
are mirrored, not recomputed; proposals cut to under half their area by the crop and padded queries teach nothing,
as dataset.pad_teacher), the quality focal loss at every stage (losses.Distill), logged as loss_distill.
--init DIR: each variant starts from the exported weights DIR/<variant> (model.json + shards; its config must be
the run's, e.g. a train.py export of the same preset, queryInit and posScale).
The batch is large (default 128) with the lr scaled by the square-root rule from the shipped recipe's 2e-4 at 16
photos (AdamW's usual rule; linear scaling overshoots with Adam): lr = lr-ref · sqrt(batch / lr-ref-batch).
A timing probe (the run's first steps, after a warm-up that includes compilation) sets the number of epochs that
fits --budget-s; photos/s and peak GPU memory go to each run's log.jsonl and summary.json. Val AP (reporting only)
is computed at a few points and at the end. --holdout N and --ema D as in train.py: N training photos (the same
split for the same photos and --seed) are evaluated beside val and the weights that score best on them are
exported; with --ema the moving average is what is evaluated and exported. Else the final weights are exported
(float16).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from typing import List, NamedTuple, Optional, Tuple

import torch

from . import backbone as BB
from . import checkpoint as C
from . import dataset as DS
from . import optim
from .config import make_config
from .ema import Ema
from .evaluate import evaluate
from .export import export
from .losses import Distill, stage_losses
from .matching import finish_assign, start_assign
from .model import AdaMixerDecoder
from .photos import EvalSet, Photos, augment
from .plot import plot_curves
from .runlog import RunLog


class Best(NamedTuple):
    """The weights that scored best on the holdout so far."""

    ap: float  # holdout AP
    step: int
    weights: dict  # on the CPU
    val_ap: float


VAL_COST = 0.6  # a val batch (backbone + every decoder's forward, no augmentation or backward) / a training step


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
    optim.add_arguments(p, None, 100, 'step', ('step', 'cosine'), 'default: lr-ref · sqrt(batch / lr-ref-batch)')
    p.add_argument('--lr-ref', type=float, default=2e-4)
    p.add_argument('--lr-ref-batch', type=int, default=16)
    p.add_argument('--distill', type=float, default=0.0, help='score distillation weight (module docstring); 0 = off')
    p.add_argument('--distill-beta', type=float, default=2.0, help="the quality focal loss's β (default 2)")
    p.add_argument(
        '--init', default=None, metavar='DIR', help='start each variant from DIR/<variant> (exported weights)'
    )
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
    p.add_argument(
        '--holdout',
        type=int,
        default=0,
        help='hold out N training photos (seeded by --seed), evaluate them at each validation and export the '
        'weights that score best on them (val only reports)',
    )
    p.add_argument('--ema', type=float, default=None, metavar='D', help='evaluate and export a moving average (ema.py)')
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


class Run:
    """One decoder's model, optimiser, compiled forward and log."""

    def __init__(self, variant: str, a, device, out_dir: str):
        torch.manual_seed(a.seed)
        self.cfg = make_config(a.preset, variant)
        self.cfg.query_init, self.cfg.pos_scale = a.query_init, a.pos_scale
        self.model = AdaMixerDecoder(self.cfg).to(device).train()
        if a.init:
            C.init_from(self.model, os.path.join(a.init, variant), self.cfg.to_json())
        self.opt = optim.adamw(self.model, a.lr, a.weight_decay, a.private_lr_mult, fused=device.type == 'cuda')
        self.fwd = self.model
        if device.type == 'cuda' and a.compile and hasattr(torch, 'compile'):
            self.fwd = torch.compile(self.model)
        self.out = out_dir
        os.makedirs(out_dir, exist_ok=True)
        self.log = RunLog(os.path.join(out_dir, 'log.jsonl'), 'w')
        self.distill = (a.distill, a.distill_beta) if a.distill > 0 else None
        self.ema = Ema(self.model, a.ema) if a.ema else None
        self.best: Optional[Best] = None
        self.acc: Optional[torch.Tensor] = None  # running sums on the device: stage terms, grad norm
        self.n = 0

    def forward(self, levels, image_size, boxes, labels, props, lr: float, amp: bool):
        """Queues the forward pass and the matching costs' copy to the host (matching.start_assign)."""
        optim.set_lr(self.opt, lr)
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

    def backward(self, image_size, boxes, labels, clip: float, teacher: Optional[Tuple[torch.Tensor, ...]] = None):
        """Waits for the costs, assigns on the CPU, then queues the loss, backward and optimiser step."""
        outs, handle = self.pending
        kd = Distill(*teacher, *self.distill) if self.distill and teacher is not None else None
        loss, parts, _ = stage_losses(outs, boxes, labels, image_size, assigned=finish_assign(handle), distill=kd)
        self.pending = None
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        self.opt.step()
        if self.ema:
            self.ema.update(self.model)
        row = torch.cat([parts.reshape(-1), gnorm.reshape(1).to(parts)])
        self.acc = row if self.acc is None else self.acc + row
        self.n += 1

    def flush(self, step: int, epoch: float, lr: float, photos_per_s: Optional[float]):
        """One log line from the device sums (one host copy every --log-every steps)."""
        if not self.n:
            return
        v = (self.acc / self.n).double().cpu().numpy()
        st = v[:-1].reshape(-1, 4)  # per stage: cls, l1, giou, distill
        terms = {
            'loss_cls': float(st[:, 0].sum()),
            'loss_l1': float(st[:, 1].sum()),
            'loss_giou': float(st[:, 2].sum()),
        }
        if self.distill:
            terms['loss_distill'] = float(st[:, 3].sum())
        rec = {
            'type': 'step',
            'step': step,
            'epoch': epoch,
            'lr': lr,
            'loss': float(st.sum()),
            **terms,
            **{f's{i}': float(r.sum()) for i, r in enumerate(st)},
            'grad_norm': float(v[-1]),
            'photos_per_s': None if photos_per_s is None else round(photos_per_s, 1),
        }
        self.log(rec)
        self.acc, self.n = None, 0
        return rec

    def validate(self, sets: dict, bs: int, device, epoch: int, step: int) -> dict:
        """AP of each set (holdout, val) with the weights the run exports (the average with --ema); keeps the
        weights that score best on the holdout."""
        with self.ema.applied(self.model) if self.ema else contextlib.nullcontext():
            res = {k: evaluate(self.model, ds, bs, device) for k, ds in sets.items()}
            if 'holdout' in res and (self.best is None or res['holdout']['AP'] > self.best.ap):
                sd = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
                self.best = Best(res['holdout']['AP'], step, sd, res['val']['AP'])
        best, by = (self.best.ap, 'holdout') if self.best else (None, None)
        self.log({'type': 'epoch', 'epoch': epoch, 'step': step, **res, 'best': best, 'best_by': by})
        return res

    def exported(self) -> Tuple[dict, Optional[int]]:
        """(weights, step they were taken at or None for the end): the best on the holdout, else the last."""
        if self.best:
            return self.best.weights, self.best.step
        return (self.ema.shadow if self.ema else self.model.state_dict()), None

    def finish(self, a, step: int, epochs: int, bs: int, stats: dict, t0: float) -> dict:
        """The throughput line, the float16 export, summary.json and the curves."""
        self.log({'type': 'throughput', **stats})
        exp = os.path.join(a.work, f'export-{self.cfg.variant}')
        with open(os.path.join(self.out, 'log.jsonl'), encoding='utf-8') as f:
            last = [json.loads(l) for l in f if '"type": "epoch"' in l][-1]
        weights, at = self.exported()
        meta = {
            'source': 'trained',
            'trainer': 'training/lors_studio/gpu_train.py',
            'steps': step if at is None else at,
            'epochs': epochs,
            'valAP': self.best.val_ap if self.best else last['val']['AP'],
            'seed': a.seed,
            'batch': bs,
            'lr': a.lr,
            'augmentation': 'pixel space on the GPU',
        }
        if self.best:
            meta.update(bestAP=self.best.ap, bestBy='holdout')
        if a.distill > 0 or a.init or a.ema or a.holdout:
            meta['recipe'] = {
                'distill': a.distill,
                'distillBeta': a.distill_beta,
                'init': a.init and os.path.basename(os.path.normpath(a.init)),
                'ema': a.ema,
                'holdout': a.holdout,
            }
        export(weights, self.cfg, exp, float16=a.float16, meta=meta)
        best = self.best.ap if self.best else last['val']['AP']
        s = {'steps': step, 'epochs': epochs, 'best': best, 'best_step': at, 'val': last['val'], **stats}
        s.update(
            wall_s=round(time.time() - t0, 1),
            exported=exp,
            hash=C.state_hash(self.model.state_dict()),
            compiled=self.fwd is not self.model,
        )
        with open(os.path.join(self.out, 'summary.json'), 'w', encoding='utf-8') as f:
            json.dump(s, f, indent=1)
        self.log.close()
        try:
            title = f'{self.cfg.variant} (GPU)'
            plot_curves(os.path.join(self.out, 'log.jsonl'), os.path.join(self.out, 'curves.png'), title=title)
        except Exception as e:  # noqa: BLE001 - matplotlib may be missing there; the run is not lost for it
            print(f'warning: plot failed: {e}', file=sys.stderr)
        return s


def setup(a):
    """The device (TF32, cudnn benchmark on CUDA; threads on the CPU), bf16 autocast or not, the lr."""
    device = torch.device(a.device if a.device != 'auto' else ('cuda' if torch.cuda.is_available() else 'cpu'))
    if device.type == 'cpu':
        torch.set_num_threads(a.threads or os.cpu_count() or 1)
    else:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        torch.cuda.reset_peak_memory_stats(device)
    if a.lr is None:  # square-root batch scaling of the reference lr (AdamW)
        a.lr = a.lr_ref * math.sqrt(a.batch_size / a.lr_ref_batch)
    return device, device.type == 'cuda' and not a.no_bf16


def load_photos(a, device, queries: Optional[int]):
    """(NanoDet's graph, train photos (those with boxes), val photos), all on the device."""
    graph = BB.NanoDetGraph(os.path.join(a.data, 'nanodet'), device=device)
    ann = os.path.join(a.data, 'ann', 'instances_{}.json')
    q = queries or 0
    train = Photos(
        os.path.join(a.data, 'train'), ann.format('train'), graph, device, q, a.limit, True, scores=a.distill > 0
    )
    val = Photos(os.path.join(a.data, 'val'), ann.format('val'), graph, device, q, a.val_limit)
    return graph, train, val


def epochs_that_fit(a, t0: float, sps: float, step: int, steps_per_epoch: int, bs: int, val_photos: int):
    """(epochs, estimated seconds of one validation) that fit --budget-s at sps seconds per step."""
    t_val = val_photos / bs * sps * VAL_COST  # one validation, estimated from the step time
    left = a.budget_s - (time.time() - t0) - a.margin_s - t_val * a.val_points
    return max(1, min(a.max_epochs, int((left / sps + step) / steps_per_epoch))), t_val, left


def main(argv: Optional[List[str]] = None) -> dict:
    a = build_parser().parse_args(argv)
    t0 = a.t0 or time.time()
    if a.distill > 0 and a.query_init != 'nanodet':
        raise SystemExit('--distill needs --query-init nanodet (the teacher scores are those of the proposals)')
    device, amp = setup(a)
    variants = [v for v in a.variants.split(',') if v]
    queries = make_config(a.preset, variants[0]).decoder.queries if a.query_init == 'nanodet' else None
    graph, train, val = load_photos(a, device, queries)
    sets = {'val': EvalSet(val, graph, queries)}
    rows = list(range(len(train.ids)))
    if a.holdout:
        kept, held = DS.split_holdout(train.ids, a.holdout, a.seed)
        row_of = {iid: r for r, iid in enumerate(train.ids)}
        rows = [row_of[i] for i in kept]
        sets = {'holdout': EvalSet(train, graph, queries, [row_of[i] for i in held]), **sets}
    t_data = time.time() - t0
    print(f'data: {len(train.ids)} train + {len(val.ids)} val photos on {device} in {t_data:.0f} s', file=sys.stderr)

    runs = [Run(v, a, device, os.path.join(a.work, f'run-{v}')) for v in variants]
    n = len(rows)
    train_rows = torch.tensor(rows, device=device)
    bs = min(a.batch_size, n)
    steps_per_epoch = n // bs  # full batches only
    gen = torch.Generator(device=device)
    gen.manual_seed(a.seed)
    start = {
        'type': 'start',
        'train_images': n,
        'val_images': len(val.ids),
        'holdout_ids': sets['holdout'].ids if a.holdout else [],
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
        params = sum(p.numel() for p in r.model.parameters())
        r.log({**start, 'config': r.cfg.to_json(), 'params': params, 'compiled': r.fwd is not r.model})

    def batches():
        epoch = 0
        while True:
            g = torch.Generator().manual_seed(a.seed * 100003 + epoch)
            perm = train_rows[torch.randperm(n, generator=g)[: steps_per_epoch * bs].to(device)]
            for k in range(steps_per_epoch):
                yield epoch, perm[k * bs : (k + 1) * bs]
            epoch += 1

    def validate(epoch: int, step: int):
        for r in runs:
            res = r.validate(sets, 2 * bs if device.type == 'cuda' else bs, device, epoch, step)
            aps = ', '.join(f'{k} AP {v["AP"]:.2f}' for k, v in res.items())
            print(f'{r.cfg.variant}: epoch {epoch} step {step}: {aps}', file=sys.stderr)

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    total = a.epochs * steps_per_epoch if a.epochs else None
    val_at: set = set()
    t_loop, t_probe, t_val_sum, step, stream = time.time(), None, 0.0, 0, batches()
    probe_rate = None
    while total is None or step < total:
        epoch, idx = next(stream)
        lr = optim.learning_rate(step, epoch, a.lr, a.warmup, 0.001, [], a.schedule, total or 10**9, a.drops)
        x, size, boxes, labels, props, teacher = augment(train, idx, gen, a, queries, a.distill > 0)
        with torch.no_grad():
            levels, _, _ = graph.run(x, head=False)
        for r in runs:  # both forwards queued before the first wait: one decoder's CPU matching overlaps the other
            r.forward(levels, size, boxes, labels, props, lr, amp)
        for r in runs:
            r.backward(size, boxes, labels, a.clip, teacher)
        step += 1
        if step == a.warm_steps:
            sync()
            t_probe = time.time()
        if total is None and step == a.warm_steps + a.probe_steps:  # the probe sets the number of epochs
            sync()
            sps = (time.time() - t_probe) / a.probe_steps
            probe_rate = bs / sps
            e, t_val, left = epochs_that_fit(a, t0, sps, step, steps_per_epoch, bs, sum(map(len, sets.values())))
            total = max(step, e * steps_per_epoch)
            print(
                f'probe: {sps * 1000:.1f} ms/step ({probe_rate:.4g} photos/s per decoder, {len(runs)} decoders), '
                f'val ~{t_val:.1f} s, {left:.0f} s left → {e} epochs = {total} steps',
                file=sys.stderr,
            )
            probe = {'s_per_step': sps, 'photos_per_s': round(probe_rate, 1), 'epochs': e, 'total_steps': total}
            for r in runs:
                r.log({'type': 'probe', **probe, 'val_s_estimate': round(t_val, 2)})
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
    stats = {
        'photos_per_s': round(rate, 3),
        'probe_photos_per_s': probe_rate,
        'decoders': len(runs),
        'peak_gpu_mem_gib': None if peak is None else round(peak, 2),
        'train_s': round(t_train, 1),
    }
    summary = {r.cfg.variant: r.finish(a, step, total // steps_per_epoch, bs, stats, t0) for r in runs}
    print(
        f'trained {len(runs)} decoders × {step} steps of {bs} photos in {t_train:.0f} s: {rate:.4g} photos/s per '
        f'decoder, peak GPU memory {peak if peak is None else round(peak, 2)} GiB',
        file=sys.stderr,
    )
    return summary


if __name__ == '__main__':
    main()
