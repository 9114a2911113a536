"""Tests of training/lors_studio/ablation.py (the paper's Table 5 by removing terms from a trained LORS model).

/usr/bin/python3 -m unittest training.tests.test_ablation -v
"""

from __future__ import annotations

import re
import unittest

from training.lors_studio.ablation import kept_params, remove_terms
from training.lors_studio.config import make_config
from training.lors_studio.params import count_parameters
from training.tests.test_compress import max_diff, model_of, outputs


class AblationTest(unittest.TestCase):
    def test_shared_only_is_the_vanilla_decoder_of_the_shared_weights(self):
        """W_private removed: every stage mixes with the shared generator and the shared L_output (plus its own bias
        and LayerNorm), i.e. a vanilla decoder whose stages all hold those weights."""
        lcfg, vcfg = make_config('tiny', 'lors'), make_config('tiny', 'vanilla')
        lors = model_of(lcfg, seed=2)
        st = lors.state_dict()
        shared = remove_terms(st, shared=True, private=False)
        vanilla = {}
        for name in model_of(vcfg, seed=0).state_dict():
            m = re.fullmatch(r'stages\.(\d+)\.(mixing\.(generator|output)\.(weight|bias)|mixNorm\.(weight|bias))', name)
            if m is None:
                vanilla[name] = st[name]
            elif m.group(3) == 'generator':
                vanilla[name] = st[f'lorsA.shared.{m.group(4)}']
            elif m.group(3) == 'output':
                key = 'lorsT.shared.weight' if m.group(4) == 'weight' else f'stages.{m.group(1)}.lorsT.bias'
                vanilla[name] = st[key]
            else:
                vanilla[name] = st[f'stages.{m.group(1)}.lorsT.norm.{m.group(5)}']
        got = outputs(model_of(lcfg, shared))
        self.assertLess(max_diff(got, outputs(model_of(vcfg, vanilla))), 1e-9)
        self.assertGreater(max_diff(got, outputs(lors)), 1e-3)  # the private parts did something
        self.assertLess(max_diff(outputs(model_of(lcfg, remove_terms(st, True, True))), outputs(lors)), 1e-12)

    def test_counts(self):
        cfg = make_config('tiny', 'lors')
        st = model_of(cfg, seed=2).state_dict()
        c = count_parameters(cfg)
        self.assertEqual(kept_params(cfg, st, True, True), c['decoder'])
        private = sum(v.numel() for k, v in st.items() if re.search(r'lorsA\.(generator|ml|mr|sl|sr)|lorsT\.(A|B)$', k))
        self.assertEqual(kept_params(cfg, st, True, False), c['decoder'] - private)
        shared = sum(v.numel() for k, v in st.items() if k.startswith(('lorsA.shared', 'lorsT.shared')))
        self.assertEqual(kept_params(cfg, st, False, True), c['decoder'] - shared)
        zeroed = remove_terms(st, shared=False, private=True)
        self.assertEqual(float(zeroed['lorsA.shared.weight'].abs().sum()), 0)
        self.assertEqual(float(zeroed['lorsT.shared.weight'].abs().sum()), 0)


if __name__ == '__main__':
    unittest.main()
