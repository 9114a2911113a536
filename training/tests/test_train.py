"""Tests of the training pipeline: matching, losses, metrics, data/augmentation, schedule, a few training steps,
checkpoint + resume. Hand-computed expected values; synthetic feature caches written by the tests themselves.

    /usr/bin/python3 -m unittest training.tests.test_train -v
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import os
import shutil
import signal
import tempfile
import unittest

import numpy as np
import torch
from training.lors_studio import boxes as Bx
from training.lors_studio import checkpoint as C
from training.lors_studio import data as D
from training.lors_studio import dataset as DS
from training.lors_studio import evaluate as Ev
from training.lors_studio import losses as Ls
from training.lors_studio import matching as M
from training.lors_studio import model as Mo
from training.lors_studio import train
from training.lors_studio.compare import load_dets, paired_bootstrap
from training.lors_studio.config import make_config
from training.lors_studio.ema import Ema
from training.lors_studio.export import load_checkpoint, load_weights
from training.lors_studio.model import AdaMixerDecoder
from training.lors_studio.optim import is_private_factor, learning_rate, param_groups

# ---------------------------------------------------------------------------------------------------------------
# Synthetic data (also used by test_ddp.py)

SYN_SIZE = 64
SYN_LEVELS = [(8, 8), (4, 4), (2, 2)]


def make_synthetic(
    root: str, n_images: int = 6, size: int = SYN_SIZE, flip: bool = True, seed: int = 0, name: str = 'train'
):
    """Writes `root/ann.json` (COCO) and `root/feat/<name>-s<size>[-flip].{f16,json}`. Each image has 1-2 boxes;
    the features carry a plain signal where the boxes are (so a model can learn something). Returns
    (annotations path, feature dir)."""
    rng = np.random.default_rng(seed)
    images, anns, feats, feats_flip = [], [], [], []
    aid = 1
    shapes = [(size // s, size // s) for s in (8, 16, 32)]
    for i in range(n_images):
        W, H = (128, 96) if i % 2 == 0 else (96, 128)
        scale = size / max(W, H)
        iid = 1000 + i
        images.append({'id': iid, 'file_name': f'{iid}.jpg', 'width': W, 'height': H})
        boxes = []
        for k in range(1 + i % 2):
            w, h = rng.uniform(20, 60), rng.uniform(20, 60)
            x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
            cat = D.COCO_CATEGORY_IDS[(i + k) % 3]
            anns.append(
                {'id': aid, 'image_id': iid, 'category_id': cat, 'bbox': [x, y, w, h], 'area': w * h, 'iscrowd': 0}
            )
            boxes.append((x, y, w, h, cat))
            aid += 1
        for out, flipped in ((feats, False), (feats_flip, True)):
            levels = []
            for (lh, lw), s in zip(shapes, (8, 16, 32)):
                f = rng.normal(0, 0.1, (lh, lw, 128)).astype(np.float32)
                for x, y, w, h, cat in boxes:
                    if flipped:
                        x = W - x - w
                    x0, y0 = int(x * scale / s), int(y * scale / s)
                    x1, y1 = max(x0 + 1, int((x + w) * scale / s)), max(y0 + 1, int((y + h) * scale / s))
                    f[y0:y1, x0:x1, D.CATEGORY_ID_TO_INDEX[cat]] += 1.0
                levels.append(f.reshape(-1, 128))
            out.append(np.concatenate(levels))
    cache_images = [dict(im, scale=size / max(im['width'], im['height'])) for im in images]
    coco = {
        'images': images,
        'annotations': anns,
        'categories': [{'id': c, 'name': f'c{c}'} for c in D.COCO_CATEGORY_IDS],
    }
    ann_path = os.path.join(root, f'{name}.json')
    with open(ann_path, 'w') as f:
        json.dump(coco, f)
    feat_dir = os.path.join(root, f'feat-{name}')
    D.write_feature_cache(feat_dir, name, size, np.stack(feats), cache_images, shapes)
    if flip:
        D.write_feature_cache(feat_dir, name, size, np.stack(feats_flip), cache_images, shapes, flip=True)
    return ann_path, feat_dir


def run_main(argv, **kw):
    """train.main without the progress bar noise."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        return train.main(argv + ['--no-progress', '--threads', '1'], **kw)


def match_one(logits, boxes, gt, labels, wh):
    """One image through the batched assignment (1 stage, 1 image): (query indices, gt indices)."""
    p, _ = M.hungarian_assign(logits[None, None], boxes[None, None], gt[None], labels[None], wh.repeat(2)[None])
    return p[2], p[3]


# ---------------------------------------------------------------------------------------------------------------


class TestMatching(unittest.TestCase):
    def test_cost_single_pair_by_hand(self):
        # logit 0 → p = 0.5: pos = ln2·0.25·0.25, neg = ln2·0.75·0.25, focal = pos − neg = −ln2·0.125
        # L1 on normalised xyxy: |20−10|/100 = 0.1; GIoU: IoU 100/200 = 0.5, hull = union → 0.5
        logits = torch.zeros(1, 80)
        boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
        gt = torch.tensor([[0.0, 0.0, 10.0, 20.0]])
        cost = M.match_cost(logits, boxes, gt, torch.tensor([3]), torch.tensor([100.0, 100.0, 100.0, 100.0]))
        expected = 2 * (-math.log(2) * 0.125) + 5 * 0.1 + 2 * (-0.5)
        self.assertAlmostEqual(float(cost[0, 0]), expected, places=5)

    def test_obvious_assignment(self):
        # 4 queries; gt 0 (class 1) sits on query 2, gt 1 (class 5) on query 0.
        logits = torch.full((4, 80), -5.0)
        logits[2, 1] = 4.0
        logits[0, 5] = 4.0
        boxes = torch.tensor(
            [[50, 50, 90, 90], [0, 0, 100, 100], [10, 10, 30, 30], [60, 0, 100, 20]], dtype=torch.float32
        )
        gt = torch.tensor([[11, 9, 31, 30], [49, 52, 91, 88]], dtype=torch.float32)
        rows, cols = match_one(logits, boxes, gt, torch.tensor([1, 5]), torch.tensor([100.0, 100.0]))
        self.assertEqual(dict(zip(rows.tolist(), cols.tolist())), {0: 1, 2: 0})

    def test_box_cost_wins_over_class_cost_when_far(self):
        # same class score everywhere: the spatially nearest query wins
        logits = torch.zeros(3, 80)
        boxes = torch.tensor([[0, 0, 10, 10], [40, 40, 60, 60], [80, 80, 99, 99]], dtype=torch.float32)
        gt = torch.tensor([[42, 41, 61, 58]], dtype=torch.float32)
        rows, cols = match_one(logits, boxes, gt, torch.tensor([0]), torch.tensor([100.0, 100.0]))
        self.assertEqual((rows.tolist(), cols.tolist()), ([1], [0]))

    def test_more_gts_than_queries_and_empty(self):
        logits = torch.zeros(2, 80)
        boxes = torch.tensor([[0, 0, 10, 10], [20, 20, 30, 30]], dtype=torch.float32)
        gt = torch.tensor([[0, 0, 10, 10], [20, 20, 30, 30], [5, 5, 25, 25]], dtype=torch.float32)
        rows, cols = match_one(logits, boxes, gt, torch.tensor([0, 0, 0]), torch.tensor([50.0, 50.0]))
        self.assertEqual(len(rows), 2)
        self.assertEqual(sorted(zip(rows.tolist(), cols.tolist())), [(0, 0), (1, 1)])
        r, c = match_one(logits, boxes, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), torch.tensor([50.0, 50.0]))
        self.assertEqual((len(r), len(c)), (0, 0))

    def test_batch_matches_per_image(self):
        g = torch.Generator().manual_seed(1)
        logits = torch.randn(3, 6, 80, generator=g)
        xy = torch.rand(3, 6, 2, generator=g) * 50
        boxes = torch.cat([xy, xy + 5 + torch.rand(3, 6, 2, generator=g) * 40], -1)
        gts = [boxes[0, :3] + 2, torch.zeros(0, 4), boxes[2, 1:5] - 1]
        labels = [torch.tensor([1, 2, 3]), torch.zeros(0, dtype=torch.long), torch.tensor([0, 0, 5, 9])]
        whwh = torch.tensor([[100.0, 90.0, 100.0, 90.0]] * 3)
        stages = torch.stack([logits, logits.flip(1)]), torch.stack([boxes, boxes.flip(1)])  # 2 stages
        pairs, counts = M.hungarian_assign(*stages, *M.pad_gt(gts, labels), whwh)
        self.assertEqual(counts.tolist(), [3, 0, 4])
        for s in range(2):
            for b in range(3):
                r, c = match_one(stages[0][s, b], stages[1][s, b], gts[b], labels[b], whwh[b, :2])
                sel = (pairs[0] == s) & (pairs[1] == b)
                self.assertEqual((pairs[2, sel].tolist(), pairs[3, sel].tolist()), (r.tolist(), c.tolist()))


class TestLosses(unittest.TestCase):
    def test_focal_by_hand(self):
        # x=0, t=1: BCE ln2, pt 0.5, weight 0.25·0.5² ; x=2, t=0: BCE −ln(1−σ(2)), pt σ(2), weight 0.75·σ(2)²
        s2 = 1 / (1 + math.exp(-2))
        expected = math.log(2) * 0.25 * 0.25 + (-math.log(1 - s2)) * 0.75 * s2**2
        got = Ls.sigmoid_focal_loss(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0])).sum()
        self.assertAlmostEqual(float(got), expected, places=6)
        # x=−3, t=1: (1−σ(−3))² weight, BCE = ln(1+e³)
        sm3 = 1 / (1 + math.exp(3))
        got = Ls.sigmoid_focal_loss(torch.tensor([-3.0]), torch.tensor([1.0])).sum()
        self.assertAlmostEqual(float(got), math.log(1 + math.exp(3)) * 0.25 * (1 - sm3) ** 2, places=6)

    def test_distillation_by_hand(self):
        # QFL: BCE(σ(x), t)·|σ(x) − t|^β; zero where the prediction equals the soft target
        x, t = torch.tensor([0.0, 2.0]), torch.tensor([0.5, 0.25])
        s2 = 1 / (1 + math.exp(-2))
        want = math.log(2) * 0 + (-(0.25 * math.log(s2) + 0.75 * math.log(1 - s2))) * (s2 - 0.25) ** 2
        self.assertAlmostEqual(float(Ls.quality_focal_loss(x, t).sum()), want, places=6)
        # in detection_losses: summed over stages and classes, masked per query, × weight / avg_factor (1 here)
        logits = torch.tensor([[[0.0, 2.0], [-2.0, 1.0]]])
        boxes = torch.tensor([[[60.0, 60.0, 80.0, 90.0], [10.0, 10.0, 30.0, 40.0]]])
        outs = [{'logits': logits, 'boxes': boxes}] * 3
        gt, lab, size = [torch.tensor([[10.0, 10.0, 30.0, 50.0]])], [torch.tensor([1])], torch.tensor([[100.0, 200.0]])
        teacher = torch.tensor([[[0.5, 0.25], [0.9, 0.9]]])
        kd = Ls.Distill(teacher, torch.tensor([[1.0, 0.0]]), weight=10.0)
        total, log = Ls.detection_losses(outs, gt, lab, size, distill=kd)
        self.assertAlmostEqual(log['loss_distill'], 3 * 10 * want, places=4)
        base, log0 = Ls.detection_losses(outs, gt, lab, size)
        self.assertNotIn('loss_distill', log0)
        self.assertAlmostEqual(float(total - base), 3 * 10 * want, places=4)

    def test_giou_by_hand(self):
        a = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 2.0, 2.0]])
        b = torch.tensor([[2.0, 0.0, 3.0, 1.0], [1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0]])
        # disjoint: IoU 0, hull 3, union 2 → −1/3; overlap 1: IoU 1/7, hull 9, union 7 → 1/7 − 2/9; identical → 1
        g = Bx.giou_aligned(a, b)
        for got, want in zip(g.tolist(), [-1 / 3, 1 / 7 - 2 / 9, 1.0]):
            self.assertAlmostEqual(got, want, places=5)
        self.assertAlmostEqual(float((1 - Bx.giou_aligned(a, b)).sum()), 3 - (-1 / 3 + 1 / 7 - 2 / 9 + 1), places=5)
        gp = Bx.giou_pairwise(a, b)
        self.assertTrue(torch.allclose(torch.diagonal(gp), g, atol=1e-6))
        self.assertAlmostEqual(float(gp[0, 2]), 1 / 4, places=5)  # [0,0,1,1] inside [0,0,2,2]: IoU 1/4, hull = union

    def test_detection_losses_by_hand(self):
        # 1 image, 2 queries, 2 classes, 1 gt (class 1) at [10, 10, 30, 50]; image 100 × 200.
        logits = torch.tensor([[[0.0, 0.0], [-2.0, 1.0]]], requires_grad=True)
        boxes = torch.tensor([[[60.0, 60.0, 80.0, 90.0], [10.0, 10.0, 30.0, 40.0]]], requires_grad=True)
        gt = [torch.tensor([[10.0, 10.0, 30.0, 50.0]])]
        outs = [{'logits': logits, 'boxes': boxes}, {'logits': logits * 1.0, 'boxes': boxes * 1.0}]
        total, log = Ls.detection_losses(outs, gt, [torch.tensor([1])], torch.tensor([[100.0, 200.0]]))
        # query 1 is matched (close box, high class-1 logit). avg_factor = 1.
        sig = lambda x: 1 / (1 + math.exp(-x))

        def fl(x, t):
            p = sig(x)
            ce = -math.log(p) if t else -math.log(1 - p)
            pt = 1 - p if t else p
            return ce * (0.25 if t else 0.75) * pt**2

        cls = 2 * (fl(0, 0) + fl(0, 0) + fl(-2, 0) + fl(1, 1))
        l1 = 5 * (10 / 200)  # y2: 40 vs 50, normalised by h = 200
        giou = 2 * (1 - 600 / 800)  # IoU 20·30 / 20·40, hull = union
        self.assertAlmostEqual(log['loss_cls'], 2 * cls, places=5)
        self.assertAlmostEqual(log['loss_l1'], 2 * l1, places=5)
        self.assertAlmostEqual(log['loss_giou'], 2 * giou, places=5)
        self.assertAlmostEqual(float(total), 2 * (cls + l1 + giou), places=5)
        self.assertEqual(log['avg_factor'], 1.0)
        total.backward()
        self.assertIsNotNone(boxes.grad)
        self.assertEqual(float(boxes.grad[0, 0].abs().sum()), 0.0)  # unmatched query gets no box gradient

    def test_avg_factor_and_empty_batch(self):
        logits = torch.zeros(2, 3, 80, requires_grad=True)
        boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0]]).repeat(2, 3, 1).requires_grad_()
        gt = [torch.tensor([[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 9.0, 9.0]]), torch.zeros(0, 4)]
        labels = [torch.tensor([0, 1]), torch.zeros(0, dtype=torch.long)]
        _, log = Ls.detection_losses([{'logits': logits, 'boxes': boxes}], gt, labels, torch.tensor([[20.0, 20.0]] * 2))
        self.assertEqual(log['avg_factor'], 2.0)
        # no gt at all: avg_factor guarded to 1, the focal loss over all-zero targets only
        total, log = Ls.detection_losses(
            [{'logits': logits, 'boxes': boxes}],
            [torch.zeros(0, 4)] * 2,
            [torch.zeros(0, dtype=torch.long)] * 2,
            torch.tensor([[20.0, 20.0]] * 2),
        )
        self.assertEqual(log['avg_factor'], 1.0)
        self.assertAlmostEqual(log['loss_cls'], 2 * 2 * 3 * 80 * math.log(2) * 0.75 * 0.25, places=3)
        self.assertEqual(log['loss_l1'], 0.0)
        total.backward()


class TestMetrics(unittest.TestCase):
    def test_perfect_and_empty(self):
        gts = {
            1: (np.array([[10, 10, 50, 60], [100, 100, 300, 260]]), np.array([0, 3]), None),
            2: (np.array([[0, 0, 20, 20]]), np.array([3]), None),
        }
        dets = {k: (g[0].astype(float), np.array([0.9] * len(g[1])), g[1]) for k, g in gts.items()}
        r = Ev.coco_ap(gts, dets)
        for k in ('AP', 'AP50', 'AP75', 'AR100'):
            self.assertAlmostEqual(r[k], 100.0, places=6)
        # areas 2000 (medium), 32000 (large), 400 (small)
        for k in ('APs', 'APm', 'APl'):
            self.assertAlmostEqual(r[k], 100.0)
        r = Ev.coco_ap({1: gts[1]}, {1: dets[1]})
        self.assertEqual(r['APs'], -1.0)  # no small gt in image 1
        r = Ev.coco_ap(gts, {})
        self.assertEqual(r['AP'], 0.0)
        self.assertEqual(r['AP50'], 0.0)

    def test_half_recall_and_false_positive(self):
        gts = {1: (np.array([[0, 0, 100, 100], [200, 200, 300, 300]]), np.array([0, 0]), None)}
        # one perfect detection: precision 1 at recall ≤ 0.5 → 51 of the 101 points
        dets = {1: (np.array([[0.0, 0, 100, 100]]), np.array([0.9]), np.array([0]))}
        self.assertAlmostEqual(Ev.coco_ap(gts, dets)['AP'], 100 * 51 / 101, places=6)
        # a higher-scored false positive first: precision 1/2 at recall 0.5 → 51 points of 0.5
        dets = {1: (np.array([[500.0, 500, 600, 600], [0.0, 0, 100, 100]]), np.array([0.95, 0.9]), np.array([0, 0]))}
        self.assertAlmostEqual(Ev.coco_ap(gts, dets)['AP'], 100 * 0.5 * 51 / 101, places=6)
        # IoU 0.81 (box [0,0,100,81]): a match for thresholds .50..0.80 (7 of 10: AP 100); at .85/.90/.95 it is a
        # false positive ranked before the true one → precision 1/2 up to recall 0.5
        dets = {1: (np.array([[0.0, 0, 100, 81], [200.0, 200, 300, 300]]), np.array([0.9, 0.8]), np.array([0, 0]))}
        self.assertAlmostEqual(Ev.coco_ap(gts, dets)['AP'], (7 * 100 + 3 * 50 * 51 / 101) / 10, places=5)

    def test_predict_topk_and_rescale(self):
        logits = torch.full((1, 3, 80), -10.0)
        logits[0, 1, 7] = 3.0
        logits[0, 2, 2] = 1.0
        boxes = torch.tensor([[[0.0, 0, 10, 10], [10.0, 20, 40, 60], [-5.0, 0, 500, 30]]])
        ((b, s, l),) = Ev.predict(
            {'logits': logits, 'boxes': boxes}, torch.tensor([0.5]), torch.tensor([[400.0, 300.0]]), k=2
        )
        self.assertEqual(l.tolist(), [7, 2])
        np.testing.assert_allclose(b[0], [20, 40, 80, 120])
        np.testing.assert_allclose(b[1], [0, 0, 400, 60])  # clipped to the original image
        self.assertAlmostEqual(s[0], 1 / (1 + math.exp(-3)), places=6)


class TestData(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.ann, self.feat = make_synthetic(self.tmp.name, n_images=4)

    def tearDown(self):
        self.tmp.cleanup()

    def test_cache_and_boxes(self):
        caches = D.find_caches(self.feat)
        self.assertEqual(sorted((c.size, c.flip) for c in caches), [(64, False), (64, True)])
        coco = D.CocoAnnotations(self.ann)
        ds = DS.DetectionDataset(caches, coco, train=False)
        s = ds.get(0)
        rec = coco.images[ds.ids[0]]  # 128 × 96 → scale 0.5, input 64 × 48
        self.assertEqual(s.image_size, (64.0, 48.0))
        np.testing.assert_allclose(s.boxes, rec.boxes * 0.5, atol=1e-9)
        self.assertEqual([lv.shape for lv in s.levels], [(8, 8, 128), (4, 4, 128), (2, 2, 128)])
        c = [c for c in caches if not c.flip][0]
        np.testing.assert_array_equal(s.levels[1], np.asarray(c.array[0, 64:80]).reshape(4, 4, 128))

    def test_flip_and_crop(self):
        coco = D.CocoAnnotations(self.ann)
        ds = DS.DetectionDataset(D.find_caches(self.feat), coco, train=True, flip_prob=1.0, crop_prob=0.0)
        s = ds.get(0, rng=np.random.default_rng(0))
        rec = coco.images[ds.ids[0]]
        self.assertTrue(s.flipped)
        x1, y1, x2, y2 = rec.boxes[0]
        np.testing.assert_allclose(s.boxes[0], np.array([128 - x2, y1, 128 - x1, y2]) * 0.5, atol=1e-9)
        ds = DS.DetectionDataset(
            D.find_caches(self.feat), coco, train=True, flip_prob=0.0, crop_prob=1.0, crop_min=0.5, min_box=0.5
        )
        full = ds.get(1)
        for seed in range(20):
            s = ds.get(1, rng=np.random.default_rng(seed))  # 96 × 128 → 48 × 64 input
            if s.offset == (0, 0) and s.image_size == full.image_size:
                continue
            x0, y0 = s.offset
            self.assertEqual((x0 % 32, y0 % 32), (0, 0))
            self.assertEqual(s.levels[0].shape[:2], (s.levels[2].shape[0] * 4, s.levels[2].shape[1] * 4))
            np.testing.assert_array_equal(
                s.levels[0],
                full.levels[0][y0 // 8 : y0 // 8 + s.levels[0].shape[0], x0 // 8 : x0 // 8 + s.levels[0].shape[1]],
            )
            w, h = s.image_size
            self.assertTrue(
                (s.boxes >= 0).all() and (s.boxes[:, [0, 2]] <= w).all() and (s.boxes[:, [1, 3]] <= h).all()
            )
            self.assertLessEqual(w, s.levels[2].shape[1] * 32)
            break
        else:
            self.fail('no crop happened in 20 tries')

    def test_collate_pads(self):
        coco = D.CocoAnnotations(self.ann)
        ds = DS.DetectionDataset(D.find_caches(self.feat), coco, train=False)
        a, b = ds.get(0), ds.get(1)
        b.levels = [lv[: lv.shape[0] // 2] for lv in b.levels]
        batch = DS.collate([a, b])
        self.assertEqual(tuple(batch.levels[0].shape), (2, 8, 8, 128))
        self.assertEqual(float(batch.levels[0][1, 4:].abs().sum()), 0.0)
        self.assertEqual(batch.valid.tolist(), [[[8, 8], [4, 4], [2, 2]], [[4, 8], [2, 4], [1, 2]]])
        self.assertIsNone(DS.collate([a, ds.get(1)]).valid)  # nothing padded: the plain GroupNorm path

    def test_padded_crop_neck_equals_window_alone(self):
        """A cropped sample zero-padded into a batch gets exactly the neck output of its window computed alone
        (what inference computes), with zeros in the padding; uncropped samples are unchanged."""
        torch.manual_seed(0)
        model = AdaMixerDecoder(make_config('tiny', 'vanilla'))
        with torch.no_grad():  # a non-trivial affine GroupNorm
            model.neck.norm.weight.uniform_(0.5, 1.5)
            model.neck.norm.bias.uniform_(-0.5, 0.5)
        g = torch.Generator().manual_seed(1)
        full = [torch.randn(1, 16 // k, 16 // k, 128, generator=g) * 2 + 1 for k in (1, 2, 4)]
        crops = [
            [x[:, : 8 // k, : 12 // k] for k, x in zip((1, 2, 4), full)],  # 96 × 64 px window
            [x[:, 4 // k :, 8 // k :] for k, x in zip((1, 2, 4), full)],
        ]  # 64 × 96 px window, offset
        samples = []
        for lv in [[x[0].numpy() for x in full]] + [[x[0].numpy() for x in c] for c in crops]:
            samples.append(
                DS.Sample(
                    0,
                    lv,
                    (float(lv[2].shape[1] * 32), float(lv[2].shape[0] * 32)),
                    np.zeros((0, 4)),
                    np.zeros(0, np.int64),
                    1.0,
                    (128, 128),
                )
            )
        batch = DS.collate(samples)
        with torch.no_grad():
            got = model.necked(batch.levels, batch.valid)
            for b, lv in enumerate([full] + crops):
                alone = model.necked(lv)
                for l, (a, y) in enumerate(zip(alone, got)):
                    h, w = a.shape[2:]
                    np.testing.assert_allclose(
                        y[b, :, :h, :w].numpy(), a[0].numpy(), rtol=1e-5, atol=1e-5, err_msg=f'sample {b} level {l}'
                    )
                    self.assertEqual(float(y[b, :, h:].abs().sum() + y[b, :, :, w:].abs().sum()), 0.0)
            # the defect this replaces: GroupNorm over the padded maps differs inside the window
            padded = model.necked(batch.levels)
            self.assertGreater(float((padded[0][1, :, :8, :12] - got[0][1, :, :8, :12]).abs().max()), 0.1)

    def test_query_proposals(self):
        """queryInit 'nanodet': `<stem>.proposals.f32` rows (score < 0 = none) → [L, 4] per sample, shifted and clipped
        by a crop, padded with whole-image boxes (src/cli/proposals.ts writes them; initialXyzr pads the same way)."""
        coco = D.CocoAnnotations(self.ann)
        with self.assertRaisesRegex(ValueError, 'query proposals missing'):
            DS.DetectionDataset(D.find_caches(self.feat), coco, train=False, proposals=3)
        for stem in ('train-s64', 'train-s64-flip'):
            p = np.zeros((4, 3, 5), np.float32)
            p[:, 0] = [2, 4, 40, 30, 0.9]  # image 0 is 64 x 48 in input pixels
            p[:, 1] = [50, 40, 70, 60, 0.5]  # beyond the image: clipped to [50, 40, 64, 48]
            p[:, 2, 4] = -1  # no third proposal
            p.tofile(os.path.join(self.feat, stem + '.proposals.f32'))
        ds = DS.DetectionDataset(D.find_caches(self.feat), coco, train=False, proposals=4)
        s = ds.get(0)
        np.testing.assert_allclose(s.proposals, [[2, 4, 40, 30], [50, 40, 64, 48], [0, 0, 64, 48], [0, 0, 64, 48]])
        b = DS.collate([s, ds.get(1)])
        self.assertEqual(tuple(b.proposals.shape), (2, 4, 4))
        # A crop at (32, 32) of size 32 x 16: the first box becomes [0, 0, 8, 0] → under 1 px high: dropped.
        np.testing.assert_allclose(
            DS.pad_proposals(ds.plain[64][0].image_proposals(ds.ids[0]), (32, 32), 32.0, 16.0, 3),
            [[18, 8, 32, 16], [0, 0, 32, 16], [0, 0, 32, 16]],
        )
        # Only L proposals are used when the file holds more.
        np.testing.assert_allclose(
            DS.pad_proposals(np.array([[0, 0, 5, 5], [1, 1, 6, 6]], np.float32), (0, 0), 10, 10, 1), [[0, 0, 5, 5]]
        )
        with open(os.path.join(self.feat, 'train-s64.proposals.f32'), 'ab') as f:
            f.write(b'\0\0')
        with self.assertRaisesRegex(ValueError, 'stale file'):
            D.find_caches(self.feat)

    def test_teacher_scores(self):
        """`--distill`: `<stem>.proposal-scores.f16` rows follow the kept proposals; padded queries and proposals a crop
        cut to under half their area get mask 0."""
        coco = D.CocoAnnotations(self.ann)
        for stem in ('train-s64', 'train-s64-flip'):
            p = np.zeros((4, 3, 5), np.float32)
            p[:, 0] = [2, 4, 40, 30, 0.9]
            p[:, 1] = [50, 40, 70, 60, 0.5]
            p[:, 2, 4] = -1
            p.tofile(os.path.join(self.feat, stem + '.proposals.f32'))
        with self.assertRaisesRegex(ValueError, 'proposal class scores missing'):
            DS.DetectionDataset(D.find_caches(self.feat), coco, train=False, proposals=4, teacher=True)
        for stem in ('train-s64', 'train-s64-flip'):
            c = np.zeros((4, 3, 80), np.float16)
            c[:, 0, 7], c[:, 1, 3] = 0.9, 0.5
            c.tofile(os.path.join(self.feat, stem + '.proposal-scores.f16'))
        ds = DS.DetectionDataset(D.find_caches(self.feat), coco, train=False, proposals=4, teacher=True)
        s = ds.get(0)
        self.assertEqual(s.teacher.shape, (4, 80))
        np.testing.assert_allclose(s.teacher[:, [7, 3]], [[0.9, 0], [0, 0.5], [0, 0], [0, 0]], atol=1e-3)
        # the second proposal, clipped to the image ([50, 40, 64, 48]), keeps 14·8 of its 20·20 px: no teacher
        np.testing.assert_array_equal(s.teacher_mask, [1, 0, 0, 0])
        cache = ds.plain[64][0]
        props, scores = cache.image_proposals(ds.ids[0]), cache.image_proposal_scores(ds.ids[0])
        # the crop at (32, 32), 32 x 16 drops the first box (under 1 px high): the second becomes query 0
        t, m = DS.pad_teacher(props, scores, (32, 32), 32.0, 16.0, 3)
        np.testing.assert_allclose(t[0, 3], 0.5, atol=1e-3)
        np.testing.assert_array_equal(m, [0, 0, 0])  # [50,40,70,60] → [18,8,32,16]: 14·8 of 20·20 px kept
        t, m = DS.pad_teacher(props, scores, (0, 0), 80.0, 80.0, 3)
        np.testing.assert_array_equal(m, [1, 1, 0])  # a window that holds both boxes whole
        b = DS.collate([s, ds.get(1)])
        self.assertEqual(tuple(b.teacher.shape), (2, 4, 80))
        self.assertEqual(tuple(b.teacher_mask.shape), (2, 4))

    def test_bad_inputs(self):
        with self.assertRaisesRegex(FileNotFoundError, 'feature cache'):
            D.find_caches(os.path.join(self.tmp.name, 'nope'))
        with self.assertRaisesRegex(ValueError, 'category id 12'):
            D.category_index(12)
        with open(os.path.join(self.feat, 'train-s64.f16'), 'ab') as f:
            f.write(b'\0\0')
        with self.assertRaisesRegex(ValueError, 'bytes, expected'):
            D.find_caches(self.feat)


class TestSchedule(unittest.TestCase):
    def test_warmup_and_steps(self):
        lr = lambda s, e: learning_rate(s, e, 2.5e-5, 500, 0.001, [8, 11])
        self.assertAlmostEqual(lr(0, 0), 2.5e-8)
        self.assertAlmostEqual(lr(250, 0), 2.5e-5 * (1 - 0.5 * 0.999))
        self.assertAlmostEqual(lr(500, 0), 2.5e-5)
        self.assertAlmostEqual(lr(9000, 7), 2.5e-5)
        self.assertAlmostEqual(lr(9000, 8), 2.5e-6)
        self.assertAlmostEqual(lr(9000, 11), 2.5e-7)

    def test_step_and_cosine_over_total_steps(self):
        total = 900
        step = [learning_rate(s, 0, 1e-3, 30, 0.001, [], 'step', total) for s in range(total)]
        self.assertAlmostEqual(step[0], 1e-6)
        self.assertAlmostEqual(step[30], 1e-3)
        self.assertAlmostEqual(step[599], 1e-3)  # drops at 2/3 and 8/9 of the total steps
        self.assertAlmostEqual(step[600], 1e-4)
        self.assertAlmostEqual(step[799], 1e-4)
        self.assertAlmostEqual(step[800], 1e-5)
        self.assertEqual(len(set(step[30:])), 3)
        cos = [learning_rate(s, 0, 1e-3, 30, 0.001, [], 'cosine', total) for s in range(total + 1)]
        self.assertTrue(all(a >= b for a, b in zip(cos[30:], cos[31:])))  # non-increasing after warm-up
        self.assertAlmostEqual(cos[450], 1e-3 * (0.01 + 0.99 * 0.5))
        self.assertAlmostEqual(cos[total], 1e-5)
        self.assertLess(cos[10], cos[29])  # warm-up applies to cosine too
        self.assertAlmostEqual(learning_rate(450, 0, 1e-3, 0, 0.001, [], 'step', 900, [0.25]), 1e-4)
        with self.assertRaisesRegex(ValueError, 'schedule'):
            learning_rate(0, 0, 1e-3, 0, 0.001, [], 'linear', 10)


class TestTraining(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.ann, cls.feat = make_synthetic(cls.tmp.name, n_images=6)
        cls.vann, cls.vfeat = make_synthetic(cls.tmp.name, n_images=2, flip=False, seed=5, name='val')

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def argv(self, variant, *extra, feat=None, val=None):
        """Trainer arguments for the tiny preset on the synthetic caches (val: a val cache folder), then extra."""
        a = ['--preset', 'tiny', '--variant', variant, '--features', feat or self.feat, '--annotations', self.ann]
        if val:
            a += ['--val-features', val, '--val-annotations', self.vann]
        return a + list(extra)

    def test_steps_reduce_loss_on_fixed_batch(self):
        torch.manual_seed(0)
        for variant in ('vanilla', 'lors'):
            model = AdaMixerDecoder(make_config('tiny', variant))
            ds = DS.DetectionDataset(D.find_caches(self.feat), D.CocoAnnotations(self.ann), train=False)
            batch = next(ds.batches([0, 1, 2], 3, 0))
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
            losses = []
            for _ in range(6):
                outs = model(batch.levels, batch.image_size)
                loss, _ = Ls.detection_losses(outs, batch.boxes, batch.labels, batch.image_size)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                losses.append(float(loss))
            self.assertLess(losses[-1], 0.9 * losses[0], f'{variant}: {losses}')

    def test_resume_matches_uninterrupted(self):
        base = self.argv(
            'lors',
            '--epochs',
            '2',
            '--batch-size',
            '2',
            '--lr',
            '1e-3',
            '--warmup',
            '2',
            '--steps',
            '1',
            '--log-every',
            '1',
            '--no-plot',
        )
        a = os.path.join(self.tmp.name, 'run-a')
        b = os.path.join(self.tmp.name, 'run-b')
        ra = run_main(base + ['--out', a])
        self.assertEqual(ra['steps'], 6)  # 6 images / 2 per step × 2 epochs
        rb1 = run_main(base + ['--out', b, '--max-steps', '4'])  # stops in the middle of epoch 2
        self.assertEqual(rb1['steps'], 4)
        self.assertNotEqual(rb1['hash'], ra['hash'])
        rb2 = run_main(base + ['--out', b, '--resume'])
        self.assertEqual(rb2['steps'], 6)
        self.assertEqual(rb2['hash'], ra['hash'])
        ck = load_checkpoint(os.path.join(b, 'last.pt'))
        self.assertEqual((ck['epoch'], ck['step']), (2, 6))
        with open(os.path.join(b, 'log.jsonl')) as f:
            rows = [json.loads(l) for l in f]
        self.assertEqual([r['step'] for r in rows if r['type'] == 'step'], [1, 2, 3, 4, 5, 6])
        for key in ('loss', 'loss_cls', 'loss_l1', 'loss_giou', 'lr', 's_per_step', 'epoch'):
            self.assertIn(key, rows[1])

    def test_ema_by_hand(self):
        model = torch.nn.Linear(2, 1)
        with torch.no_grad():
            model.weight.fill_(1.0)
        ema = Ema(model, 0.75)
        with torch.no_grad():
            model.weight.fill_(5.0)
        ema.update(model)  # 0.75 * 1 + 0.25 * 5
        self.assertTrue(torch.allclose(ema.shadow['weight'], torch.full((1, 2), 2.0)))
        with ema.applied(model):
            self.assertTrue(torch.allclose(model.weight, torch.full((1, 2), 2.0)))
        self.assertTrue(torch.allclose(model.weight, torch.full((1, 2), 5.0)))
        with self.assertRaises(ValueError):
            Ema(model, 1.0)

    def test_ema_resume_choose_and_export(self):
        """--ema: the run evaluates and exports the average; a resumed run ends as an uninterrupted one."""
        flags = '--epochs 2 --batch-size 2 --lr 1e-3 --warmup 1 --no-plot --ema 0.5'.split()
        base = self.argv('lors', *flags, val=self.vfeat)
        a, b = os.path.join(self.tmp.name, 'ema-a'), os.path.join(self.tmp.name, 'ema-b')
        exp = os.path.join(self.tmp.name, 'ema-exported')
        ra = run_main(base + ['--out', a, '--export-best', exp])
        run_main(base + ['--out', b, '--max-steps', '4'])
        rb = run_main(base + ['--out', b, '--resume'])
        self.assertEqual(rb['hash'], ra['hash'])
        ck_a, ck_b = (load_checkpoint(os.path.join(d, 'last.pt')) for d in (a, b))
        self.assertEqual(C.state_hash(ck_a['model']), C.state_hash(ck_b['model']))  # the average resumes too
        self.assertEqual(C.state_hash(ck_a['trained']), ra['hash'])
        self.assertNotEqual(C.state_hash(ck_a['model']), ra['hash'])
        best = load_checkpoint(os.path.join(a, 'best.pt'))
        _, exported = load_weights(exp)
        self.assertEqual(C.state_hash(exported), C.state_hash(best['model']))
        with open(os.path.join(a, 'log.jsonl')) as f:
            epochs = [json.loads(l) for l in f if '"type": "epoch"' in l]
        self.assertIn('AP', epochs[-1]['trained']['val'])

    def test_val_best_plot_and_export(self):
        out = os.path.join(self.tmp.name, 'run-v')
        exp = os.path.join(self.tmp.name, 'exported')
        args = self.argv(
            'vanilla',
            '--epochs',
            '2',
            '--batch-size',
            '3',
            '--out',
            out,
            '--lr',
            '1e-3',
            '--warmup',
            '1',
            val=self.vfeat,
        )
        args += ['--export-best', exp]
        r = run_main(args)
        self.assertIsNotNone(r['best'])
        for name in ('last.pt', 'best.pt', 'log.jsonl', 'curves.png', 'summary.json'):
            why = ''
            if name == 'curves.png' and importlib.util.find_spec('matplotlib') is None:
                why = ': matplotlib is not installed (bash scripts/check-system.sh names the package)'
            self.assertTrue(os.path.isfile(os.path.join(out, name)), f'{name} was not written{why}')
        with open(os.path.join(out, 'log.jsonl')) as f:
            epochs = [json.loads(l) for l in f if '"epoch"' in l and '"type": "epoch"' in l]
        self.assertEqual(len(epochs), 2)
        self.assertGreaterEqual(epochs[0]['val']['AP'], 0.0)
        self.assertTrue(os.path.isfile(os.path.join(exp, 'model.json')))

    def test_query_init_nanodet(self):
        """--query-init nanodet: proposals reach the model (train and val) and the exported config records it."""
        feat = os.path.join(self.tmp.name, 'feat-qi')
        vfeat = os.path.join(self.tmp.name, 'vfeat-qi')
        shutil.copytree(self.feat, feat)
        shutil.copytree(self.vfeat, vfeat)
        out, exp = os.path.join(self.tmp.name, 'run-qi'), os.path.join(self.tmp.name, 'exported-qi')
        args = self.argv(
            'lors',
            '--epochs',
            '1',
            '--batch-size',
            '3',
            '--out',
            out,
            '--lr',
            '1e-3',
            '--warmup',
            '1',
            '--no-plot',
            '--query-init',
            'nanodet',
            '--export-best',
            exp,
            feat=feat,
            val=vfeat,
        )
        with self.assertRaisesRegex(ValueError, 'query proposals missing'):
            run_main(args)
        for d in (feat, vfeat):
            for c in D.find_caches(d):
                p = np.zeros((len(c.images), 12, 5), np.float32)
                p[:, :, :4] = [4, 4, 20, 20]
                p[:, :, 4] = 0.5
                p.tofile(c.data_path[:-4] + '.proposals.f32')
        seen = []
        orig = Mo.AdaMixerDecoder.initial_state

        def spy(self_, batch, image_size, proposals=None):
            seen.append(None if proposals is None else tuple(proposals.shape))
            return orig(self_, batch, image_size, proposals)

        Mo.AdaMixerDecoder.initial_state = spy
        try:
            run_main(args)
        finally:
            Mo.AdaMixerDecoder.initial_state = orig
        self.assertTrue(seen and all(s is not None and s[1:] == (10, 4) for s in seen), seen)  # tiny: L = 10
        with open(os.path.join(exp, 'model.json')) as f:
            self.assertEqual(json.load(f)['config']['queryInit'], 'nanodet')

    def test_private_lr_mult(self):
        """--private-lr-mult: exactly the stage-private low-rank factors get lr × mult (in the optimiser state of
        the checkpoint); everything else, LORS^T's per-stage bias and LayerNorm included, keeps lr."""
        model = AdaMixerDecoder(make_config('tiny', 'lors'))
        private = sorted(n for n, _ in model.named_parameters() if is_private_factor(n))
        stages = model.cfg.decoder.stages
        self.assertEqual(len(private), 8 * stages)  # generator weight + bias, ml, mr, sl, sr, B, A
        self.assertTrue(all('.lorsA.' in n or n.endswith(('.lorsT.A', '.lorsT.B')) for n in private), private)
        self.assertFalse(
            any(
                is_private_factor(n)
                for n in (
                    'lorsA.shared.weight',
                    'lorsT.shared.weight',
                    'stages.0.lorsT.bias',
                    'stages.0.lorsT.norm.weight',
                    'stages.0.mixing.generator.weight',
                )
            )
        )
        groups = param_groups(model, 8.0)
        self.assertEqual([g['lr_mult'] for g in groups], [1.0, 8.0])
        self.assertEqual(sum(len(g['params']) for g in groups), len(list(model.parameters())))
        self.assertEqual(len(param_groups(AdaMixerDecoder(make_config('tiny', 'vanilla')), 8.0)), 1)
        for bad in (0.0, -1.0, float('nan')):
            with self.assertRaisesRegex(ValueError, 'private_lr_mult'):
                param_groups(model, bad)
        out = os.path.join(self.tmp.name, 'run-plr')
        run_main(
            self.argv(
                'lors',
                '--epochs',
                '1',
                '--batch-size',
                '2',
                '--lr',
                '1e-3',
                '--warmup',
                '0',
                '--private-lr-mult',
                '8',
                '--out',
                out,
                '--no-plot',
            )
        )
        lrs = [g['lr'] for g in load_checkpoint(os.path.join(out, 'last.pt'))['optimizer']['param_groups']]
        self.assertEqual(len(lrs), 2)
        self.assertAlmostEqual(lrs[0], 1e-3)
        self.assertAlmostEqual(lrs[1], 8e-3)

    def test_holdout_split_and_log(self):
        ids = list(range(100, 160))
        kept, held = DS.split_holdout(ids, 10, seed=3)
        self.assertEqual((len(kept), len(held)), (50, 10))
        self.assertFalse(set(kept) & set(held))
        self.assertEqual(sorted(kept + held), ids)
        self.assertEqual(DS.split_holdout(ids, 10, seed=3), (kept, held))  # deterministic
        self.assertNotEqual(DS.split_holdout(ids, 10, seed=4)[1], held)  # seeded
        with self.assertRaises(ValueError):
            DS.split_holdout(ids, 60, seed=0)
        out = os.path.join(self.tmp.name, 'run-h')
        r = run_main(
            self.argv(
                'vanilla',
                '--holdout',
                '2',
                '--epochs',
                '1',
                '--batch-size',
                '2',
                '--schedule',
                'cosine',
                '--warmup-frac',
                '0.5',
                '--out',
                out,
                '--no-plot',
                val=self.vfeat,
            )
        )
        with open(os.path.join(out, 'log.jsonl')) as f:
            rows = [json.loads(l) for l in f]
        start, ep = rows[0], rows[-1]
        self.assertEqual((start['train_images'], start['holdout_images']), (4, 2))  # 6 images: 4 train + 2 held
        self.assertEqual(start['holdout_ids'], DS.split_holdout(list(range(1000, 1006)), 2, 0)[1])
        self.assertEqual((r['steps'], r['best_by']), (2, 'holdout'))
        self.assertEqual(ep['best'], ep['holdout']['AP'])
        self.assertIn('AP', ep['val'])

    def test_model_factory_is_an_argument(self):
        """main(argv, model_factory=f) builds the run's model with f (no command-line hook for it)."""
        seen = []

        def factory(cfg):
            seen.append(cfg.variant)
            return AdaMixerDecoder(cfg)

        argv = self.argv('vanilla', '--epochs', '1', '--batch-size', '6', '--no-plot')
        run_main(argv + ['--out', os.path.join(self.tmp.name, 'run-f')], model_factory=factory)
        self.assertEqual(seen, ['vanilla'])
        with self.assertRaises(SystemExit):
            run_main(argv + ['--out', os.path.join(self.tmp.name, 'run-g'), '--model-factory', 'os:getcwd'])

    def test_sigterm_saves_and_resume_continues(self):
        """SIGTERM mid-epoch: the step finishes, last.pt holds the position, --resume ends as an uninterrupted run."""
        base = self.argv('lors', '--epochs', '2', '--batch-size', '2', '--lr', '1e-3', '--warmup', '2', '--no-plot')
        calls = []

        class StoppedAtStep4(AdaMixerDecoder):
            def forward(self, *args, **kw):
                calls.append(1)
                if len(calls) == 4:
                    os.kill(os.getpid(), signal.SIGTERM)
                return super().forward(*args, **kw)

        a, b = os.path.join(self.tmp.name, 'run-s1'), os.path.join(self.tmp.name, 'run-s2')
        handlers = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.assertEqual(run_main(base + ['--out', b], model_factory=StoppedAtStep4)['steps'], 4)
        finally:
            for sig, h in handlers.items():
                signal.signal(sig, h)
        ck = load_checkpoint(os.path.join(b, 'last.pt'))
        self.assertEqual((ck['epoch'], ck['step']), (1, 4))  # 3 steps per epoch
        self.assertEqual(run_main(base + ['--out', b, '--resume'])['hash'], run_main(base + ['--out', a])['hash'])
        for sig, h in handlers.items():
            signal.signal(sig, h)

    def test_resume_refuses_other_config(self):
        out = os.path.join(self.tmp.name, 'run-c')
        common = ['--epochs', '1', '--batch-size', '6', '--out', out, '--no-plot']
        run_main(self.argv('vanilla', *common))
        with self.assertRaisesRegex(SystemExit, 'config'):
            run_main(self.argv('lors', *common, '--resume'))


class TestCompare(unittest.TestCase):
    def test_paired_bootstrap(self):
        """Same detections → difference 0 in every resample; a detector that misses half the objects is worse, and
        the interval brackets the full-set difference. load_dets reads the COCO results format of npm run eval."""
        rng = np.random.default_rng(1)
        gts, good, half = {}, {}, {}
        for iid in range(30):
            b = rng.uniform(0, 100, (2, 2))
            boxes = np.concatenate([b, b + rng.uniform(20, 60, (2, 2))], 1)
            labels = np.array([iid % 3, (iid + 1) % 3])
            gts[iid] = (boxes, labels, None)
            good[iid] = (boxes + 1.0, np.array([0.9, 0.8]), labels)
            half[iid] = (boxes[:1] + 1.0, np.array([0.9]), labels[:1]) if iid % 2 else good[iid]
        same = paired_bootstrap(gts, [good, good], resamples=5)
        self.assertEqual(same['difference'], 0.0)
        self.assertEqual(same['ci95'], [0.0, 0.0])
        r = paired_bootstrap(gts, [good, half], resamples=20, seed=3)
        self.assertLess(r['difference'], -5.0)
        self.assertLessEqual(r['ci95'][0], r['difference'])
        self.assertGreaterEqual(r['ci95'][1], r['difference'])
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, 'dets.json')
            with open(p, 'w') as f:
                json.dump(
                    [{'image_id': 7, 'category_id': D.COCO_CATEGORY_IDS[2], 'bbox': [10, 20, 30, 40], 'score': 0.5}], f
                )
            d = load_dets(p)
            np.testing.assert_allclose(d[7][0], [[10, 20, 40, 60]])
            self.assertEqual(list(d[7][2]), [2])


if __name__ == '__main__':
    unittest.main()
