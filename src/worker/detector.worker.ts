/// <reference lib="webworker" />
/**
 * The inference worker: owns the tfjs backend, the NanoDet backbone and both decoders. The page never runs a
 * model, so the UI stays responsive. Requests are handled one at a time, in arrival order.
 *
 * Photos arrive as RGBA pixels (decoded in the page); nothing is sent over the network.
 */
import * as tf from '@tensorflow/tfjs';
import { makeConfig, type ModelConfig } from '../model/config';
import { clampSlice, LORS_SOURCE_DIRS, LORS_SOURCES, sliceLors, type LorsSlice, type LorsSource } from '../model/lors/slice';
import { arraysToWeights, loadWeightArrays, parseManifest } from '../model/weights';
import { load, type DecoderSource, type Detector, type FeatureSet } from '../model/detector';
import type { ModelName } from '../model/types';
import { float16Bytes } from '../state/logic';
import { cachedReader, exists } from './cachedFetch';
import type { DecoderLoadInfo, DecoderName, DetectResult, InitResult, RequestEnvelope, WorkerMessage } from './protocol';
import { runSelftest } from './selftest';
import { wasmPaths } from './wasmPaths';

declare const self: DedicatedWorkerGlobalScope;

const post = (m: WorkerMessage) => self.postMessage(m);

/** AdaMixer decoders keep their top-k (set prediction, no NMS); the threshold is applied in the page. */
const DECODER_TOPK = 100;
/** NanoDet's dense head goes through NMS; below this score its candidates are not worth the NMS time. */
const NANODET_MIN_SCORE = 0.05;

let detector: Detector | null = null;
let current: { imageId: number; features: FeatureSet } | null = null;

/**
 * The ordered LORS weights per source (issue #6): their files' config (read at init), and their arrays once loaded
 * (the trained source at init, the compressed vanilla on first use). The 'lors' decoder is always a slice of one.
 */
interface SourceState {
  reader: ReturnType<typeof cachedReader>;
  config: ModelConfig;
  /** Bytes of its weight shards (from the manifest). */
  weightBytes: number;
  loaded?: Promise<Map<string, Float32Array>>;
}
let sources: Partial<Record<LorsSource, SourceState>> = {};

function sourceArrays(name: LorsSource): Promise<Map<string, Float32Array>> {
  const s = sources[name];
  if (!s) return Promise.reject(new Error(`no ${name === 'trained' ? 'trained LORS' : 'compressed vanilla'} weights on the server (models/${LORS_SOURCE_DIRS[name]}/)`));
  s.loaded ??= loadWeightArrays(s.reader.read, {
    expect: { variant: 'lors' },
    onProgress: (loaded, total) => post({ kind: 'progress', model: LORS_SOURCE_DIRS[name], loaded, total }),
  }).then((r) => r.arrays);
  s.loaded.catch(() => { if (sources[name] === s) delete s.loaded; }); // a failed load may be retried
  return s.loaded;
}

async function setLors(source: LorsSource, slice: LorsSlice): Promise<{ config: ModelConfig }> {
  const det = need();
  const arrays = await sourceArrays(source);
  const src = sources[source]!.config;
  const s = sliceLors(src, arrays, clampSlice(src, slice));
  det.setDecoder('lors', arraysToWeights(s.config, s.arrays), s.config);
  return { config: s.config };
}

function disposeCurrent() {
  if (!current) return;
  current.features.dispose();
  current = null;
}

async function init(backend: 'webgpu' | 'wasm' | 'cpu' | 'auto', base: string): Promise<InitResult> {
  disposeCurrent();
  detector?.dispose();
  detector = null;
  const backboneReader = cachedReader(new URL('models/nanodet/', base).href);
  const decoders: Partial<Record<DecoderName, DecoderSource>> = {};
  const readers: Partial<Record<DecoderName, ReturnType<typeof cachedReader>>> = {};
  const notes: Partial<Record<DecoderName, string>> = {};
  sources = {};
  for (const name of LORS_SOURCES) {
    const folder = new URL(`models/${LORS_SOURCE_DIRS[name]}/`, base).href;
    if (!(await exists(new URL('model.json', folder).href))) continue;
    const reader = cachedReader(folder);
    try {
      const m = parseManifest(await reader.read('model.json'), { variant: 'lors' });
      sources[name] = { reader, config: m.config, weightBytes: Object.values(m.bytes).reduce((a, b) => a + b, 0) };
    } catch (e) {
      notes.lors = `the ${name} LORS weights are unusable (${e instanceof Error ? e.message : String(e)})`;
    }
  }
  for (const name of ['vanilla', 'lors'] as const) {
    const folder = new URL(`models/${name}/`, base).href;
    if (name === 'lors' && sources.trained) {
      // The LORS decoder is a slice of the trained source (whole at first); its arrays stay for later slices.
      readers.lors = sources.trained.reader;
      try {
        decoders.lors = { config: sources.trained.config, arrays: await sourceArrays('trained') };
      } catch (e) {
        delete readers.lors;
        delete sources.trained;
        notes.lors = `trained weights failed to load (${e instanceof Error ? e.message : String(e)}); using seeded initial weights`;
        decoders.lors = { config: makeConfig('web', 'lors'), seed: 0 };
      }
      continue;
    }
    if (await exists(new URL('model.json', folder).href)) {
      readers[name] = cachedReader(folder);
      decoders[name] = { read: readers[name]!.read };
    } else {
      notes[name] = `no trained weights at models/${name}/model.json`;
      decoders[name] = { config: makeConfig('web', name), seed: 0 };
    }
  }
  const onProgress = (p: { model: string; loaded: number; total: number }) => post({ kind: 'progress', ...p });
  const opts = { backend, wasmPaths: wasmPaths(), readBackbone: backboneReader.read, onProgress };
  let det: Detector;
  try {
    det = await load({ ...opts, decoders });
  } catch (e) {
    // Trained weights that fail to load (corrupt, wrong shapes) must not take the app down: fall back to seeded.
    const trainedNames = (Object.keys(readers) as DecoderName[]);
    if (trainedNames.length === 0) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    for (const n of trainedNames) {
      delete readers[n];
      notes[n] = `trained weights failed to load (${msg}); using seeded initial weights`;
      decoders[n] = { config: makeConfig('web', n), seed: 0 };
    }
    det = await load({ ...opts, decoders });
  }
  post(det.fallbackReason ? { kind: 'backend', backend: det.backend, fallbackReason: det.fallbackReason } : { kind: 'backend', backend: det.backend });
  post({ kind: 'status', message: `Warming up on ${det.backend} (compiling kernels, one-time)…`, phase: 'warming' });
  await det.warmup();
  detector = det;
  const info: Partial<Record<DecoderName, DecoderLoadInfo>> = {};
  for (const name of ['vanilla', 'lors'] as const) {
    const config = det.configs[name];
    if (!config) continue;
    const reader = readers[name];
    const entry: DecoderLoadInfo = { config, trained: !!reader, weightBytes: reader ? reader.bytesRead() : float16Bytes(config) };
    const note = notes[name];
    if (note !== undefined) entry.note = note;
    info[name] = entry;
  }
  const lorsSources: InitResult['lorsSources'] = {};
  for (const name of LORS_SOURCES) {
    const s = sources[name];
    if (s) lorsSources[name] = { config: s.config, weightBytes: s.weightBytes };
  }
  const result: InitResult = {
    backend: det.backend, backboneParams: det.backboneParams, backboneBytes: backboneReader.bytesRead(), decoders: info, lorsSources,
  };
  if (det.fallbackReason) result.fallbackReason = det.fallbackReason;
  return result;
}

function need(): Detector {
  if (!detector) throw new Error('the models are not loaded yet');
  return detector;
}

async function setImage(imageId: number, image: { data: Uint8Array | Uint8ClampedArray; width: number; height: number }) {
  const det = need();
  disposeCurrent();
  const t0 = performance.now();
  const features = det.extract(image);
  try {
    // Wait for the backbone to finish so its time is not billed to the first decoder.
    await features.levels[features.levels.length - 1]!.data();
  } catch (e) {
    features.dispose();
    throw e;
  }
  current = { imageId, features };
  return { backboneMs: performance.now() - t0 };
}

async function detect(id: number, imageId: number, models: ModelName[]): Promise<DetectResult[]> {
  const det = need();
  if (!current || current.imageId !== imageId) throw new Error(`no features cached for image ${imageId}`);
  const out: DetectResult[] = [];
  for (const model of models) {
    const t0 = performance.now();
    const detections = await det.detect(current.features, model === 'nanodet'
      ? { model, scoreThreshold: NANODET_MIN_SCORE, maxDetections: DECODER_TOPK }
      : { model, scoreThreshold: 0, maxDetections: DECODER_TOPK });
    const r: DetectResult = { model, imageId, detections, latencyMs: performance.now() - t0 };
    post({ kind: 'partial', id, result: r });
    out.push(r);
  }
  return out;
}

async function handle({ id, req }: RequestEnvelope): Promise<unknown> {
  switch (req.type) {
    case 'init': return init(req.backend, req.base);
    case 'setImage': return setImage(req.imageId, req.image);
    case 'detect': return detect(id, req.imageId, req.models);
    case 'setLors': return setLors(req.source, req.slice);
    case 'probe': return { backend: tf.getBackend(), numTensors: tf.memory().numTensors };
    case 'selftest': {
      // The self-test switches backends: the loaded detector (if any) is dropped; re-init afterwards.
      disposeCurrent();
      detector?.dispose();
      detector = null;
      return runSelftest(req.base, wasmPaths(), (message) => post({ kind: 'status', message }));
    }
    default: throw new Error(`unknown request ${(req as { type: string }).type}`);
  }
}

let chain: Promise<void> = Promise.resolve();
self.onmessage = (ev: MessageEvent<RequestEnvelope>) => {
  const env = ev.data;
  if (env.req.type === 'probe') {
    // Answered at once (not queued behind a long load or warm-up).
    post({ kind: 'reply', id: env.id, ok: true, value: { backend: tf.getBackend(), numTensors: tf.memory().numTensors } });
    return;
  }
  chain = chain.then(async () => {
    try {
      const value = await handle(env);
      post({ kind: 'reply', id: env.id, ok: true, value });
    } catch (e) {
      post({ kind: 'reply', id: env.id, ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  });
};
