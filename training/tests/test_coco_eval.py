"""Tests of training/lors_studio/coco_eval.py on the very cases that src/eval/coco.test.ts uses
(test/fixtures/coco-eval-cases.json: hand-worked cases, derivations in their 'notes', and pycocotools-generated ones).

If pycocotools happens to be importable, random cases are also compared with it directly (skipped otherwise;
it is not a dependency).
"""

import contextlib
import io
import json
import random
import unittest
from pathlib import Path

import numpy as np
from training.lors_studio.coco_eval import IOU_THRESHOLDS, RECALL_THRESHOLDS, evaluate_coco

FIXTURE = Path(__file__).resolve().parents[2] / 'test' / 'fixtures' / 'coco-eval-cases.json'
KEYS = ('AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl')
TOL = 1e-7  # in percent; the fixture is rounded to 1e-10 and "100" is 100/(1+eps) as in pycocotools


def load_cases():
    with open(FIXTURE, encoding='utf-8') as f:
        return json.load(f)['cases']


class FixtureCases(unittest.TestCase):
    def test_all_cases(self):
        cases = load_cases()
        self.assertGreaterEqual(len(cases), 14)
        for case in cases:
            with self.subTest(case=case['name']):
                got = evaluate_coco(case['gt'], case['dets'])
                exp = case['expected']
                for k in KEYS:
                    self.assertAlmostEqual(got[k], exp[k], delta=TOL, msg=k)
                self.assertEqual(sorted(got['perClass']), sorted(exp['perClass']))
                for name, v in exp['perClass'].items():
                    self.assertAlmostEqual(got['perClass'][name], v, delta=TOL, msg=name)

    def test_hand_values_spot_checks(self):
        # Same derivations as in coco.test.ts (see each case's notes).
        by = {c['name']: c for c in load_cases()}

        def run(name):
            return evaluate_coco(by[name]['gt'], by[name]['dets'])

        self.assertAlmostEqual(run('duplicate-is-fp')['AP'], 100 * 253 / 303, delta=TOL)  # (51 + 50*2/3)/101
        self.assertAlmostEqual(run('iou-0.6-single')['AP'], 30, delta=TOL)  # 3 of 10 IoU thresholds
        self.assertAlmostEqual(run('fp-above-tp')['AP'], 4550 / 101, delta=TOL)  # (51*.5 + 50*.4)/101
        m = run('area-ranges')
        self.assertAlmostEqual(m['APs'], 100, delta=TOL)
        self.assertAlmostEqual(m['APm'], 50, delta=TOL)
        self.assertAlmostEqual(m['APl'], 0, delta=TOL)
        self.assertEqual(list(run('category-without-gt-excluded')['perClass']), ['person'])
        self.assertEqual(run('crowd-ignored')['APm'], -1)
        ties = by['score-ties-keep-input-order']
        self.assertAlmostEqual(evaluate_coco(ties['gt'], ties['dets'])['AP'], 50, delta=TOL)
        self.assertAlmostEqual(evaluate_coco(ties['gt'], ties['dets'][::-1])['AP'], 100, delta=TOL)

    def test_thresholds(self):
        self.assertEqual(IOU_THRESHOLDS[2], 0.6)
        self.assertEqual(IOU_THRESHOLDS[8], 0.8999999999999999)
        self.assertEqual(RECALL_THRESHOLDS[35], 0.35000000000000003)

    def test_area_field_else_wh(self):
        gt = {
            'images': [{'id': 1}],
            'categories': [{'id': 1, 'name': 'person'}],
            'annotations': [{'id': 1, 'image_id': 1, 'category_id': 1, 'bbox': [0, 0, 40, 40], 'area': 900}],
        }
        dets = [{'image_id': 1, 'category_id': 1, 'bbox': [0, 0, 40, 40], 'score': 1.0}]
        self.assertAlmostEqual(evaluate_coco(gt, dets)['APs'], 100, delta=TOL)
        del gt['annotations'][0]['area']
        self.assertEqual(evaluate_coco(gt, dets)['APs'], -1)
        self.assertAlmostEqual(evaluate_coco(gt, dets)['APm'], 100, delta=TOL)

    def test_bad_input(self):
        gt = {
            'images': [{'id': 1}],
            'categories': [{'id': 1, 'name': 'person'}],
            'annotations': [{'id': 1, 'image_id': 1, 'category_id': 1, 'bbox': [0, 0, 10, 10]}],
        }
        det = {'image_id': 1, 'category_id': 1, 'bbox': [0, 0, 10, 10], 'score': 0.5}
        with self.assertRaisesRegex(ValueError, 'image_id 2 is not in gt.images'):
            evaluate_coco(gt, [dict(det, image_id=2)])
        with self.assertRaisesRegex(ValueError, 'category_id 0 is not in gt.categories'):
            evaluate_coco(gt, [dict(det, category_id=0)])
        with self.assertRaisesRegex(ValueError, 'bbox must be 4 finite numbers'):
            evaluate_coco(gt, [dict(det, bbox=[0, 0, 1])])
        with self.assertRaisesRegex(ValueError, 'score must be a finite number'):
            evaluate_coco(gt, [dict(det, score=float('nan'))])
        with self.assertRaisesRegex(ValueError, 'must have lists'):
            evaluate_coco({'images': []}, [])


def _random_case(seed):
    rng = random.Random(seed)
    cats = [{'id': c, 'name': f'c{c}'} for c in (1, 5, 7)]
    images = [{'id': i} for i in rng.sample(range(1, 100), 6)]
    anns, dets = [], []
    for im in images:
        for _ in range(rng.randint(0, 8)):
            b = [rng.uniform(0, 300), rng.uniform(0, 300), rng.uniform(3, 150), rng.uniform(3, 150)]
            anns.append(
                {
                    'id': len(anns) + 1,
                    'image_id': im['id'],
                    'category_id': rng.choice((1, 5)),
                    'bbox': b,
                    'area': b[2] * b[3] * rng.choice((1, 0.6)),
                    'iscrowd': int(rng.random() < 0.1),
                }
            )
            for _ in range(rng.randint(0, 3)):
                j = [v + rng.uniform(-8, 8) for v in b]
                j[2], j[3] = max(j[2], 1), max(j[3], 1)
                dets.append(
                    {
                        'image_id': im['id'],
                        'category_id': rng.choice((anns[-1]['category_id'],) * 3 + (7,)),
                        'bbox': j,
                        'score': rng.choice((rng.random(), 0.5)),
                    }
                )
        for _ in range(rng.randint(0, 5)):
            dets.append(
                {
                    'image_id': im['id'],
                    'category_id': rng.choice((1, 5, 7)),
                    'bbox': [rng.uniform(0, 300), rng.uniform(0, 300), rng.uniform(3, 150), rng.uniform(3, 150)],
                    'score': rng.random(),
                }
            )
    return {'images': images, 'annotations': anns, 'categories': cats}, dets


class AgainstPycocotools(unittest.TestCase):
    def test_random_cases(self):
        try:
            from pycocotools.coco import COCO
            from pycocotools.cocoeval import COCOeval
        except ImportError:
            self.skipTest('pycocotools not installed (optional cross-check)')
        for seed in range(30):
            gt, dets = _random_case(seed)
            if not dets:
                continue
            with self.subTest(seed=seed), contextlib.redirect_stdout(io.StringIO()):
                coco = COCO()
                coco.dataset = json.loads(json.dumps(gt))
                coco.createIndex()
                ev = COCOeval(coco, coco.loadRes(json.loads(json.dumps(dets))), 'bbox')
                ev.evaluate()
                ev.accumulate()
                ev.summarize()
                got = evaluate_coco(gt, dets)
                for k, v in zip(KEYS, ev.stats):
                    self.assertAlmostEqual(got[k], 100 * v if v > -1 else -1.0, delta=1e-9, msg=k)
                for k, cid in enumerate(ev.params.catIds):
                    p = ev.eval['precision'][:, :, k, 0, -1]
                    name = coco.cats[cid]['name']
                    if (p > -1).any():
                        self.assertAlmostEqual(got['perClass'][name], 100 * float(np.mean(p[p > -1])), delta=1e-9)
                    else:
                        self.assertNotIn(name, got['perClass'])


if __name__ == '__main__':
    unittest.main()
