import { describe, expect, it } from 'vitest';
import type { Detection } from '../model/types';
import { diffDetections, diffSummary, movedBoxes } from './detectionDiff';

const det = (score: number, label: number, box: [number, number, number, number]): Detection => ({
  box,
  label,
  name: `c${label}`,
  score,
});

describe('detection diff', () => {
  it('matches the same objects, lists what appeared and vanished, and which kept boxes moved', () => {
    const cat = det(0.9, 15, [0, 0, 100, 100]);
    const catMoved = det(0.92, 15, [8, 0, 108, 100]);
    const dog = det(0.5, 16, [200, 200, 260, 260]);
    const tv = det(0.4, 62, [300, 0, 350, 40]);
    const d = diffDetections([cat, dog], [catMoved, tv]);
    expect(d.kept).toHaveLength(1);
    expect(d.kept[0]!.before).toBe(cat);
    expect(d.kept[0]!.after).toBe(catMoved);
    expect(d.appeared).toEqual([tv]);
    expect(d.vanished).toEqual([dog]);
    expect(diffSummary(d)).toBe('+1 / −1 boxes');
    expect(movedBoxes(d)).toHaveLength(1); // IoU 0.85
  });

  it('identical sets: the same boxes, nothing moved', () => {
    const a = [det(0.9, 1, [0, 0, 10, 10]), det(0.8, 2, [5, 5, 20, 20])];
    const d = diffDetections(a, [...a]);
    expect(diffSummary(d)).toBe('the same boxes');
    expect(movedBoxes(d)).toEqual([]);
  });
});
