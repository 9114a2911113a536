"""Tests of training/lors_studio/lors_order.py (live compression): exact re-expression of a trained LORS model in
ordered factors, vanilla → LORS at full rank reproducing vanilla, monotone reconstruction error in r and K, slicing.

    /usr/bin/python3 -m unittest training.tests.test_compress -v
"""

from __future__ import annotations

import unittest

import torch
from training.lors_studio.compress import _grid_configs
from training.lors_studio.config import make_config
from training.lors_studio.lors_order import dense_stage_weights, lorsify, order_lors, reconstruction_error, slice_lors
from training.lors_studio.model import AdaMixerDecoder
from training.lors_studio.params import count_parameters
from training.make_fixtures import perturb_

LEVELS = [(8, 8), (4, 4), (2, 2)]
IMAGE_SIZE = [[64.0, 48.0], [50.0, 64.0]]


def model_of(cfg, state=None, seed=0):
    torch.manual_seed(seed)
    m = AdaMixerDecoder(cfg).double()
    if state is None:
        perturb_(m, cfg)
    else:
        m.load_state_dict({k: v.double() for k, v in state.items()})
    return m.eval()


def outputs(model, seed=7):
    g = torch.Generator().manual_seed(seed)
    levels = [torch.randn(2, h, w, 128, generator=g, dtype=torch.float64) for h, w in LEVELS]
    with torch.no_grad():
        return model(levels, torch.tensor(IMAGE_SIZE, dtype=torch.float64))


def max_diff(a, b):
    return max(float((x[k] - y[k]).abs().max()) for x, y in zip(a, b) for k in ('logits', 'boxes'))


def f64(state):
    return {k: v.double() for k, v in state.items()}


class CompressTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vcfg = make_config('tiny', 'vanilla')
        cls.vanilla = model_of(cls.vcfg, seed=1)
        cls.vstate = {k: v.float() for k, v in cls.vanilla.state_dict().items()}
        cls.lcfg = make_config('tiny', 'lors')  # r_A 2, K [1,1,2,2,3,3], r_T 2
        cls.lors = model_of(cls.lcfg, seed=2)
        cls.lstate = {k: v.float() for k, v in cls.lors.state_dict().items()}

    def test_lorsify_at_full_rank_reproduces_vanilla(self):
        # tiny: C = 16, P_out 8 × P_in 4, d_q 32: r_A = 16 and r_T = 32 are full rank.
        cfg, st = lorsify(self.vcfg, self.vstate, rank_a=16, groups_a=1, rank_t=32)
        self.assertEqual(cfg.variant, 'lors')
        ref = outputs(model_of(self.vcfg, f64(self.vstate)))
        got = outputs(model_of(cfg, st))
        self.assertLess(max_diff(ref, got), 1e-4)

    def test_lorsify_error_never_grows_with_r_or_k(self):
        ref = dense_stage_weights(self.vcfg, self.vstate)
        errs = {}
        for r in (1, 2, 4, 8, 16):
            for k in (1, 2, 3):
                cfg, st = lorsify(self.vcfg, self.vstate, rank_a=r, groups_a=k, rank_t=2 * r, groups_t=1)
                errs[r, k] = reconstruction_error(ref, dense_stage_weights(cfg, st))
        for (r, k), e in errs.items():
            for (r2, k2), e2 in errs.items():
                if r2 >= r and k2 >= k:
                    self.assertLessEqual(e2['generator'], e['generator'] + 1e-9, f'{(r, k)} -> {(r2, k2)}')
                    self.assertLessEqual(e2['output'], e['output'] + 1e-9, f'{(r, k)} -> {(r2, k2)}')
        self.assertLess(errs[16, 1]['generator'], 1e-6)
        self.assertGreater(errs[1, 1]['generator'], 0.05)
        # One lorsified model at (16, 3) sliced to (r, k) is the lorsified model at (r, k) for the first group
        # (the greedy fit's later groups depend on r), so slices of a max-rank export are what the app shows:
        cfg_max, st_max = lorsify(self.vcfg, self.vstate, rank_a=8, groups_a=3, rank_t=16)
        prev = None
        for r in (1, 2, 4, 8):
            for k in (1, 2, 3):
                c, s = slice_lors(cfg_max, st_max, rank_a=r, groups_a=k, rank_t=2 * r)
                self.assertEqual(sum(v.numel() for v in s.values()), count_parameters(c)['total'])
                e = reconstruction_error(ref, dense_stage_weights(c, s))['generator']
                if prev is not None and k == 1:
                    self.assertLessEqual(e, prev + 1e-9)
                if k == 1:
                    prev = e

    def test_order_lors_is_exact_and_truncation_is_monotone(self):
        st = order_lors(self.lcfg, self.lstate)
        ref = outputs(model_of(self.lcfg, f64(self.lstate)))
        self.assertLess(max_diff(ref, outputs(model_of(self.lcfg, st))), 1e-4)
        dense_ref = dense_stage_weights(self.lcfg, self.lstate)
        full = reconstruction_error(dense_ref, dense_stage_weights(self.lcfg, st))
        self.assertLess(max(full.values()), 1e-6)
        # slices: r' ≤ 2, K' ≤ K_i; the error never grows with r' or K'
        lo = self.lcfg.lors
        errs = {}
        for r in (1, 2):
            for k in (1, 2, 3):
                ka = [min(k, x) for x in lo.groups_a]
                c, s = slice_lors(self.lcfg, st, rank_a=r, groups_a=ka, rank_t=r)
                self.assertEqual(sum(v.numel() for v in s.values()), count_parameters(c)['total'])
                errs[r, k] = reconstruction_error(dense_ref, dense_stage_weights(c, s))
        for (r, k), e in errs.items():
            for (r2, k2), e2 in errs.items():
                if r2 >= r and k2 >= k:
                    for part in ('generator', 'output'):
                        self.assertLessEqual(e2[part], e[part] + 1e-9, f'{part} {(r, k)} -> {(r2, k2)}')
        # The ordered model's truncation beats truncating the raw (unordered) factors on average.
        raw = reconstruction_error(dense_ref, dense_stage_weights(*slice_lors(self.lcfg, self.lstate, 1, 1, 1)))
        self.assertLessEqual(errs[1, 1]['generator'], raw['generator'] + 1e-9)

    def test_slice_at_rank_0_is_the_shared_only_model(self):
        st = order_lors(self.lcfg, self.lstate)
        full = count_parameters(self.lcfg)['decoder']
        factors = sum(
            v.numel()
            for k, v in self.lstate.items()
            if any(k.endswith(p) for p in ('.generator.weight', '.generator.bias', '.ml', '.mr', '.sl', '.sr'))
            and '.lorsA.' in k
            or k.endswith(('.lorsT.A', '.lorsT.B'))
        )
        for k in (1, [1, 1, 2, 2, 3, 3]):
            c, s = slice_lors(self.lcfg, st, rank_a=0, groups_a=k, rank_t=0)
            self.assertEqual((c.lors.rank_a, c.lors.rank_t), (0, 0))
            self.assertEqual(count_parameters(c)['decoder'], full - factors)
            self.assertEqual(sum(v.numel() for v in s.values()), count_parameters(c)['total'])
            # every stage folds to the shared weights alone
            shared_a = self.lstate['lorsA.shared.weight'].numpy()
            shared_t = self.lstate['lorsT.shared.weight'].numpy()
            for gen, out in dense_stage_weights(c, s):
                self.assertTrue((gen[:, :-1] == shared_a).all())
                self.assertTrue((out == shared_t).all())
            # the PyTorch decoder runs it: the same outputs as the full model with every private factor zeroed
            zeroed = {
                k: (torch.zeros_like(v) if k.endswith(('.lorsT.B', '.generator.weight', '.generator.bias')) else v)
                for k, v in st.items()
            }
            self.assertLess(max_diff(outputs(model_of(c, f64(s))), outputs(model_of(self.lcfg, f64(zeroed)))), 1e-9)
        # only LORS^A cut: L_output keeps its private part
        c, s = slice_lors(self.lcfg, st, rank_a=0, groups_a=1, rank_t=2)
        ref = dense_stage_weights(self.lcfg, st)
        self.assertLess(reconstruction_error(ref, dense_stage_weights(c, s))['output'], 1e-6)

    def test_grid_has_one_shared_only_slice_at_rank_0(self):
        rows = _grid_configs(self.lcfg, [0, 1, 2])
        zero = [r for r in rows if r[0] == 0]
        self.assertEqual(zero, [(0, [1] * 6, 0, '1')])
        self.assertTrue(all(rt >= 1 for r, _, rt, _ in rows if r > 0))

    def test_slice_refuses_out_of_range(self):
        with self.assertRaisesRegex(ValueError, 'ranks must be'):
            slice_lors(self.lcfg, self.lstate, rank_a=3, groups_a=1, rank_t=1)
        with self.assertRaisesRegex(ValueError, 'ranks must be 0'):
            slice_lors(self.lcfg, self.lstate, rank_a=-1, groups_a=1, rank_t=1)
        with self.assertRaisesRegex(ValueError, 'stage 0: K must be'):
            slice_lors(self.lcfg, self.lstate, rank_a=1, groups_a=2, rank_t=1)
        with self.assertRaisesRegex(ValueError, 'needs a vanilla'):
            lorsify(self.lcfg, self.lstate, 1, 1, 1)


if __name__ == '__main__':
    unittest.main()
