import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeConfig, type ModelConfig } from '../config';
import { foldLorsA, foldLorsT, foldToVanilla } from '../lors/fold';
import { applyNeck, decoderForward, topK } from './decoder';
import { checkWeights, prepareWeights } from './prepare';
import {
  disposeWeights,
  jsDecoder,
  jsNeck,
  maxErr,
  randomLevels,
  randomWeights,
  toJsMap,
  toJsWeights,
} from '../../testing/reference';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

// Two images of different sizes letterboxed into one padded 72 × 48 batch.
const PAD_W = 72,
  PAD_H = 48;
const SIZES: [number, number][] = [
  [70, 40],
  [50, 48],
];

/** fold: which LORS folds to add; prepare: prepareWeights before or after the folds (or not at all). */
async function compareWithReference(
  cfg: ModelConfig,
  seed: number,
  opts: Parameters<typeof decoderForward>[4] = {},
  fold?: 'A' | 'T' | 'AT',
  prepare?: 'before' | 'after',
) {
  const raw = randomWeights(cfg, seed);
  const js = await toJsWeights(raw);
  let weights = raw;
  const added: tf.Tensor[] = [];
  const prep = () => {
    const p = prepareWeights(weights, cfg);
    expect(p.added.length).toBeGreaterThan(0);
    added.push(...p.added.map((n) => p.weights.get(n)!));
    weights = p.weights;
  };
  if (prepare === 'before') prep();
  if (fold?.includes('T')) {
    const f = foldLorsT(weights, cfg);
    weights = f.weights;
    added.push(...f.added.map((n) => f.weights.get(n)!));
  }
  if (fold?.includes('A')) {
    const f = foldLorsA(weights, cfg);
    weights = f.weights;
    added.push(...f.added.map((n) => f.weights.get(n)!));
  }
  if (prepare === 'after') prep();
  const levels = randomLevels(cfg, SIZES.length, PAD_W, PAD_H, seed + 1);
  const before = tf.memory().numTensors;
  const out = decoderForward(weights, cfg, levels, SIZES, { ...opts, stages: 'all' });
  expect(tf.memory().numTensors).toBe(before + 2 * cfg.decoder.stages);
  const d = cfg.decoder;
  const ref = jsDecoder(js, cfg, await Promise.all(levels.map(toJsMap)), SIZES);
  let worst = 0;
  for (let i = 0; i < d.stages; i++) {
    const { logits, boxes } = out[i]!;
    expect(logits.shape).toEqual([SIZES.length, d.queries, d.classes]);
    expect(boxes.shape).toEqual([SIZES.length, d.queries, 4]);
    const lg = await logits.data();
    const bx = await boxes.data();
    expect(lg.every(Number.isFinite) && bx.every(Number.isFinite)).toBe(true);
    const e1 = maxErr(
      lg,
      ref[i]!.flatMap((p) => p.logits.flat()),
    ).rel;
    const e2 = maxErr(
      bx,
      ref[i]!.flatMap((p) => p.boxes.flat()),
    ).rel;
    worst = Math.max(worst, e1, e2);
    if (i === 0) expect(Math.max(e1, e2)).toBeLessThan(2e-5); // first stage: float32 rounding only
    if (process.env.DEBUG_ERR) console.log('stage', i, e1, e2);
  }
  tf.dispose(out.flatMap((o) => [o.logits, o.boxes]));
  tf.dispose(levels);
  tf.dispose(added);
  disposeWeights(raw);
  return worst;
}

// Float32 vs float64: stage 0 agrees to ~1e-6; the error grows through the 6 refinements (≈3e-4 relative on the
// last stage's boxes with these random weights); a wrong formula gives O(1) errors.
describe('decoderForward against the plain-JS reference (tiny, B = 2, all stages)', () => {
  it('vanilla', async () => {
    expect(await compareWithReference(makeConfig('tiny', 'vanilla'), 1)).toBeLessThan(1e-3);
  });
  it('vanilla 4×32 layout (G = 4, P_in = 2)', async () => {
    expect(await compareWithReference(makeConfig('tiny', 'vanilla4x32'), 2)).toBeLessThan(1e-3);
  });
  it('LORS factored', async () => {
    expect(
      await compareWithReference(makeConfig('tiny', 'lors'), 3, { lorsA: 'factored', lorsT: 'factored' }),
    ).toBeLessThan(1e-3);
  });
  it('LORS with foldLorsT and foldLorsA', async () => {
    expect(
      await compareWithReference(makeConfig('tiny', 'lors'), 3, { lorsA: 'folded', lorsT: 'folded' }, 'AT'),
    ).toBeLessThan(1e-3);
  });
  it('LORS with foldLorsT only (auto paths)', async () => {
    expect(
      await compareWithReference(makeConfig('tiny', 'lors', { groups: 2, rankA: 3, groupsT: 2 }), 4, {}, 'T'),
    ).toBeLessThan(1e-3);
  });
});

describe('decoderForward with prepareWeights (transposed Linear weights) against the plain-JS reference', () => {
  it('vanilla', async () => {
    expect(await compareWithReference(makeConfig('tiny', 'vanilla'), 1, {}, undefined, 'after')).toBeLessThan(1e-3);
  });
  it('LORS factored (A_catᵀ, B_catᵀ)', async () => {
    expect(
      await compareWithReference(
        makeConfig('tiny', 'lors', { groupsT: [1, 2, 1, 3, 1, 2] }),
        3,
        { lorsA: 'factored', lorsT: 'factored' },
        undefined,
        'after',
      ),
    ).toBeLessThan(1e-3);
  });
  it('LORS folded (A and T), then prepared', async () => {
    expect(
      await compareWithReference(makeConfig('tiny', 'lors'), 3, { lorsA: 'folded', lorsT: 'folded' }, 'AT', 'after'),
    ).toBeLessThan(1e-3);
  });
  it('LORS prepared, then folded (the folds add prepared weights)', async () => {
    expect(
      await compareWithReference(makeConfig('tiny', 'lors'), 5, { lorsA: 'folded', lorsT: 'folded' }, 'AT', 'before'),
    ).toBeLessThan(1e-3);
  });
  it('LORS: foldLorsT then prepared, LORS^A factored (the app path)', async () => {
    expect(
      await compareWithReference(
        makeConfig('tiny', 'lors', { groups: 2, rankA: 3, groupsT: 2 }),
        4,
        { lorsA: 'factored', lorsT: 'folded' },
        'T',
        'after',
      ),
    ).toBeLessThan(1e-3);
  });
});

describe('decoderForward', () => {
  it('leaks nothing inside tf.tidy, and returns only the last stage by default', async () => {
    const cfg = makeConfig('tiny', 'lors');
    const weights = randomWeights(cfg, 8);
    const levels = randomLevels(cfg, 1, 64, 64, 9);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      decoderForward(weights, cfg, levels, [[64, 60]], { stages: 'all' });
    });
    expect(tf.memory().numTensors).toBe(before);
    const out = decoderForward(weights, cfg, levels, [[64, 60]]);
    expect(out).toHaveLength(1);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([out[0]!.logits, out[0]!.boxes]);
    tf.dispose(levels);
    disposeWeights(weights);
  });

  it('runs the web and paper presets (10 queries; 1 stage for paper) with finite outputs', async () => {
    const few = (c: ModelConfig): ModelConfig => ({ ...c, decoder: { ...c.decoder, queries: 10 } }); // keeps the test fast on wasm
    for (const cfg of [
      few(makeConfig('web', 'lors')),
      few(makeConfig('web', 'vanilla')),
      few(makeConfig('paper', 'lors', { stages: 1 })),
    ]) {
      const t0 = Date.now();
      const weights = randomWeights(cfg, 5);
      const levels = randomLevels(cfg, 1, 64, 96, 6);
      const before = tf.memory().numTensors;
      const [out] = decoderForward(weights, cfg, levels, [[60, 90]]);
      expect(out!.logits.shape).toEqual([1, cfg.decoder.queries, cfg.decoder.classes]);
      expect(out!.boxes.shape).toEqual([1, cfg.decoder.queries, 4]);
      expect((await out!.logits.data()).every(Number.isFinite)).toBe(true);
      expect((await out!.boxes.data()).every(Number.isFinite)).toBe(true);
      tf.dispose([out!.logits, out!.boxes]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(levels);
      disposeWeights(weights);
      if (process.env.DEBUG_ERR) console.log(cfg.preset, cfg.variant, Date.now() - t0, 'ms');
    }
  });

  it('gives clear errors for bad input', () => {
    const cfg = makeConfig('tiny', 'vanilla');
    const weights = randomWeights(cfg, 1);
    const levels = randomLevels(cfg, 1, 32, 32);
    expect(() =>
      decoderForward(weights, cfg, levels, [
        [32, 32],
        [32, 32],
      ]),
    ).toThrow(/2 image sizes for a batch of 1/);
    expect(() => decoderForward(weights, cfg, levels.slice(1), [[32, 32]])).toThrow(/3 feature levels/);
    const w2 = new Map(weights);
    w2.delete('stages.2.ffn.fc1.weight');
    expect(() => decoderForward(w2, cfg, levels, [[32, 32]])).toThrow(/"stages.2.ffn.fc1.weight" is missing/);
    expect(() => decoderForward(weights, makeConfig('tiny', 'lors'), levels, [[32, 32]])).toThrow(
      /"stages.0.lorsA.ml" is missing/,
    );
    tf.dispose(levels);
    disposeWeights(weights);
  });
});

describe('foldToVanilla: a folded LORS model is a vanilla decoder', () => {
  it('runs as a vanilla config with exactly the outputs of the LORS folded path, without the factors', async () => {
    const cfg = makeConfig('tiny', 'lors');
    const n0 = tf.memory().numTensors;
    const raw = randomWeights(cfg, 5);
    const levels = randomLevels(cfg, 2, PAD_H, PAD_W, 6);
    const folded = foldLorsA(foldLorsT(raw, cfg).weights, cfg).weights;
    const asLors = prepareWeights(folded, cfg).weights;
    const v = foldToVanilla(raw, cfg);
    const asVanilla = prepareWeights(v.weights, v.config).weights;
    expect(v.config.variant).toBe('vanilla');
    expect(v.config.lors).toBeUndefined();
    expect(() => checkWeights(asVanilla, v.config)).not.toThrow();
    expect([...asVanilla.keys()].some((n) => n.includes('lors'))).toBe(false);
    const out = async (w: typeof raw, c: ModelConfig, opts = {}) => {
      const preds = decoderForward(w, c, levels, SIZES, { stages: 'all', ...opts });
      const data = await Promise.all(preds.flatMap((p) => [p.logits.data(), p.boxes.data()]));
      tf.dispose(preds.flatMap((p) => [p.logits, p.boxes]));
      return data.map((d) => Array.from(d));
    };
    expect(await out(asVanilla, v.config)).toEqual(await out(asLors, cfg, { lorsA: 'folded', lorsT: 'folded' }));
    const maps = [raw, folded, asLors, v.weights, asVanilla];
    tf.dispose([...levels, ...new Set(maps.flatMap((m) => [...m.values()]))]);
    expect(tf.memory().numTensors).toBe(n0);
  });
});

describe('applyNeck', () => {
  it('1×1 conv + shared GroupNorm per level matches the reference', async () => {
    const cfg = makeConfig('tiny', 'vanilla');
    const weights = randomWeights(cfg, 12);
    const js = await toJsWeights(weights);
    const levels = randomLevels(cfg, 2, 40, 24, 13);
    const out = applyNeck(weights, cfg, levels);
    const ref = jsNeck(js, cfg, await Promise.all(levels.map(toJsMap)));
    for (let l = 0; l < levels.length; l++) {
      expect(out[l]!.shape).toEqual([2, levels[l]!.shape[1], levels[l]!.shape[2], cfg.decoder.dFeat]);
      expect(maxErr(await out[l]!.data(), ref[l]!.data).abs).toBeLessThan(1e-4);
    }
    tf.dispose([...out, ...levels]);
    disposeWeights(weights);
  });
});

describe('topK', () => {
  it('hand case: sigmoid, flatten L·classes, label = idx % classes, box = boxes[idx // classes]', async () => {
    // B = 2, L = 2, classes = 3
    const logits = tf.tensor3d([
      [
        [0, 2, -1],
        [3, -5, 1],
      ],
      [
        [-2, -2, -2],
        [-1, 4, -3],
      ],
    ]);
    const boxes = tf.tensor3d([
      [
        [0, 0, 10, 10],
        [5, 5, 20, 20],
      ],
      [
        [1, 2, 3, 4],
        [6, 7, 8, 9],
      ],
    ]);
    const before = tf.memory().numTensors;
    const res = await topK(logits, boxes);
    expect(tf.memory().numTensors).toBe(before);
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    expect(res).toHaveLength(2);
    // image 0, k = L = 2: logits 3 (query 1, class 0), 2 (query 0, class 1)
    expect(Array.from(res[0]!.labels)).toEqual([0, 1]);
    expect(res[0]!.scores[0]).toBeCloseTo(sig(3), 6);
    expect(res[0]!.scores[1]).toBeCloseTo(sig(2), 6);
    expect(Array.from(res[0]!.boxes)).toEqual([5, 5, 20, 20, 0, 0, 10, 10]);
    // image 1: 4 (query 1, class 1), −1 (query 1, class 0)
    expect(Array.from(res[1]!.labels)).toEqual([1, 0]);
    expect(Array.from(res[1]!.boxes)).toEqual([6, 7, 8, 9, 6, 7, 8, 9]);
    const three = await topK(logits, boxes, 3);
    expect(Array.from(three[0]!.labels)).toEqual([0, 1, 2]);
    expect(three[0]!.scores[2]).toBeCloseTo(sig(1), 6);
    await expect(topK(logits, boxes, 7)).rejects.toThrow(/k must be/);
    tf.dispose([logits, boxes]);
  });
});
