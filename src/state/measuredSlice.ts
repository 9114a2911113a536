/**
 * The measured val AP of a LORS slice (models/compression.json): the grid point of this source with this exact slice,
 * and its difference from the full model and from vanilla. Pure: no React.
 */
import type { LorsConfig } from '../model/config';
import type { LorsSourceName } from '../model/constants';
import type { CompressionCurves, CompressionPoint } from './modelStatus';

type SliceKey = Pick<LorsConfig, 'rankA' | 'rankT' | 'groupsA'>;

/** A grid point is this slice (same r_A, r_T and K per stage). */
export const sameSlice = (p: CompressionPoint, c: SliceKey) =>
  p.rankA === c.rankA &&
  p.rankT === c.rankT &&
  p.groupsA.length === c.groupsA.length &&
  p.groupsA.every((k, i) => k === c.groupsA[i]);

export interface MeasuredSlice {
  point: CompressionPoint;
  /** AP of the full model of the source: the whole trained LORS decoder, or (compressed) the vanilla it came from. */
  fullAP?: number;
  vanillaAP?: number;
  /** point.AP − fullAP, point.AP − vanillaAP (undefined where the reference is not in the file). */
  vsFull?: number;
  vsVanilla?: number;
}

/** The measured AP of `slice` of `source` and its deltas; null when the slice is not on the measured grid. */
export function measuredSlice(
  curves: CompressionCurves,
  source: LorsSourceName,
  slice: SliceKey,
): MeasuredSlice | null {
  const point = curves[source].find((p) => sameSlice(p, slice));
  if (!point) return null;
  const fullAP = source === 'trained' ? curves.reference?.lors?.AP : curves.reference?.vanilla?.AP;
  const vanillaAP = curves.reference?.vanilla?.AP;
  const out: MeasuredSlice = { point };
  if (fullAP !== undefined) Object.assign(out, { fullAP, vsFull: point.AP - fullAP });
  if (vanillaAP !== undefined) Object.assign(out, { vanillaAP, vsVanilla: point.AP - vanillaAP });
  return out;
}

/** "+0.25", "−1.30", "±0.00": a signed AP difference. */
export function signedAp(d: number): string {
  const v = Math.round(d * 100) / 100;
  return v === 0 ? '±0.00' : `${v > 0 ? '+' : '−'}${Math.abs(v).toFixed(2)}`;
}

/** A slice's AP within this of the full model's counts as no change (the val set's noise is larger). */
export const NEGLIGIBLE_AP = 0.5;
