"""The PyTorch port of the frozen NanoDet-g backbone (training/lors_studio/backbone.py) against tfjs: the fixture
test/fixtures/backbone/ was written by `npx tsx scripts/make-backbone-fixture.ts` (the app's own letterbox, NanoDet-g
graph and headProposals). Also the features CLI (shrink + cache) on those photos.

    /usr/bin/python3 -m unittest training.tests.test_backbone -v
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import unittest

import numpy as np
import torch
from training.lors_studio import backbone as BB
from training.lors_studio import data as D

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
FIX = os.path.join(ROOT, 'test', 'fixtures', 'backbone')
MODELS = [
    os.path.join(ROOT, 'public', 'models', 'nanodet'),
    os.path.join(ROOT, 'node_modules', '@vladmandic', 'human-models', 'models'),
]


def _graph_dir():
    for d in MODELS:
        if os.path.isfile(os.path.join(d, 'model.json')) or os.path.isfile(os.path.join(d, 'nanodet.json')):
            return d
    return None


def _rgb(path):
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert('RGB')).copy()


@unittest.skipIf(_graph_dir() is None, 'NanoDet-g weights not installed (npm install)')
class TestBackbone(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
        cls.graph = BB.NanoDetGraph(_graph_dir())
        with open(os.path.join(FIX, 'meta.json')) as f:
            cls.meta = json.load(f)
        cls.out = {}
        for name in ('plain', 'flip'):
            x, info = BB.letterbox(_rgb(os.path.join(FIX, f'{name}.png')), flip=name == 'flip')
            cls.out[name] = (info, *cls.graph.run(x[None]))

    def test_letterbox_geometry(self):
        for name in ('plain', 'flip'):
            info, want = self.out[name][0], self.meta[name]['letterbox']
            self.assertEqual((info['resizedWidth'], info['resizedHeight']), (want['width'], want['height']))
            self.assertAlmostEqual(info['scale'], want['scale'])
        self.assertEqual(BB.letterbox_geometry(433, 21), (416 / 433, 416, 20))  # 20.18 → 20
        self.assertEqual(BB.round_half_up(2.5), 3)  # JS Math.round, not banker's

    def test_features_and_head_equal_tfjs(self):
        every = self.meta['sampleEvery']
        for name in ('plain', 'flip'):
            _, levels, scores, boxes = self.out[name]
            ours = torch.cat([t.reshape(-1) for t in levels + scores + boxes]).numpy()
            self.assertEqual(ours.size, self.meta[name]['values'])
            want = np.fromfile(os.path.join(FIX, f'{name}.f32'), '<f4')
            got = ours[::every]
            self.assertEqual(got.shape, want.shape)
            err = np.abs(got - want).max()
            self.assertLess(err, 1e-3, f'{name}: max |PyTorch − tfjs| = {err}')
            self.assertGreater(np.abs(want).mean(), 0.01)  # not a blank fixture

    def test_proposals_equal_tfjs(self):
        for name in ('plain', 'flip'):
            info, _, scores, boxes = self.out[name]
            got = BB.head_proposals(
                [s[0] for s in scores], [b[0] for b in boxes], info['resizedWidth'], info['resizedHeight'], 100
            )
            want = np.fromfile(os.path.join(FIX, f'{name}.proposals.f32'), '<f4').reshape(100, 5)
            np.testing.assert_allclose(got[:, 4], want[:, 4], atol=1e-5)
            np.testing.assert_allclose(got[:, :4], want[:, :4], atol=2e-2)

    def test_bad_inputs(self):
        with self.assertRaisesRegex(ValueError, r'\[B, 3, 416, 416\]'):
            self.graph.run(torch.zeros(1, 3, 320, 320))
        with self.assertRaisesRegex(FileNotFoundError, 'NanoDet-g'):
            BB.NanoDetGraph(FIX)

    def test_features_cli_shrink_and_cache(self):
        """shrink makes letterbox-sized copies; cache from originals and from the copies gives the trainer's cache
        format with proposals, close to each other (lossy WebP)."""
        from PIL import Image
        from training.lors_studio import features as Fe

        with tempfile.TemporaryDirectory() as tmp:
            imgs = os.path.join(tmp, 'imgs')
            os.makedirs(imgs)
            sizes = []
            for i, name in enumerate(('plain', 'flip')):
                rgb = _rgb(os.path.join(FIX, f'{name}.png'))
                Image.fromarray(rgb).save(os.path.join(imgs, f'{i}.png'))
                sizes.append((rgb.shape[1], rgb.shape[0]))
            ann = os.path.join(tmp, 'instances_mini.json')
            with open(ann, 'w') as f:
                json.dump(
                    {
                        'images': [
                            {'id': 10 + i, 'file_name': f'{i}.png', 'width': w, 'height': h}
                            for i, (w, h) in enumerate(sizes)
                        ],
                        'annotations': [
                            {
                                'id': 1,
                                'image_id': 10,
                                'category_id': 17,
                                'bbox': [20, 20, 60, 50],
                                'area': 3000,
                                'iscrowd': 0,
                            }
                        ],
                        'categories': [{'id': 17, 'name': 'cat'}],
                    },
                    f,
                )
            small = os.path.join(tmp, 'small')
            Fe.main(
                [
                    'shrink',
                    '--images',
                    imgs,
                    '--annotations',
                    ann,
                    '--out',
                    small,
                    '--quality',
                    '90',
                    '--quiet',
                    '--annotations-out',
                    os.path.join(tmp, 'stripped.json'),
                ]
            )
            with open(os.path.join(tmp, 'stripped.json')) as f:
                stripped = json.load(f)
            self.assertEqual(stripped['annotations'][0]['bbox'], [20, 20, 60, 50])
            self.assertEqual(sorted(stripped), ['annotations', 'categories', 'images'])
            with Image.open(os.path.join(small, '1.webp')) as im:
                self.assertEqual(im.size, (416, 39))  # 432×40 → 416×39
            caches = []
            for src in (imgs, small):
                out = os.path.join(tmp, 'cache-' + os.path.basename(src))
                Fe.main(
                    [
                        'cache',
                        '--images',
                        src,
                        '--annotations',
                        ann,
                        '--out',
                        out,
                        '--backbone',
                        _graph_dir(),
                        '--device',
                        'cpu',
                        '--batch-size',
                        '2',
                        '--quiet',
                        '--flip',
                    ]
                )
                c = D.find_caches(out)
                self.assertEqual(len(c), 1)
                self.assertTrue(c[0].flip)
                caches.append(c[0])
                with open(os.path.join(out, 'mini-s416-flip.json')) as f:
                    meta = json.load(f)
                self.assertEqual([(m['width'], m['height']) for m in meta['images']], sizes)
                self.assertEqual([m['resizedHeight'] for m in meta['images']], [312, 39])
                props = np.fromfile(os.path.join(out, 'mini-s416-flip.proposals.f32'), '<f4').reshape(2, 100, 5)
                self.assertTrue((props[:, 0, 4] > 0).all())
                self.assertTrue((props[1, :, 3][props[1, :, 4] >= 0] <= 39 + 1e-4).all())  # clipped to the photo
            # from the originals, the flipped cache equals the fixture's flipped strip (same pipeline as tfjs)
            rows = [np.asarray(caches[0].array[k], np.float32) for k in range(2)]
            want = np.fromfile(os.path.join(FIX, 'flip.f32'), '<f4')
            every = self.meta['sampleEvery']
            n_levels = rows[1].size
            got = rows[1].reshape(-1)[::every]
            np.testing.assert_allclose(got, want[: len(got)], atol=2e-2)  # float16 cache
            self.assertEqual(n_levels, 3549 * 128)
            # from the WebP copies: close, not equal
            a = np.asarray(caches[0].array[0], np.float32)
            b = np.asarray(caches[1].array[0], np.float32)
            rel = np.linalg.norm(a - b) / np.linalg.norm(a)
            self.assertLess(rel, 0.5)
            self.assertGreater(rel, 0.0)
            with self.assertRaisesRegex(SystemExit, 'letterbox size'):
                bad = os.path.join(tmp, 'bad')
                shutil.copytree(small, bad)
                Image.new('RGB', (100, 50)).save(os.path.join(bad, '0.webp'))
                Fe.main(
                    [
                        'cache',
                        '--images',
                        bad,
                        '--annotations',
                        ann,
                        '--out',
                        os.path.join(tmp, 'x'),
                        '--backbone',
                        _graph_dir(),
                        '--device',
                        'cpu',
                        '--quiet',
                    ]
                )


if __name__ == '__main__':
    unittest.main()
