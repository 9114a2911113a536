import { describe, expect, it } from 'vitest';
import type { Detection } from '../model/types';
import { evaluateCoco, type CocoGroundTruth } from './coco';
import { detectionsToCoco } from '../model/cocoFormat';
import { formatCocoReport, subsetGroundTruth } from './report';

const GT: CocoGroundTruth = {
  images: [{ id: 1 }, { id: 2 }],
  categories: [
    { id: 1, name: 'person' },
    { id: 13, name: 'stop sign' },
    { id: 90, name: 'toothbrush' },
  ],
  annotations: [
    { id: 1, image_id: 1, category_id: 1, bbox: [10, 20, 100, 50] },
    { id: 2, image_id: 2, category_id: 13, bbox: [0, 0, 40, 40] },
  ],
};

describe('detectionsToCoco', () => {
  it('maps labels to COCO ids and x1y1x2y2 to xywh, with optional scaling', () => {
    const dets: Detection[] = [
      { box: [10, 20, 110, 70], label: 0, name: 'person', score: 0.9 },
      { box: [5, 6, 7, 9], label: 11, name: 'stop sign', score: 0.4 }, // index 11 → id 13 (ids skip 12)
      { box: [1, 1, 3, 2], label: 79, name: 'toothbrush', score: 0.1 },
    ];
    expect(detectionsToCoco(dets, 7)).toEqual([
      { image_id: 7, category_id: 1, bbox: [10, 20, 100, 50], score: 0.9 },
      { image_id: 7, category_id: 13, bbox: [5, 6, 2, 3], score: 0.4 },
      { image_id: 7, category_id: 90, bbox: [1, 1, 2, 1], score: 0.1 },
    ]);
    expect(detectionsToCoco([dets[0]!], 1, 2, 0.5)[0]!.bbox).toEqual([20, 10, 200, 25]);
  });

  it('rejects labels outside COCO-80', () => {
    expect(() => detectionsToCoco([{ box: [0, 0, 1, 1], label: 80, name: '?', score: 1 }], 1)).toThrow(
      /not a COCO-80 index/,
    );
  });

  it('round-trips a perfect detection through evaluateCoco', () => {
    const dets = detectionsToCoco([{ box: [10, 20, 110, 70], label: 0, name: 'person', score: 0.9 }], 1);
    const m = evaluateCoco(subsetGroundTruth(GT, [1]), dets);
    expect(m.AP).toBeCloseTo(100, 9);
    expect(m.perClass).toEqual({ person: expect.closeTo(100, 9) });
  });
});

describe('subsetGroundTruth / formatCocoReport', () => {
  it('keeps only the chosen images and their annotations', () => {
    const s = subsetGroundTruth(GT, [2]);
    expect(s.images).toEqual([{ id: 2 }]);
    expect(s.annotations.map((a) => a.id)).toEqual([2]);
    expect(s.categories).toBe(GT.categories);
  });

  it('prints the six APs, AR and a per-class table of the classes with GT', () => {
    const m = evaluateCoco(GT, detectionsToCoco([{ box: [10, 20, 110, 70], label: 0, name: 'person', score: 0.9 }], 1));
    const text = formatCocoReport(m, GT, 'title');
    const lines = text.split('\n');
    expect(lines[0]).toBe('title');
    expect(lines[1]).toMatch(/AP\s+AP50\s+AP75\s+APs\s+APm\s+APl \| AR1\s+AR10\s+AR100/);
    // person 100, stop sign 0 → 50. Both are medium (5000 and 1600 px²): APm 50, APs = APl = -1, shown as "-".
    expect(lines[2]).toBe(' 50.0  50.0  50.0     -  50.0     - | 50.0  50.0  50.0');
    expect(text).toContain('person         1  100.0');
    expect(text).toContain('stop sign      1    0.0');
    expect(text).not.toContain('toothbrush');
    expect(lines.at(-1)).toBe('(1 of 3 classes have no GT box in these images: left out of the means)');
  });
});
