/**
 * npm run bench [-- --json OUT] [--runs N] [--warmup N] [--backends wasm,webgpu] [--no-browser] [--image FILE]
 *
 * Times, per backend: the backbone; each decoder (vanilla, LORS unfolded, LORS as the app runs it, LORS fully
 * folded); photo → detections end to end; the first detection of a fresh detector (cold start); weight bytes and
 * peak tensor memory. Medians of ≥ 10 runs after warm-up, vanilla and LORS in the same run, with LORS/vanilla
 * ratios. Node runs wasm (and webgpu where a real GPU adapter exists, e.g. via ../shared/gpu); the browser part
 * (test/e2e/bench-browser.ts) times the built app in headless Chromium on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { decoderForward, topK } from '../model/adamixer/decoder';
import { prepareWeights } from '../model/adamixer/prepare';
import { makeConfig, type ModelConfig } from '../model/config';
import { load, type DecoderName, type DecoderSource } from '../model/detector';
import { foldLorsA, foldLorsT } from '../model/lors/fold';
import { countParameters } from '../model/params';
import type { BackendName, WeightMap } from '../model/types';
import { initWeights, loadWeights, saveWeights } from '../model/weights';
import { flag, int, parseArgs, runCli, str, usageText, type OptionSpec } from './args';
import { folderReader, readImage } from './node-io';
import { median } from './stats';

const SPEC: Record<string, OptionSpec> = {
  json: { type: 'string', help: 'write the results as JSON to this file' },
  runs: { type: 'string', help: 'timed runs per measurement (default 10, at least 10 for reported figures)' },
  warmup: { type: 'string', help: 'untimed runs first (default 2)' },
  backends: { type: 'string', help: 'comma list of Node backends (default: wasm, plus webgpu when navigator.gpu exists)' },
  image: { type: 'string', help: 'photo to time (default public/samples/chelsea.jpg)' },
  'no-browser': { type: 'boolean', help: 'skip the headless-Chromium part' },
  models: { type: 'string', help: 'folder with nanodet/, vanilla/, lors/ (default public/models)' },
};
const USAGE = usageText('bench', 'npm run bench -- [options]', SPEC);


async function time(runs: number, warmup: number, f: () => Promise<unknown>): Promise<{ median: number; min: number; runs: number }> {
  for (let i = 0; i < warmup; i++) await f();
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    ts.push(performance.now() - t0);
  }
  return { median: round(median(ts)), min: round(Math.min(...ts)), runs };
}
const round = (x: number, d = 2) => Number(x.toFixed(d));

interface DecoderUnderTest { name: string; cfg: ModelConfig; weights: WeightMap; opts: Parameters<typeof decoderForward>[4] }

async function decoderSources(models: string): Promise<{ sources: Record<DecoderName, DecoderSource>; trained: Record<DecoderName, boolean> }> {
  const pick = (n: DecoderName): DecoderSource =>
    existsSync(join(models, n, 'model.json')) ? { read: folderReader(join(models, n)) } : { config: makeConfig('web', n), seed: 0 };
  const sources = { vanilla: pick('vanilla'), lors: pick('lors') };
  return { sources, trained: { vanilla: 'read' in sources.vanilla, lors: 'read' in sources.lors } };
}

async function weightsOf(src: DecoderSource): Promise<{ cfg: ModelConfig; weights: WeightMap; bytes: number }> {
  if ('read' in src) {
    const { config, weights, manifest } = await loadWeights(src.read);
    return { cfg: config, weights, bytes: Object.values(manifest.bytes).reduce((a, b) => a + b, 0) };
  }
  const weights = initWeights(src.config, src.seed);
  const files = await saveWeights(src.config, weights, { float16: true });
  let bytes = 0;
  for (const [name, b] of files) if (name !== 'model.json') bytes += b.byteLength;
  return { cfg: src.config, weights, bytes };
}

async function benchBackend(backend: BackendName, o: { runs: number; warmup: number; image: string; models: string }) {
  await tf.setBackend(backend);
  await tf.ready();
  const img = readImage(o.image);
  const { sources, trained } = await decoderSources(o.models);
  const readBackbone = folderReader(join(o.models, 'nanodet'));

  // Cold start: a fresh detector's first photo → detections (includes shader compilation on webgpu).
  const t0 = performance.now();
  const det = await load({ backend, readBackbone, decoders: sources });
  const loadMs = performance.now() - t0;
  const t1 = performance.now();
  await det.detect(img, { model: 'lors' });
  const coldStartMs = performance.now() - t1;
  await det.warmup();

  const feats = det.extract(img, { withHead: false });
  const backbone = await time(o.runs, o.warmup, async () => {
    const f = det.extract(img, { withHead: false });
    await f.levels[f.levels.length - 1]!.data();
    f.dispose();
  });

  const v = await weightsOf(sources.vanilla);
  const l = await weightsOf(sources.lors);
  // Every path runs on prepared ([in, out]) weights, as the detector does; the folds happen before preparing.
  const foldT = foldLorsT(l.weights, l.cfg);
  const foldTA = foldLorsA(foldT, l.cfg);
  const unders: DecoderUnderTest[] = [
    { name: 'vanilla', cfg: v.cfg, weights: prepareWeights(v.weights, v.cfg), opts: {} },
    { name: 'lorsUnfolded', cfg: l.cfg, weights: prepareWeights(l.weights, l.cfg), opts: { lorsT: 'factored', lorsA: 'factored' } },
    { name: 'lors', cfg: l.cfg, weights: prepareWeights(foldT, l.cfg), opts: { lorsT: 'folded', lorsA: 'factored' } },
    { name: 'lorsFolded', cfg: l.cfg, weights: prepareWeights(foldTA, l.cfg), opts: { lorsT: 'folded', lorsA: 'folded' } },
  ];
  const lb = feats.letterbox;
  const decoderMs: Record<string, number> = {};
  const decoderMin: Record<string, number> = {};
  const peakBytes: Record<string, number> = {};
  for (const u of unders) {
    const run = async () => {
      const [last] = tf.tidy(() => decoderForward(u.weights, u.cfg, [...feats.levels], [[lb.width, lb.height]], { ...u.opts, stages: 'last' }));
      await topK(last!.logits, last!.boxes);
      tf.dispose([last!.logits, last!.boxes]);
    };
    const t = await time(o.runs, o.warmup, run);
    decoderMs[u.name] = t.median;
    decoderMin[u.name] = t.min;
    const prof = await tf.profile(async () => { await run(); return undefined as unknown as tf.Tensor; });
    peakBytes[u.name] = prof.peakBytes;
  }
  const endToEnd = {
    vanilla: (await time(o.runs, o.warmup, () => det.detect(img, { model: 'vanilla' }))).median,
    lors: (await time(o.runs, o.warmup, () => det.detect(img, { model: 'lors' }))).median,
  };
  const residentBytes = (m: WeightMap) => [...m.values()].reduce((a, t) => a + t.size * 4, 0);
  const result = {
    backend,
    weights: { trained },
    image: { path: o.image, width: img.width, height: img.height, inputSize: det.inputSize },
    loadMs: round(loadMs),
    coldStartMs: round(coldStartMs),
    backboneMs: backbone.median,
    decoderMs,
    decoderMinMs: decoderMin,
    ratio: {
      lorsOverVanilla: round(decoderMs.lors! / decoderMs.vanilla!, 3),
      lorsUnfoldedOverVanilla: round(decoderMs.lorsUnfolded! / decoderMs.vanilla!, 3),
      lorsFoldedOverVanilla: round(decoderMs.lorsFolded! / decoderMs.vanilla!, 3),
    },
    endToEndMs: endToEnd,
    weightBytes: { vanilla: v.bytes, lors: l.bytes },
    residentWeightBytes: { vanilla: residentBytes(unders[0]!.weights), lors: residentBytes(unders[2]!.weights), lorsFolded: residentBytes(unders[3]!.weights) },
    peakTensorBytes: peakBytes,
    params: { vanilla: countParameters(v.cfg).decoder, lors: countParameters(l.cfg).decoder },
    runs: o.runs,
  };
  feats.dispose();
  const maps = [v.weights, l.weights, foldT, foldTA, ...unders.map((u) => u.weights)];
  tf.dispose([...new Set(maps.flatMap((m) => [...m.values()]))]);
  det.dispose();
  return result;
}

async function main() {
  const p = parseArgs(process.argv.slice(2), SPEC, { maxPositionals: 0 });
  if (p.help) { console.log(USAGE); return; }
  const runs = int(p, 'runs', 10, 1)!;
  const warmup = int(p, 'warmup', 2, 0)!;
  const models = str(p, 'models') ?? 'public/models';
  const image = str(p, 'image') ?? 'public/samples/chelsea.jpg';
  const hasGpu = typeof (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu !== 'undefined';
  if (hasGpu) await import('@tensorflow/tfjs-backend-webgpu');
  const backends = (str(p, 'backends')?.split(',') ?? ['wasm', ...(hasGpu ? ['webgpu'] : [])]) as BackendName[];
  const node: Record<string, unknown> = {};
  for (const b of backends) {
    process.stderr.write(`bench: node/${b} …\n`);
    node[b] = await benchBackend(b, { runs, warmup, image, models });
    const r = node[b] as Awaited<ReturnType<typeof benchBackend>>;
    console.log(`node/${b}: backbone ${r.backboneMs} ms | decoder vanilla ${r.decoderMs.vanilla} ms, lors (app path) ${r.decoderMs.lors} ms ` +
      `(×${r.ratio.lorsOverVanilla}), lors unfolded ${r.decoderMs.lorsUnfolded} ms (×${r.ratio.lorsUnfoldedOverVanilla}), ` +
      `lors folded ${r.decoderMs.lorsFolded} ms (×${r.ratio.lorsFoldedOverVanilla}) | end-to-end vanilla ${r.endToEndMs.vanilla} ms, ` +
      `lors ${r.endToEndMs.lors} ms | cold start ${r.coldStartMs} ms | weights ${r.weightBytes.vanilla} / ${r.weightBytes.lors} B`);
  }
  let browser: unknown = null;
  if (!flag(p, 'no-browser')) {
    const mod = await import('../../test/e2e/bench-browser');
    browser = await mod.benchBrowser({ runs, warmup });
  }
  const out = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memGiB: round(totalmem() / 2 ** 30, 1), node: process.version },
    node,
    browser,
  };
  const json = str(p, 'json');
  if (json) {
    mkdirSync(dirname(json), { recursive: true });
    writeFileSync(json, JSON.stringify(out, null, 2) + '\n');
    console.log(`bench: wrote ${json}`);
  }
}

if (process.argv[1]?.endsWith('bench.ts')) runCli('bench', USAGE, main);
