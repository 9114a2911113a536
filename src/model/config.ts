/**
 * Model configurations: the AdaMixer decoder, its LORS variant, and the presets.
 *
 * Names follow the paper: a LORS^A / LORS^T block has a `shared` part and per-`stage` `private` low-rank parts
 * with `rank` r and `groups` K (K_i per stage). AdaMixer's own "sampling groups" G are called `samplingGroups`
 * so that "groups" always means LORS's K.
 */

import { hasLorsParts, isVariant, PLAIN_VARIANT, VARIANT_NAMES, type Variant } from './variants';

export interface DecoderConfig {
  /** d_q, the query (content) dimension. */
  dQuery: number;
  /** d_feat, the channel count the decoder samples from (after the neck's channel mapping). */
  dFeat: number;
  /** Attention heads of the box-aware self-attention. */
  heads: number;
  /** Hidden width of the FFN. */
  ffn: number;
  /** G, AdaMixer's sampling groups; C = dFeat / G channels per group. */
  samplingGroups: number;
  /** P_in, sampling points per group. */
  pointsIn: number;
  /** P_out, output points of the adaptive spatial mixing. */
  pointsOut: number;
  /** N, stacked decoder stages. */
  stages: number;
  /** L, queries. */
  queries: number;
  /** Object classes (COCO: 80). */
  classes: number;
  /** Strides of the feature levels the decoder samples (NanoDet PAN: 8, 16, 32). */
  strides: number[];
  /** Channels of the backbone's feature maps (NanoDet PAN: 128). */
  featChannels: number;
  /** GroupNorm groups of the neck's channel mapping. */
  neckGroups: number;
}

export interface LorsConfig {
  /** r of LORS^A (the adaptive generators of M_c and M_s). */
  rankA: number;
  /** K_i of LORS^A per stage: each sampling group has K_i (B, E, A) triplets. */
  groupsA: number[];
  /** r of LORS^T (the static L_output). */
  rankT: number;
  /** K_i of LORS^T per stage. */
  groupsT: number[];
}

/**
 * Where the queries' initial boxes come from: 'image' = AdaMixer's whole-image boxes (the paper); 'nanodet' = the
 * top detections of NanoDet-g's own head (class-agnostic NMS, best first, padded with whole-image boxes), as
 * two-stage DETR-style detectors do. A training choice recorded with the weights; it adds no parameters.
 */
export type QueryInit = 'image' | 'nanodet';
export const QUERY_INITS: readonly QueryInit[] = ['image', 'nanodet'];

export interface ModelConfig {
  preset: string;
  variant: Variant;
  decoder: DecoderConfig;
  /** Present iff the variant has LORS parts (variants.ts). */
  lors?: LorsConfig;
  /** Absent = 'image'. */
  queryInit?: QueryInit;
  /**
   * Divisor of the box centre x, y (input pixels) in the sin/cos box encoding (docs/model.md §3.1). Absent = 1000,
   * AdaMixer's value for ~1333-px inputs (every weights file written before the field existed); decoders trained
   * at 416 px may use 1000·416/1333 ≈ 312 for the same xy signal. A training choice recorded with the weights.
   */
  posScale?: number;
}

/** The LORS settings of a config whose variant has LORS parts; `what` names the caller when it has none. */
export function lorsOf(cfg: ModelConfig, what: string): LorsConfig {
  if (!cfg.lors) throw new Error(`${what} needs a lors config, got variant "${cfg.variant}"`);
  return cfg.lors;
}

export function queryInitOf(cfg: ModelConfig): QueryInit {
  return cfg.queryInit ?? 'image';
}

/** AdaMixer's divisor of x, y in the box encoding, the value of a config without `posScale`. */
export const DEFAULT_POS_SCALE = 1000;

export function posScaleOf(cfg: ModelConfig): number {
  return cfg.posScale ?? DEFAULT_POS_SCALE;
}

/** Derived sizes used all over the model. */
export function dims(d: DecoderConfig) {
  if (d.dFeat % d.samplingGroups !== 0)
    throw new Error(`dFeat ${d.dFeat} is not divisible by samplingGroups ${d.samplingGroups}`);
  if (d.dQuery % d.heads !== 0) throw new Error(`dQuery ${d.dQuery} is not divisible by heads ${d.heads}`);
  const C = d.dFeat / d.samplingGroups;
  const G = d.samplingGroups;
  return {
    C,
    G,
    /** Entries per group of the generated mixing parameters: C·C (M_c) + P_out·P_in (M_s). */
    genPerGroup: C * C + d.pointsIn * d.pointsOut,
    /** Output width of Linear_gen / LORS^A's shared generator. */
    genOut: G * (C * C + d.pointsIn * d.pointsOut),
    /** Input width of L_output: G·P_out·C. */
    outIn: G * d.pointsOut * C,
    /** Output width of Linear_off: G·P_in·3. */
    offOut: G * d.pointsIn * 3,
  };
}

const NANODET = { strides: [8, 16, 32], featChannels: 128, neckGroups: 32, classes: 80 };

/** A decoder on NanoDet's 3 PAN levels (instead of ResNet's 4), with d_feat = d_q, G = 2 and 6 stages. */
function presetDecoder(
  dQuery: number,
  heads: number,
  ffn: number,
  pointsIn: number,
  pointsOut: number,
  queries: number,
) {
  return { dQuery, dFeat: dQuery, heads, ffn, samplingGroups: 2, pointsIn, pointsOut, stages: 6, queries, ...NANODET };
}

/** The paper's LORS AdaMixer decoder (G=2, P_in=64). */
const PAPER: DecoderConfig = presetDecoder(256, 8, 2048, 64, 128, 100);
/**
 * A compact decoder of the same structure that trains on a 2-core CPU (docs/training.md, "The `web` preset").
 * d_feat = 128 equals NanoDet's channels.
 */
const WEB: DecoderConfig = presetDecoder(128, 8, 512, 32, 64, 100);
/** A tiny decoder for tests and cross-language fixtures (P_in = 4 is a perfect square: the grid offset init). */
const TINY: DecoderConfig = presetDecoder(32, 4, 64, 4, 8, 10);

export const PAPER_GROUPS = [1, 1, 2, 2, 3, 3];

export const PRESETS = {
  paper: {
    decoder: PAPER,
    lors: { rankA: 16, groupsA: PAPER_GROUPS, rankT: 8, groupsT: [1, 1, 1, 1, 1, 1] },
  },
  web: {
    decoder: WEB,
    lors: { rankA: 8, groupsA: PAPER_GROUPS, rankT: 8, groupsT: [1, 1, 1, 1, 1, 1] },
  },
  tiny: {
    decoder: TINY,
    lors: { rankA: 2, groupsA: PAPER_GROUPS, rankT: 2, groupsT: [1, 1, 1, 1, 1, 1] },
  },
} satisfies Record<string, { decoder: DecoderConfig; lors: LorsConfig }>;

export type PresetName = keyof typeof PRESETS;
/** `vanilla4x32` is AdaMixer's own G=4, P_in=32 (the paper's 110M baseline). */
export type VariantName = Variant | 'vanilla4x32';

export interface ConfigOverrides {
  rankA?: number;
  rankT?: number;
  /** One K for every stage, or one per stage. */
  groups?: number | number[];
  groupsT?: number | number[];
  stages?: number;
}

/** Stretches a per-stage K pattern to n stages (Table 8: [1,1,2,2,3,3] → 3 stages [1,2,3], 9 stages [1,1,1,2,2,2,3,3,3]). */
export function stretchGroups(pattern: number[], n: number): number[] {
  if (pattern.length === n) return [...pattern];
  return Array.from({ length: n }, (_, i) => pattern[Math.floor((i * pattern.length) / n)]!);
}

function perStage(v: number | number[], n: number, what: string): number[] {
  const arr = typeof v === 'number' ? new Array<number>(n).fill(v) : [...v];
  if (arr.length !== n) throw new Error(`${what}: expected ${n} per-stage values, got ${arr.length}`);
  for (const k of arr)
    if (!Number.isInteger(k) || k < 1) throw new Error(`${what}: every value must be an integer ≥ 1, got ${k}`);
  return arr;
}

export function makeConfig(preset: PresetName, variant: VariantName, o: ConfigOverrides = {}): ModelConfig {
  const p = PRESETS[preset];
  if (!p) throw new Error(`unknown preset "${String(preset)}" (expected ${Object.keys(PRESETS).join(', ')})`);
  let decoder: DecoderConfig = { ...p.decoder, strides: [...p.decoder.strides] };
  if (o.stages !== undefined) decoder.stages = o.stages;
  const n = decoder.stages;
  if (variant === 'vanilla4x32') {
    // AdaMixer's own 4×32 layout, scaled: twice the sampling groups, half the points.
    decoder = { ...decoder, samplingGroups: 2 * p.decoder.samplingGroups, pointsIn: p.decoder.pointsIn / 2 };
    return { preset, variant: PLAIN_VARIANT, decoder };
  }
  if (!isVariant(variant))
    throw new Error(`unknown variant "${String(variant)}" (expected ${[...VARIANT_NAMES, 'vanilla4x32'].join(', ')})`);
  if (!hasLorsParts(variant)) return { preset, variant, decoder };
  const rankA = o.rankA ?? p.lors.rankA;
  const rankT = o.rankT ?? p.lors.rankT;
  for (const [k, v] of [
    ['rankA', rankA],
    ['rankT', rankT],
  ] as const) {
    // r = 0: no private low-rank part (the paper's "shared only" ablation).
    if (!Number.isInteger(v) || v < 0) throw new Error(`${k} must be an integer ≥ 0, got ${v}`);
  }
  const groupsA = perStage(o.groups ?? stretchGroups(p.lors.groupsA, n), n, 'groups');
  const groupsT = perStage(o.groupsT ?? stretchGroups(p.lors.groupsT, n), n, 'groupsT');
  return { preset, variant, decoder, lors: { rankA, rankT, groupsA, groupsT } };
}

/** Parses "3" or "1,1,2,2,3,3". */
export function parseGroups(s: string): number | number[] {
  const parts = s.split(',').map((x) => x.trim());
  const nums = parts.map(Number);
  if (parts.some((x) => x === '') || nums.some((k) => !Number.isInteger(k) || k < 1)) {
    throw new Error(`groups must be an integer ≥ 1 or a comma list like 1,1,2,2,3,3; got "${s}"`);
  }
  return nums.length === 1 ? nums[0]! : nums;
}

/**
 * Default score threshold of the app, the CLI and `detect()`: the shipped decoders are briefly trained and their best
 * scores sit around 0.2–0.7 (docs/results.md), so the usual 0.3 would hide many right detections.
 */
export const DEFAULT_SCORE_THRESHOLD = 0.15;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
const show = (v: unknown) => (v === undefined ? 'missing' : JSON.stringify(v));

/** DecoderConfig's fields in declaration order (the order model.json lists them). */
const DECODER_KEYS: (keyof DecoderConfig)[] = [
  'dQuery',
  'dFeat',
  'heads',
  'ffn',
  'samplingGroups',
  'pointsIn',
  'pointsOut',
  'stages',
  'queries',
  'classes',
  'strides',
  'featChannels',
  'neckGroups',
];

/**
 * Checks that `raw` is a complete ModelConfig and returns a clean copy (unknown keys dropped).
 * Errors name the field ("config.decoder.pointsIn must be an integer ≥ 1, got -3").
 */
export function validateConfig(raw: unknown, where = 'config'): ModelConfig {
  const bad = (field: string, what: string, v: unknown): never => {
    throw new Error(`${where}.${field} must be ${what}, got ${show(v)}`);
  };
  if (!isObj(raw)) throw new Error(`${where} must be an object, got ${show(raw)}`);
  if (typeof raw.preset !== 'string' || raw.preset === '') bad('preset', 'a non-empty string', raw.preset);
  if (!isVariant(raw.variant)) bad('variant', VARIANT_NAMES.map((v) => `"${v}"`).join(' or '), raw.variant);
  const d = raw.decoder;
  if (!isObj(d)) return bad('decoder', 'an object', d);
  const decoder = {} as DecoderConfig;
  for (const k of DECODER_KEYS) {
    if (k === 'strides') {
      if (!Array.isArray(d.strides) || d.strides.length === 0 || !d.strides.every(isPosInt)) {
        bad('decoder.strides', 'a non-empty list of integers ≥ 1', d.strides);
      }
      decoder.strides = [...(d.strides as number[])];
      continue;
    }
    if (!isPosInt(d[k])) bad(`decoder.${k}`, 'an integer ≥ 1', d[k]);
    (decoder as unknown as Record<string, number>)[k] = d[k] as number;
  }
  try {
    dims(decoder);
  } catch (e) {
    throw new Error(`${where}.decoder: ${(e as Error).message}`);
  }
  const cfg: ModelConfig = { preset: raw.preset as string, variant: raw.variant as Variant, decoder };
  if (hasLorsParts(cfg.variant)) {
    const l = raw.lors;
    if (!isObj(l)) return bad('lors', `an object (rankA, groupsA, rankT, groupsT) for variant "${cfg.variant}"`, l);
    const lors = {} as LorsConfig;
    for (const k of ['rankA', 'rankT'] as const) {
      if (!isPosInt(l[k]) && l[k] !== 0) bad(`lors.${k}`, 'an integer ≥ 0 (0: shared only)', l[k]);
      lors[k] = l[k] as number;
    }
    for (const k of ['groupsA', 'groupsT'] as const) {
      const g = l[k];
      if (!Array.isArray(g) || g.length !== decoder.stages || !g.every(isPosInt)) {
        bad(`lors.${k}`, `a list of ${decoder.stages} integers ≥ 1 (one per stage)`, g);
      }
      lors[k] = [...(g as number[])];
    }
    cfg.lors = lors;
  } else if (raw.lors !== undefined && raw.lors !== null) {
    throw new Error(
      `${where}.lors is given but variant is "${cfg.variant}" (a ${cfg.variant} model has no LORS settings)`,
    );
  }
  if (raw.queryInit !== undefined) {
    if (!QUERY_INITS.includes(raw.queryInit as QueryInit))
      bad('queryInit', QUERY_INITS.map((q) => `"${q}"`).join(' or '), raw.queryInit);
    if (raw.queryInit !== 'image') cfg.queryInit = raw.queryInit as QueryInit;
  }
  if (raw.posScale !== undefined) {
    const s = raw.posScale;
    if (typeof s !== 'number' || !(s > 0) || !Number.isFinite(s))
      bad('posScale', 'a positive number (absent = 1000)', s);
    if (s !== DEFAULT_POS_SCALE) cfg.posScale = s as number;
  }
  return cfg;
}
