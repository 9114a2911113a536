"""Tests of the PyTorch mirror: configs, parameter spec vs the TypeScript one, the model's semantics against
independent computations, init rules, weights export/import, and the parity fixtures.

Run: /usr/bin/python3 -m unittest training.tests.test_model -v   (or scripts/test-py.sh)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import tempfile
import unittest
import zlib

import numpy as np
import torch
from training.lors_studio import export as export_mod
from training.lors_studio import int8
from training.lors_studio.boxes import decode_xyzr, initial_xyzr, iof_matrix, position_embedding, xyxy_to_xyzr
from training.lors_studio.config import (
    PLAIN_VARIANT,
    VARIANTS,
    ModelConfig,
    VariantSpec,
    dims,
    make_config,
    parse_groups,
    stretch_groups,
)
from training.lors_studio.export import export, load_checkpoint, load_weights
from training.lors_studio.lors_order import dense_stage_weights
from training.lors_studio.model import AdaMixerDecoder
from training.lors_studio.params import count_parameters, parameter_spec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC_JSON = os.path.join(ROOT, 'test', 'fixtures', 'param-spec.json')
PARITY = os.path.join(ROOT, 'test', 'fixtures', 'parity')


def read_json(path):
    with open(path) as fh:
        return json.load(fh)


def write_bytes(path, data):
    with open(path, 'wb') as fh:
        fh.write(data)


def tiny_levels(cfg, batch=2, size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(batch, size // s, size // s, cfg.decoder.feat_channels, generator=g) for s in cfg.decoder.strides
    ]


def randomize_(model, seed=0, scale=0.1):
    """Small random values on every tensor (so zero-initialised paths matter)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(
                torch.randn(p.shape, generator=g, dtype=p.dtype)
                * scale
                / math.sqrt(max(1, p.shape[-1]) if p.dim() > 1 else 1)
            )


class ConfigTest(unittest.TestCase):
    def test_presets_and_json_round_trip(self):
        for preset in ('tiny', 'web', 'paper'):
            for variant in (*VARIANTS, 'vanilla4x32'):
                cfg = make_config(preset, variant)
                js = json.loads(json.dumps(cfg.to_json()))
                self.assertEqual(ModelConfig.from_json(js).to_json(), js)
                self.assertEqual(ModelConfig.from_json(json.dumps(js)), cfg)
        c = make_config('paper', 'vanilla4x32')
        self.assertEqual((c.variant, c.decoder.sampling_groups, c.decoder.points_in), ('vanilla', 4, 32))
        lo = make_config('web', 'lors', rank_a=4, groups=2, groups_t=[1, 2, 1, 2, 1, 2], stages=6).lors
        self.assertEqual((lo.rank_a, lo.groups_a, lo.rank_t, lo.groups_t), (4, [2] * 6, 8, [1, 2, 1, 2, 1, 2]))
        self.assertEqual(make_config('paper', 'lors', stages=3).lors.groups_a, [1, 2, 3])
        self.assertEqual(stretch_groups([1, 1, 2, 2, 3, 3], 9), [1, 1, 1, 2, 2, 2, 3, 3, 3])
        self.assertEqual(parse_groups('3'), 3)
        self.assertEqual(parse_groups('1,1,2,2,3,3'), [1, 1, 2, 2, 3, 3])
        # queryInit: written only when 'nanodet' (older weight files have none = 'image'), read back, checked.
        q = make_config('web', 'lors')
        self.assertNotIn('queryInit', q.to_json())
        q.query_init = 'nanodet'
        self.assertEqual(q.to_json()['queryInit'], 'nanodet')
        self.assertEqual(ModelConfig.from_json(q.to_json()), q)
        with self.assertRaisesRegex(ValueError, 'queryInit'):
            ModelConfig.from_json({**q.to_json(), 'queryInit': 'detr'})
        # posScale: absent = 1000 (every older weights file), written only when not 1000, read back, checked.
        self.assertNotIn('posScale', q.to_json())
        self.assertEqual(ModelConfig.from_json(q.to_json()).pos_scale, 1000.0)
        q.pos_scale = 312.0
        self.assertEqual(ModelConfig.from_json(json.dumps(q.to_json())), q)
        for bad in (0, -1, 'x', True):
            with self.assertRaisesRegex(ValueError, 'posScale'):
                ModelConfig.from_json({**q.to_json(), 'posScale': bad})

    def test_bad_configs_are_refused(self):
        with self.assertRaisesRegex(ValueError, 'unknown preset'):
            make_config('huge', 'lors')
        with self.assertRaisesRegex(ValueError, 'unknown variant'):
            make_config('tiny', 'lorsy')
        with self.assertRaisesRegex(ValueError, 'expected 6 per-stage values'):
            make_config('tiny', 'lors', groups=[1, 2])
        with self.assertRaisesRegex(ValueError, 'rankA'):
            make_config('tiny', 'lors', rank_a=-1)
        self.assertEqual(make_config('tiny', 'lors', rank_a=0).lors.rank_a, 0)  # shared only
        with self.assertRaisesRegex(ValueError, 'groups must be'):
            parse_groups('1,,2')
        js = make_config('tiny', 'lors').to_json()
        del js['lors']
        with self.assertRaisesRegex(ValueError, 'config.lors is missing'):
            ModelConfig.from_json(js)
        js = make_config('tiny', 'vanilla').to_json()
        js['decoder']['samplingGroups'] = 3
        with self.assertRaisesRegex(ValueError, 'not divisible'):
            ModelConfig.from_json(js)


class ParamSpecTest(unittest.TestCase):
    """test/fixtures/param-spec.json is written by `npx tsx scripts/dump-param-spec.ts` from src/model/params.ts."""

    @classmethod
    def setUpClass(cls):
        with open(SPEC_JSON) as fh:
            cls.cases = json.load(fh)['configs']

    def test_counts_match_spec_section_7(self):
        self.assertEqual(count_parameters(make_config('paper', 'vanilla4x32'))['decoder'], 110_272_296)
        self.assertEqual(count_parameters(make_config('paper', 'vanilla'))['decoder'], 135_536_424)
        lors = count_parameters(make_config('paper', 'lors'))
        self.assertEqual(lors['decoder'], 35_348_264)
        self.assertEqual(lors['byComponent']['lorsT'], 8_388_608 + 1_585_152 + 1_536 + 3_072)
        self.assertEqual(sum(s['private'] for s in lors['perStage']), 3_330_048 + 1_585_152 + 1_536 + 3_072)
        # The module's own parameters (meta device: shapes only) give the same numbers.
        for variant, n in (('vanilla4x32', 110_272_296), ('lors', 35_348_264)):
            m = AdaMixerDecoder(make_config('paper', variant), device='meta')
            self.assertEqual(m.decoder_parameter_count(), n)

    def test_python_spec_and_state_dict_equal_the_typescript_spec(self):
        self.assertGreaterEqual(len(self.cases), 12)
        for case in self.cases:
            with self.subTest(case['label']):
                a = case['args']
                o = a['overrides']
                cfg = make_config(
                    a['preset'],
                    a['variant'],
                    rank_a=o.get('rankA'),
                    rank_t=o.get('rankT'),
                    groups=o.get('groups'),
                    groups_t=o.get('groupsT'),
                    stages=o.get('stages'),
                )
                self.assertEqual(cfg.to_json(), case['config'])
                ts = case['spec']
                py = parameter_spec(cfg)
                self.assertEqual(len(py), len(ts))
                for p, t in zip(py, ts):
                    self.assertEqual(
                        (p['name'], p['shape'], p['component'], p['stage'], p['role']),
                        (t['name'], t['shape'], t['component'], t['stage'], t['role']),
                    )
                    self.assertEqual(set(p['init']), set(t['init']), p['name'])
                    for k, v in t['init'].items():
                        if isinstance(v, float):
                            self.assertAlmostEqual(p['init'][k], v, places=12, msg=p['name'])
                        else:
                            self.assertEqual(p['init'][k], v, p['name'])
                self.assertEqual(count_parameters(cfg)['decoder'], case['count'])
                model = AdaMixerDecoder(ModelConfig.from_json(case['config']), device='meta')
                sd = model.state_dict()
                self.assertEqual([(k, list(v.shape)) for k, v in sd.items()], [(t['name'], t['shape']) for t in ts])


class BoxesTest(unittest.TestCase):
    def test_decode_encode_and_initial(self):
        xyzr = torch.tensor([[10.0, 20.0, 3.0, 1.0]])  # w = 2^2.5, h = 2^3.5
        w, h = 2**2.5, 2**3.5
        self.assertTrue(
            torch.allclose(decode_xyzr(xyzr), torch.tensor([[10 - w / 2, 20 - h / 2, 10 + w / 2, 20 + h / 2]]))
        )
        self.assertTrue(torch.allclose(xyxy_to_xyzr(decode_xyzr(xyzr)), xyzr, atol=1e-5))
        init = initial_xyzr(torch.tensor([[64.0, 48.0]]), 3)
        self.assertEqual(init.shape, (1, 3, 4))
        self.assertTrue(
            torch.allclose(init[0, 2], torch.tensor([32.0, 24.0, math.log2(math.sqrt(64 * 48)), math.log2(48 / 64)]))
        )
        self.assertTrue(torch.allclose(decode_xyzr(init)[0, 0], torch.tensor([0.0, 0.0, 64.0, 48.0]), atol=1e-4))
        # queryInit 'nanodet': given (padded) proposals; sides under 1 px widened to 1 (as initialXyzr in boxes.ts).
        props = torch.tensor([[[10.0, 20.0, 50.0, 100.0], [5.0, 5.0, 5.5, 9.0], [0.0, 0.0, 64.0, 48.0]]])
        got = initial_xyzr(torch.tensor([[64.0, 48.0]]), 3, props)
        want = torch.tensor(
            [[30.0, 60.0, math.log2(math.sqrt(40 * 80)), 1.0], [5.25, 7.0, 1.0, 2.0], init[0, 2].tolist()]
        )
        self.assertTrue(torch.allclose(got[0], want, atol=1e-5))
        with self.assertRaisesRegex(ValueError, 'proposals must be'):
            initial_xyzr(torch.tensor([[64.0, 48.0]]), 2, props)

    def test_iof_and_position_embedding(self):
        boxes = torch.tensor([[[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 25.0, 15.0], [30.0, 30.0, 31.0, 31.0]]])
        iof = iof_matrix(boxes)[0]
        self.assertAlmostEqual(float(iof[0, 1]), 25 / 100, places=6)  # inter 5×5 over area of box 0
        self.assertAlmostEqual(float(iof[1, 0]), 25 / 200, places=6)
        self.assertEqual(float(iof[0, 2]), 0.0)
        self.assertAlmostEqual(float(iof[2, 2]), 1.0, places=6)
        xyzr = torch.tensor([[[123.0, 456.0, 5.5, -0.25]]], dtype=torch.float64)
        pe = position_embedding(xyzr, 32)[0, 0]  # D = 8 per coordinate, m = 0..3
        for c, v in enumerate([0.123, 0.456, 5.5, -0.25]):
            for m in range(4):
                f = 10000 ** (2 * m / 8)
                self.assertAlmostEqual(float(pe[c * 8 + 2 * m]), math.sin(v / f), places=12)
                self.assertAlmostEqual(float(pe[c * 8 + 2 * m + 1]), math.cos(v / f), places=12)
        pe312 = position_embedding(xyzr, 32, 312.0)[0, 0]  # x, y divided by 312 instead; z, r unchanged
        self.assertAlmostEqual(float(pe312[0]), math.sin(123 / 312), places=12)
        self.assertTrue(torch.equal(pe312[16:], pe[16:]))


class StageSemanticsTest(unittest.TestCase):
    """Each step of a stage against an independent computation."""

    def setUp(self):
        torch.manual_seed(0)
        self.cfg = make_config('tiny', 'vanilla')
        self.model = AdaMixerDecoder(self.cfg).double()
        randomize_(self.model, 1, 0.3)
        self.stage = self.model.stages[0]

    def test_attention_equals_torch_multihead_attention_with_float_mask(self):
        B, L, dq, H = 2, 10, 32, 4
        q = torch.randn(B, L, dq, dtype=torch.float64)
        xyzr = initial_xyzr(torch.tensor([[64.0, 48.0], [50.0, 64.0]], dtype=torch.float64), L)
        xyzr = xyzr + torch.randn(B, L, 4, dtype=torch.float64) * torch.tensor(
            [5.0, 5.0, 0.3, 0.3], dtype=torch.float64
        )
        st = self.stage
        mha = torch.nn.MultiheadAttention(dq, H, batch_first=True).double()
        with torch.no_grad():
            mha.in_proj_weight.copy_(st.attn.inProj.weight)
            mha.in_proj_bias.copy_(st.attn.inProj.bias)
            mha.out_proj.weight.copy_(st.attn.outProj.weight)
            mha.out_proj.bias.copy_(st.attn.outProj.bias)
        x = q + position_embedding(xyzr, dq)
        mask = (torch.log(iof_matrix(decode_xyzr(xyzr)) + 1e-7)[:, None] * st.iofTau.view(1, H, 1, 1)).reshape(
            B * H, L, L
        )
        want = st.attnNorm(x + mha(x, x, x, attn_mask=mask, need_weights=False)[0])
        self.assertLess(float((st.attention(q, xyzr) - want).abs().max()), 1e-10)

    def test_sampling_equals_hand_bilinear(self):
        """u = sx/stride − 0.5 on the level grid, zero outside, levels weighted by softmax(−(sz − log2 s)²/2)."""
        cfg, st = self.cfg, self.stage
        B, L, G, P, C = 2, 10, 2, 4, 16
        feats = self.model.necked([x.double() for x in tiny_levels(cfg, size=64)])
        q = torch.randn(B, L, 32, dtype=torch.float64)
        xyzr = initial_xyzr(torch.tensor([[64.0, 48.0], [50.0, 64.0]], dtype=torch.float64), L)
        xyzr = xyzr + torch.randn(B, L, 4, dtype=torch.float64) * torch.tensor(
            [8.0, 8.0, 0.5, 0.3], dtype=torch.float64
        )
        got = st.sample(q, xyzr, feats)  # [B, L, G, P, C]
        off = st.sampling.offset(q).reshape(B, L, G, P, 3)
        for b, l, g, p in [(0, 0, 0, 0), (1, 3, 1, 2), (0, 9, 1, 3), (1, 5, 0, 1)]:
            x, y, z, r = [float(v) for v in xyzr[b, l]]
            w, h = 2 ** (z - r / 2), 2 ** (z + r / 2)
            sx, sy, sz = (
                x + float(off[b, l, g, p, 0]) * w,
                y + float(off[b, l, g, p, 1]) * h,
                z + float(off[b, l, g, p, 2]),
            )
            logits = [-((sz - math.log2(s)) ** 2) / 2 for s in cfg.decoder.strides]
            mx = max(logits)
            lw = [math.exp(v - mx) for v in logits]
            lw = [v / sum(lw) for v in lw]
            want = torch.zeros(C, dtype=torch.float64)
            for lev, s in enumerate(cfg.decoder.strides):
                fmap = feats[lev][b, g * C : (g + 1) * C]  # [C, H, W]
                Hh, Ww = fmap.shape[1:]
                u, v = sx / s - 0.5, sy / s - 0.5
                u0, v0 = math.floor(u), math.floor(v)
                val = torch.zeros(C, dtype=torch.float64)
                for uu, vv, wt in [
                    (u0, v0, (u0 + 1 - u) * (v0 + 1 - v)),
                    (u0 + 1, v0, (u - u0) * (v0 + 1 - v)),
                    (u0, v0 + 1, (u0 + 1 - u) * (v - v0)),
                    (u0 + 1, v0 + 1, (u - u0) * (v - v0)),
                ]:
                    if 0 <= uu < Ww and 0 <= vv < Hh:
                        val += wt * fmap[:, vv, uu]
                want += lw[lev] * val
            self.assertLess(float((got[b, l, g, p] - want).abs().max()), 1e-10, (b, l, g, p))

    def test_mixing_equals_per_query_loops(self):
        st = self.stage
        BL, G, P_in, P_out, C = 3, 2, 4, 8, 16
        xs = torch.randn(1, BL, G, P_in, C, dtype=torch.float64)
        mc = torch.randn(BL, G, C, C, dtype=torch.float64)
        ms = torch.randn(BL, G, P_out, P_in, dtype=torch.float64)
        got = st.mix(xs, mc, ms).reshape(BL, G, P_out, C)

        def ln(t):  # joint layer norm over all entries, no affine
            return (t - t.mean()) / torch.sqrt(t.var(unbiased=False) + 1e-5)

        for n in range(BL):
            for g in range(G):
                o = torch.relu(ln(xs[0, n, g] @ mc[n, g]))
                o = torch.relu(ln(ms[n, g] @ o))
                self.assertLess(float((got[n, g] - o).abs().max()), 1e-10)

    def test_refinement_and_detach(self):
        model = AdaMixerDecoder(self.cfg)
        randomize_(model, 2, 0.5)
        model.train()
        out = model(tiny_levels(self.cfg), [[64, 48], [50, 64]])
        self.assertEqual(len(out), 6)
        for o in out:
            self.assertEqual(o['logits'].shape, (2, 10, 80))
            self.assertEqual(o['boxes'].shape, (2, 10, 4))
            self.assertTrue(torch.allclose(o['boxes'], decode_xyzr(o['xyzr'])))
        out[1]['boxes'].sum().backward()
        g = model.stages[0].reg.out.weight.grad
        self.assertTrue(g is None or float(g.abs().max()) == 0.0, 'stage-1 boxes must not backprop into stage 0 Δ')
        self.assertGreater(float(model.stages[1].reg.out.weight.grad.abs().max()), 0.0)
        # Refinement: x' = x + dx·2^z, z' = z + dz on the first stage.
        st = model.stages[0]
        with torch.no_grad():
            feats = model.necked(tiny_levels(self.cfg))
            q0, xyzr0 = model.initial_state(2, torch.tensor([[64.0, 48.0], [50.0, 64.0]]))
            q1, new, _ = st(q0, xyzr0, feats)
            delta = st.reg(q1)
            s = torch.pow(2.0, xyzr0[..., 2])
            want = torch.stack(
                [
                    xyzr0[..., 0] + delta[..., 0] * s,
                    xyzr0[..., 1] + delta[..., 1] * s,
                    xyzr0[..., 2] + delta[..., 2],
                    xyzr0[..., 3] + delta[..., 3],
                ],
                -1,
            )
            self.assertTrue(torch.allclose(new, want))

    def test_bad_inputs(self):
        lv = tiny_levels(self.cfg)
        with self.assertRaisesRegex(ValueError, 'expected 3 feature levels'):
            self.model(lv[:2], [[64, 48], [50, 64]])
        with self.assertRaisesRegex(ValueError, 'NHWC'):
            self.model([x.permute(0, 3, 1, 2) for x in lv], [[64, 48], [50, 64]])
        with self.assertRaisesRegex(ValueError, 'image_size'):
            self.model([x.double() for x in lv], [[64, 48]])


def fold_lors_into_vanilla(lors_model: AdaMixerDecoder) -> AdaMixerDecoder:
    """Materialises every LORS stage into dense weights of a vanilla model with the same G, P_in (docs/model.md §5.3),
    with explicit loops over the (g, k) triplets — independent of the model's batched implementation."""
    cfg = lors_model.cfg
    d = cfg.decoder
    dm = dims(d)
    G, C, P_in, P_out, dq = dm.G, dm.C, d.points_in, d.points_out, d.d_query
    r = cfg.lors.rank_a
    per = C * C + P_out * P_in
    van = AdaMixerDecoder(ModelConfig(cfg.preset, 'vanilla', d), init=False).to(lors_model.queries.content.dtype)
    src = lors_model.state_dict()
    dst = van.state_dict()
    with torch.no_grad():
        for k in dst:
            if k in src:
                dst[k].copy_(src[k])
        W_sh, b_sh = src['lorsA.shared.weight'], src['lorsA.shared.bias']
        T_sh = src['lorsT.shared.weight']
        for i in range(d.stages):
            s = f'stages.{i}'
            K = cfg.lors.groups_a[i]
            WE = src[f'{s}.lorsA.generator.weight'].reshape(2, G * K, r, r, dq)
            bE = src[f'{s}.lorsA.generator.bias'].reshape(2, G * K, r, r, 1)
            ml, mr, sl, sr = (src[f'{s}.lorsA.{n}'] for n in ('ml', 'mr', 'sl', 'sr'))
            W = W_sh.clone()
            bvec = b_sh.clone()
            for g in range(G):
                for kk in range(K):
                    t = g * K + kk
                    for src_w, dst_w in ((WE, W), (bE, bvec[:, None])):
                        mcp = torch.einsum('ia,abq,bj->ijq', ml[t], src_w[0, t], mr[t]).reshape(C * C, -1)
                        msp = torch.einsum('ia,abq,bj->ijq', sl[t], src_w[1, t], sr[t]).reshape(P_out * P_in, -1)
                        dst_w[g * per : g * per + C * C] += mcp
                        dst_w[g * per + C * C : (g + 1) * per] += msp
            dst[f'{s}.mixing.generator.weight'].copy_(W)
            dst[f'{s}.mixing.generator.bias'].copy_(bvec)
            Bt, At = src[f'{s}.lorsT.B'], src[f'{s}.lorsT.A']
            Wt = T_sh.clone()
            for kk in range(Bt.shape[0]):
                Wt += Bt[kk] @ At[kk]
            dst[f'{s}.mixing.output.weight'].copy_(Wt)
            dst[f'{s}.mixing.output.bias'].copy_(src[f'{s}.lorsT.bias'])
            dst[f'{s}.mixNorm.weight'].copy_(src[f'{s}.lorsT.norm.weight'])
            dst[f'{s}.mixNorm.bias'].copy_(src[f'{s}.lorsT.norm.bias'])
    van.load_state_dict(dst)
    return van


class LorsTest(unittest.TestCase):
    def run_both(self, lors, van, cfg):
        lv = [x.double() for x in tiny_levels(cfg)]
        size = torch.tensor([[64.0, 48.0], [50.0, 64.0]], dtype=torch.float64)
        with torch.no_grad():
            a, b = lors(lv, size), van(lv, size)
        return max(float((x[k] - y[k]).abs().max()) for x, y in zip(a, b) for k in ('logits', 'boxes'))

    def test_lors_equals_materialised_weights(self):
        cfg = make_config('tiny', 'lors', groups=[1, 2, 3, 1, 2, 3], groups_t=[1, 2, 1, 2, 1, 2], rank_a=3, rank_t=2)
        torch.manual_seed(3)
        lors = AdaMixerDecoder(cfg).double()
        randomize_(lors, 4, 0.3)
        with torch.no_grad():  # make the private paths large enough to matter
            for n, p in lors.named_parameters():
                if n.endswith(('lorsA.generator.weight', 'lorsT.B')):
                    p.normal_(0.0, 0.5)
        van = fold_lors_into_vanilla(lors)
        self.assertLess(self.run_both(lors, van, cfg), 1e-9)
        # … and the private parts do matter: zeroing them changes the output.
        with torch.no_grad():
            for n, p in lors.named_parameters():
                if n.endswith(('lorsA.generator.weight', 'lorsT.B')):
                    p.zero_()
        self.assertGreater(self.run_both(lors, van, cfg), 1e-3)

    def test_a_variant_added_as_one_row_of_the_table(self):
        """LORS^A alone (generator low-rank, L_output dense): the spec, the module and the fold follow the row."""
        VARIANTS['lorsAOnly'] = VariantSpec('lorsA', 'dense')
        self.addCleanup(VARIANTS.pop, 'lorsAOnly')
        cfg = make_config('tiny', 'lorsAOnly')
        self.assertEqual(ModelConfig.from_json(cfg.to_json()), cfg)
        spec = parameter_spec(cfg)
        self.assertFalse([t['name'] for t in spec if 'lorsT' in t['name'] or 'mixing.generator' in t['name']])
        torch.manual_seed(6)
        model = AdaMixerDecoder(cfg).double()
        self.assertEqual(
            [(k, list(v.shape)) for k, v in model.state_dict().items()], [(t['name'], t['shape']) for t in spec]
        )
        randomize_(model, 7, 0.3)
        with torch.no_grad():  # a private path large enough to matter
            for n, p in model.named_parameters():
                if n.endswith('lorsA.generator.weight'):
                    p.normal_(0.0, 0.5)
        van = AdaMixerDecoder(make_config('tiny', PLAIN_VARIANT), init=False).double()
        src, dst = model.state_dict(), van.state_dict()
        with torch.no_grad():
            for k in dst:
                if k in src:
                    dst[k].copy_(src[k])
            for i, (gen, _) in enumerate(dense_stage_weights(cfg, src)):
                dst[f'stages.{i}.mixing.generator.weight'].copy_(torch.from_numpy(gen[:, :-1]))
                dst[f'stages.{i}.mixing.generator.bias'].copy_(torch.from_numpy(gen[:, -1]))
        van.load_state_dict(dst)
        self.assertLess(self.run_both(model, van, cfg), 1e-9)

    def test_lors_t_private(self):
        cfg = make_config('tiny', 'lors', groups_t=2)
        torch.manual_seed(5)
        m = AdaMixerDecoder(cfg).double()
        randomize_(m, 6, 0.5)
        st = m.stages[2]
        o = torch.randn(2, 10, dims(cfg.decoder).out_in, dtype=torch.float64)
        Wsh = m.lorsT.shared.weight
        W = Wsh + st.lorsT.B[0] @ st.lorsT.A[0] + st.lorsT.B[1] @ st.lorsT.A[1]
        self.assertLess(float((m.lorsT.shared(o) + st.lorsT.private(o) - o @ W.T).abs().max()), 1e-10)

    def test_init_rules_and_zero_private_path_at_init(self):
        cfg = make_config('tiny', 'lors')
        torch.manual_seed(7)
        lors = AdaMixerDecoder(cfg).double()
        sd = lors.state_dict()
        # Private path starts at exactly 0: Linear_E and B are zero; the factors are non-zero.
        for i in range(6):
            s = f'stages.{i}'
            self.assertEqual(float(sd[f'{s}.lorsA.generator.weight'].abs().max()), 0.0)
            self.assertEqual(float(sd[f'{s}.lorsA.generator.bias'].abs().max()), 0.0)
            self.assertEqual(float(sd[f'{s}.lorsT.B'].abs().max()), 0.0)
            self.assertEqual(float(sd[f'{s}.lorsT.bias'].abs().max()), 0.0)
            self.assertGreater(float(sd[f'{s}.lorsA.ml'].abs().max()), 0.0)
            self.assertGreater(float(sd[f'{s}.lorsT.A'].abs().max()), 0.0)
        # So at init the LORS model is a vanilla computation with the shared weights.
        van = fold_lors_into_vanilla(lors)
        for i in range(6):
            self.assertTrue(torch.equal(van.stages[i].mixing.generator.weight, lors.lorsA.shared.weight))
            self.assertTrue(torch.equal(van.stages[i].mixing.output.weight, lors.lorsT.shared.weight))
        self.assertLess(LorsTest.run_both(self, lors, van, cfg), 1e-12)

        # Init rules of docs/model.md §3.5 and §5.
        d = cfg.decoder
        dm = dims(d)
        self.assertEqual(float(sd['lorsA.shared.weight'].abs().max()), 0.0)
        self.assertLessEqual(float(sd['lorsA.shared.bias'].abs().max()), 1 / math.sqrt(d.d_query))
        self.assertLessEqual(float(sd['lorsT.shared.weight'].abs().max()), 1 / math.sqrt(dm.out_in) + 1e-12)
        self.assertLessEqual(float(sd['stages.0.lorsT.A'].abs().max()), math.sqrt(6 / dm.out_in) + 1e-12)
        self.assertLessEqual(
            float(sd['stages.0.lorsA.ml'].abs().max()), math.sqrt(6 / (dm.C * cfg.lors.rank_a)) + 1e-12
        )
        self.assertLessEqual(
            float(sd['stages.0.lorsA.sr'].abs().max()), math.sqrt(6 / (cfg.lors.rank_a * d.points_in)) + 1e-12
        )
        s0 = 'stages.0'
        self.assertTrue(torch.allclose(sd[f'{s0}.cls.out.bias'], torch.full((80,), -math.log(99), dtype=torch.float64)))
        self.assertEqual(
            float(sd[f'{s0}.reg.out.weight'].abs().max()) + float(sd[f'{s0}.reg.out.bias'].abs().max()), 0.0
        )
        self.assertEqual(float(sd[f'{s0}.sampling.offset.weight'].abs().max()), 0.0)
        tau = sd[f'{s0}.iofTau']
        self.assertTrue(bool(((tau >= 0) & (tau <= 4)).all()))
        xb = math.sqrt(6 / (d.d_query + 3 * d.d_query))
        self.assertLessEqual(float(sd[f'{s0}.attn.inProj.weight'].abs().max()), xb)
        self.assertEqual(float(sd[f'{s0}.attn.inProj.bias'].abs().max()), 0.0)
        self.assertTrue(torch.equal(sd[f'{s0}.attnNorm.weight'], torch.ones(d.d_query, dtype=torch.float64)))
        # P_in = 4 is a perfect square: 2×2 grid t = (−0.25, 0.25), component 0 = row, 1 = column; z = −1.
        ob = sd[f'{s0}.sampling.offset.bias'].reshape(2, 4, 3)
        grid = torch.tensor(
            [[-0.25, -0.25, -1], [-0.25, 0.25, -1], [0.25, -0.25, -1], [0.25, 0.25, -1]], dtype=torch.float64
        )
        self.assertTrue(torch.allclose(ob, grid.expand(2, 4, 3)))
        # vanilla4x32 tiny: P_in = 2 is not a square: xy ~ U(−0.5, 0.5), z = −1; Linear_gen weight 0.
        v = AdaMixerDecoder(make_config('tiny', 'vanilla4x32')).state_dict()
        ob = v[f'{s0}.sampling.offset.bias'].reshape(4, 2, 3)
        self.assertTrue(bool((ob[..., 2] == -1).all()) and float(ob[..., :2].abs().max()) <= 0.5)
        self.assertGreater(float(ob[..., :2].std()), 0.1)
        self.assertEqual(float(v[f'{s0}.mixing.generator.weight'].abs().max()), 0.0)
        self.assertLessEqual(float(v[f'{s0}.mixing.generator.bias'].abs().max()), 1 / math.sqrt(d.d_query))
        self.assertAlmostEqual(float(v['queries.content'].std()), 1.0, delta=0.25)


class ExportTest(unittest.TestCase):
    def test_round_trip_float32_and_float16(self):
        cfg = make_config('tiny', 'lors')
        torch.manual_seed(11)
        m = AdaMixerDecoder(cfg)
        randomize_(m, 12, 0.2)
        sd = m.state_dict()
        with tempfile.TemporaryDirectory() as tmp:
            man = export(m, cfg, tmp, meta={'seed': 11})
            self.assertEqual((man['format'], man['version']), ('lors-studio-weights', 1))
            self.assertEqual(man['config'], cfg.to_json())
            self.assertEqual(
                [w['name'] for w in man['weightsManifest'][0]['weights']], [t['name'] for t in parameter_spec(cfg)]
            )
            with open(os.path.join(tmp, 'weights-shard1of1.bin'), 'rb') as fh:
                blob = fh.read()
            self.assertEqual(man['sha256']['weights-shard1of1.bin'], hashlib.sha256(blob).hexdigest())
            self.assertEqual(len(blob), 4 * sum(p.numel() for p in sd.values()))
            # The first tensor's bytes are queries.content, float32 little-endian.
            first = np.frombuffer(blob, '<f4', count=sd['queries.content'].numel())
            self.assertTrue(np.array_equal(first, sd['queries.content'].numpy().reshape(-1)))
            cfg2, sd2 = load_weights(tmp)
            self.assertEqual(cfg2, cfg)
            self.assertEqual(list(sd2), list(sd))
            for k in sd:
                self.assertTrue(torch.equal(sd[k], sd2[k]), k)
            self.assertEqual(read_json(os.path.join(tmp, 'model.json'))['meta']['seed'], 11)

            man16 = export(sd, cfg.to_json(), tmp, float16=True)
            self.assertEqual(
                man16['weightsManifest'][0]['weights'][0]['quantization'],
                {'dtype': 'float16', 'original_dtype': 'float32'},
            )
            self.assertEqual(man16['weightsManifest'][0]['weights'][0]['dtype'], 'float32')
            _, sd16 = load_weights(tmp)
            for k in sd:
                self.assertTrue(torch.equal(sd16[k], sd[k].half().float()), k)
            self.assertEqual(sorted(os.listdir(tmp)), ['model.json', 'weights-shard1of1.bin'])

    def test_int8_tensors_and_deflated_shards(self):
        # Hand-built bytes: float32 scales (one per channel), then int8 values; value = q · scale.
        cases = [([2, 3], [0]), ([2, 2, 2], [1]), ([2, 2, 2], [0, 1]), ([1, 1, 2, 3], [3])]
        for shape, axes in cases:
            outer, channels, inner = int8.channel_layout(shape, axes)
            scales = np.arange(1, channels + 1, dtype='<f4') / 4
            q = (np.arange(int(np.prod(shape))) % 255 - 127).astype(np.int8)
            buf = b'pad' + scales.tobytes() + q.tobytes()
            self.assertEqual(int8.int8_bytes(shape, axes), len(buf) - 3)
            got = int8.decode_int8(buf, 3, shape, axes)
            want = (q.reshape(outer, channels, inner) * scales[None, :, None]).reshape(shape)
            self.assertTrue(np.array_equal(got, want), (shape, axes))
        with self.assertRaisesRegex(ValueError, 'contiguous'):
            int8.channel_layout([2, 3, 4], [0, 2])
        with self.assertRaisesRegex(ValueError, 'truncated'):
            int8.decode_int8(b'\0' * 13, 0, [2, 3], [0])
        # load_weights reads an int8 entry among float16 ones.
        cfg = make_config('tiny', 'vanilla', stages=1)
        torch.manual_seed(5)
        sd = AdaMixerDecoder(cfg).state_dict()
        with tempfile.TemporaryDirectory() as tmp:
            man = export(sd, cfg, tmp, float16=True)
            shard = os.path.join(tmp, 'weights-shard1of1.bin')
            with open(shard, 'rb') as fh:
                blob = fh.read()
            first = man['weightsManifest'][0]['weights'][0]  # queries.content [Q, d]
            n = int(np.prod(first['shape']))
            x = sd[first['name']].numpy()
            scales = (np.abs(x).max(1) / 127).astype('<f4')
            q = np.round(x / scales[:, None]).astype(np.int8)
            blob = scales.tobytes() + q.tobytes() + blob[2 * n :]
            write_bytes(shard, blob)
            first['quantization'] = {'dtype': 'int8', 'original_dtype': 'float32', 'axes': [0]}
            man['sha256']['weights-shard1of1.bin'] = hashlib.sha256(blob).hexdigest()
            man['bytes']['weights-shard1of1.bin'] = len(blob)
            with open(os.path.join(tmp, 'model.json'), 'w') as fh:
                json.dump(man, fh)
            _, sd8 = load_weights(tmp)
            self.assertTrue(torch.equal(sd8[first['name']], torch.from_numpy(q * scales[:, None])))
            self.assertTrue(torch.equal(sd8['neck.convs.0.weight'], sd['neck.convs.0.weight'].half().float()))
            # The same shard stored as raw DEFLATE (shardEncoding): same tensors; the checks run on the stored bytes.
            z = zlib.compressobj(9, zlib.DEFLATED, -15)
            stored = z.compress(blob) + z.flush()
            write_bytes(shard, stored)
            man['shardEncoding'] = 'deflate-raw'
            man['rawBytes'] = {'weights-shard1of1.bin': len(blob)}
            man['sha256']['weights-shard1of1.bin'] = hashlib.sha256(stored).hexdigest()
            man['bytes']['weights-shard1of1.bin'] = len(stored)
            with open(os.path.join(tmp, 'model.json'), 'w') as fh:
                json.dump(man, fh)
            _, sdz = load_weights(tmp)
            self.assertTrue(all(torch.equal(sdz[k], sd8[k]) for k in sd8))
            man['rawBytes']['weights-shard1of1.bin'] += 1
            with open(os.path.join(tmp, 'model.json'), 'w') as fh:
                json.dump(man, fh)
            with self.assertRaisesRegex(ValueError, r'weights-shard1of1\.bin: inflates to \d+ bytes, expected'):
                load_weights(tmp)

    def test_shards_split_tensors_and_refuse_corruption(self):
        cfg = make_config('tiny', 'vanilla', stages=1)
        torch.manual_seed(13)
        sd = AdaMixerDecoder(cfg).state_dict()
        total = 4 * sum(p.numel() for p in sd.values())
        old = export_mod.SHARD_BYTES
        export_mod.SHARD_BYTES = 10_000  # small shards so that tensors straddle shard boundaries
        try:
            with tempfile.TemporaryDirectory() as tmp:
                export(sd, cfg, tmp)
                n = -(-total // 10_000)
                names = [f'weights-shard{i}of{n}.bin' for i in range(1, n + 1)]
                self.assertEqual(sorted(os.listdir(tmp)), sorted(['model.json'] + names))
                self.assertEqual(
                    [os.path.getsize(os.path.join(tmp, f)) for f in names],
                    [10_000] * (n - 1) + [total - 10_000 * (n - 1)],
                )
                _, sd2 = load_weights(tmp)
                self.assertTrue(all(torch.equal(sd[k], sd2[k]) for k in sd))
                # Re-export with the default size removes the stale shards.
                export_mod.SHARD_BYTES = old
                export(sd, cfg, tmp)
                self.assertEqual(sorted(os.listdir(tmp)), ['model.json', 'weights-shard1of1.bin'])
                # Corrupted shard: same length, one byte flipped.
                p = os.path.join(tmp, 'weights-shard1of1.bin')
                with open(p, 'rb') as fh:
                    data = bytearray(fh.read())
                data[1234] ^= 0xFF
                write_bytes(p, bytes(data))
                with self.assertRaisesRegex(ValueError, r'weights-shard1of1\.bin: SHA-256 mismatch'):
                    load_weights(tmp)
                write_bytes(p, bytes(data[:-8]))
                with self.assertRaisesRegex(ValueError, r'weights-shard1of1\.bin: .*bytes, expected'):
                    load_weights(tmp)
        finally:
            export_mod.SHARD_BYTES = old

    def test_refuses_mismatched_state_dicts(self):
        cfg = make_config('tiny', 'vanilla', stages=1)
        sd = dict(AdaMixerDecoder(cfg).state_dict())
        with tempfile.TemporaryDirectory() as tmp:
            bad = dict(sd)
            del bad['stages.0.reg.out.bias']
            with self.assertRaisesRegex(ValueError, 'missing stages.0.reg.out.bias'):
                export(bad, cfg, tmp)
            bad = dict(sd, extra=torch.zeros(1))
            with self.assertRaisesRegex(ValueError, 'extra tensor extra'):
                export(bad, cfg, tmp)
            bad = dict(sd)
            bad['queries.content'] = torch.zeros(3, 3)
            with self.assertRaisesRegex(ValueError, r'queries.content: shape \[3, 3\]'):
                export(bad, cfg, tmp)
            bad = dict(sd)
            bad['queries.content'] = torch.full_like(sd['queries.content'], 1e6)
            with self.assertRaisesRegex(ValueError, 'float16 range'):
                export(bad, cfg, tmp, float16=True)

    def test_checkpoint_cli(self):
        cfg = make_config('tiny', 'lors', stages=2)
        torch.manual_seed(17)
        m = AdaMixerDecoder(cfg)
        with tempfile.TemporaryDirectory() as tmp:
            ck = os.path.join(tmp, 'ck.pt')
            torch.save({'model': m.state_dict(), 'config': cfg.to_json(), 'optimizer': {}, 'epoch': 3, 'step': 99}, ck)
            self.assertEqual(load_checkpoint(ck)['cfg'], cfg)
            out = os.path.join(tmp, 'out')
            with contextlib.redirect_stdout(io.StringIO()) as so:
                self.assertEqual(
                    export_mod.main(['--checkpoint', ck, '--out', out, '--float16', '--meta', 'note=x']), 0
                )
            self.assertIn('float16', so.getvalue())
            man = read_json(os.path.join(out, 'model.json'))
            self.assertEqual((man['meta']['epoch'], man['meta']['step'], man['meta']['note']), (3, 99, 'x'))
            _, sd3 = load_weights(out)
            self.assertTrue(all(torch.equal(sd3[k], v.half().float()) for k, v in m.state_dict().items()))
            torch.save(m.state_dict(), ck)
            with self.assertRaisesRegex(ValueError, 'not a LORS Studio checkpoint'):
                load_checkpoint(ck)


class ParityFixtureTest(unittest.TestCase):
    """The committed fixtures (training/make_fixtures.py) still agree with this model."""

    def test_fixtures(self):
        for variant in VARIANTS:
            with self.subTest(variant):
                d = os.path.join(PARITY, variant)
                case = read_json(os.path.join(d, 'case.json'))
                cfg, sd = load_weights(d)
                self.assertEqual(cfg.variant, variant)
                m = AdaMixerDecoder(cfg, init=False)
                m.load_state_dict(sd)
                m.eval()
                feats = np.fromfile(os.path.join(d, 'features.bin'), '<f4')
                outs = np.fromfile(os.path.join(d, 'outputs.bin'), '<f4')
                levels = [
                    torch.from_numpy(
                        feats[l['offset'] : l['offset'] + int(np.prod(l['shape']))].reshape(l['shape']).copy()
                    )
                    for l in case['levels']
                ]
                with torch.no_grad():
                    got = m(levels, torch.tensor(case['imageSize']))
                self.assertEqual(len(got), len(case['outputs']))
                for o, ref in zip(got, case['outputs']):
                    for k in ('logits', 'boxes'):
                        r = ref[k]
                        want = outs[r['offset'] : r['offset'] + int(np.prod(r['shape']))].reshape(r['shape'])
                        self.assertLessEqual(float(np.abs(o[k].numpy() - want).max()), case['tolerance'])


if __name__ == '__main__':
    unittest.main()
