import { describe, expect, it } from 'vitest';
import { measuredSlice, signedAp } from './measuredSlice';
import type { CompressionCurves, CompressionPoint } from './modelStatus';

const pt = (rankA: number, rankT: number, groupsA: number[], AP: number): CompressionPoint =>
  ({ rankA, rankT, groupsA, AP, decoderParams: 1e6 }) as CompressionPoint;

const curves = {
  split: 'val',
  images: 250,
  measured: '2026-12-06',
  trained: [pt(1, 1, [1, 1, 1, 1, 1, 1], 23.2), pt(8, 8, [1, 1, 2, 2, 3, 3], 23.5)],
  compressed: [pt(1, 2, [1, 1, 1, 1, 1, 1], 1.94)],
  reference: { lors: { AP: 23.5, decoderParams: 5e6 }, vanilla: { AP: 24.34, decoderParams: 1.7e7 } },
} as CompressionCurves;

describe('measuredSlice', () => {
  it('finds the grid point and its deltas vs the full model and vs vanilla', () => {
    const m = measuredSlice(curves, 'trained', { rankA: 1, rankT: 1, groupsA: [1, 1, 1, 1, 1, 1] })!;
    expect(m.point.AP).toBe(23.2);
    expect(m.vsFull).toBeCloseTo(-0.3, 6);
    expect(m.vsVanilla).toBeCloseTo(-1.14, 6);
  });

  it("the compressed source's full model is the vanilla it came from", () => {
    const m = measuredSlice(curves, 'compressed', { rankA: 1, rankT: 2, groupsA: [1, 1, 1, 1, 1, 1] })!;
    expect(m.fullAP).toBe(24.34);
    expect(m.vsFull).toBeCloseTo(-22.4, 6);
  });

  it('null off the grid', () => {
    expect(measuredSlice(curves, 'trained', { rankA: 2, rankT: 1, groupsA: [1, 1, 1, 1, 1, 1] })).toBeNull();
  });

  it('signs', () => {
    expect(signedAp(0.254)).toBe('+0.25');
    expect(signedAp(-1.3)).toBe('−1.30');
    expect(signedAp(0.001)).toBe('±0.00');
  });
});
