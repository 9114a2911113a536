/**
 * The Node half of `npm run bench`, also the entry point of the real-GPU kit (bench/gpu-bench.ts). Per backend it
 * times the backbone; each decoder path on prepared weights (vanilla; LORS as the app runs it = LORS^T and LORS^A
 * folded at load; LORS unfolded; LORS with only LORS^T folded); photo → detections end to end; the first detection of a fresh detector (cold
 * start); and reports weight bytes and peak tensor memory. Medians after warm-up; vanilla and LORS in the same run,
 * with LORS/vanilla ratios.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { cpus, totalmem } from 'node:os';
import { wasmKernelsInUse } from '../model/adamixer/wasm/tensors';
import { join } from 'node:path';
import { decoderForward, topK } from '../model/adamixer/decoder';
import { prepareWeights } from '../model/adamixer/prepare';
import { makeConfig, type ModelConfig, type QueryInit } from '../model/config';
import { DECODER_DIRS, LORS_SOURCE_DIRS, SLOT_VARIANTS } from '../model/constants';
import { decoderSource, sourceWeights } from '../model/decoderSource';
import { load, type Detector } from '../model/detector';
import type { LorsSlice } from '../model/lors/slice';
import { OrderedLors } from '../model/lors/source';
import { foldLorsT, foldToVanilla } from '../model/lors/fold';
import { countPrograms } from '../model/nn/webgpu/count';
import { countParameters } from '../model/params';
import type { BackendName, DecoderSlot, RgbaImage, WeightMap } from '../model/types';
import { saveWeights, shardFileBytes } from '../model/weights/io';
import { folderReader, readImage } from './node-io';
import { profileOf, timeRoundRobin } from './stats';

export interface BenchOptions {
  runs: number;
  warmup: number;
  image: string;
  /** Folder with vanilla/ and lors/ (trained weights; seeded init of the web preset where missing). */
  models: string;
  /** NanoDet's folder (default <models>/nanodet). */
  backbone?: string;
  /** queryInit of the seeded-init fallback decoders (to time the path the shipped models use; default 'image'). */
  queryInit?: QueryInit;
}

export function machineInfo() {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
  };
}

export const round = (x: number, d = 2) => Number(x.toFixed(d));

interface DecoderUnderTest {
  name: string;
  cfg: ModelConfig;
  weights: WeightMap;
  opts: Parameters<typeof decoderForward>[4];
}

type Sourced = Awaited<ReturnType<typeof decoderSource>>;

async function decoderSources(models: string, queryInit: QueryInit = 'image'): Promise<Record<DecoderSlot, Sourced>> {
  const pick = (n: DecoderSlot) =>
    decoderSource(folderReader(join(models, DECODER_DIRS[n])), { ...makeConfig('web', SLOT_VARIANTS[n]), queryInit });
  return { vanilla: await pick('vanilla'), lors: await pick('lors') };
}

async function weightsOf(d: Sourced): Promise<{ cfg: ModelConfig; weights: WeightMap; bytes: number }> {
  const { config, weights } = await sourceWeights(d.source);
  // Seeded weights: what their shards would take as shipped (int8, deflated).
  const bytes = d.trained
    ? d.weightBytes
    : shardFileBytes(await saveWeights(config, weights, { encoding: 'int8', deflate: true }));
  return { cfg: config, weights, bytes };
}

export async function benchBackend(backend: BackendName, o: BenchOptions) {
  await tf.setBackend(backend);
  await tf.ready();
  const img = readImage(o.image);
  const sourced = await decoderSources(o.models, o.queryInit);
  const sources = { vanilla: sourced.vanilla.source, lors: sourced.lors.source };
  const trained = { vanilla: sourced.vanilla.trained, lors: sourced.lors.trained };
  const readBackbone = folderReader(o.backbone ?? join(o.models, 'nanodet'));

  // Cold start: a fresh detector's first photo → detections (includes shader compilation on webgpu).
  const t0 = performance.now();
  const det = await load({ backend, readBackbone, decoders: sources });
  const loadMs = performance.now() - t0;
  const t1 = performance.now();
  await det.detect(img, { model: 'lors' });
  const coldStartMs = performance.now() - t1;
  await det.warmup();

  const feats = det.extract(img, { withHead: false });
  const { backbone } = await timeRoundRobin(o.runs, o.warmup, {
    backbone: async () => {
      const f = det.extract(img, { withHead: false });
      await f.levels[f.levels.length - 1]!.data();
      f.dispose();
    },
  });

  const v = await weightsOf(sourced.vanilla);
  const l = await weightsOf(sourced.lors);
  // Every path runs on prepared ([in, out]) weights, as the detector does; the folds happen before preparing.
  const foldT = foldLorsT(l.weights, l.cfg).weights;
  const asVanilla = foldToVanilla(foldT, l.cfg); // the app's LORS: folded into the vanilla decoder it is
  const unders: DecoderUnderTest[] = [
    { name: 'vanilla', cfg: v.cfg, weights: prepareWeights(v.weights, v.cfg).weights, opts: {} },
    {
      name: 'lorsUnfolded',
      cfg: l.cfg,
      weights: prepareWeights(l.weights, l.cfg).weights,
      opts: { lorsT: 'factored', lorsA: 'factored' },
    },
    {
      name: 'lorsFoldedT',
      cfg: l.cfg,
      weights: prepareWeights(foldT, l.cfg).weights,
      opts: { lorsT: 'folded', lorsA: 'factored' },
    },
    {
      name: 'lors',
      cfg: asVanilla.config,
      weights: prepareWeights(asVanilla.weights, asVanilla.config).weights,
      opts: {},
    },
  ];
  // On webgpu the app's path is the fused kernels (docs/webgpu.md), on wasm the wasm kernels (wasm/kernels.ts): time
  // the tfjs-op path beside it.
  if (backend === 'webgpu' || wasmKernelsInUse()) {
    unders.push(
      { ...unders[0]!, name: 'vanillaOps', opts: { impl: 'ops' } },
      { ...unders[3]!, name: 'lorsOps', opts: { ...unders[3]!.opts, impl: 'ops' } },
    );
  }
  const lb = feats.letterbox;
  const decoderMs: Record<string, number> = {};
  const decoderMin: Record<string, number> = {};
  const peakBytes: Record<string, number> = {};
  const kernels: Record<string, number> = {};
  // withTopK false: the decoder forward alone, whose kernels are counted (GPU programs dispatched on webgpu,
  // tf.profile's kernels elsewhere).
  const forward =
    (u: DecoderUnderTest, withTopK = true) =>
    async () => {
      const [last] = tf.tidy(() =>
        decoderForward(u.weights, u.cfg, [...feats.levels], [[lb.width, lb.height]], { ...u.opts, stages: 'last' }),
      );
      await (withTopK ? topK(last!.logits, last!.boxes) : last!.logits.data());
      tf.dispose([last!.logits, last!.boxes]);
    };
  const timed = await timeRoundRobin(o.runs, o.warmup, Object.fromEntries(unders.map((u) => [u.name, forward(u)])));
  for (const u of unders) {
    decoderMs[u.name] = timed[u.name]!.median;
    decoderMin[u.name] = timed[u.name]!.min;
    // tf.profile's peak counts every live tensor (all four weight sets here): report what one forward adds.
    const before = tf.memory().numBytes;
    const prof = await profileOf(forward(u));
    peakBytes[u.name] = prof.peakBytes - before;
    if (backend === 'webgpu') kernels[u.name] = (await countPrograms(forward(u, false))).programs;
    else kernels[u.name] = (await profileOf(forward(u, false))).kernels.length;
  }
  const e2e = await timeRoundRobin(o.runs, o.warmup, {
    vanilla: () => det.detect(img, { model: 'vanilla' }),
    lors: () => det.detect(img, { model: 'lors' }),
  });
  const endToEnd = { vanilla: e2e.vanilla!.median, lors: e2e.lors!.median };
  const sliderMoveMs = trained.lors ? await sliderMove(det, o, img) : null;
  const residentBytes = (m: WeightMap) => [...m.values()].reduce((a, t) => a + t.size * 4, 0);
  const result = {
    backend,
    /** Whether the decoders ran on the wasm SIMD kernels (model/adamixer/wasm); null on another backend. */
    wasmKernels: wasmKernelsInUse(),
    weights: { trained, queryInit: { vanilla: v.cfg.queryInit ?? 'image', lors: l.cfg.queryInit ?? 'image' } },
    image: { path: o.image, width: img.width, height: img.height, inputSize: det.inputSize },
    loadMs: round(loadMs),
    coldStartMs: round(coldStartMs),
    backboneMs: backbone!.median,
    decoderMs,
    decoderMinMs: decoderMin,
    /** Per decoder forward: GPU programs dispatched (webgpu) or tf.profile's kernels (wasm, cpu). */
    kernelsPerForward: kernels,
    ratio: {
      lorsOverVanilla: round(decoderMs.lors! / decoderMs.vanilla!, 3),
      lorsUnfoldedOverVanilla: round(decoderMs.lorsUnfolded! / decoderMs.vanilla!, 3),
      lorsFoldedTOverVanilla: round(decoderMs.lorsFoldedT! / decoderMs.vanilla!, 3),
    },
    endToEndMs: endToEnd,
    /**
     * A LORS^A slider move as the app's worker makes it (r_A 8 ↔ 4): the trained ordered LORS cut and folded
     * (Detector.setDecoder), then its detections on cached features; null without trained LORS weights.
     */
    sliderMoveMs,
    weightBytes: { vanilla: v.bytes, lors: l.bytes },
    residentWeightBytes: {
      vanilla: residentBytes(unders[0]!.weights),
      lors: residentBytes(unders[3]!.weights),
      lorsFoldedT: residentBytes(unders[2]!.weights),
    },
    /** Peak tensor bytes one decoder forward adds on top of what is resident (weights, features). */
    peakForwardBytes: peakBytes,
    params: { vanilla: countParameters(v.cfg).decoder, lors: countParameters(l.cfg).decoder },
    runs: o.runs,
  };
  feats.dispose();
  const maps = [v.weights, l.weights, foldT, asVanilla.weights, ...unders.map((u) => u.weights)];
  tf.dispose([...new Set(maps.flatMap((m) => [...m.values()]))]);
  det.dispose();
  return result;
}

/** One line per backend for the console. */
/** The benches' slider move: r_A 4 ↔ the trained rank (8), on the trained ordered LORS source under `models`. */
export async function sliderMoveSlices(models: string): Promise<{ lors: OrderedLors; slices: LorsSlice[] }> {
  const lors = await OrderedLors.open(folderReader(join(models, LORS_SOURCE_DIRS.trained)));
  return { lors, slices: [{ rankA: 4 }, { rankA: lors.config.lors!.rankA }] };
}

/** Median ms of a slider move (sliderMoveSlices) as the app's worker makes it: cut and fold, then detect on kept features. */
async function sliderMove(det: Detector, o: BenchOptions, img: RgbaImage): Promise<number> {
  const { lors, slices } = await sliderMoveSlices(o.models);
  const feats = det.extract(img);
  let move = 0;
  try {
    const t = await timeRoundRobin(o.runs, o.warmup, {
      move: async () => {
        await det.setDecoder('lors', { lors, slice: slices[move++ % 2]! });
        await det.detect(feats, { model: 'lors' });
      },
    });
    return t.move!.median;
  } finally {
    feats.dispose();
  }
}

export function summaryLine(r: Awaited<ReturnType<typeof benchBackend>>): string {
  const k = r.kernelsPerForward;
  return (
    `node/${r.backend}: backbone ${r.backboneMs} ms | decoder vanilla ${r.decoderMs.vanilla} ms (${k.vanilla} kernels), ` +
    `lors (app path: folded) ${r.decoderMs.lors} ms (${k.lors} kernels) ` +
    `(×${r.ratio.lorsOverVanilla}), lors unfolded ${r.decoderMs.lorsUnfolded} ms (×${r.ratio.lorsUnfoldedOverVanilla}), ` +
    `lors LORS^T-only folded ${r.decoderMs.lorsFoldedT} ms (×${r.ratio.lorsFoldedTOverVanilla}) | end-to-end vanilla ${r.endToEndMs.vanilla} ms, ` +
    `lors ${r.endToEndMs.lors} ms | slider move ${r.sliderMoveMs ?? '–'} ms | cold start ${r.coldStartMs} ms | weights ${r.weightBytes.vanilla} / ${r.weightBytes.lors} B` +
    (r.decoderMs.vanillaOps !== undefined
      ? ` | tfjs ops only (not the app's path): vanilla ${r.decoderMs.vanillaOps} ms, lors ${r.decoderMs.lorsOps} ms`
      : '')
  );
}
