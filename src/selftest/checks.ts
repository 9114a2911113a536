/**
 * The self-test page (selftest.html): runs the building blocks on WebGPU and on wasm and reports the largest absolute difference.
 *
 * - The tiny vanilla and LORS decoders (makeConfig('tiny', …)) with the seeded initial weights initWeights(cfg, 0)
 *   and with non-degenerate random weights (every path non-zero), on seeded random backbone features of a 64×64
 *   input; every stage's logits and boxes are compared. LORS runs factored and with LORS^T folded.
 * - NanoDet-g once at 64×64 on a seeded random photo: the three PAN levels and its head outputs.
 * - On WebGPU only: every fused decoder kernel, a fused stage and the fused decoder (vanilla, LORS folded) against
 *   the tfjs-op path on the same backend, and no tensor left by a fused forward (fusedChecks.ts).
 *
 * Kept small on purpose: SwiftShader's WebGPU (headless Chrome without a GPU) is correct but very slow.
 */
import * as tf from '@tensorflow/tfjs';
import { decodeXyzr, initialXyzr, iof } from '../model/adamixer/boxes';
import { applyNeck, decoderForward } from '../model/adamixer/decoder';
import { adaptiveMixing } from '../model/adamixer/mixing';
import { VARIANT_NAMES, VARIANTS } from '../model/variants';
import { splitMixingParams } from '../model/nn/generator';
import { linear } from '../model/nn/ops';
import { positionEmbedding } from '../model/adamixer/positional';
import { sampleFeatures } from '../model/adamixer/sampling';
import { selfAttention, stageForward } from '../model/adamixer/stage';
import { Rng } from '../model/random';
import { randomLevels, randomWeights, rng, uniformTensor } from '../testing/reference';
import { dims } from '../model/config';
import { lorsAMixingParams } from '../model/lors/lorsA';
import { lorsTOutput } from '../model/lors/lorsT';
import { loadNanoDet } from '../model/backbone';
import { initBackend } from '../model/backend';
import { makeConfig } from '../model/config';
import { foldLorsT } from '../model/lors/fold';
import type { BackendName, WeightMap } from '../model/types';
import { initWeights } from '../model/weights/init';
import { cachedReader } from '../worker/cachedFetch';
import { fusedChecks } from './fusedChecks';
import type { SelftestCheck, SelftestResult } from './result';

export type { SelftestCheck, SelftestResult } from './result';

const INPUT = 64;
/** Largest accepted |webgpu − wasm| (reported, asserted by the e2e test). */
export const TOLERANCE = 1e-3;
/**
 * Marks a check that is reported but not asserted: tfjs-backend-webgpu 4.22's AddN binds one storage buffer per
 * input, and with 8+ inputs it exceeds maxStorageBuffersPerShaderStage (8 by default, output included) and
 * returns wrong values. Model code must add at most 7 tensors per tf.addN.
 */
const INFO = '(informational: tfjs-webgpu AddN limit)';

/**
 * Allowed |webgpu − wasm| of a check: 1e-3 absolute; for non-degenerate random weights (whose large activations
 * amplify float32 rounding through the stages) 1e-3 relative to the largest |value|; informational checks: any.
 */
function toleranceFor(name: string, maxAbs: number): number {
  if (name.includes('informational')) return Infinity;
  if (name.includes('random weights') || name.includes('stageForward')) return TOLERANCE * Math.max(1, maxAbs);
  return TOLERANCE;
}
/** Resized (unpadded) image inside the 64×64 input. */
const IMAGE: [number, number] = [64, 48];

/** Values of a check, with named segments (stage s logits / boxes) to locate a mismatch. */
interface Output {
  data: Float32Array;
  segments: { name: string; start: number; end: number }[];
}
type Outputs = Map<string, Output>;
const whole = (data: Float32Array): Output => ({ data, segments: [{ name: 'all', start: 0, end: data.length }] });

/** A seeded RGBA photo, so both backends see identical pixels. */
function seededPhoto(w: number, h: number, seed: number): Uint8ClampedArray {
  const r = new Rng(seed);
  const out = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < out.length; i++) out[i] = (i & 3) === 3 ? 255 : r.nextU32() & 255;
  return out;
}

/**
 * Each building block of stage 0 alone, on identical seeded inputs (not on the previous block's output), so a
 * mismatch points at one block.
 */
async function blockChecks(out: Outputs, ms: Map<string, number>): Promise<void> {
  const van = makeConfig('tiny', 'vanilla');
  const lors = makeConfig('tiny', 'lors');
  const d = van.decoder;
  const { G, C } = dims(d);
  const L = d.queries;
  const rand = rng(99);
  const t = (shape: number[], lo: number, hi: number) => uniformTensor(shape, lo, hi, rand);
  const wv = randomWeights(van, 5);
  const wl = randomWeights(lors, 6);
  const raw = randomLevels(van, 1, INPUT, INPUT, 8);
  const necked = d.strides.map(
    (st) => t([1, Math.ceil(INPUT / st), Math.ceil(INPUT / st), d.dFeat], -2, 2) as tf.Tensor4D,
  );
  const xyzr = tf.tidy(() =>
    tf.add(initialXyzr([IMAGE], L), tf.mul(t([1, L, 4], -0.5, 0.5), tf.tensor1d([16, 16, 1, 0.5]))),
  ) as tf.Tensor3D;
  const q = t([1, L, d.dQuery], -1, 1) as tf.Tensor3D;
  const off = t([1, L, G * d.pointsIn * 3], -1, 1);
  const xs = t([1, L, G, d.pointsIn, C], -1, 1);
  const idx = tf.tensor1d(
    Int32Array.from({ length: 300 }, () => Math.floor(rand() * 200)),
    'int32',
  );
  const blocks: [string, () => tf.Tensor[]][] = [
    ['op: tf.addN of 3 tensors', () => [tf.addN(Array.from({ length: 3 }, () => t([64, 16], -1, 1)))]],
    ['op: tf.addN of 7 tensors', () => [tf.addN(Array.from({ length: 7 }, () => t([64, 16], -1, 1)))]],
    [`op: tf.addN of 8 tensors ${INFO}`, () => [tf.addN(Array.from({ length: 8 }, () => t([64, 16], -1, 1)))]],
    ['op: tf.gather rows (int32 indices)', () => [tf.gather(t([200, 16], -1, 1), idx)]],
    ['neck (1×1 conv + GroupNorm)', () => applyNeck(wv, van, raw)],
    ['positionEmbedding', () => [positionEmbedding(xyzr, d.dQuery)]],
    ['iof of decoded boxes', () => [iof(decodeXyzr(xyzr))]],
    ['selfAttention (stage 0)', () => [selfAttention(wv, van, 0, q, xyzr)]],
    ['sampleFeatures (3D sampling)', () => [sampleFeatures(necked, xyzr, off, van)]],
    [
      'vanilla generator + adaptiveMixing',
      () => {
        const { Mc, Ms } = splitMixingParams(linear(q, wv, 'stages.0.mixing.generator'), van.decoder);
        return [Mc, Ms, adaptiveMixing(xs, Mc, Ms)];
      },
    ],
    [
      'LORS^A mixing params (factored, stage 5)',
      () => {
        const { Mc, Ms } = lorsAMixingParams(wl, lors, 5, q, 'factored');
        return [Mc, Ms];
      },
    ],
    [
      'LORS^T output (factored, stage 0)',
      () => [lorsTOutput(wl, lors, 0, q, t([1, L, G * d.pointsOut * C], -1, 1), 'factored')],
    ],
    [
      'vanilla stageForward (stage 0)',
      () => {
        const r = stageForward(wv, van, 0, q, xyzr, necked);
        return [r.q, r.xyzr, r.logits, r.boxes];
      },
    ],
    [
      'LORS stageForward (stage 0)',
      () => {
        const r = stageForward(wl, lors, 0, q, xyzr, necked, { lorsA: 'factored', lorsT: 'factored' });
        return [r.q, r.xyzr, r.logits, r.boxes];
      },
    ],
  ];
  for (const [name, f] of blocks) {
    const t0 = performance.now();
    let parts: tf.Tensor[] = [];
    try {
      parts = tf.tidy(f);
      const flat = tf.tidy(() => tf.concat(parts.map((p) => p.flatten())));
      const segments: Output['segments'] = [];
      let at = 0;
      parts.forEach((p, j) => {
        segments.push({ name: `output ${j + 1}`, start: at, end: at + p.size });
        at += p.size;
      });
      out.set(`block: ${name}`, { data: (await flat.data()) as Float32Array, segments });
      flat.dispose();
    } catch (e) {
      out.set(`block: ${name}`, {
        data: new Float32Array([NaN]),
        segments: [{ name: `threw: ${e instanceof Error ? e.message : String(e)}`, start: 0, end: 1 }],
      });
    } finally {
      tf.dispose(parts);
    }
    ms.set(`block: ${name}`, performance.now() - t0);
  }
  tf.dispose([...wv.values(), ...wl.values(), ...raw, ...necked, xyzr, q, off, xs, idx]);
}

async function runOn(
  backend: BackendName,
  base: string,
  wasmPaths: Record<string, string>,
  status: (m: string) => void,
): Promise<{ out: Outputs; ms: Map<string, number>; fused: SelftestCheck[] }> {
  const choice = await initBackend(backend, { wasmPaths });
  if (choice.backend !== backend)
    throw new Error(`self-test: could not use ${backend} (${choice.fallbackReason ?? 'unknown reason'})`);
  const out: Outputs = new Map();
  const ms = new Map<string, number>();
  const before = tf.memory().numTensors;

  status(`Self-test on ${backend}: building blocks…`);
  await blockChecks(out, ms);
  // The fused WebGPU decoder kernels against the tfjs-op path, both on WebGPU (fusedChecks.ts).
  const fused = backend === 'webgpu' ? await fusedChecks(status) : [];

  for (const variant of VARIANT_NAMES) {
    const cfg = makeConfig('tiny', variant);
    const kinds: [string, () => WeightMap][] = [
      ['init', () => initWeights(cfg, 0)],
      ['random', () => randomWeights(cfg, 3)],
    ];
    for (const [kind, make] of kinds) {
      const paths = VARIANTS[variant].output === 'lorsT' ? (['factored', 'folded'] as const) : (['factored'] as const);
      for (const path of paths) {
        const name = `tiny ${variant} decoder (${kind} weights${paths.length > 1 ? `, LORS^T ${path}` : ''})`;
        status(`Self-test on ${backend}: ${name}…`);
        const weights = make();
        const run = path === 'folded' ? foldLorsT(weights, cfg).weights : weights;
        const levels = randomLevels(cfg, 1, INPUT, INPUT, 7);
        const t0 = performance.now();
        const preds = decoderForward(run, cfg, levels, [IMAGE], {
          stages: 'all',
          lorsT: path === 'folded' ? 'folded' : 'factored',
          lorsA: 'factored',
        });
        const parts = preds.flatMap((p) => [p.logits, p.boxes]);
        const flat = tf.tidy(() => tf.concat(parts.map((t) => t.flatten())));
        const segments: Output['segments'] = [];
        let at = 0;
        parts.forEach((t, j) => {
          segments.push({
            name: `stage ${Math.floor(j / 2) + 1} ${j % 2 ? 'boxes' : 'logits'}`,
            start: at,
            end: at + t.size,
          });
          at += t.size;
        });
        out.set(name, { data: (await flat.data()) as Float32Array, segments });
        ms.set(name, performance.now() - t0);
        tf.dispose([flat, ...preds.flatMap((p) => [p.logits, p.boxes]), ...levels]);
        const owned = new Set(weights.values());
        for (const t of run.values()) if (!owned.has(t)) t.dispose();
        for (const t of weights.values()) t.dispose();
      }
    }
  }

  status(`Self-test on ${backend}: NanoDet-g at ${INPUT}×${INPUT}…`);
  const reader = cachedReader(new URL('models/nanodet/', base).href);
  const nano = await loadNanoDet(reader.read, INPUT);
  try {
    const t0 = performance.now();
    const f = nano.extract({ data: seededPhoto(INPUT, INPUT, 11), width: INPUT, height: INPUT });
    const parts = [...f.levels, ...(f.head?.scores ?? []), ...(f.head?.boxes ?? [])];
    const names = [
      'NanoDet PAN stride 8',
      'NanoDet PAN stride 16',
      'NanoDet PAN stride 32',
      'NanoDet head scores',
      'NanoDet head box logits',
    ];
    const levelData = await Promise.all(f.levels.map((t) => t.data() as Promise<Float32Array>));
    levelData.forEach((d, i) => out.set(names[i]!, whole(d)));
    const cat = async (ts: tf.Tensor[]) => {
      const c = tf.tidy(() => tf.concat(ts.map((t) => t.flatten())));
      const d = (await c.data()) as Float32Array;
      c.dispose();
      return d;
    };
    if (f.head) {
      out.set(names[3]!, whole(await cat(f.head.scores)));
      out.set(names[4]!, whole(await cat(f.head.boxes)));
    }
    const t = performance.now() - t0;
    for (const n of names) ms.set(n, t);
    tf.dispose(parts);
  } finally {
    nano.dispose();
  }
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`self-test on ${backend} left ${leaked} tensors allocated`);
  return { out, ms, fused };
}

export async function runSelftest(
  base: string,
  wasmPaths: Record<string, string>,
  status: (m: string) => void,
): Promise<SelftestResult> {
  const gpu = await runOn('webgpu', base, wasmPaths, status);
  const wasm = await runOn('wasm', base, wasmPaths, status);
  const checks: SelftestCheck[] = [];
  for (const [name, A] of gpu.out) {
    const B = wasm.out.get(name);
    if (!B) throw new Error(`self-test: ${name} missing on wasm`);
    const a = A.data,
      b = B.data;
    if (a.length !== b.length)
      throw new Error(`self-test: ${name} has ${a.length} values on webgpu, ${b.length} on wasm`);
    let max = 0,
      maxAbs = 0,
      nanWebgpu = 0,
      nanWasm = 0;
    const bad: string[] = [];
    for (let i = 0; i < b.length; i++) if (Number.isFinite(b[i]!)) maxAbs = Math.max(maxAbs, Math.abs(b[i]!));
    const tolerance = toleranceFor(name, maxAbs);
    for (const seg of A.segments) {
      let segMax = 0;
      for (let i = seg.start; i < seg.end; i++) {
        if (!Number.isFinite(a[i]!)) nanWebgpu++;
        if (!Number.isFinite(b[i]!)) nanWasm++;
        const d = Math.abs(a[i]! - b[i]!);
        segMax = Number.isNaN(d) || d === Infinity ? Infinity : Math.max(segMax, d);
      }
      if (segMax > tolerance) bad.push(`${seg.name} ${segMax.toExponential(2)}`);
      max = Math.max(max, segMax);
    }
    const check: SelftestCheck = {
      name,
      maxAbsDiff: max,
      tolerance,
      passed: max <= tolerance,
      size: a.length,
      webgpuMs: gpu.ms.get(name) ?? 0,
      wasmMs: wasm.ms.get(name) ?? 0,
      maxAbs,
      nonFiniteWebgpu: nanWebgpu,
      nonFiniteWasm: nanWasm,
    };
    if (bad.length) check.mismatches = bad.slice(0, 6);
    checks.push(check);
  }
  checks.push(...gpu.fused);
  status('Self-test done');
  return {
    backends: ['webgpu', 'wasm'],
    checks,
    maxAbsDiff: Math.max(...checks.map((c) => c.maxAbsDiff)),
    passed: checks.every((c) => c.passed),
  };
}
