"""Seeded tiny runs of the trainer end with the weights the trainer gave before its split into optim.py and
checkpoint.py (recorded with that code, commits 45f18dc and 341a52d): same schedule, data order, losses (score
distillation included), --init (with its epoch-0 point), --holdout, --checkpoint-every and --resume. The weights'
hash depends on the float kernels, so the hashes are recorded per numerics fingerprint (torch version + a few BLAS
results); elsewhere the test is skipped.

    /usr/bin/python3 -m unittest training.tests.test_same_weights -v
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import unittest

import numpy as np
import torch
from training.lors_studio import data as D
from training.tests.test_train import make_synthetic, run_main

HASWELL = {  # OPENBLAS_CORETYPE=Haswell
    'plain': 'a0b42231ff207847c3c9630e710ff1ae21c2ff2252831fb020ee9341c91eda44',
    'distill': 'b8af5c3eab5c2ad0dc5611eaa6c65cb30a971524cf230879aa64e554b31cb792',
    'init': '18cf86af97bb5ffee9d66e1fba373e5f24c6fc1ed59d0a6d008ff3e989977ad3',
    'vanilla_step': '73c3dec424d4984c65408ce86097a036b4115ac957cb963a451d9720f48ada46',
    'init_val': '189194448d3606cf494c5c8ed474a4a88b3b55188e17254c1929f7c7b2a79eb8',
}
SKYLAKEX = {  # OPENBLAS_CORETYPE=SkylakeX (scripts/train.sh on AVX-512 machines); the same without the variable
    'plain': '65006273e621e0b776c7c4b78352a0969e9036e613468262a37709ba51dfb34f',
    'distill': '1ceec241d2298f66ad8295332f2097a2f86d0d94f56d7c4c9793515c18f682fa',
    'init': '07370e5b54d7a5bc18d77392014928c69800ba288ccd2cb833b52ea0e9e42532',
    'vanilla_step': '3df0cc18bca39332d94db5050616caf5c187ae3161d6d600b43a2d10e20c7c34',
    'init_val': '04a7c8224b917683d9e52aae60d411ad3ba5b61139a69d2e3bc056843035eab2',
}
RECORDED = {  # numerics fingerprint → {recipe: state hash}; Debian's python3-torch 1.13
    '1.13.0a0 a87be15f9b962106': HASWELL,
    '1.13.0a0 413c0ebc09480644': SKYLAKEX,
    '1.13.0a0 1b867000aba01667': SKYLAKEX,
}


def fingerprint() -> str:
    """torch's version and a hash of a few linear layers' outputs and gradients and batched products (1 thread)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    h = hashlib.sha256()
    for m, k, n in ((400, 128, 1000), (7, 33, 5), (64, 300, 70), (1, 128, 512)):
        a, w, b = (torch.randn(*s, generator=g).requires_grad_() for s in ((m, k), (n, k), (n,)))
        y = torch.nn.functional.linear(a, w, b)
        y.square().sum().backward()
        for t in (y, a.grad, w.grad):
            h.update(t.detach().numpy().tobytes())
        h.update(torch.bmm(torch.randn(3, m, k, generator=g), torch.randn(3, k, n, generator=g)).numpy().tobytes())
    torch.set_num_threads(threads)
    return f'{torch.__version__} {h.hexdigest()[:16]}'


def add_proposals(feat: str, n: int = 12, seed: int = 1):
    """Random proposals (the last two rows empty) and class scores next to every cache in feat."""
    rng = np.random.default_rng(seed)
    for c in D.find_caches(feat):
        N = len(c.images)
        p = np.zeros((N, n, 5), np.float32)
        xy, wh = rng.uniform(0, 40, (N, n, 2)), rng.uniform(4, 30, (N, n, 2))
        p[..., :2], p[..., 2:4], p[..., 4] = xy, xy + wh, rng.uniform(0, 1, (N, n))
        p[:, -2:, 4] = -1
        p.tofile(c.data_path[:-4] + '.proposals.f32')
        rng.uniform(0, 1, (N, n, 80)).astype(np.float16).tofile(c.data_path[:-4] + '.proposal-scores.f16')


class TestSameWeights(unittest.TestCase):
    def test_recipes(self):
        want = RECORDED.get(fingerprint())
        if want is None:
            self.skipTest(f'no hashes recorded for these numerics ({fingerprint()})')
        with tempfile.TemporaryDirectory() as tmp:
            ann, feat = make_synthetic(tmp, n_images=8)
            vann, vfeat = make_synthetic(tmp, n_images=2, flip=False, seed=5, name='val')
            add_proposals(feat)
            add_proposals(vfeat, seed=2)
            base = ['--preset', 'tiny', '--features', feat, '--annotations', ann, '--batch-size', '2', '--lr', '1e-3']
            base += ['--seed', '3', '--no-plot']
            plain = base + ['--variant', 'lors', '--epochs', '2', '--warmup', '2', '--steps', '1']
            got = {'plain': run_main(plain + ['--out', f'{tmp}/a', '--export-best', f'{tmp}/a-exp'])['hash']}
            full = base + ['--variant', 'lors', '--query-init', 'nanodet', '--distill', '5', '--distill-beta', '1.5']
            full += ['--holdout', '2', '--schedule', 'cosine', '--warmup', '2', '--epochs', '2', '--pos-scale', '312']
            full += ['--private-lr-mult', '4', '--checkpoint-every', '2', '--log-every', '1']
            full += ['--val-features', vfeat, '--val-annotations', vann]
            got['distill'] = run_main(full + ['--out', f'{tmp}/b'])['hash']
            init = ['--variant', 'lors', '--epochs', '1', '--warmup', '0', '--init', f'{tmp}/a-exp']
            got['init'] = run_main(base + init + ['--out', f'{tmp}/c'])['hash']
            step = ['--variant', 'vanilla', '--epochs', '2', '--schedule', 'step', '--drops', '0.5']
            step += ['--warmup-frac', '0.2', '--max-steps', '5']
            got['vanilla_step'] = run_main(base + step + ['--out', f'{tmp}/d'])['hash']
            init += ['--val-features', vfeat, '--val-annotations', vann, '--holdout', '2']  # logs an epoch-0 point
            got['init_val'] = run_main(base + init + ['--out', f'{tmp}/f'])['hash']
            with open(f'{tmp}/f/log.jsonl') as f:
                epochs = [r['epoch'] for r in map(json.loads, f) if r['type'] == 'epoch']
            self.assertEqual(epochs, [0, 1])
            self.assertEqual(got, want)
            stopped = run_main(full + ['--out', f'{tmp}/e', '--max-steps', '4'])  # mid-epoch 2 (3 steps per epoch)
            self.assertEqual(stopped['steps'], 4)
            self.assertEqual(run_main(full + ['--out', f'{tmp}/e', '--resume'])['hash'], want['distill'])
            self.assertTrue(os.path.isfile(f'{tmp}/e/best.pt'))


if __name__ == '__main__':
    unittest.main()
