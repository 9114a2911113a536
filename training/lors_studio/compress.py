"""Live LORS compression, the command line: ordered factors, vanilla → LORS, the AP grid (maths: lors_order.py).

    python3 -m training.lors_studio.compress order --weights TRAINED_LORS --out DIR [--float16]
    python3 -m training.lors_studio.compress lorsify --weights VANILLA --out DIR [--rank-a 16 --groups 3 --rank-t 32]
    python3 -m training.lors_studio.compress grid --trained DIR --from-vanilla DIR --features VAL --annotations A \
        --json J [--vanilla DIR] [--only trained|compressed]
    python3 -m training.lors_studio.compress merge PART.json ... --json J
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
from typing import Dict, List, Sequence, Tuple

import torch

from . import data as D
from . import dataset as DS
from .config import ModelConfig, stretch_groups
from .evaluate import evaluate
from .export import export, load_weights
from .lors_order import State, dense_stage_weights, lorsify, order_lors, reconstruction_error, slice_lors
from .model import AdaMixerDecoder
from .params import count_parameters


def _read_meta(directory: str) -> dict:
    with open(os.path.join(directory, 'model.json'), encoding='utf-8') as f:
        return json.load(f).get('meta', {}) or {}


def _grid_configs(
    cfg: ModelConfig, ranks: Sequence[int], k_options: str = '1;1,1,2,2,3,3;3'
) -> List[Tuple[int, List[int], int, str]]:
    """(rank_a, groups_a, rank_t, label) slices of an ordered source: K' = 1 everywhere, the paper's schedule
    [1,1,2,2,3,3] and K' = 3 everywhere (each clamped to the source's K_i; duplicates dropped); r_T scaled with r_A.
    r = 0 is the shared-only model (r_T = 0 too; K does not matter: one slice, K' = 1)."""
    lo = cfg.lors
    n = cfg.decoder.stages
    out, seen = [], set()
    for r in ranks:
        if r > lo.rank_a or r < 0:
            continue
        rt = max(1 if r else 0, min(lo.rank_t, round(r * lo.rank_t / lo.rank_a)))
        for label in k_options.split(';') if r else ['1']:
            ks = [int(x) for x in label.split(',')]
            ks = ks * n if len(ks) == 1 else stretch_groups(ks, n)
            ka = [min(k, m) for k, m in zip(ks, lo.groups_a)]
            key = (r, tuple(ka), rt)
            if key not in seen:
                seen.add(key)
                out.append((r, ka, rt, label))
    return out


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog='python3 -m training.lors_studio.compress', description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    o = sub.add_parser('order', help='re-express a trained LORS model with ordered factors (exact)')
    o.add_argument('--weights', required=True)
    o.add_argument('--out', required=True)
    o.add_argument('--float16', action='store_true')
    o.set_defaults(run=order_cmd)
    v = sub.add_parser('lorsify', help='compress a trained vanilla model into LORS (ordered factors)')
    v.add_argument('--weights', required=True)
    v.add_argument('--out', required=True)
    v.add_argument('--rank-a', type=int, default=16)
    v.add_argument('--groups', type=int, default=3, help='K of LORS^A in every stage (the export maximum)')
    v.add_argument('--rank-t', type=int, default=32)
    v.add_argument('--groups-t', type=int, default=1)
    v.add_argument('--float16', action='store_true')
    v.set_defaults(run=lorsify_cmd)
    g = sub.add_parser('grid', help='val AP vs decoder parameters of slices of both sources (JSON)')
    g.add_argument('--trained', required=True, help='ordered trained LORS weights (order)')
    g.add_argument('--from-vanilla', required=True, help='the vanilla model compressed into LORS (lorsify)')
    g.add_argument('--features', required=True, help='val feature cache (with proposals when queryInit is nanodet)')
    g.add_argument('--annotations', required=True)
    g.add_argument('--json', required=True)
    g.add_argument('--ranks', default='0,1,2,4,8,16', help='r_A of the slices (0: shared only)')
    g.add_argument(
        '--vanilla',
        default=None,
        help='the vanilla weights: adds offline points beyond the shipped '
        'export (lorsify at --extra-ranks, K = 1, r_T = min(d_q, 2 r); not reachable by the app)',
    )
    g.add_argument('--extra-ranks', default='32,64')
    g.add_argument(
        '--only',
        choices=['trained', 'compressed'],
        default=None,
        help='one source (run two processes in parallel, then `merge`)',
    )
    g.add_argument(
        '--k-options',
        default='1;1,1,2,2,3,3;3',
        help='K of LORS^A to try, ";"-separated (one value = '
        'every stage, a list = per stage), each clamped to the source',
    )
    g.add_argument('--batch-size', type=int, default=8)
    g.add_argument('--threads', type=int, default=None)
    g.add_argument('--limit', type=int, default=None)
    g.set_defaults(run=grid_cmd)
    mg = sub.add_parser('merge', help='merge grid JSONs written with --only')
    mg.add_argument('parts', nargs='+')
    mg.add_argument('--json', required=True)
    mg.set_defaults(run=merge_cmd)
    return ap


def order_cmd(a) -> int:
    cfg, st = load_weights(a.weights)
    meta = {**_read_meta(a.weights), 'ordered': 'compress.order_lors (SVD for LORS^T, QR + HOSVD for LORS^A)'}
    export(order_lors(cfg, st), cfg, a.out, float16=a.float16, meta=meta)
    print(f'wrote {a.out} (ordered {cfg.variant} model)')
    return 0


def lorsify_cmd(a) -> int:
    cfg, st = load_weights(a.weights)
    out_cfg, out_st = lorsify(cfg, st, a.rank_a, a.groups, a.rank_t, a.groups_t)
    err = reconstruction_error(dense_stage_weights(cfg, st), dense_stage_weights(out_cfg, out_st))
    meta = {
        'source': 'vanilla compressed into LORS (compress.lorsify)',
        'vanilla': _read_meta(a.weights),
        'relativeError': {k: round(x, 5) for k, x in err.items()},
    }
    export(out_st, out_cfg, a.out, float16=a.float16, meta=meta)
    print(
        f'wrote {a.out}: LORS r_A {a.rank_a} K {a.groups} r_T {a.rank_t}; relative error generator '
        f'{err["generator"]:.4f}, L_output {err["output"]:.4f}'
    )
    return 0


def merge_cmd(a) -> int:
    merged: dict = {}
    for path in a.parts:
        with open(path, encoding='utf-8') as f:
            part = json.load(f)
        merged.update({**part, 'reference': {**merged.get('reference', {}), **part.get('reference', {})}})
    with open(a.json, 'w', encoding='utf-8') as f:
        json.dump(merged, f, indent=1)
    print(f'wrote {a.json}')
    return 0


def _val_ap(cfg: ModelConfig, state: State, ds, batch_size: int) -> dict:
    m = AdaMixerDecoder(cfg)
    m.load_state_dict(state)
    return evaluate(m, ds, batch_size, torch.device('cpu'))


def grid_cmd(a) -> int:
    if a.threads:
        torch.set_num_threads(a.threads)
    ranks = [int(x) for x in a.ranks.split(',')]
    coco = D.CocoAnnotations(a.annotations)
    caches = D.find_caches(a.features)

    def dataset(cfg: ModelConfig):
        queries = cfg.decoder.queries if cfg.query_init == 'nanodet' else None
        return DS.DetectionDataset(caches, coco, train=False, limit=a.limit, proposals=queries)

    rows: Dict[str, list] = {}
    reference: Dict[str, dict] = {}
    t0 = datetime.datetime.now()
    if a.vanilla and a.only != 'trained':  # the uncompressed vanilla model on the same images, same code
        vcfg, vst = load_weights(a.vanilla)
        vap = _val_ap(vcfg, vst, dataset(vcfg), a.batch_size)
        params = count_parameters(vcfg)['decoder']
        reference['vanilla'] = {'AP': round(vap['AP'], 2), 'AP50': round(vap['AP50'], 2), 'decoderParams': params}
        print(f'vanilla (uncompressed): {params:,} params, AP {vap["AP"]:.2f}', flush=True)
    for mode, path in (('trained', a.trained), ('compressed', a.from_vanilla)):
        if a.only and mode != a.only:
            continue
        cfg, st = load_weights(path)
        ds = dataset(cfg)
        rows[mode] = []
        ref = dense_stage_weights(cfg, st)
        points = [
            (r, ka, rt, label, lambda r=r, ka=ka, rt=rt: slice_lors(cfg, st, r, ka, rt), True)
            for r, ka, rt, label in _grid_configs(cfg, ranks, a.k_options)
        ]
        if mode == 'compressed' and a.vanilla:
            vcfg, vst = load_weights(a.vanilla)
            ref = dense_stage_weights(vcfg, vst)  # errors relative to the vanilla model itself
            for r in (int(x) for x in a.extra_ranks.split(',') if x):
                rt = min(vcfg.decoder.d_query, 2 * r)
                make = lambda r=r, rt=rt: lorsify(vcfg, vst, r, 1, rt, 1)  # noqa: E731
                points.append((r, [1] * vcfg.decoder.stages, rt, '1', make, False))
        for r, ka, rt, label, make, shipped in points:
            c, s = make()
            c.query_init = cfg.query_init
            ap_ = _val_ap(c, s, ds, a.batch_size)
            err = reconstruction_error(ref, dense_stage_weights(c, s))
            row = {
                'rankA': r,
                'groupsA': ka,
                'rankT': rt,
                'groups': label,
                'shipped': shipped,
                'decoderParams': count_parameters(c)['decoder'],
                'AP': round(ap_['AP'], 2),
                'AP50': round(ap_['AP50'], 2),
                'relativeError': {k: round(x, 5) for k, x in err.items()},
            }
            rows[mode].append(row)
            if mode == 'trained' and (r, ka, rt) == (cfg.lors.rank_a, cfg.lors.groups_a, cfg.lors.rank_t):
                reference['lors'] = {k: row[k] for k in ('AP', 'AP50', 'decoderParams')}
            print(
                f'{mode} r_A {r} K {label} r_T {rt}{"" if shipped else " (offline)"}: {row["decoderParams"]:,} params, '
                f'AP {row["AP"]:.2f} (AP50 {row["AP50"]:.2f})',
                flush=True,
            )
    out = {
        'split': os.path.basename(a.annotations),
        'images': len(ds),
        'measured': t0.isoformat(timespec='seconds'),
        'machine': f'{platform.machine()} {os.cpu_count()} CPUs, torch {torch.__version__}',
        'how': 'python3 -m training.lors_studio.compress grid (PyTorch on the cached val features; the same '
        'slicing as the app, src/model/lors/slice.ts)',
        'errors': 'relativeError: Frobenius error of the dense per-stage generators / L_output against the trained '
        'LORS model (trained) or the trained vanilla model (compressed)',
        'reference': reference,
        **rows,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, 'w', encoding='utf-8') as f:
        json.dump(out, f, indent=1)
    print(f'wrote {a.json}')
    return 0


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    return a.run(a)


if __name__ == '__main__':
    raise SystemExit(main())
