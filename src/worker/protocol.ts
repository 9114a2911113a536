/** Messages between the page and the inference worker (src/worker/detector.worker.ts). */
import type { ModelConfig } from '../model/config';
import type { LorsSourceName } from '../model/constants';
import type { HostFeatures } from '../model/hostFeatures';
import type { LorsSlice } from '../model/lors/slice';
import type { BackendName, DecoderSlot, Detection, ModelName, RgbaImage } from '../model/types';

/**
 * Every request the page can make and the reply it gets, tied: WorkerClient.request('detect', …) resolves to
 * DetectResult[], and the worker's handlers must answer that type.
 */
export interface WorkerApi {
  /** Loads the backbone and the decoders on a backend (InitRequest). */
  init: { req: InitRequest; reply: InitResult };
  /**
   * Loads one decoder again (the others keep running): its trained weights (a retry after a failed download, only
   * the files not already verified and cached are fetched), or its seeded initial weights when `seeded` (the user's
   * explicit choice).
   */
  loadDecoder: { req: { name: DecoderSlot; seeded?: boolean }; reply: LoadDecoderResult };
  /**
   * Runs the backbone on a photo and keeps its features for later `detect`s. `share`: the reply also carries host
   * copies of the features (transferred), for a decoders-only worker's `setFeatures`.
   */
  setImage: {
    req: { imageId: number; image: RgbaImage; share?: boolean };
    reply: { backboneMs: number; features?: HostFeatures };
  };
  /** A decoders-only worker: keeps features extracted by the backbone's worker for later `detect`s of `imageId`. */
  setFeatures: { req: { imageId: number; features: HostFeatures }; reply: Record<string, never> };
  /**
   * Runs the named heads on the cached features of `imageId`; posts one 'partial' per model as it lands, then
   * answers them all. `stage` (1-based, default the last): the decoder stage whose predictions the decoders return;
   * `allStages`: the decoders also return every stage's predictions from the same forward (the stage scrubber).
   */
  detect: {
    req: { imageId: number; models: ModelName[]; stage?: number; allStages?: boolean };
    reply: DetectResult[];
  };
  /**
   * Makes a slice of one source's ordered weights the 'lors' decoder (src/model/lors/source.ts; loads that source on
   * first use). The slice must fit the source (the page's selector clamps it); answers the slice's config.
   */
  setLors: { req: { source: LorsSourceName; slice: LorsSlice }; reply: { config: ModelConfig } };
  /** Answered at once, even while a long request runs (the page's memory readout). */
  stats: { req: Record<string, never>; reply: WorkerStats };
}

export interface InitRequest {
  backend: BackendName | 'auto';
  /** The app's root URL. */
  base: string;
  stallMs?: number;
  /** Threads of the wasm backend (where its threaded build can run). */
  wasmThreads: number;
  /** The decoders this worker holds (default all); the others run in another worker. */
  decoders?: DecoderSlot[];
  /** False: a decoders-only worker, fed features by `setFeatures` (no backbone, no NanoDet head). */
  backbone?: boolean;
}

export type RequestType = keyof WorkerApi;
export type WorkerRequest = { [K in RequestType]: { type: K } & WorkerApi[K]['req'] }[RequestType];

/** What the worker holds: its backend (with the wasm backend's threads) and tfjs's live tensors and bytes. */
export interface WorkerStats {
  backend: string;
  /** Threads of the wasm backend (1: single-threaded build); null on another backend. */
  wasmThreads: number | null;
  /** Whether the wasm SIMD kernels (model/adamixer/wasm) run the decoders; null on another backend. */
  wasmKernels: boolean | null;
  numTensors: number;
  numBytes: number;
}

/** A decoder whose trained weights could not be used: the file (relative to the app's root) and the reason. */
export interface DecoderFailure {
  file: string;
  reason: string;
}

export interface DecoderLoadInfo {
  /** The loaded config; for a failed decoder, the config it was to load (its source's, else the preset's). */
  config: ModelConfig;
  trained: boolean;
  weightBytes: number;
  note?: string;
  /** The trained weights could not be used and nothing was loaded instead: which file failed and why. */
  failed?: DecoderFailure;
}

export interface LoadDecoderResult {
  info: DecoderLoadInfo;
  lorsSources: InitResult['lorsSources'];
}

export interface InitResult {
  backend: BackendName;
  fallbackReason?: string;
  backboneParams: number;
  backboneBytes: number;
  decoders: Partial<Record<DecoderSlot, DecoderLoadInfo>>;
  /** The ordered LORS weights on the server, by source: their (largest) config and file bytes. */
  lorsSources: Partial<Record<LorsSourceName, { config: ModelConfig; weightBytes: number }>>;
}

export interface DetectResult {
  model: ModelName;
  imageId: number;
  detections: Detection[];
  latencyMs: number;
  /** The decoder stage the detections come from (1-based; absent: the last, and always for nanodet). */
  stage?: number;
  /** Asked with `allStages` (decoders only): every stage's detections, index 0 = stage 1, the last = `detections`. */
  stages?: Detection[][];
}

export interface RequestEnvelope {
  id: number;
  req: WorkerRequest;
}

export type WorkerMessage =
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; error: string }
  | { kind: 'progress'; model: string; loaded: number; total: number }
  | { kind: 'status'; message: string; phase?: 'loading' | 'warming' }
  | { kind: 'backend'; backend: BackendName; fallbackReason?: string }
  /** The WebGPU device was lost (driver reset, GPU process crash, …): this worker's models are unusable. */
  | { kind: 'deviceLost'; message: string }
  /** One result of the `detect` request `id`, before its reply. */
  | { kind: 'partial'; id: number; result: DetectResult };
