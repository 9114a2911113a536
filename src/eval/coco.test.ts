import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AREA_RANGES,
  IOU_THRESHOLDS,
  RECALL_THRESHOLDS,
  evaluateCoco,
  type CocoDetection,
  type CocoGroundTruth,
  type CocoMetrics,
} from './coco';

/**
 * The cases live in test/fixtures/coco-eval-cases.json so that the Python mirror
 * (training/lors_studio/coco_eval.py, tested by training/tests/test_coco_eval.py) runs on the very same inputs.
 * Expected numbers of the hand cases are derived below (and in each case's "notes"); they also agree with
 * pycocotools 2.0.11. The random-* cases' expected numbers were produced by pycocotools 2.0.11 itself.
 *
 * Shared facts used in the derivations:
 * - AP of one IoU threshold = mean over the 101 recall thresholds r = 0, .01, ..., 1 of p(r), where p(r) is the
 *   right-monotone precision at the first detection whose cumulative recall is >= r (0 if recall never reaches r).
 * - pycocotools' precision is tp / (tp + fp + eps): "100" is really 100/(1+eps), hence the tolerances.
 * - A category with no (non-ignored) GT in an area range is -1 there and left out of the mean.
 */
interface Case {
  name: string;
  notes: string;
  gt: CocoGroundTruth;
  dets: CocoDetection[];
  expected: CocoMetrics;
}
const fixture = JSON.parse(
  readFileSync(new URL('../../test/fixtures/coco-eval-cases.json', import.meta.url), 'utf8'),
) as { cases: Case[] };
const byName = (name: string): Case => {
  const c = fixture.cases.find((x) => x.name === name);
  if (!c) throw new Error(`fixture case ${name} missing`);
  return c;
};
const run = (name: string): CocoMetrics => {
  const c = byName(name);
  return evaluateCoco(c.gt, c.dets);
};
const KEYS = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl'] as const;
/** 1e-7 in percent: far below any meaningful difference, far above eps and the fixture's 1e-10 rounding. */
const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThan(1e-7);

describe('evaluateCoco: every fixture case (hand-worked and pycocotools-generated)', () => {
  it('has the cases the brief asks for', () => {
    const names = fixture.cases.map((c) => c.name);
    for (const n of [
      'perfect',
      'empty-predictions',
      'duplicate-is-fp',
      'wrong-class',
      'area-ranges',
      'images-without-predictions',
      'iou-0.6-single',
      'iou-thresholds-mixed',
      'fp-above-tp',
      'category-without-gt-excluded',
      'crowd-ignored',
      'score-ties-keep-input-order',
    ]) {
      expect(names).toContain(n);
    }
    expect(names.filter((n) => n.startsWith('random-')).length).toBeGreaterThanOrEqual(2);
  });
  for (const c of fixture.cases) {
    it(c.name, () => {
      const m = evaluateCoco(c.gt, c.dets);
      for (const k of KEYS) close(m[k], c.expected[k]);
      expect(Object.keys(m.perClass).sort()).toEqual(Object.keys(c.expected.perClass).sort());
      for (const [name, v] of Object.entries(c.expected.perClass)) close(m.perClass[name]!, v);
    });
  }
});

describe('evaluateCoco: hand-worked values', () => {
  it('perfect predictions give 100 everywhere applicable', () => {
    // GT: large person (200×200), medium car (50×40 = 2000 px²), small person (20×20); every box predicted exactly.
    // Precision 1 at every recall threshold, recall 1 at every IoU. dog has no GT: absent from perClass.
    const m = run('perfect');
    for (const k of KEYS) close(m[k], 100);
    expect(Object.keys(m.perClass).sort()).toEqual(['car', 'person']);
  });

  it('empty predictions give 0 (not -1) where there is GT', () => {
    // No detection at all: recall never reaches any r > 0, and p(0) is taken at index 0 which does not exist → 0.
    const m = run('empty-predictions');
    for (const k of KEYS) close(m[k], 0);
    expect(m.perClass).toEqual({ person: 0, car: 0 });
  });

  it('a duplicate is a FP that lowers precision at high recall', () => {
    // Two persons g1, g2; dets: g1 (.9), g1 again (.8), g2 (.7) → TP, FP, TP with 2 GTs.
    // recall [.5, .5, 1], precision [1, .5, 2/3] → right-monotone [1, 2/3, 2/3].
    // r = 0 … .50 (51 thresholds) → first index with recall >= r is 0 → 1; r = .51 … 1 (50) → index 2 → 2/3.
    // AP = (51·1 + 50·2/3) / 101 = 253/303 = 83.498…% at every IoU (exact boxes).
    // AR1 (one det per image and category): only g1's first det → recall .5.
    const m = run('duplicate-is-fp');
    close(m.AP, (100 * 253) / 303);
    close(m.AP50, (100 * 253) / 303);
    close(m.AP75, (100 * 253) / 303);
    close(m.AR1, 50);
    close(m.AR100, 100);
  });

  it('a wrong class gives 0 for that class, and the predicted class without GT is excluded', () => {
    // person exact → 100; the car is predicted as "dog": car gets no detection → 0; dog has no GT → -1 → excluded.
    // AP = (100 + 0) / 2 = 50.
    const m = run('wrong-class');
    expect(m.perClass).toEqual({ person: expect.closeTo(100, 7), car: 0 });
    close(m.AP, 50);
  });

  it('splits small / medium / large by GT area, ignoring out-of-range matches and unmatched dets', () => {
    // GT persons: 20×20 = 400 (small), 50×50 = 2500 (medium), 200×200 (large, never detected).
    // Dets: d1 exact small (.9), d2 a 40×40 = 1600 px² FP (.85), d3 exact medium (.8).
    // all:    TP, FP, TP of 3 → recall [1/3, 1/3, 2/3], precision [1, .5, 2/3] → [1, 2/3, 2/3];
    //         r = 0 … .33 (34) → 1, r = .34 … .66 (33) → 2/3, r >= .67 (34) → 0: AP = (34 + 22)/101 = 56/101.
    // small:  d1 TP; d2 unmatched and its area is out of [0, 32²] → ignored; d3 matches the (ignored) medium GT →
    //         ignored: APs = 100.
    // medium: d1 matches the ignored small GT → ignored; d2 FP; d3 TP: recall [0, 0, 1], precision [0, 0, .5] → .5 for
    //         every r: APm = 50.
    // large:  no TP, d2 out of range: APl = 0.  AR1 = 1/3 (d1 only), AR100 = 2/3, ARs = ARm = 100, ARl = 0.
    const m = run('area-ranges');
    close(m.AP, 5600 / 101);
    close(m.APs, 100);
    close(m.APm, 50);
    close(m.APl, 0);
    close(m.AR1, 100 / 3);
    close(m.AR100, 200 / 3);
    close(m.ARs, 100);
    close(m.ARm, 100);
    close(m.ARl, 0);
  });

  it('images without predictions count their GTs as misses', () => {
    // 3 persons in images 1, 2, 3, one exact det in image 1; image 4 has nothing. recall [1/3], precision [1]:
    // r = 0 … .33 (34 thresholds) → 1, the rest 0 → AP = 34/101 = 33.66…%; recall 1/3.
    const m = run('images-without-predictions');
    close(m.AP, 3400 / 101);
    close(m.AR100, 100 / 3);
  });

  it('IoU exactly at a threshold counts (IoU .6 → TP at .50/.55/.60 only → AP = 3/10)', () => {
    // GT 100×100, det 100×60 at the same corner: IoU = 6000/10000 = .6 (the same double as the threshold .6).
    // AP at .50, .55, .60 = 1, at .65 … .95 = 0 → AP = 30, AP50 = 100, AP75 = 0.
    const m = run('iou-0.6-single');
    close(m.AP, 30);
    close(m.AP50, 100);
    close(m.AP75, 0);
    close(m.AR100, 30);
  });

  it('IoU .60 / .75 / .95 / .49 in four classes', () => {
    // person .60 → 3/10, car .75 → 6/10, dog .95 → 10/10 (the last threshold is exactly .95), cow .49 → 0.
    // AP = (30 + 60 + 100 + 0)/4 = 47.5; AP50 = (100+100+100+0)/4 = 75; AP75 = (0+100+100+0)/4 = 50.
    const m = run('iou-thresholds-mixed');
    close(m.AP, 47.5);
    close(m.AP50, 75);
    close(m.AP75, 50);
    close(m.perClass.person!, 30);
    close(m.perClass.car!, 60);
    close(m.perClass.dog!, 100);
    close(m.perClass.cow!, 0);
  });

  it('FP ranked above TP: 101-point interpolation', () => {
    // 2 GTs; by score: FP, TP, FP, FP, TP. tp [0,1,1,1,2], fp [1,1,2,3,3]
    // recall [0, .5, .5, .5, 1], precision [0, .5, 1/3, .25, .4] → right-monotone [.5, .5, .4, .4, .4].
    // r = 0 → index 0 → .5; r = .01 … .50 → index 1 → .5; r = .51 … 1 (50 values) → index 4 → .4.
    // AP = (51·.5 + 50·.4)/101 = 45.5/101 = 45.05%. AR1 = 0: the top-scored det is the FP.
    const m = run('fp-above-tp');
    close(m.AP, 4550 / 101);
    close(m.AR1, 0);
    close(m.AR100, 100);
  });

  it('a category with no GT is excluded from the mean even with detections', () => {
    // dog: a .99 det but no GT; car: nothing. Both -1 → AP = person's 100, not 50 or 33.3.
    const m = run('category-without-gt-excluded');
    close(m.AP, 100);
    expect(Object.keys(m.perClass)).toEqual(['person']);
  });

  it('crowd GTs are matched as ignore (many times, IoU over the detection area)', () => {
    // c1, c2 inside the crowd box: IoU = inter / det area = 1 → ignored. c3 overlaps it by 800/1600 = .5 → ignored at
    // .50, but an FP ranked above the TP at .55 … .95 → precision .5 at every r there.
    // AP = (1 + 9·.5)/10 = 55, AP50 = 100, AP75 = 50; APl: c3 (1600 px²) is out of the large range → 100.
    const m = run('crowd-ignored');
    close(m.AP, 55);
    close(m.AP50, 100);
    close(m.AP75, 50);
    close(m.APl, 100);
    close(m.APm, -1);
  });

  it('equal scores keep their input order (stable, like pycocotools mergesort)', () => {
    // FP then TP at the same score: recall [0, 1], precision [0, .5] → .5 everywhere → AP 50.
    const c = byName('score-ties-keep-input-order');
    close(evaluateCoco(c.gt, c.dets).AP, 50);
    close(evaluateCoco(c.gt, [...c.dets].reverse()).AP, 100);
  });
});

describe('evaluateCoco: conventions and input checks', () => {
  it('uses numpy linspace thresholds float for float', () => {
    expect(IOU_THRESHOLDS).toHaveLength(10);
    expect(IOU_THRESHOLDS[2]).toBe(0.6);
    expect(IOU_THRESHOLDS[5]).toBe(0.75);
    expect(IOU_THRESHOLDS[8]).toBe(0.8999999999999999);
    expect(IOU_THRESHOLDS[9]).toBe(0.95);
    expect(RECALL_THRESHOLDS).toHaveLength(101);
    expect(RECALL_THRESHOLDS[35]).toBe(0.35000000000000003);
    expect(RECALL_THRESHOLDS[100]).toBe(1);
    expect(AREA_RANGES.medium).toEqual([1024, 9216]);
  });

  it('uses the GT area field when present, else w·h', () => {
    // A 40×40 box (1600 px², medium by w·h) whose area field says 900 (small).
    const gt: CocoGroundTruth = {
      images: [{ id: 1 }],
      categories: [{ id: 1, name: 'person' }],
      annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 40, 40], area: 900 }],
    };
    const dets = [{ image_id: 1, category_id: 1, bbox: [0, 0, 40, 40], score: 1 }];
    const withArea = evaluateCoco(gt, dets);
    close(withArea.APs, 100);
    close(withArea.APm, -1);
    const noArea = evaluateCoco(
      { ...gt, annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 40, 40] }] },
      dets,
    );
    close(noArea.APs, -1);
    close(noArea.APm, 100);
  });

  it('caps detections at 100 per image and category (by score)', () => {
    // 1 GT; 100 FPs scored .5 … .99 and the exact TP at .1: the TP is the 101st → cut → AP 0, recall 0.
    // With the TP at .2 and only 99 FPs it is kept: recall 1, precision 1/100 → AP 1.
    const gt: CocoGroundTruth = {
      images: [{ id: 1 }],
      categories: [{ id: 1, name: 'person' }],
      annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10] }],
    };
    const fps = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        image_id: 1,
        category_id: 1,
        bbox: [500 + i, 500, 10, 10],
        score: 0.5 + i / 250,
      }));
    const cut = evaluateCoco(gt, [...fps(100), { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], score: 0.1 }]);
    close(cut.AP, 0);
    close(cut.AR100, 0);
    const kept = evaluateCoco(gt, [...fps(99), { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], score: 0.2 }]);
    close(kept.AR100, 100);
    close(kept.AP, 1); // precision 1/100 at every r (right-monotone from the TP): AP = 1%
  });

  it('does not depend on the order of images, categories or annotations in the GT', () => {
    const c = byName('random-10-pycocotools');
    const shuffled: CocoGroundTruth = {
      images: [...c.gt.images].reverse(),
      categories: [...c.gt.categories].reverse(),
      annotations: c.gt.annotations, // annotation order within (image, category) matters only for exact IoU ties
    };
    const a = evaluateCoco(c.gt, c.dets);
    const b = evaluateCoco(shuffled, c.dets);
    for (const k of KEYS) close(b[k], a[k]);
  });

  it('rejects bad input with clear messages', () => {
    const gt: CocoGroundTruth = {
      images: [{ id: 1 }],
      categories: [{ id: 1, name: 'person' }],
      annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10] }],
    };
    const det = { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], score: 0.5 };
    expect(() => evaluateCoco(gt, [{ ...det, image_id: 2 }])).toThrow(/detection #0: image_id 2 is not in gt.images/);
    expect(() => evaluateCoco(gt, [{ ...det, category_id: 0 }])).toThrow(/category_id 0 is not in gt.categories/);
    expect(() => evaluateCoco(gt, [{ ...det, bbox: [0, 0, 10] }])).toThrow(/bbox must be 4 finite numbers/);
    expect(() => evaluateCoco(gt, [{ ...det, bbox: [0, 0, -1, 10] }])).toThrow(/width\/height must be >= 0/);
    expect(() => evaluateCoco(gt, [{ ...det, score: Number.NaN }])).toThrow(/score must be a finite number/);
    expect(() =>
      evaluateCoco({ ...gt, annotations: [{ id: 7, image_id: 3, category_id: 1, bbox: [0, 0, 1, 1] }] }, []),
    ).toThrow(/GT annotation #0 \(id 7\): image_id 3/);
    expect(() => evaluateCoco({ images: [], annotations: [] } as unknown as CocoGroundTruth, [])).toThrow(
      /must have arrays/,
    );
  });

  it('returns -1 everywhere when the GT has no object at all', () => {
    const m = evaluateCoco({ images: [{ id: 1 }], categories: [{ id: 1, name: 'a' }], annotations: [] }, [
      { image_id: 1, category_id: 1, bbox: [0, 0, 5, 5], score: 1 },
    ]);
    for (const k of KEYS) expect(m[k]).toBe(-1);
    expect(m.perClass).toEqual({});
  });
});
