/// <reference lib="webworker" />
/**
 * The inference worker: owns the tfjs backend, the NanoDet backbone and both decoders. The page never runs a
 * model, so the UI stays responsive. Requests are handled one at a time, in arrival order.
 *
 * Photos arrive as RGBA pixels (decoded in the page); nothing is sent over the network.
 */
import * as tf from '@tensorflow/tfjs';
import { makeConfig, type ModelConfig } from '../model/config';
import { DECODER_DIRS, LORS_SOURCE_DIRS, LORS_SOURCE_NAMES, NANODET_DIR, type LorsSourceName } from '../model/constants';
import { decoderSource, load, type DecoderSource, type Detector, type FeatureSet } from '../model/detector';
import type { LorsSlice } from '../model/lors/slice';
import { OrderedLors } from '../model/lors/source';
import { float16Bytes } from '../model/params';
import { FileNotFoundError, type DecoderName, type ModelName } from '../model/types';
import { cachedReader } from './cachedFetch';
import type { DecoderLoadInfo, DetectResult, InitResult, RequestEnvelope, WorkerMessage, WorkerStats } from './protocol';
import { wasmPaths } from './wasmPaths';

declare const self: DedicatedWorkerGlobalScope;

const post = (m: WorkerMessage) => self.postMessage(m);
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** AdaMixer decoders keep their top-k (set prediction, no NMS); the threshold is applied in the page. */
const DECODER_TOPK = 100;
/** NanoDet's dense head goes through NMS; below this score its candidates are not worth the NMS time. */
const NANODET_MIN_SCORE = 0.05;

let detector: Detector | null = null;
let current: { imageId: number; features: FeatureSet } | null = null;
/** The ordered LORS weights on the server, by source; the 'lors' decoder is always a slice of one of them. */
let sources: Partial<Record<LorsSourceName, OrderedLors>> = {};

async function setLors(source: LorsSourceName, slice: LorsSlice): Promise<{ config: ModelConfig }> {
  const det = need();
  const src = sources[source];
  if (!src) throw new Error(`no ${source} LORS weights on the server (models/${LORS_SOURCE_DIRS[source]}/)`);
  return { config: await det.setDecoder('lors', await src.slice(slice)) };
}

function disposeCurrent() {
  if (!current) return;
  current.features.dispose();
  current = null;
}

/** Opens the LORS sources that are on the server (model.json only; a source's shards load on its first slice). */
async function openSources(base: string): Promise<{ found: typeof sources; notes: string[] }> {
  const found: typeof sources = {};
  const notes: string[] = [];
  for (const name of LORS_SOURCE_NAMES) {
    const dir = LORS_SOURCE_DIRS[name];
    const onProgress = (loaded: number, total: number) => post({ kind: 'progress', model: dir, loaded, total });
    try {
      found[name] = await OrderedLors.open(cachedReader(new URL(`models/${dir}/`, base).href).read, onProgress);
    } catch (e) {
      if (!(e instanceof FileNotFoundError)) notes.push(`the ${name} LORS weights are unusable (${errorText(e)})`);
    }
  }
  return { found, notes };
}

async function init(backend: 'webgpu' | 'wasm' | 'cpu' | 'auto', base: string): Promise<InitResult> {
  disposeCurrent();
  detector?.dispose();
  detector = null;
  const folder = (dir: string) => cachedReader(new URL(`models/${dir}/`, base).href);
  const backbone = folder(NANODET_DIR);
  const det = await load({
    backend, wasmPaths: wasmPaths(), readBackbone: backbone.read,
    onProgress: (p) => post({ kind: 'progress', ...p }),
  });
  try {
    const opened = await openSources(base);
    sources = opened.found;
    const info: Partial<Record<DecoderName, DecoderLoadInfo>> = {};
    for (const name of ['vanilla', 'lors'] as const) {
      const onProgress = (loaded: number, total: number) => post({ kind: 'progress', model: name, loaded, total });
      const seeded: DecoderSource = { config: makeConfig('web', name), seed: 0 };
      let trained = false, note: string | undefined = name === 'lors' ? opened.notes.join('; ') || undefined : undefined;
      let weightBytes = 0;
      try {
        if (name === 'lors') {
          const src = sources.trained;
          // The LORS decoder starts as the whole trained source; its arrays stay for later slices.
          await det.setDecoder('lors', src ? await src.slice() : seeded, onProgress);
          trained = !!src;
          weightBytes = src?.weightBytes ?? 0;
        } else {
          const d = await decoderSource(folder(DECODER_DIRS[name]).read, seeded.config);
          await det.setDecoder(name, d.source, onProgress);
          ({ trained, note, weightBytes } = d);
        }
      } catch (e) {
        // Trained weights that fail to load (corrupt, wrong shapes) must not take the app down.
        if (name === 'lors') delete sources.trained;
        note = `trained weights failed to load (${errorText(e)}); using seeded initial weights`;
        await det.setDecoder(name, seeded, onProgress);
        trained = false;
      }
      const config = det.configs[name]!;
      info[name] = { config, trained, weightBytes: trained ? weightBytes : float16Bytes(config), ...(note ? { note } : {}) };
    }
    post(det.fallbackReason ? { kind: 'backend', backend: det.backend, fallbackReason: det.fallbackReason } : { kind: 'backend', backend: det.backend });
    post({ kind: 'status', message: `Warming up on ${det.backend} (compiling kernels, one-time)…`, phase: 'warming' });
    await det.warmup();
    detector = det;
    const lorsSources: InitResult['lorsSources'] = {};
    for (const [name, s] of Object.entries(sources) as [LorsSourceName, OrderedLors][]) {
      lorsSources[name] = { config: s.config, weightBytes: s.weightBytes };
    }
    const result: InitResult = {
      backend: det.backend, backboneParams: det.backboneParams, backboneBytes: backbone.bytesRead(), decoders: info, lorsSources,
    };
    if (det.fallbackReason) result.fallbackReason = det.fallbackReason;
    return result;
  } catch (e) {
    det.dispose();
    throw e;
  }
}

function stats(): WorkerStats {
  const m = tf.memory();
  return { backend: tf.getBackend(), numTensors: m.numTensors, numBytes: m.numBytes };
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

async function detect(id: number, imageId: number, models: ModelName[], stage?: number): Promise<DetectResult[]> {
  const det = need();
  if (!current || current.imageId !== imageId) throw new Error(`no features cached for image ${imageId}`);
  const out: DetectResult[] = [];
  for (const model of models) {
    const t0 = performance.now();
    const detections = await det.detect(current.features, model === 'nanodet'
      ? { model, scoreThreshold: NANODET_MIN_SCORE, maxDetections: DECODER_TOPK }
      : { model, scoreThreshold: 0, maxDetections: DECODER_TOPK, ...(stage !== undefined ? { stage } : {}) });
    const r: DetectResult = { model, imageId, detections, latencyMs: performance.now() - t0 };
    if (model !== 'nanodet' && stage !== undefined) r.stage = stage;
    post({ kind: 'partial', id, result: r });
    out.push(r);
  }
  return out;
}

async function handle({ id, req }: RequestEnvelope): Promise<unknown> {
  switch (req.type) {
    case 'init': return init(req.backend, req.base);
    case 'setImage': return setImage(req.imageId, req.image);
    case 'detect': return detect(id, req.imageId, req.models, req.stage);
    case 'setLors': return setLors(req.source, req.slice);
    case 'stats': return stats();
    default: throw new Error(`unknown request ${(req as { type: string }).type}`);
  }
}

let chain: Promise<void> = Promise.resolve();
self.onmessage = (ev: MessageEvent<RequestEnvelope>) => {
  const env = ev.data;
  if (env.req.type === 'stats') {
    // Answered at once (not queued behind a long load or warm-up).
    post({ kind: 'reply', id: env.id, ok: true, value: stats() });
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
