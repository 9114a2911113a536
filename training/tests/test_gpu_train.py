"""The GPU trainer's pixel-space augmentation (training/lors_studio/photos.py), on the CPU: boxes follow the
pixels through flip, rescale and crop; proposals and labels are compacted valid-first, the teacher scores follow the
proposal rows; runs are seeded.
(The whole GPU recipe runs as a CPU dry run in scripts/gpu-train-smoke.sh.)"""

from __future__ import annotations

import os
import tempfile
import types
import unittest

import torch
from training.lors_studio import gpu_train as GT
from training.lors_studio import photos as G
from training.lors_studio.checkpoint import state_hash
from training.lors_studio.export import export

ARGS = types.SimpleNamespace(
    flip_prob=0.5, scale_min=0.5, scale_max=1.5, crop_prob=0.5, crop_min=0.5, jitter=0.0, min_box=2.0
)


def photos(n=4):
    """n photos of 300 × 200 (letterbox size), black with one white box at [100, 80, 200, 160] (label 7)."""
    u8 = torch.zeros(n, G.S, G.S, 3, dtype=torch.uint8)
    u8[:, 80:160, 100:200] = 255
    box = torch.tensor([100.0, 80.0, 200.0, 160.0])
    boxes = torch.stack([box, torch.zeros(4)])[None].repeat(n, 1, 1)
    labels = torch.tensor([[7, -1]]).repeat(n, 1)
    props = torch.zeros(n, 3, 5)
    props[:, 0] = torch.tensor([100.0, 80.0, 200.0, 160.0, 0.9])
    props[:, 1] = torch.tensor([0.0, 0.0, 10.0, 10.0, 0.5])
    props[:, 2, 4] = -1
    return types.SimpleNamespace(
        u8=u8, size=torch.tensor([[300.0, 200.0]] * n), boxes=boxes, labels=labels, props=props
    )


class TestAugment(unittest.TestCase):
    def test_boxes_follow_the_pixels(self):
        ph = photos(8)
        gen = torch.Generator().manual_seed(0)
        flipped = 0
        for _ in range(4):
            x, size, boxes, labels, props, _ = G.augment(ph, torch.arange(8), gen, ARGS, queries=5)
            self.assertEqual(tuple(x.shape), (8, 3, G.S, G.S))
            self.assertEqual(tuple(props.shape), (8, 5, 4))
            for b in range(8):
                w, h = size[b].tolist()
                self.assertTrue(1 <= w <= G.S and 1 <= h <= G.S)
                bright = (x[b, 0] > 1.0).nonzero()  # white is ≈ 2.6 in NanoDet's normalisation
                self.assertTrue(bool((x[b, :, int(h) + 1 :].abs() < 1e-6).all()))  # letterbox padding outside
                if labels[b, 0] < 0:  # the object was cropped away: nothing bright left
                    self.assertEqual(len(bright), 0)
                    continue
                self.assertEqual(int(labels[b, 0]), 7)
                self.assertEqual(int(labels[b, 1]), -1)
                x1, y1, x2, y2 = boxes[b, 0].tolist()
                ys, xs = bright[:, 0].float(), bright[:, 1].float()
                for got, want in ((xs.min(), x1), (xs.max() + 1, x2), (ys.min(), y1), (ys.max() + 1, y2)):
                    self.assertLess(abs(float(got) - want), 2.0, (b, boxes[b, 0], size[b]))
                # proposals: the first is the object's box (same transform), invalid ones are the whole window
                self.assertTrue(torch.allclose(props[b, 0], boxes[b, 0], atol=1e-4))
                self.assertTrue(torch.equal(props[b, -1], torch.tensor([0.0, 0.0, w, h])))
                flipped += int(props[b, 1, 0] > props[b, 0, 0])  # the top-left proposal moved right of the object
        self.assertGreater(flipped, 0)

    def test_teacher_follows_the_proposal_rows(self):
        """--distill: each query's targets are its proposal's class scores; a proposal cut to a quarter of its area
        and the padded queries teach nothing; the kept area is measured against the rescaled source box."""
        ph = photos(2)
        ph.props[:, 1] = torch.tensor([290.0, 0.0, 330.0, 10.0, 0.5])  # 3/4 outside the 300-px image
        ph.prop_scores = torch.zeros(2, 3, 80, dtype=torch.float16)
        ph.prop_scores[:, 0, 7], ph.prop_scores[:, 1, 3] = 0.9, 0.5
        for flip, s in ((0.0, 1.0), (1.0, 0.5)):
            a = types.SimpleNamespace(
                **{**vars(ARGS), 'flip_prob': flip, 'scale_min': s, 'scale_max': s, 'crop_prob': 0}
            )
            gen = torch.Generator().manual_seed(0)
            *_, props, (t, m) = G.augment(ph, torch.arange(2), gen, a, queries=4, teacher=True)
            self.assertEqual((tuple(t.shape), tuple(m.shape)), ((2, 4, 80), (2, 4)))
            cut = [0.0, 0.0, 10 * s, 10 * s] if flip else [290 * s, 0.0, 300 * s, 10 * s]
            self.assertTrue(torch.allclose(props[:, 1], torch.tensor([cut] * 2)), props[:, 1])
            self.assertTrue(torch.allclose(t[:, 0, 7], torch.tensor(0.9), atol=1e-3))
            self.assertTrue(torch.allclose(t[:, 1, 3], torch.tensor(0.5), atol=1e-3))
            self.assertEqual(float(t[:, 0].sum() + t[:, 1].sum()), float(t[:, 0, 7].sum() + t[:, 1, 3].sum()))
            self.assertEqual(float(t[:, 2:].abs().sum()), 0.0)
            self.assertEqual(m.tolist(), [[1.0, 0.0, 0.0, 0.0]] * 2)

    def test_seeded(self):
        ph = photos(4)
        runs = [G.augment(ph, torch.arange(4), torch.Generator().manual_seed(3), ARGS, queries=5) for _ in range(2)]
        for a, b in zip(*(r[:5] for r in runs)):
            self.assertTrue(torch.equal(a, b))
        other = G.augment(ph, torch.arange(4), torch.Generator().manual_seed(4), ARGS, queries=5)
        self.assertFalse(torch.equal(other[1], runs[0][1]))


class TestRun(unittest.TestCase):
    def test_init_from_exported_weights(self):
        """--init DIR: each variant starts from DIR/<variant>; weights of another config are refused."""
        cpu = torch.device('cpu')
        a = types.SimpleNamespace(preset='tiny', query_init='nanodet', pos_scale=312.0, seed=0, init=None, lr=1e-3)
        a.__dict__.update(weight_decay=1e-4, private_lr_mult=1.0, compile=False, distill=1.0, distill_beta=2.0)
        a.ema = None
        with tempfile.TemporaryDirectory() as tmp:
            trained = GT.Run('lors', a, cpu, os.path.join(tmp, 'r0'))
            with torch.no_grad():
                for p in trained.model.parameters():
                    p.add_(torch.randn_like(p))
            export(trained.model, trained.cfg, os.path.join(tmp, 'init', 'lors'))
            a.init = os.path.join(tmp, 'init')
            run = GT.Run('lors', a, cpu, os.path.join(tmp, 'r1'))
            self.assertEqual(state_hash(run.model.state_dict()), state_hash(trained.model.state_dict()))
            a.pos_scale = 1000.0
            with self.assertRaisesRegex(SystemExit, 'config'):
                GT.Run('lors', a, cpu, os.path.join(tmp, 'r2'))
            for r in (trained, run):
                r.log.close()


if __name__ == '__main__':
    unittest.main()
