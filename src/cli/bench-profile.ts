/**
 * `npm run bench -- --profile`: where one decoder forward's time goes on a Node backend (wasm by default), and what
 * a LORS slider move costs. Reports:
 *   - the decoder's exact FLOPs (src/model/flops.ts) and the GFLOP/s its median forward achieves;
 *   - the matMul roofline (roofline.ts): the ceiling GFLOP/s of tf.matMul on the generator's and output
 *     projection's shapes, the forward's floor at that ceiling, and how many floors the forward takes;
 *   - tf.profile's kernels of one forward (each kernel's minimum over 5 profiled forwards), summed by kernel and by
 *     the part of the stage they compute (told apart by kernel name and operand widths, see partOf);
 *   - each way adaptive mixing can run (mixing.ts MixingImpl), timed round-robin;
 *   - a slider move (r_A 8 → 4 → 8 …) split into slice, upload, fold, prepare and forward, for the path the app used
 *     before (slice every weight, upload, foldToVanilla, prepareWeights) and for the resident path (ResidentLors:
 *     factors and slice-independent weights kept as tensors, only the changed stages re-folded).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { join } from 'node:path';
import { decoderForward, topK } from '../model/adamixer/decoder';
import { adaptiveMixing, type MixingImpl } from '../model/adamixer/mixing';
import { checkWeights, prepareWeights } from '../model/adamixer/prepare';
import { dims, makeConfig, type ModelConfig } from '../model/config';
import { DECODER_DIRS, NANODET_DIR } from '../model/constants';
import { decoderSource, sourceWeights } from '../model/decoderSource';
import { load } from '../model/detector';
import { decoderFlops, levelSizesOf } from '../model/flops';
import { foldToVanilla } from '../model/lors/fold';
import { ResidentLors } from '../model/residentLors';
import type { BackendName, WeightMap } from '../model/types';
import { arraysToWeights } from '../model/weights/io';
import { folderReader, readImage } from './node-io';
import { sliderMoveSlices } from './bench-node';
import { rooflineOf, rooflineShapes, timeMatMuls } from './roofline';
import { median, profileOf, timeRoundRobin } from './stats';

export interface ProfileOptions {
  backend: BackendName;
  runs: number;
  warmup: number;
  image: string;
  models: string;
}

const round = (x: number, d = 1) => Number(x.toFixed(d));

export interface KernelRecord {
  name: string;
  inputShapes: (number[] | undefined)[];
  outputShapes: (number[] | undefined)[];
  kernelTimeMs: number | { error: string };
}

/** The part of a decoder stage a kernel computes, from its name and the widths of its operands (web-like configs). */
export function partOf(k: KernelRecord, cfg: ModelConfig): string {
  const d = cfg.decoder;
  const { genOut, outIn, offOut } = dims(d);
  const a = k.inputShapes[0] ?? [];
  const b = k.inputShapes[1] ?? [];
  if (k.name === 'CropAndResize' || k.name === 'PadV2' || k.name === 'Pad') return 'sampling';
  if (k.name === 'DepthwiseConv2dNative') return 'mixing (ACM + ASM)';
  if (k.name === 'BatchMatMul' || k.name === '_FusedMatMul') {
    const kIn = a[a.length - 1];
    const n = b[b.length - 1];
    const batch = a.length === 3 ? a[0]! : 1;
    if (batch > 1) return batch === d.heads ? 'attention' : 'mixing (ACM + ASM)';
    if (n === genOut) return 'generator';
    if (kIn === outIn) return 'output projection';
    if (n === offOut) return 'sampling offsets';
    if (n === 3 * d.dQuery || (kIn === d.dQuery && n === d.dQuery && k.outputShapes[0]?.[0] === d.queries))
      return 'attention + heads (d_q × d_q)';
    if (n === d.ffn || kIn === d.ffn) return 'ffn';
    if (kIn === d.featChannels && n === d.dFeat) return 'neck';
    return 'other matmul';
  }
  return `other: ${k.name}`;
}

/** How many forwards tf.profile records (each kernel's time is its minimum over them). */
const PROFILED_FORWARDS = 5;

/**
 * The kernels of one forward with each kernel's minimum time over several profiled forwards (the same kernel
 * sequence each time): one profile's single kernel times move with the machine's load, a kernel preempted once
 * reads as several times its cost.
 */
export function minKernelTimes(profiles: KernelRecord[][]): KernelRecord[] {
  const [first, ...rest] = profiles;
  if (!first) throw new Error('minKernelTimes: no profiles');
  return first.map((k, i) => {
    let ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    for (const p of rest) {
      const other = p[i];
      if (other?.name !== k.name)
        throw new Error(`minKernelTimes: kernel ${i} is ${other?.name} in one profile, ${k.name} in another`);
      if (typeof other.kernelTimeMs === 'number') ms = Math.min(ms, other.kernelTimeMs);
    }
    return { ...k, kernelTimeMs: ms };
  });
}

/** Times the parts of `f`'s steps (each step returns after its work is done) over `runs` calls; medians. */
async function split(runs: number, warmup: number, f: (mark: (part: string) => void) => Promise<void>) {
  const per: Record<string, number[]> = {};
  for (let i = 0; i < warmup + runs; i++) {
    let t = performance.now();
    const marks: [string, number][] = [];
    await f((part) => {
      const now = performance.now();
      marks.push([part, now - t]);
      t = now;
    });
    if (i < warmup) continue;
    for (const [p, ms] of marks) (per[p] ??= []).push(ms);
  }
  const out: Record<string, number> = {};
  for (const [p, ms] of Object.entries(per)) out[p] = round(median(ms));
  out.total = round(Object.values(out).reduce((a, b) => a + b, 0));
  return out;
}

export async function profileBackend(o: ProfileOptions) {
  await tf.setBackend(o.backend);
  await tf.ready();
  const img = readImage(o.image);
  const det = await load({ backend: o.backend, readBackbone: folderReader(join(o.models, NANODET_DIR)) });
  const feats = det.extract(img, { withHead: false });
  const lb = feats.letterbox;
  const v = await decoderSource(folderReader(join(o.models, DECODER_DIRS.vanilla)), makeConfig('web', 'vanilla'));
  const { config: cfg, weights: raw } = await sourceWeights(v.source);
  const prepared = prepareWeights(raw, cfg);
  const weights = prepared.weights;
  const forward = async (opts: Parameters<typeof decoderForward>[4] = {}) => {
    const [last] = tf.tidy(() =>
      decoderForward(weights, cfg, [...feats.levels], [[lb.width, lb.height]], { ...opts, stages: 'last' }),
    );
    await topK(last!.logits, last!.boxes);
    tf.dispose([last!.logits, last!.boxes]);
  };

  // FLOPs and GFLOP/s.
  const flops = decoderFlops(cfg.decoder, levelSizesOf(cfg.decoder, det.inputSize));
  const t = await timeRoundRobin(o.runs, o.warmup, { forward: () => forward() }, 1);
  const forwardMs = t.forward!;
  const roofline = rooflineOf(
    await timeMatMuls(rooflineShapes(cfg.decoder), o.runs, o.warmup),
    flops.total,
    forwardMs.median,
  );

  // tf.profile of one forward, summed by kernel and by part.
  // tf.profile reuses one record for every profile: copy each forward's kernels before the next profile.
  const profiles: KernelRecord[][] = [];
  for (let i = 0; i < Math.min(o.runs, PROFILED_FORWARDS); i++) {
    const prof = await profileOf(forward);
    profiles.push((prof.kernels as unknown as KernelRecord[]).map((k) => ({ ...k })));
  }
  const kernels = minKernelTimes(profiles);
  const forwardKernels = kernels.length;
  const views = new Set(['Reshape', 'ExpandDims', 'Identity']);
  const forwardKernelsNotViews = kernels.filter((k) => !views.has(k.name)).length;
  const byKernel: Record<string, { ms: number; count: number }> = {};
  const byPart: Record<string, { ms: number; count: number }> = {};
  let kernelMs = 0;
  for (const k of kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    kernelMs += ms;
    for (const [map, key] of [
      [byKernel, k.name],
      [byPart, partOf(k, cfg)],
    ] as const) {
      const e = (map[key] ??= { ms: 0, count: 0 });
      e.ms += ms;
      e.count++;
    }
  }
  const sorted = (m: Record<string, { ms: number; count: number }>) =>
    Object.fromEntries(
      Object.entries(m)
        .sort((a, b) => b[1].ms - a[1].ms)
        .map(([k, e]) => [k, { ms: round(e.ms), count: e.count, share: round(e.ms / kernelMs, 3) }]),
    );

  // Adaptive mixing alone, each way it can run, on the web shapes (one stage's worth: B = 1, L queries).
  const d = cfg.decoder;
  const { G, C } = dims(d);
  const L = d.queries;
  const xs = tf.randomNormal([1, L, G, d.pointsIn, C]);
  const Mc = tf.randomNormal([1, L, G, C, C]);
  const Ms = tf.randomNormal([1, L, G, d.pointsOut, d.pointsIn]);
  const mixingImpls: MixingImpl[] = ['depthwise', 'matmul'];
  const mixing = await timeRoundRobin(
    o.runs,
    o.warmup,
    Object.fromEntries(
      mixingImpls.map((impl) => [
        impl,
        async () => {
          const y = adaptiveMixing(xs, Mc, Ms, impl);
          await y.data();
          y.dispose();
        },
      ]),
    ),
    1,
  );
  tf.dispose([xs, Mc, Ms]);

  // A slider move: r_A 8 ↔ 4 on the trained ordered LORS source.
  const { lors, slices } = await sliderMoveSlices(o.models);
  await lors.load();
  const forwardOn = async (w: WeightMap, c: ModelConfig) => {
    const [last] = tf.tidy(() => decoderForward(w, c, [...feats.levels], [[lb.width, lb.height]], { stages: 'last' }));
    await topK(last!.logits, last!.boxes);
    tf.dispose([last!.logits, last!.boxes]);
  };
  const sync = async (w: WeightMap) => {
    for (const x of w.values()) await x.data(); // the backend's queue drained before the next mark
  };
  let move = 0;
  const tensors0 = tf.memory().numTensors;
  const before = await split(o.runs, o.warmup, async (mark) => {
    const slice = slices[move++ % 2]!;
    const { config, arrays } = await lors.slice(slice);
    mark('slice');
    const w = arraysToWeights(config, arrays);
    await sync(w);
    mark('upload');
    const f = foldToVanilla(w, config);
    await sync(f.weights);
    mark('fold');
    const p = prepareWeights(f.weights, f.config);
    checkWeights(p.weights, f.config);
    const keep = new Set(p.weights.values());
    for (const x of new Set([...w.values(), ...f.weights.values()])) if (!keep.has(x)) x.dispose();
    await sync(p.weights);
    mark('prepare');
    await forwardOn(p.weights, f.config);
    mark('forward');
    tf.dispose([...p.weights.values()]);
  });
  const leakedBefore = tf.memory().numTensors - tensors0;
  const tensors1 = tf.memory().numTensors;
  const resident = await ResidentLors.create(lors);
  let current: Awaited<ReturnType<ResidentLors['runWeights']>> | undefined;
  move = 0;
  const after = await split(o.runs, o.warmup, async (mark) => {
    const slice = slices[move++ % 2]!;
    const r = await resident.runWeights(slice, mark);
    current?.release(); // as the detector does once the new slice is in place
    current = r;
    await forwardOn(r.weights, r.runs);
    mark('forward');
  });
  // The same move counted, not timed (the figures a loaded machine cannot blur): kernels run and values written.
  const work = async (f: () => Promise<void>) => {
    const pr = await tf.profile(async () => {
      await f();
      return undefined as unknown as tf.Tensor;
    });
    const written = pr.kernels.reduce(
      (a, k) =>
        a +
        (k.outputShapes as (number[] | undefined)[]).reduce((b, sh) => b + (sh ?? []).reduce((x, y) => x * y, 1), 0),
      0,
    );
    return { kernels: pr.kernels.length, valuesWritten: written };
  };
  const workBefore = await work(async () => {
    const { config, arrays } = await lors.slice(slices[0]!);
    const w = arraysToWeights(config, arrays);
    const f = foldToVanilla(w, config);
    const p = prepareWeights(f.weights, f.config);
    tf.dispose([...new Set([...w.values(), ...f.weights.values(), ...p.weights.values()])]);
  });
  const workAfter = await work(async () => {
    const r = await resident.runWeights(slices[move++ % 2]!);
    current?.release();
    current = r;
  });
  current?.release();
  resident.dispose();
  const leakedAfter = tf.memory().numTensors - tensors1;

  feats.dispose();
  det.dispose();
  tf.dispose([...weights.values(), ...prepared.replaced.map((n) => raw.get(n)!)]);
  return {
    backend: o.backend,
    decoder: {
      flops,
      gflop: round(flops.total / 1e9, 3),
      forwardMs,
      gflopPerS: round(flops.total / 1e9 / (forwardMs.median / 1000), 2),
      roofline,
      profile: {
        kernels: forwardKernels,
        /** Without the kernels that only make a view (Reshape, ExpandDims, Identity). */
        kernelsNotViews: forwardKernelsNotViews,
        kernelMs: round(kernelMs),
        byPart: sorted(byPart),
        byKernel: sorted(byKernel),
      },
    },
    mixingOneStageMs: mixing,
    sliderMove: {
      before,
      after,
      /** Excluding the forward: kernels run and float32 values they write (uploads not counted). */
      work: { before: workBefore, after: workAfter },
      tensorsLeftBehind: { before: leakedBefore, after: leakedAfter },
    },
    runs: o.runs,
  };
}

export function profileSummary(r: Awaited<ReturnType<typeof profileBackend>>): string {
  const parts = Object.entries(r.decoder.profile.byPart)
    .slice(0, 6)
    .map(([k, e]) => `${k} ${e.ms} ms (${Math.round(e.share * 100)}%)`)
    .join(', ');
  const fmt = (s: Record<string, number>) =>
    Object.entries(s)
      .map(([k, v]) => `${k} ${v}`)
      .join(' / ');
  return (
    `node/${r.backend}: decoder ${r.decoder.gflop} GFLOP in ${r.decoder.forwardMs.median} ms = ${r.decoder.gflopPerS} ` +
    `GFLOP/s | matMul ceiling ${r.decoder.roofline.ceilingGflopPerS} GFLOP/s, floor ${r.decoder.roofline.floorMs} ms, ` +
    `forward = ${r.decoder.roofline.timesFloor}× the floor | by part: ${parts} | mixing per stage: ${fmt(Object.fromEntries(Object.entries(r.mixingOneStageMs).map(([k, v]) => [k, v.median])))} ms | ` +
    `slider move before: ${fmt(r.sliderMove.before)} ms | after: ${fmt(r.sliderMove.after)} ms | work without the ` +
    `forward: ${JSON.stringify(r.sliderMove.work)} | tensors left: ${JSON.stringify(r.sliderMove.tensorsLeftBehind)}`
  );
}
