/**
 * Live LORS compression: a LORS model whose private factors are stored in importance order (exported by
 * training/lors_studio/compress.py: `order` for the trained LORS model, `lorsify` for the vanilla model compressed
 * into LORS) is cut to any rank r' ≤ r and group counts K'_i ≤ K_i by slicing, here on plain arrays (no tensors):
 *
 *   LORS^A, stage i (Eqs. 9–12): the E generator's rows (part, g, k < K'_i, a < r', b < r') of its
 *     [2, G, K_i, r, r] output layout; ml/sl [G·K_i, ·, r] → [G·K'_i, ·, r'], mr/sr [G·K_i, r, ·] → [G·K'_i, r', ·]
 *   LORS^T, stage i (Eqs. 7–8): B [K_T, d, r_T] → [K'_T, d, r'_T], A [K_T, r_T, in] → [K'_T, r'_T, in]
 *
 * Everything else (shared parts, attention, FFN, heads) is passed through (the same arrays, not copies).
 * training/lors_studio/lors_order.py `slice_lors` is the same function in PyTorch.
 */
import { dims, type LorsConfig, type ModelConfig } from '../config';
import { parameterSpec } from '../params';

/**
 * A slice of an ordered LORS model, as every caller asks for one (the CLIs' --rank-a/--rank-t/--groups, the app's
 * sliders): omitted values mean all the source holds; K is one value for every stage or one per stage.
 */
export interface LorsSlice {
  rankA?: number;
  rankT?: number;
  /** K'_i of LORS^A. */
  groupsA?: number | readonly number[];
  /** K'_T of LORS^T. */
  groupsT?: number | readonly number[];
}

/**
 * How a slice that asks for more than the source holds is treated: 'strict' throws an error naming the limit,
 * 'clamp' fits every value into its range (the sliders, whose ranges may exceed a smaller source). Ranks may be 0
 * (no private part: the shared weights alone, the paper's "shared only"); group counts K are at least 1.
 */
export type SliceMode = 'strict' | 'clamp';

/** The config of a slice of `src` (the source's with the LORS settings replaced). */
export function sliceConfig(src: ModelConfig, req: LorsSlice, mode: SliceMode = 'strict'): ModelConfig {
  const lo = src.lors;
  if (!lo) throw new Error('LORS slice: the weights are not a LORS model');
  const N = src.decoder.stages;
  const limits = `this model holds r_A ≤ ${lo.rankA}, r_T ≤ ${lo.rankT}, K ≤ [${lo.groupsA.join(', ')}], K_T ≤ [${lo.groupsT.join(', ')}]`;
  const fit = (v: number, max: number, what: string, min = 1): number => {
    if (mode === 'clamp') return Math.max(min, Math.min(max, Math.round(Number.isFinite(v) ? v : max)));
    if (!Number.isInteger(v) || v < min || v > max)
      throw new Error(`LORS slice: ${what} must be ${min}..${max}, got ${v} (${limits})`);
    return v;
  };
  const perStage = (g: number | readonly number[] | undefined, max: readonly number[], what: string): number[] => {
    if (g !== undefined && typeof g !== 'number' && g.length !== N) {
      throw new Error(`LORS slice: ${what}: ${g.length} values for ${N} stages`);
    }
    return max.map((m, i) =>
      fit(g === undefined ? m : typeof g === 'number' ? g : g[i]!, m, `stage ${i}: K of ${what}`),
    );
  };
  const lors: LorsConfig = {
    rankA: fit(req.rankA ?? lo.rankA, lo.rankA, 'rank r of LORS^A', 0),
    groupsA: perStage(req.groupsA, lo.groupsA, 'LORS^A'),
    rankT: fit(req.rankT ?? lo.rankT, lo.rankT, 'rank r of LORS^T', 0),
    groupsT: perStage(req.groupsT, lo.groupsT, 'LORS^T'),
  };
  return { ...src, lors };
}

/** Copies the listed rows (each `width` long) of `a`. */
function rows(a: Float32Array, idx: number[], width: number): Float32Array {
  const out = new Float32Array(idx.length * width);
  idx.forEach((r, i) => out.set(a.subarray(r * width, (r + 1) * width), i * width));
  return out;
}

/** a [n, p, q] → [idx.length, p', q'] with p' ≤ p, q' ≤ q leading entries, n-index picked by idx. */
function block3(
  a: Float32Array,
  [, p, q]: [number, number, number],
  idx: number[],
  p2: number,
  q2: number,
): Float32Array {
  const out = new Float32Array(idx.length * p2 * q2);
  idx.forEach((n, i) => {
    for (let y = 0; y < p2; y++) out.set(a.subarray((n * p + y) * q, (n * p + y) * q + q2), (i * p2 + y) * q2);
  });
  return out;
}

/** Slices ordered LORS arrays (names of parameterSpec(src)) to `req`. Returns (config, arrays in spec order). */
export function sliceLors(
  src: ModelConfig,
  arrays: Map<string, Float32Array>,
  req: LorsSlice,
  mode: SliceMode = 'strict',
): { config: ModelConfig; arrays: Map<string, Float32Array> } {
  const config = sliceConfig(src, req, mode);
  const lo = src.lors!,
    to = config.lors!;
  const d = src.decoder;
  const { G, C } = dims(d);
  const get = (name: string, n: number): Float32Array => {
    const a = arrays.get(name);
    if (!a) throw new Error(`LORS slice: ${name} is missing`);
    if (a.length !== n) throw new Error(`LORS slice: ${name} has ${a.length} values, expected ${n}`);
    return a;
  };
  const out = new Map<string, Float32Array>();
  const r = lo.rankA,
    r2 = to.rankA,
    dq = d.dQuery;
  for (let i = 0; i < d.stages; i++) {
    const K = lo.groupsA[i]!,
      K2 = to.groupsA[i]!;
    const st = `stages.${i}.lorsA`;
    const genRows: number[] = [];
    for (let part = 0; part < 2; part++) {
      for (let g = 0; g < G; g++) {
        for (let k = 0; k < K2; k++) {
          const j = part * G * K + g * K + k;
          for (let a = 0; a < r2; a++) for (let b = 0; b < r2; b++) genRows.push((j * r + a) * r + b);
        }
      }
    }
    const nGen = 2 * G * K * r * r;
    out.set(`${st}.generator.weight`, rows(get(`${st}.generator.weight`, nGen * dq), genRows, dq));
    out.set(`${st}.generator.bias`, rows(get(`${st}.generator.bias`, nGen), genRows, 1));
    const trip: number[] = [];
    for (let g = 0; g < G; g++) for (let k = 0; k < K2; k++) trip.push(g * K + k);
    const gk = G * K;
    out.set(`${st}.ml`, block3(get(`${st}.ml`, gk * C * r), [gk, C, r], trip, C, r2));
    out.set(`${st}.sl`, block3(get(`${st}.sl`, gk * d.pointsOut * r), [gk, d.pointsOut, r], trip, d.pointsOut, r2));
    out.set(`${st}.mr`, block3(get(`${st}.mr`, gk * r * C), [gk, r, C], trip, r2, C));
    out.set(`${st}.sr`, block3(get(`${st}.sr`, gk * r * d.pointsIn), [gk, r, d.pointsIn], trip, r2, d.pointsIn));
    const KT = lo.groupsT[i]!,
      KT2 = to.groupsT[i]!,
      rt = lo.rankT,
      rt2 = to.rankT;
    const outIn = dims(d).outIn;
    const tk = Array.from({ length: KT2 }, (_, k) => k);
    out.set(`stages.${i}.lorsT.B`, block3(get(`stages.${i}.lorsT.B`, KT * dq * rt), [KT, dq, rt], tk, dq, rt2));
    out.set(
      `stages.${i}.lorsT.A`,
      block3(get(`stages.${i}.lorsT.A`, KT * rt * outIn), [KT, rt, outIn], tk, rt2, outIn),
    );
  }
  const ordered = new Map<string, Float32Array>();
  for (const p of parameterSpec(config)) {
    const a = out.get(p.name) ?? arrays.get(p.name);
    if (!a) throw new Error(`LORS slice: ${p.name} is missing`);
    ordered.set(p.name, a);
  }
  return { config, arrays: ordered };
}
