import { describe, expect, it } from 'vitest';
import type { Detection } from '../model/types';
import { classwiseNms, filterDetections, visibleDetections } from './visibleDetections';

const det = (score: number, label: number, box: [number, number, number, number] = [0, 0, 10, 10]): Detection => ({
  box,
  label,
  name: `c${label}`,
  score,
});

describe('visible detections', () => {
  it('keeps the detections at or above the threshold, of the chosen class, best first', () => {
    const d = [det(0.5, 1), det(0.05, 15), det(0.9, 15)];
    expect(filterDetections(d, 0.3, null).map((x) => x.score)).toEqual([0.9, 0.5]);
    expect(filterDetections(d, 0, 15).map((x) => x.score)).toEqual([0.9, 0.05]);
    expect(filterDetections(d, 0.95, null)).toEqual([]);
  });

  it('class-wise NMS drops a lower-scored overlapping box of the same class only', () => {
    const a = det(0.9, 1, [0, 0, 10, 10]);
    const b = det(0.8, 1, [1, 0, 11, 10]); // IoU 0.82 with a, same class: dropped
    const c = det(0.7, 2, [1, 0, 11, 10]); // other class: kept
    const e = det(0.6, 1, [20, 20, 30, 30]); // same class, apart: kept
    expect(classwiseNms([e, c, b, a])).toEqual([a, c, e]);
  });

  it('top-k after NMS; NMS off shows the raw output up to k', () => {
    const dets = Array.from({ length: 50 }, (_, i) => det(1 - i / 100, i % 3, [0, 0, 10 + (i % 2), 10]));
    const on = visibleDetections(dets, { threshold: 0, classFilter: null, maxResults: 20, nms: true });
    expect(on.map((d) => d.label).sort()).toEqual([0, 1, 2]);
    const off = visibleDetections(dets, { threshold: 0, classFilter: null, maxResults: 20, nms: false });
    expect(off).toHaveLength(20);
    expect(off[0]!.score).toBeGreaterThan(off[19]!.score);
    expect(visibleDetections(dets, { threshold: 0.9, classFilter: null, maxResults: 100, nms: false })).toHaveLength(
      11,
    );
  });
});
