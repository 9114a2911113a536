import { describe, expect, it } from 'vitest';
import type { Detection } from '../model/types';
import { filterDetections } from './visibleDetections';

const det = (label: number, score: number): Detection => ({ box: [10, 20, 110, 70], label, name: `c${label}`, score });

describe('the detections a panel draws', () => {
  it('filter by threshold and class, best first', () => {
    const d = [det(0, 0.2), det(15, 0.9), det(0, 0.5), det(15, 0.05)];
    expect(filterDetections(d, 0.3, null).map((x) => x.score)).toEqual([0.9, 0.5]);
    expect(filterDetections(d, 0, 15).map((x) => x.score)).toEqual([0.9, 0.05]);
    expect(filterDetections(d, 0.95, null)).toEqual([]);
  });
});
