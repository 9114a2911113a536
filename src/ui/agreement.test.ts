import { describe, expect, it } from 'vitest';
import type { Detection } from '../model/types';
import { agreementSummary, boxIou, matchDetections } from './agreement';

const det = (box: [number, number, number, number], label: number, score: number): Detection => ({
  box,
  label,
  name: `c${label}`,
  score,
});

describe('boxIou', () => {
  it('is 1 for equal boxes, 0 for disjoint or touching ones, and the overlap ratio otherwise', () => {
    expect(boxIou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(boxIou([0, 0, 10, 10], [10, 0, 20, 10])).toBe(0);
    expect(boxIou([0, 0, 10, 10], [20, 20, 30, 30])).toBe(0);
    expect(boxIou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(50 / 150, 12);
    expect(boxIou([0, 0, 0, 10], [0, 0, 0, 10])).toBe(0);
  });
});

describe('matchDetections', () => {
  it('pairs the same class at IoU ≥ 0.5 and leaves the rest on each side', () => {
    const a = [det([0, 0, 10, 10], 1, 0.9), det([50, 50, 60, 60], 2, 0.8), det([100, 0, 110, 10], 3, 0.4)];
    const b = [det([1, 0, 11, 10], 1, 0.7), det([50, 50, 60, 60], 5, 0.6), det([200, 0, 210, 10], 3, 0.3)];
    const m = matchDetections(a, b);
    expect(m.pairs).toEqual([[0, 0]]);
    expect(m.onlyA).toEqual([1, 2]); // other class; no overlap
    expect(m.onlyB).toEqual([1, 2]);
    expect(agreementSummary(m, 'vanilla', 'LORS')).toBe(
      'vanilla and LORS agree on 1 of 5 (only vanilla: 2, only LORS: 2)',
    );
  });

  it('counts IoU exactly 0.5 as a match and just below as none', () => {
    // [0,0,10,10] vs [0,0,10,20]: IoU 100/200 = 0.5.
    expect(matchDetections([det([0, 0, 10, 10], 0, 0.5)], [det([0, 0, 10, 20], 0, 0.5)]).pairs).toEqual([[0, 0]]);
    expect(matchDetections([det([0, 0, 10, 10], 0, 0.5)], [det([0, 0, 10, 20.1], 0, 0.5)]).pairs).toEqual([]);
  });

  it('is greedy by score over both lists: the best detection takes its best partner first', () => {
    // b0 (0.95) overlaps a0 (IoU 0.82) and a1 (IoU 1): it is visited first and takes a1.
    const a = [det([0, 0, 10, 11], 0, 0.9), det([0, 0, 10, 10], 0, 0.3)];
    const b = [det([0, 0, 10, 10], 0, 0.95)];
    const m = matchDetections(a, b);
    expect(m.pairs).toEqual([[1, 0]]);
    expect(m.onlyA).toEqual([0]);
    // Seen from the other side the same: a0 (0.9) is visited before a1 but after b0.
    expect(matchDetections(b, a).pairs).toEqual([[0, 1]]);
  });

  it('matches one to one: a duplicate on one side stays unmatched', () => {
    const a = [det([0, 0, 10, 10], 4, 0.9), det([0, 0, 10, 10], 4, 0.8)];
    const b = [det([0, 0, 10, 10], 4, 0.7)];
    const m = matchDetections(a, b);
    expect(m.pairs).toEqual([[0, 0]]);
    expect(m.onlyA).toEqual([1]);
    expect(m.onlyB).toEqual([]);
  });

  it('is symmetric in what it pairs, and handles empty lists', () => {
    const a = [det([0, 0, 10, 10], 1, 0.6), det([20, 20, 40, 40], 2, 0.5), det([21, 20, 41, 40], 2, 0.45)];
    const b = [det([0, 1, 10, 11], 1, 0.55), det([20, 21, 40, 41], 2, 0.7)];
    const ab = matchDetections(a, b);
    const ba = matchDetections(b, a);
    expect(ab.pairs.map(([i, j]) => [j, i]).sort()).toEqual([...ba.pairs].sort());
    const none = matchDetections([], b);
    expect(none).toEqual({ pairs: [], onlyA: [], onlyB: [0, 1] });
    expect(agreementSummary(matchDetections([], []), 'vanilla', 'LORS')).toMatch(/no detections/);
  });
});
