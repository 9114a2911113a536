/**
 * The fused WebGPU decoder kernels (src/model/nn/webgpu, src/model/adamixer/webgpu) against the tfjs-op path they
 * replace, both on WebGPU, on identical seeded inputs of the tiny preset: each kernel alone, a whole stage, and the
 * whole decoder (vanilla, and LORS folded as the app runs it), every stage's logits and boxes. Also: a fused
 * forward leaves no tensor behind, and how many programs it dispatches.
 */
import * as tf from '@tensorflow/tfjs';
import { decodeXyzr, initialXyzr } from '../model/adamixer/boxes';
import { applyNeck, decoderForward, GN_EPS } from '../model/adamixer/decoder';
import { adaptiveMixing } from '../model/adamixer/mixing';
import { positionEmbedding } from '../model/adamixer/positional';
import { prepareWeights } from '../model/adamixer/prepare';
import { sampleFeatures } from '../model/adamixer/sampling';
import { selfAttention, stageForward } from '../model/adamixer/stage';
import {
  boxAttention,
  channelMixing,
  decodeBoxes,
  packLevels,
  posAdd,
  refineBoxes,
  sampleFeatures3d,
  spatialMixing,
} from '../model/adamixer/webgpu/kernels';
import { fusedInitialQueries, fusedNeck, fusedStageForward } from '../model/adamixer/webgpu/stage';
import { dims, makeConfig, type ModelConfig } from '../model/config';
import { foldToVanilla } from '../model/lors/fold';
import { splitMixingParams } from '../model/nn/generator';
import { exp2, getWeight, layerNorm, layerNormPlain, linear } from '../model/nn/ops';
import { countPrograms } from '../model/nn/webgpu/count';
import { linearFused, linearResidualLayerNorm, mlpHead } from '../model/nn/webgpu/kernels';
import type { WeightMap } from '../model/types';
import { randomLevels, randomWeights, rng, uniformTensor } from '../testing/reference';
import type { SelftestCheck } from './result';

/** Largest accepted |fused − ops| relative to max(1, max |ops|). */
export const FUSED_TOLERANCE = 1e-4;

type Parts = { name: string; t: tf.Tensor }[];

async function flat(parts: Parts): Promise<Float32Array> {
  const c = tf.tidy(() => tf.concat(parts.map((p) => p.t.flatten())));
  const d = (await c.data()) as Float32Array;
  c.dispose();
  return d;
}

/** Runs both sides (each returns named outputs, made inside tf.tidy), compares, disposes. */
async function compare(
  name: string,
  fused: () => Parts,
  ops: () => Parts,
  status: (m: string) => void = () => undefined,
): Promise<SelftestCheck> {
  const run = async (f: () => Parts) => {
    const t0 = performance.now();
    let parts: Parts = [];
    try {
      parts = tf
        .tidy(() => {
          const p = f();
          return p.map(({ t }) => t);
        })
        .map((t, i) => ({ name: `output ${i + 1}`, t }));
      const data = await flat(parts);
      return { data, sizes: parts.map((p) => p.t.size), ms: performance.now() - t0 };
    } finally {
      tf.dispose(parts.map((p) => p.t));
    }
  };
  const labels: string[] = [];
  const wrap = (f: () => Parts) => () => {
    const p = f();
    if (labels.length === 0) labels.push(...p.map((x) => x.name));
    return p;
  };
  let a: Awaited<ReturnType<typeof run>>, b: Awaited<ReturnType<typeof run>>;
  try {
    status(`${name}: fused path…`);
    a = await run(wrap(fused));
    status(`${name}: tfjs-op path…`);
    b = await run(wrap(ops));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return {
      name,
      maxAbsDiff: NaN,
      tolerance: FUSED_TOLERANCE,
      passed: false,
      size: 0,
      webgpuMs: 0,
      wasmMs: 0,
      maxAbs: 0,
      nonFiniteWebgpu: 0,
      nonFiniteWasm: 0,
      mismatches: [`threw: ${msg}`],
    };
  }
  if (a.data.length !== b.data.length) {
    return {
      name,
      maxAbsDiff: Infinity,
      tolerance: FUSED_TOLERANCE,
      passed: false,
      size: 0,
      webgpuMs: a.ms,
      wasmMs: b.ms,
      maxAbs: 0,
      nonFiniteWebgpu: 0,
      nonFiniteWasm: 0,
      mismatches: [`${a.data.length} fused values, ${b.data.length} op values`],
    };
  }
  let maxAbs = 0,
    nfA = 0,
    nfB = 0;
  for (let i = 0; i < b.data.length; i++) {
    if (Number.isFinite(b.data[i]!)) maxAbs = Math.max(maxAbs, Math.abs(b.data[i]!));
    else nfB++;
    if (!Number.isFinite(a.data[i]!)) nfA++;
  }
  const tolerance = FUSED_TOLERANCE * Math.max(1, maxAbs);
  let max = 0,
    at = 0;
  const bad: string[] = [];
  a.sizes.forEach((n, j) => {
    let seg = 0;
    for (let i = at; i < at + n; i++) {
      const d = Math.abs(a.data[i]! - b.data[i]!);
      seg = Number.isNaN(d) ? Infinity : Math.max(seg, d);
    }
    if (seg > tolerance) bad.push(`${labels[j] ?? `output ${j + 1}`} ${seg.toExponential(2)}`);
    max = Math.max(max, seg);
    at += n;
  });
  const check: SelftestCheck = {
    name,
    maxAbsDiff: max,
    tolerance,
    passed: max <= tolerance && a.data.length > 0,
    size: a.data.length,
    webgpuMs: a.ms,
    wasmMs: b.ms,
    maxAbs,
    nonFiniteWebgpu: nfA,
    nonFiniteWasm: nfB,
  };
  if (bad.length) check.mismatches = bad.slice(0, 6);
  return check;
}

const one = (t: tf.Tensor): Parts => [{ name: 'output', t }];
const INPUT = 64;
const IMAGE: [number, number] = [64, 48];

/** Weights as the app runs them (LORS folded into a vanilla decoder, then prepared), the config they run, all tensors. */
export function appWeights(raw: WeightMap, cfg: ModelConfig): { runs: ModelConfig; run: WeightMap; all: tf.Tensor[] } {
  const f = foldToVanilla(raw, cfg);
  const run = prepareWeights(f.weights, f.config).weights;
  return { runs: f.config, run, all: [...new Set([...raw.values(), ...f.weights.values(), ...run.values()])] };
}

/**
 * Every fused-vs-ops check, on the webgpu backend (the caller has set it); in each, webgpuMs is the fused path and
 * wasmMs the op path.
 */
export async function fusedChecks(status: (m: string) => void, only?: string): Promise<SelftestCheck[]> {
  if (tf.getBackend() !== 'webgpu') throw new Error(`fusedChecks: needs the webgpu backend, got ${tf.getBackend()}`);
  const checks: SelftestCheck[] = [];
  const van = makeConfig('tiny', 'vanilla');
  const lors = makeConfig('tiny', 'lors');
  const d = van.decoder;
  const { G, C } = dims(d);
  const L = d.queries;
  const rand = rng(123);
  const t = (shape: number[], lo: number, hi: number) => uniformTensor(shape, lo, hi, rand);
  const V = appWeights(randomWeights(van, 21), van);
  const F = appWeights(randomWeights(lors, 22), lors);
  const wv = V.run;
  const w = (name: string) => getWeight(wv, name);
  const raw = randomLevels(van, 1, INPUT, INPUT, 9);
  const necked = applyNeck(wv, van, raw);
  const xyzr = tf.tidy(() =>
    tf.add(initialXyzr([IMAGE], L), tf.mul(t([1, L, 4], -0.5, 0.5), tf.tensor1d([16, 16, 1, 0.5]))),
  ) as tf.Tensor3D;
  const q = t([1, L, d.dQuery], -1, 1) as tf.Tensor3D;
  const xs = t([1, L, G, d.pointsIn, C], -1, 1);
  const delta = t([1, L, 4], -0.3, 0.3);
  const { genOut, outIn } = dims(d);
  const gen = t([1, L, genOut], -0.3, 0.3);
  const hid = t([1, L, d.ffn], -1, 1);
  const mixed = t([1, L, outIn], -1, 1);
  const wT = (name: string) => w(`${name}.weightT`);
  const s0 = 'stages.0';
  /** The fused LN(res + x·W + b) with the weights of Linear `lin` and LayerNorm `norm`. */
  const residualNorm = (x: tf.Tensor, lin: string, res: tf.Tensor, norm: string) =>
    linearResidualLayerNorm(x, wT(lin), w(`${lin}.bias`), res, w(`${norm}.weight`), w(`${norm}.bias`));
  const mix = { G, C, Pin: d.pointsIn, Pout: d.pointsOut };
  const kernels: [string, () => Parts, () => Parts][] = [
    [
      'linearFused (fused matMul + bias + ReLU)',
      () => one(linearFused(q, wT(`${s0}.ffn.fc1`), w(`${s0}.ffn.fc1.bias`), true)),
      () => one(linear(q, wv, `${s0}.ffn.fc1`, 'relu')),
    ],
    [
      'linearResidualLayerNorm (FFN fc2 + residual + LayerNorm)',
      () => one(residualNorm(hid, `${s0}.ffn.fc2`, q, `${s0}.ffnNorm`)),
      () => one(layerNorm(tf.add(q, linear(hid, wv, `${s0}.ffn.fc2`)), wv, `${s0}.ffnNorm`)),
    ],
    [
      'mlpHead (cls branch: fc → LayerNorm → ReLU → out)',
      () =>
        one(
          mlpHead(
            q,
            wT(`${s0}.cls.fc`),
            w(`${s0}.cls.fc.bias`),
            w(`${s0}.cls.norm.weight`),
            w(`${s0}.cls.norm.bias`),
            wT(`${s0}.cls.out`),
            w(`${s0}.cls.out.bias`),
          ),
        ),
      () => one(linear(tf.relu(layerNorm(linear(q, wv, `${s0}.cls.fc`), wv, `${s0}.cls.norm`)), wv, `${s0}.cls.out`)),
    ],
    [
      'layerNormRows (initial queries)',
      () => one(fusedInitialQueries(wv, van, 2)),
      () => one(tf.broadcastTo(layerNormPlain(w('queries.content')), [2, L, d.dQuery])),
    ],
    [
      'groupNorm (neck: fused matMul + GroupNorm)',
      () => fusedNeck(wv, van, raw, GN_EPS).map((x, i) => ({ name: `level ${i}`, t: x })),
      () => applyNeck(wv, van, raw).map((x, i) => ({ name: `level ${i}`, t: x })),
    ],
    [
      'posAdd (q + box position embedding)',
      () => one(posAdd(q, xyzr, 312)),
      () => one(tf.add(q, positionEmbedding(xyzr, d.dQuery, 312))),
    ],
    [
      'boxAttention (IoF-biased attention, with posAdd, in-proj and out-proj + LayerNorm)',
      () => {
        const x0 = posAdd(q, xyzr, 1000);
        const qkv = linearFused(x0, wT(`${s0}.attn.inProj`), w(`${s0}.attn.inProj.bias`));
        const att = boxAttention(qkv, xyzr, w(`${s0}.iofTau`), d.heads);
        return one(residualNorm(att, `${s0}.attn.outProj`, x0, `${s0}.attnNorm`));
      },
      () => one(selfAttention(wv, van, 0, q, xyzr)),
    ],
    [
      'sampleFeatures3d (offsets, points, level weights, bilinear)',
      () =>
        one(
          sampleFeatures3d(q, wT(`${s0}.sampling.offset`), w(`${s0}.sampling.offset.bias`), xyzr, packLevels(necked), {
            G,
            P: d.pointsIn,
            C,
            strides: d.strides,
          }),
        ),
      () => one(sampleFeatures(necked, xyzr, linear(q, wv, `${s0}.sampling.offset`), van)),
    ],
    [
      'channelMixing (ACM + LayerNorm + ReLU)',
      () => one(channelMixing(xs, gen, mix)),
      () => {
        const { Mc } = splitMixingParams(gen, van.decoder);
        return one(
          tf.relu(
            layerNormPlain(
              tf.matMul(xs.reshape([L * G, d.pointsIn, C]) as tf.Tensor3D, Mc.reshape([L * G, C, C]) as tf.Tensor3D),
              2,
            ),
          ),
        );
      },
    ],
    [
      'spatialMixing after channelMixing (adaptive mixing)',
      () => one(spatialMixing(channelMixing(xs, gen, mix), gen, mix, 1, L)),
      () => {
        const { Mc, Ms } = splitMixingParams(gen, van.decoder);
        return one(adaptiveMixing(xs, Mc, Ms, 'matmul'));
      },
    ],
    [
      'linearResidualLayerNorm (L_output, K = G·P_out·C)',
      () => one(residualNorm(mixed, `${s0}.mixing.output`, q, `${s0}.mixNorm`)),
      () => one(layerNorm(tf.add(q, linear(mixed, wv, `${s0}.mixing.output`)), wv, `${s0}.mixNorm`)),
    ],
    [
      'refineBoxes + decodeBoxes',
      () => {
        const r = refineBoxes(xyzr, delta);
        return [
          { name: 'xyzr', t: r },
          { name: 'xyxy', t: decodeBoxes(r) },
        ];
      },
      () => {
        const [xy, z, r] = tf.split(xyzr, [2, 1, 1], -1) as [tf.Tensor, tf.Tensor, tf.Tensor];
        const [dxy, dz, dr] = tf.split(delta, [2, 1, 1], -1) as [tf.Tensor, tf.Tensor, tf.Tensor];
        const ref = tf.concat([tf.add(xy, tf.mul(dxy, exp2(z))), tf.add(z, dz), tf.add(r, dr)], -1);
        return [
          { name: 'xyzr', t: ref },
          { name: 'xyxy', t: decodeXyzr(ref) },
        ];
      },
    ],
  ];
  for (const [name, fused, ops] of kernels) {
    if (only && !name.includes(only)) continue;
    checks.push(
      await compare(`fused vs ops on WebGPU: ${name}`, fused, ops, (m) => status(`Self-test on webgpu: ${m}`)),
    );
  }

  for (const [label, W] of [
    ['vanilla', V],
    ['LORS folded', F],
  ] as const) {
    const cfg = W.runs;
    status(`Self-test on webgpu: fused ${label} stage and decoder…`);
    const stageParts = (r: { q: tf.Tensor; xyzr: tf.Tensor; logits: tf.Tensor }): Parts => [
      { name: 'q', t: r.q },
      { name: 'xyzr', t: r.xyzr },
      { name: 'logits', t: r.logits },
    ];
    checks.push(
      await compare(
        `fused vs ops on WebGPU: tiny ${label} stage 2`,
        () => stageParts(fusedStageForward(W.run, cfg, 2, q, xyzr, packLevels(necked))),
        () => stageParts(stageForward(W.run, cfg, 2, q, xyzr, necked, { lorsA: 'folded', lorsT: 'folded' })),
      ),
    );
    const levels = randomLevels(cfg, 1, INPUT, INPUT, 17);
    const whole = (impl: 'fused' | 'ops') => () =>
      decoderForward(W.run, cfg, levels, [IMAGE], { stages: 'all', impl }).flatMap((p, i) => [
        { name: `stage ${i + 1} logits`, t: p.logits as tf.Tensor },
        { name: `stage ${i + 1} boxes`, t: p.boxes as tf.Tensor },
      ]);
    checks.push(
      await compare(
        `fused vs ops on WebGPU: tiny ${label} decoder, every stage's logits and boxes`,
        whole('fused'),
        whole('ops'),
      ),
    );

    // No tensor left behind by a fused forward (outputs disposed), and its dispatch count.
    const before = tf.memory().numTensors;
    const { result, programs } = await countPrograms(async () => {
      const preds = decoderForward(W.run, cfg, levels, [IMAGE], { impl: 'fused' });
      await preds[0]!.logits.data();
      return preds;
    });
    tf.dispose(result.flatMap((p) => [p.logits, p.boxes]));
    const leaked = tf.memory().numTensors - before;
    checks.push({
      name: `fused ${label} decoder forward: tensors left allocated (${programs} programs dispatched)`,
      maxAbsDiff: Math.abs(leaked),
      tolerance: 0,
      passed: leaked === 0,
      size: 1,
      webgpuMs: 0,
      wasmMs: 0,
      maxAbs: 0,
      nonFiniteWebgpu: 0,
      nonFiniteWasm: 0,
    });
    tf.dispose(levels);
  }
  tf.dispose([...V.all, ...F.all, ...raw, ...necked, xyzr, q, xs, delta, gen, hid, mixed]);
  return checks;
}
