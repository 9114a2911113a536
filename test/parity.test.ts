/**
 * Cross-language parity: the tfjs decoder (wasm backend) against the PyTorch mirror's outputs
 * (training/lors_studio/model.py, float64 reference of float32 weights). Fixtures: test/fixtures/parity/{vanilla,lors}
 * written by `python3 -m training.make_fixtures` (see case.json there for the layout).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  makeConfig,
  type ConfigOverrides,
  type ModelConfig,
  type PresetName,
  type VariantName,
} from '../src/model/config';
import { countParameters, parameterSpec } from '../src/model/params';
import type { DecoderSlot, FileReader, WeightMap } from '../src/model/types';
import { arraysToWeights, loadWeightArrays, loadWeights } from '../src/model/weights/io';
import { sliceLors } from '../src/model/lors/slice';
import { decoderForward, type DecoderOptions } from '../src/model/adamixer/decoder';
import { foldLorsA, foldLorsT } from '../src/model/lors/fold';

const FIXTURES = resolve(__dirname, 'fixtures/parity');

interface Slice {
  shape: number[];
  offset: number;
}
interface Case {
  variant: DecoderSlot;
  batch: number;
  imageSize: [number, number][];
  levels: (Slice & { stride: number })[];
  outputs: { stage: number; logits: Slice; boxes: Slice }[];
  tolerance: number;
}

function floats(path: string): Float32Array {
  const b = readFileSync(path);
  // Copy into an aligned buffer (Node's pooled Buffers may start at an odd offset).
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const slice = (a: Float32Array, s: Slice) => a.subarray(s.offset, s.offset + size(s.shape));

function dirReader(dir: string): FileReader {
  return async (path) => {
    const b = readFileSync(join(dir, path));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  };
}

function maxAbsDiff(a: Float32Array | Int32Array | Uint8Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

interface Loaded {
  c: Case;
  config: ModelConfig;
  weights: WeightMap;
  features: Float32Array;
  outputs: Float32Array;
}

async function load(variant: DecoderSlot): Promise<Loaded> {
  const dir = join(FIXTURES, variant);
  const c = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as Case;
  const { config, weights } = await loadWeights(dirReader(dir));
  return { c, config, weights, features: floats(join(dir, 'features.bin')), outputs: floats(join(dir, 'outputs.bin')) };
}

/** Runs the decoder on the fixture's features and returns the worst |diff| per stage (logits, boxes). */
async function compare(
  f: Loaded,
  weights: WeightMap,
  opts: DecoderOptions,
): Promise<{ logits: number; boxes: number }[]> {
  const levels = f.c.levels.map((l) => tf.tensor4d(slice(f.features, l), l.shape as [number, number, number, number]));
  const before = tf.memory().numTensors;
  const preds = decoderForward(weights, f.config, levels, f.c.imageSize, { ...opts, stages: 'all' });
  expect(preds.length).toBe(f.c.outputs.length);
  const res: { logits: number; boxes: number }[] = [];
  for (const [i, p] of preds.entries()) {
    const ref = f.c.outputs[i]!;
    expect(p.logits.shape).toEqual(ref.logits.shape);
    expect(p.boxes.shape).toEqual(ref.boxes.shape);
    res.push({
      logits: maxAbsDiff(await p.logits.data<'float32'>(), slice(f.outputs, ref.logits)),
      boxes: maxAbsDiff(await p.boxes.data<'float32'>(), slice(f.outputs, ref.boxes)),
    });
  }
  tf.dispose(preds.flatMap((p) => [p.logits, p.boxes]));
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose(levels);
  return res;
}

function expectWithin(res: { logits: number; boxes: number }[], tol: number, what: string) {
  if (process.env.PARITY_VERBOSE)
    console.log(what, res.map((r) => `${r.logits.toExponential(1)}/${r.boxes.toExponential(1)}`).join(' '));
  res.forEach((r, i) => {
    expect(r.logits, `${what} stage ${i} logits max |diff|`).toBeLessThanOrEqual(tol);
    expect(r.boxes, `${what} stage ${i} boxes max |diff|`).toBeLessThanOrEqual(tol);
  });
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('parity with the PyTorch mirror (test/fixtures/parity)', () => {
  it('vanilla: every stage logits and boxes within 1e-4', async () => {
    const f = await load('vanilla');
    expect(f.config.variant).toBe('vanilla');
    expect(f.c.tolerance).toBe(1e-4);
    const res = await compare(f, f.weights, {});
    expectWithin(res, f.c.tolerance, 'vanilla');
    // The fixture uses a non-default box-encoding divisor (config posScale), read from model.json: with the
    // default 1000 instead the outputs leave the tolerance, so the value really reaches the decoder.
    expect(f.config.posScale).toBe(312);
    const asDefault = await compare({ ...f, config: { ...f.config, posScale: undefined } }, f.weights, {});
    expect(Math.max(...asDefault.map((r) => Math.max(r.logits, r.boxes)))).toBeGreaterThan(100 * f.c.tolerance);
    tf.dispose([...f.weights.values()]);
  });

  it('lors: factored, foldLorsT and foldLorsA paths all within 1e-4', async () => {
    const f = await load('lors');
    expect(f.config.variant).toBe('lors');
    expect(f.config.posScale).toBe(312);
    expectWithin(await compare(f, f.weights, { lorsA: 'factored', lorsT: 'factored' }), f.c.tolerance, 'lors factored');

    const foldedT = foldLorsT(f.weights, f.config).weights;
    expectWithin(await compare(f, foldedT, { lorsA: 'factored', lorsT: 'folded' }), f.c.tolerance, 'lors foldLorsT');

    const foldedA = foldLorsA(foldedT, f.config).weights;
    expectWithin(await compare(f, foldedA, { lorsA: 'folded', lorsT: 'folded' }), f.c.tolerance, 'lors foldLorsA+T');

    // The folds return new maps holding the original tensors plus the added ones: dispose each tensor once.
    tf.dispose([...new Set([...f.weights.values(), ...foldedT.values(), ...foldedA.values()])]);
  });
});

describe('live compression (test/fixtures/compress)', () => {
  it("the vanilla model compressed into LORS at full rank reproduces vanilla, whole or sliced to K' = 1", async () => {
    const f = await load('vanilla');
    tf.dispose([...f.weights.values()]);
    const { config: src, arrays } = await loadWeightArrays(
      dirReader(resolve(__dirname, 'fixtures/compress/lorsified-vanilla')),
    );
    expect(src.lors).toMatchObject({ rankA: 16, rankT: 32, groupsA: [2, 2, 2, 2, 2, 2] });
    for (const groups of [2, 1]) {
      const s = sliceLors(src, arrays, { rankA: 16, groupsA: new Array<number>(6).fill(groups), rankT: 32 });
      expect(countParameters(s.config).total).toBe([...s.arrays.values()].reduce((a, v) => a + v.length, 0));
      const w = arraysToWeights(s.config, s.arrays);
      const g = { ...f, config: s.config };
      expectWithin(
        await compare(g, w, { lorsA: 'factored', lorsT: 'factored' }),
        f.c.tolerance,
        `lorsified K=${groups} factored`,
      );
      const folded = foldLorsA(foldLorsT(w, s.config).weights, s.config).weights;
      expectWithin(
        await compare(g, folded, { lorsA: 'folded', lorsT: 'folded' }),
        f.c.tolerance,
        `lorsified K=${groups} folded`,
      );
      tf.dispose([...new Set([...w.values(), ...folded.values()])]);
    }
  });
});

describe('test/fixtures/param-spec.json (read by training/tests/test_model.py)', () => {
  it('is up to date with src/model/params.ts (regenerate: npx tsx scripts/dump-param-spec.ts)', () => {
    const file = JSON.parse(readFileSync(resolve(__dirname, 'fixtures/param-spec.json'), 'utf8')) as {
      configs: {
        label: string;
        args: { preset: PresetName; variant: VariantName; overrides: ConfigOverrides };
        config: ModelConfig;
        spec: unknown[];
      }[];
    };
    expect(file.configs.length).toBeGreaterThanOrEqual(12);
    for (const c of file.configs) {
      const cfg = makeConfig(c.args.preset, c.args.variant, c.args.overrides);
      expect(cfg, c.label).toEqual(c.config);
      expect(JSON.parse(JSON.stringify(parameterSpec(cfg))), c.label).toEqual(c.spec);
    }
  });
});
