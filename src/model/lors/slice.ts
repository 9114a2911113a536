/**
 * Live LORS compression (issue #6): a LORS model whose private factors are stored in importance order (exported by
 * training/lors_studio/compress.py: `order_lors` for the trained LORS model, `lorsify` for the vanilla model compressed
 * into LORS) is cut to any rank r' ≤ r and group counts K'_i ≤ K_i by slicing, here on plain arrays (no tensors):
 *
 *   LORS^A, stage i (Eqs. 9–12): the E generator's rows (part, g, k < K'_i, a < r', b < r') of its
 *     [2, G, K_i, r, r] output layout; ml/sl [G·K_i, ·, r] → [G·K'_i, ·, r'], mr/sr [G·K_i, r, ·] → [G·K'_i, r', ·]
 *   LORS^T, stage i (Eqs. 7–8): B [K_T, d, r_T] → [K'_T, d, r'_T], A [K_T, r_T, in] → [K'_T, r'_T, in]
 *
 * Everything else (shared parts, attention, FFN, heads) is passed through (the same arrays, not copies).
 * training/lors_studio/compress.py `slice_lors` is the same function in PyTorch.
 */
import { dims, type LorsConfig, type ModelConfig } from '../config';
import { parameterSpec } from '../params';

export interface LorsSlice {
  rankA: number;
  /** K'_i of LORS^A per stage. */
  groupsA: number[];
  rankT: number;
  /** K'_T per stage (default: the source's). */
  groupsT?: number[];
}

/** The largest slice a source allows, and whether `s` fits in it (a message naming the first violation). */
export function checkSlice(src: ModelConfig, s: LorsSlice): string | undefined {
  const lo = src.lors;
  if (src.variant !== 'lors' || !lo) return 'slicing needs a LORS model';
  const N = src.decoder.stages;
  const int = (v: number) => Number.isInteger(v) && v >= 1;
  if (!int(s.rankA) || s.rankA > lo.rankA) return `rank r of LORS^A must be 1..${lo.rankA}, got ${s.rankA}`;
  if (!int(s.rankT) || s.rankT > lo.rankT) return `rank r of LORS^T must be 1..${lo.rankT}, got ${s.rankT}`;
  if (s.groupsA.length !== N) return `groups K of LORS^A: ${s.groupsA.length} values for ${N} stages`;
  const gt = s.groupsT ?? lo.groupsT;
  if (gt.length !== N) return `groups K of LORS^T: ${gt.length} values for ${N} stages`;
  for (let i = 0; i < N; i++) {
    if (!int(s.groupsA[i]!) || s.groupsA[i]! > lo.groupsA[i]!) return `stage ${i}: K of LORS^A must be 1..${lo.groupsA[i]}, got ${s.groupsA[i]}`;
    if (!int(gt[i]!) || gt[i]! > lo.groupsT[i]!) return `stage ${i}: K of LORS^T must be 1..${lo.groupsT[i]}, got ${gt[i]}`;
  }
  return undefined;
}

/** The slice clamped into what the source holds (r ≤ r_max, K'_i ≤ K_i). */
export function clampSlice(src: ModelConfig, s: LorsSlice): LorsSlice {
  const lo = src.lors;
  if (!lo) throw new Error('clampSlice needs a LORS config');
  const c = (v: number, max: number) => Math.max(1, Math.min(max, Math.round(v)));
  return {
    rankA: c(s.rankA, lo.rankA),
    rankT: c(s.rankT, lo.rankT),
    groupsA: lo.groupsA.map((k, i) => c(s.groupsA[i] ?? k, k)),
    groupsT: lo.groupsT.map((k, i) => c(s.groupsT?.[i] ?? k, k)),
  };
}

/** The config of a slice (the source's with the LORS settings replaced). */
export function slicedConfig(src: ModelConfig, s: LorsSlice): ModelConfig {
  const err = checkSlice(src, s);
  if (err) throw new Error(`LORS slice: ${err}`);
  const lors: LorsConfig = { rankA: s.rankA, groupsA: [...s.groupsA], rankT: s.rankT, groupsT: [...(s.groupsT ?? src.lors!.groupsT)] };
  return { ...src, lors };
}

/** Copies the listed rows (each `width` long) of `a`. */
function rows(a: Float32Array, idx: number[], width: number): Float32Array {
  const out = new Float32Array(idx.length * width);
  idx.forEach((r, i) => out.set(a.subarray(r * width, (r + 1) * width), i * width));
  return out;
}

/** a [n, p, q] → [idx.length, p', q'] with p' ≤ p, q' ≤ q leading entries, n-index picked by idx. */
function block3(a: Float32Array, [, p, q]: [number, number, number], idx: number[], p2: number, q2: number): Float32Array {
  const out = new Float32Array(idx.length * p2 * q2);
  idx.forEach((n, i) => {
    for (let y = 0; y < p2; y++) out.set(a.subarray((n * p + y) * q, (n * p + y) * q + q2), (i * p2 + y) * q2);
  });
  return out;
}

/** Slices ordered LORS arrays (names of parameterSpec(src)) to `s`. Returns (config, arrays in spec order). */
export function sliceLors(src: ModelConfig, arrays: Map<string, Float32Array>, s: LorsSlice): { config: ModelConfig; arrays: Map<string, Float32Array> } {
  const config = slicedConfig(src, s);
  const lo = src.lors!, to = config.lors!;
  const d = src.decoder;
  const { G, C } = dims(d);
  const get = (name: string, n: number): Float32Array => {
    const a = arrays.get(name);
    if (!a) throw new Error(`LORS slice: ${name} is missing`);
    if (a.length !== n) throw new Error(`LORS slice: ${name} has ${a.length} values, expected ${n}`);
    return a;
  };
  const out = new Map<string, Float32Array>();
  const r = lo.rankA, r2 = to.rankA, dq = d.dQuery;
  for (let i = 0; i < d.stages; i++) {
    const K = lo.groupsA[i]!, K2 = to.groupsA[i]!;
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
    const KT = lo.groupsT[i]!, KT2 = to.groupsT[i]!, rt = lo.rankT, rt2 = to.rankT;
    const outIn = dims(d).outIn;
    const tk = Array.from({ length: KT2 }, (_, k) => k);
    out.set(`stages.${i}.lorsT.B`, block3(get(`stages.${i}.lorsT.B`, KT * dq * rt), [KT, dq, rt], tk, dq, rt2));
    out.set(`stages.${i}.lorsT.A`, block3(get(`stages.${i}.lorsT.A`, KT * rt * outIn), [KT, rt, outIn], tk, rt2, outIn));
  }
  const ordered = new Map<string, Float32Array>();
  for (const p of parameterSpec(config)) {
    const a = out.get(p.name) ?? arrays.get(p.name);
    if (!a) throw new Error(`LORS slice: ${p.name} is missing`);
    ordered.set(p.name, a);
  }
  return { config, arrays: ordered };
}

/** Where a LORS model comes from: the trained LORS model, or the trained vanilla model compressed into LORS. */
export type LorsSource = 'trained' | 'vanilla';
export const LORS_SOURCES: readonly LorsSource[] = ['trained', 'vanilla'];
/** Folder under public/models/ of each source's ordered weights. */
export const LORS_SOURCE_DIRS: Record<LorsSource, string> = { trained: 'lors', vanilla: 'lors-from-vanilla' };

/** A slice as the CLIs take it: omitted values mean the source's own (its maximum). */
export interface SliceRequest {
  rankA?: number;
  rankT?: number;
  /** K of LORS^A: one value for every stage, or one per stage. */
  groupsA?: number | number[];
}

/** The slice a request describes for this source; throws (naming the limit) when it asks for more than the source has. */
export function resolveSlice(src: ModelConfig, req: SliceRequest): LorsSlice {
  const lo = src.lors;
  if (src.variant !== 'lors' || !lo) throw new Error('LORS slice: the weights are not a LORS model');
  const g = req.groupsA;
  const s: LorsSlice = {
    rankA: req.rankA ?? lo.rankA,
    rankT: req.rankT ?? lo.rankT,
    groupsA: g === undefined ? [...lo.groupsA] : typeof g === 'number' ? new Array<number>(src.decoder.stages).fill(g) : [...g],
  };
  const err = checkSlice(src, s);
  if (err) throw new Error(`LORS slice: ${err} (this model holds r_A ≤ ${lo.rankA}, r_T ≤ ${lo.rankT}, K ≤ [${lo.groupsA.join(', ')}])`);
  return s;
}
