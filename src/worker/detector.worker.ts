/// <reference lib="webworker" />
/**
 * The inference worker: owns a tfjs backend, the NanoDet backbone and the decoders it was given (all of them, or
 * where the cores allow a second worker, the ones that worker does not run). A second worker holds decoders only
 * and is fed the backbone's features (`setFeatures`), so both decoders of a photo run at once. The page never runs
 * a model, so the UI stays responsive. Requests are handled one at a time, in arrival order.
 *
 * Photos arrive as RGBA pixels (decoded in the page); nothing is sent over the network.
 */
import * as tf from '@tensorflow/tfjs';
import { makeConfig, type ModelConfig } from '../model/config';
import {
  DECODER_DIRS,
  LORS_SOURCE_DIRS,
  NANODET_DIR,
  SLICED_SLOT,
  SLOT_VARIANTS,
  type LorsSourceName,
} from '../model/constants';
import { decoderSource } from '../model/decoderSource';
import { wasmThreadsInUse } from '../model/backend';
import { wasmKernelsInUse } from '../model/adamixer/wasm/tensors';
import { load, type Detector } from '../model/detector';
import { featuresFromHost, featuresToHost, type FeatureSet } from '../model/featureSet';
import { hostBuffers, type HostFeatures } from '../model/hostFeatures';
import type { LorsSlice } from '../model/lors/slice';
import { OrderedLors } from '../model/lors/source';
import { encodedBytes } from '../model/weights/encoding';
import { DECODER_SLOTS, FileNotFoundError, type DecoderSlot, type ModelName } from '../model/types';
import { MODEL_JSON } from '../model/weights/manifest';
import { cachedReader, DownloadError, MissingFileError } from './cachedFetch';
import { deviceLossBehind, isDeviceLossError, watchDeviceLoss } from './deviceLoss';
import { decoderFailure, relativeTo } from './downloadFailure';
import type {
  DecoderLoadInfo,
  DetectResult,
  InitRequest,
  InitResult,
  LoadDecoderResult,
  RequestEnvelope,
  RequestType,
  WorkerApi,
  WorkerMessage,
  WorkerRequest,
  WorkerStats,
} from './protocol';
import { wasmPaths } from './wasmPaths';

declare const self: DedicatedWorkerGlobalScope;

const post = (m: WorkerMessage, transfer: Transferable[] = []) => self.postMessage(m, transfer);
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
  const lors = sources[source];
  if (!lors) throw new Error(`no ${source} LORS weights on the server (models/${LORS_SOURCE_DIRS[source]}/)`);
  return { config: await det.setDecoder(SLICED_SLOT, { lors, slice }, progressOf(LORS_SOURCE_DIRS[source])) };
}

function disposeCurrent() {
  if (!current) return;
  current.features.dispose();
  current = null;
}

/** The app's root URL and the stall limit of downloads, from the last init. */
let appBase = '';
let stallMs: number | undefined;
const folderUrl = (dir: string) => new URL(`models/${dir}/`, appBase).href;
const folder = (dir: string) => cachedReader(folderUrl(dir), stallMs === undefined ? {} : { stallMs });
const progressOf = (model: string) => (loaded: number, total: number) =>
  post({ kind: 'progress', model, loaded, total });

/** Opens the compressed LORS source when it is on the server (model.json only; its shards load on its first slice). */
async function openCompressed(): Promise<string | undefined> {
  try {
    sources.compressed = await OrderedLors.open(folder(LORS_SOURCE_DIRS.compressed).read);
  } catch (e) {
    if (!(e instanceof FileNotFoundError)) return `the compressed LORS weights are unusable (${errorText(e)})`;
  }
  return undefined;
}

/**
 * Loads one decoder into `det` through decoderSource: its trained weights (LORS: the whole trained ordered source,
 * kept for later slices; its model.json is read once, a retry re-reads only the shards), or its seeded initialisation
 * when `seeded` (the user's explicit choice only). Trained weights that cannot be used are reported (file + reason);
 * nothing is loaded in their place.
 */
async function loadDecoder(det: Detector, name: DecoderSlot, seeded: boolean): Promise<DecoderLoadInfo> {
  const onProgress = progressOf(name);
  const preset = makeConfig('web', SLOT_VARIANTS[name]);
  const sliced = name === SLICED_SLOT;
  if (seeded) {
    const config = await det.setDecoder(name, { config: preset, seed: 0 }, onProgress);
    const note = 'seeded initial weights (seed 0), as asked';
    return { config, trained: false, weightBytes: encodedBytes(config, 'int8'), note };
  }
  const dir = DECODER_DIRS[name];
  try {
    const kept = sliced ? sources.trained : undefined;
    const d = kept
      ? { source: { lors: kept }, trained: true, weightBytes: kept.weightBytes, lors: kept }
      : await decoderSource(folder(dir).read, preset);
    if (!d.trained) {
      const failed = { file: `models/${dir}/${MODEL_JSON}`, reason: d.note ?? 'no trained weights' };
      return { config: preset, trained: false, weightBytes: 0, failed };
    }
    if (sliced) sources.trained = d.lors;
    const config = await det.setDecoder(name, d.source, onProgress);
    return { config, trained: true, weightBytes: d.weightBytes };
  } catch (e) {
    if (isDeviceLossError(e)) throw e;
    const config = sliced ? (sources.trained?.config ?? preset) : preset;
    return { config, trained: false, weightBytes: 0, failed: decoderFailure(e, appBase, folderUrl(dir)) };
  }
}

function lorsSourcesInfo(): InitResult['lorsSources'] {
  const out: InitResult['lorsSources'] = {};
  for (const [name, s] of Object.entries(sources) as [LorsSourceName, OrderedLors][]) {
    out[name] = { config: s.config, weightBytes: s.weightBytes };
  }
  return out;
}

/** The page's retry (or seeded choice) for one decoder; the other decoders and the cached photo stay. */
async function reloadDecoder(name: DecoderSlot, seeded: boolean): Promise<LoadDecoderResult> {
  const det = need();
  if (!DECODER_SLOTS.includes(name)) throw new Error(`unknown decoder "${String(name)}"`);
  const info = await loadDecoder(det, name, seeded);
  return { info, lorsSources: lorsSourcesInfo() };
}

async function init(req: InitRequest): Promise<InitResult> {
  disposeCurrent();
  detector?.dispose();
  detector = null;
  sources = {};
  appBase = req.base;
  stallMs = req.stallMs;
  const backbone = req.backbone === false ? null : folder(NANODET_DIR);
  const slots = req.decoders ?? DECODER_SLOTS;
  const det = await load({
    backend: req.backend,
    wasmPaths: wasmPaths(),
    wasmThreads: req.wasmThreads,
    ...(backbone ? { readBackbone: backbone.read } : {}),
    onProgress: (p) => post({ kind: 'progress', ...p }),
  }).catch((e: unknown) => {
    // Without the backbone no panel runs: the page shows this with a Retry; it names the file.
    if (e instanceof DownloadError || e instanceof MissingFileError) {
      throw new Error(`${relativeTo(appBase, e.url)}: ${e.message}`);
    }
    throw e;
  });
  watchDeviceLoss((message) => post({ kind: 'deviceLost', message }));
  try {
    const compressedNote = slots.includes(SLICED_SLOT) ? await openCompressed() : undefined;
    const info: Partial<Record<DecoderSlot, DecoderLoadInfo>> = {};
    for (const name of slots) info[name] = await loadDecoder(det, name, false);
    if (compressedNote) info[SLICED_SLOT]!.note = compressedNote;
    post(
      det.fallbackReason
        ? { kind: 'backend', backend: det.backend, fallbackReason: det.fallbackReason }
        : { kind: 'backend', backend: det.backend },
    );
    // Only WebGPU has kernels to compile before the first photo; on wasm/cpu a warm-up forward would only delay
    // "Ready" by the time of one photo, and the first photo (the sample on a first visit) warms the same code.
    if (det.backend === 'webgpu') {
      post({
        kind: 'status',
        message: `Warming up on ${det.backend} (compiling kernels, one-time)…`,
        phase: 'warming',
      });
      await det.warmup();
    }
    detector = det;
    const result: InitResult = {
      backend: det.backend,
      backboneParams: det.backboneParams,
      backboneBytes: backbone?.bytesRead() ?? 0,
      decoders: info,
      lorsSources: lorsSourcesInfo(),
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
  return {
    backend: tf.getBackend(),
    wasmThreads: wasmThreadsInUse(),
    wasmKernels: wasmKernelsInUse(),
    numTensors: m.numTensors,
    numBytes: m.numBytes,
  };
}

function need(): Detector {
  if (!detector) throw new Error('the models are not loaded yet');
  return detector;
}

async function setImage(
  imageId: number,
  image: { data: Uint8Array | Uint8ClampedArray; width: number; height: number },
  share: boolean,
): Promise<{ backboneMs: number; features?: HostFeatures }> {
  const det = need();
  disposeCurrent();
  const t0 = performance.now();
  const features = det.extract(image);
  let host: HostFeatures | undefined;
  try {
    // Wait for the backbone to finish so its time is not billed to the first decoder.
    if (share) host = await featuresToHost(features);
    else await features.levels[features.levels.length - 1]!.data();
  } catch (e) {
    features.dispose();
    throw e;
  }
  current = { imageId, features };
  const backboneMs = performance.now() - t0;
  return host ? { backboneMs, features: host } : { backboneMs };
}

function setFeatures(imageId: number, host: HostFeatures): Record<string, never> {
  need();
  disposeCurrent();
  current = { imageId, features: featuresFromHost(host) };
  return {};
}

async function detect(
  id: number,
  imageId: number,
  models: ModelName[],
  stage?: number,
  allStages = false,
): Promise<DetectResult[]> {
  const det = need();
  if (!current || current.imageId !== imageId) throw new Error(`no features cached for image ${imageId}`);
  const out: DetectResult[] = [];
  for (const model of models) {
    const t0 = performance.now();
    let stages: DetectResult['stages'];
    let detections;
    if (model === 'nanodet') {
      detections = await det.detect(current.features, {
        model,
        scoreThreshold: NANODET_MIN_SCORE,
        maxDetections: DECODER_TOPK,
      });
    } else if (allStages) {
      stages = await det.detectStages(current.features, { model, scoreThreshold: 0, maxDetections: DECODER_TOPK });
      detections = stages[stage === undefined ? stages.length - 1 : stage - 1] ?? [];
    } else {
      const opts = { model, scoreThreshold: 0, maxDetections: DECODER_TOPK, ...(stage !== undefined ? { stage } : {}) };
      detections = await det.detect(current.features, opts);
    }
    const r: DetectResult = { model, imageId, detections, latencyMs: performance.now() - t0 };
    if (stages) r.stages = stages;
    if (model !== 'nanodet' && stage !== undefined) r.stage = stage;
    post({ kind: 'partial', id, result: r });
    out.push(r);
  }
  return out;
}

/** One handler per request type, each answering that type's reply (protocol.ts WorkerApi). */
const handlers: { [K in RequestType]: (req: WorkerApi[K]['req'], id: number) => Promise<WorkerApi[K]['reply']> } = {
  init: (r) => init(r),
  loadDecoder: (r) => reloadDecoder(r.name, r.seeded ?? false),
  setImage: (r) => setImage(r.imageId, r.image, r.share ?? false),
  setFeatures: async (r) => setFeatures(r.imageId, r.features),
  detect: (r, id) => detect(id, r.imageId, r.models, r.stage, r.allStages),
  setLors: (r) => setLors(r.source, r.slice),
  stats: async () => stats(),
};

function handle({ id, req }: RequestEnvelope): Promise<unknown> {
  const h = handlers[req.type] as ((r: WorkerRequest, id: number) => Promise<unknown>) | undefined;
  if (!h) throw new Error(`unknown request ${String(req.type)}`);
  return h(req, id);
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
      // Shared features move to the page (not copied).
      const shared = (value as { features?: HostFeatures } | undefined)?.features;
      post({ kind: 'reply', id: env.id, ok: true, value }, shared ? hostBuffers(shared) : []);
    } catch (e) {
      // Told before the error, so the page recovers instead of showing it.
      const lost = await deviceLossBehind(e);
      if (lost) post({ kind: 'deviceLost', message: lost });
      post({ kind: 'reply', id: env.id, ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  });
};
