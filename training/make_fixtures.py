"""Generates the cross-language parity fixtures test/fixtures/parity/{vanilla,lors}/ (used by test/parity.test.ts and
training/tests/test_model.py). Run from the repo root:

    /usr/bin/python3 -m training.make_fixtures

Each folder holds
    model.json + weights-shard1of1.bin   tiny-preset weights (export.py, float32), seeded and perturbed so that every
                                          path matters (zero-initialised tensors get small random values)
    features.bin                          float32 LE: the NHWC input levels, concatenated in stride order
    outputs.bin                           float32 LE: per stage, logits [B, L, classes] then boxes [B, L, 4]
    case.json                             shapes, offsets (in float32 elements) into those files, imageSize, tolerance

Also test/fixtures/compress/lorsified-vanilla (make_compress_case). The reference outputs are computed in float64 from
the float32 weights and features (so they are the exact values of the float32 inputs); the script also checks that a
float32 run stays within 4e-5 of them, i.e. that the case is well conditioned (no box pair near a zero-overlap boundary
where log(iof + 1e-7) is steep).
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np
import torch

from .lors_studio.config import make_config
from .lors_studio.export import dump_json, export, load_weights
from .lors_studio.lors_order import lorsify
from .lors_studio.model import AdaMixerDecoder
from .lors_studio.params import parameter_spec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'parity')

BATCH = 2
INPUT = 64  # padded input size: levels 8×8, 4×4, 2×2 at strides 8, 16, 32
IMAGE_SIZE = [[64.0, 48.0], [50.0, 64.0]]  # (w, h) of the resized unpadded images
SEEDS = {'vanilla': 1234, 'lors': 4321}
# A non-default divisor of x, y in the box encoding (config posScale; weights without it use 1000), so that the
# parity test covers its path from the weights file's config into the decoder.
POS_SCALE = 312.0
TOLERANCE = 1e-4
# A float32 torch run must stay this close to the float64 reference. The floor is ~1.5e-5: boxes are ~64 px and
# z = log2(size) ≈ 6 carries float32 rounding into w = 2^(z − r/2). The perturbations are kept moderate (boxes still
# move ~10–25 px over the stages) so that rounding differences are not amplified from stage to stage.
MAX_F32_ERROR = 4e-5


def perturb_(model: AdaMixerDecoder, cfg) -> None:
    """Adds small random values so that no path is trivially zero / identity (uses torch's global RNG)."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for t in parameter_spec(cfg):
            name, init = t['name'], t['init']['kind']
            p = params[name]
            if name.endswith('norm.weight') or name.endswith('Norm.weight'):
                p.add_(torch.randn_like(p) * 0.1)  # LayerNorm / GroupNorm gains ≠ 1
            elif name.endswith('norm.bias') or name.endswith('Norm.bias'):
                p.add_(torch.randn_like(p) * 0.1)
            elif init == 'zeros' and p.dim() >= 2:
                if name.endswith('lorsT.B'):
                    p.normal_(0.0, 0.3)
                elif name.endswith('lorsA.generator.weight'):
                    p.normal_(0.0, 1.0 / math.sqrt(p.shape[1]))
                elif name.endswith('reg.out.weight'):
                    p.normal_(0.0, 0.05 / math.sqrt(p.shape[1]))
                else:  # generators, offsets
                    p.normal_(0.0, 0.1 / math.sqrt(p.shape[1]))
            elif init == 'zeros':  # biases
                p.normal_(0.0, 0.05)
            elif init == 'offsetBias':
                p.add_(torch.randn_like(p) * 0.05)


def make_case(variant: str, out_dir: str) -> dict:
    cfg = make_config('tiny', variant)
    cfg.pos_scale = POS_SCALE
    d = cfg.decoder
    torch.manual_seed(SEEDS[variant])
    model = AdaMixerDecoder(cfg)
    perturb_(model, cfg)
    export(
        model,
        cfg,
        out_dir,
        float16=False,
        meta={'source': 'fixture', 'seed': SEEDS[variant], 'createdBy': 'training/make_fixtures.py'},
    )
    # Reload what was written: the reference uses exactly the stored float32 values.
    cfg2, sd = load_weights(out_dir)
    assert cfg2.to_json() == cfg.to_json()
    levels = [torch.randn(BATCH, INPUT // s, INPUT // s, d.feat_channels) for s in d.strides]

    def run(dtype):
        m = AdaMixerDecoder(cfg, init=False).to(dtype)
        m.load_state_dict({k: v.to(dtype) for k, v in sd.items()})
        m.eval()
        with torch.no_grad():
            return m([x.to(dtype) for x in levels], torch.tensor(IMAGE_SIZE, dtype=dtype))

    ref = run(torch.float64)
    f32 = run(torch.float32)
    worst = max(float((a[k].double() - b[k]).abs().max()) for a, b in zip(f32, ref) for k in ('logits', 'boxes'))
    if worst > MAX_F32_ERROR:
        raise SystemExit(
            f'{variant}: float32 vs float64 differ by {worst:.3g} (> {MAX_F32_ERROR}): badly conditioned, '
            'change the seed'
        )

    feats = np.concatenate([x.numpy().astype('<f4').reshape(-1) for x in levels])
    feats.tofile(os.path.join(out_dir, 'features.bin'))
    outs, entries, off = [], [], 0
    for i, o in enumerate(ref):
        e = {'stage': i}
        for k in ('logits', 'boxes'):
            a = o[k].numpy().astype('<f4')
            e[k] = {'shape': list(a.shape), 'offset': off, 'maxAbs': float(np.abs(a).max())}
            off += a.size
            outs.append(a.reshape(-1))
        entries.append(e)
    np.concatenate(outs).tofile(os.path.join(out_dir, 'outputs.bin'))
    loff, level_entries = 0, []
    for x, s in zip(levels, d.strides):
        level_entries.append({'stride': s, 'shape': list(x.shape), 'offset': loff})
        loff += x.numel()
    case = {
        'generatedBy': 'training/make_fixtures.py',
        'variant': variant,
        'preset': 'tiny',
        'seed': SEEDS[variant],
        'dtype': 'float32 little-endian; offsets count float32 elements',
        'batch': BATCH,
        'inputSize': [INPUT, INPUT],
        'imageSize': IMAGE_SIZE,
        'posScale': POS_SCALE,
        'levels': level_entries,
        'outputs': entries,
        'tolerance': TOLERANCE,
        'reference': 'torch float64 forward of the float32 weights and features',
        'float32VsFloat64MaxAbs': worst,
    }
    with open(os.path.join(out_dir, 'case.json'), 'w') as fh:
        fh.write(dump_json(case) + '\n')
    return case


COMPRESS_OUT = os.path.join(ROOT, 'test', 'fixtures', 'compress', 'lorsified-vanilla')


def make_compress_case(parity_dir: str = OUT, out_dir: str = COMPRESS_OUT) -> None:
    """test/fixtures/compress/lorsified-vanilla: the parity fixture's tiny vanilla model compressed into LORS at full
    rank (lors_order.lorsify, r_A = C = 16, K = 2, r_T = d_q = 32), float32. Sliced to K' = 1 or left whole it must
    reproduce the vanilla parity outputs (test/parity.test.ts, src/model/lors/source.test.ts)."""
    vcfg, vstate = load_weights(os.path.join(parity_dir, 'vanilla'))
    cfg, state = lorsify(vcfg, vstate, rank_a=16, groups_a=2, rank_t=32, groups_t=1)
    model = AdaMixerDecoder(cfg)
    model.load_state_dict(state)
    export(
        model,
        cfg,
        out_dir,
        float16=False,
        meta={
            'source': 'fixture: lorsify(parity vanilla, rank_a=16, groups_a=2, rank_t=32)',
            'createdBy': 'training/make_fixtures.py',
        },
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=OUT)
    ap.add_argument('--only', choices=['parity', 'compress'], default=None)
    a = ap.parse_args(argv)
    for v in SEEDS if a.only != 'compress' else ():
        case = make_case(v, os.path.join(a.out, v))
        size = sum(os.path.getsize(os.path.join(a.out, v, f)) for f in os.listdir(os.path.join(a.out, v)))
        print(
            f'{v}: {size} bytes; float32 vs float64 max |diff| {case["float32VsFloat64MaxAbs"]:.2e}; '
            f'last-stage max |logit| {case["outputs"][-1]["logits"]["maxAbs"]:.3g}, '
            f'max |box| {case["outputs"][-1]["boxes"]["maxAbs"]:.3g}'
        )
    if a.only != 'parity':  # after the parity case: it compresses the vanilla case just written
        make_compress_case(a.out)
        print(f'compress: wrote {COMPRESS_OUT}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
