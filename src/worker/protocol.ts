/** Messages between the page and the inference worker (src/worker/detector.worker.ts). */
import type { ModelConfig } from '../model/config';
import type { LorsSourceName } from '../model/constants';
import type { LorsSlice } from '../model/lors/slice';
import type { BackendName, DecoderName, Detection, ModelName, RgbaImage } from '../model/types';

export type WorkerRequest =
  /** Loads the backbone and both decoders on a backend; answers InitResult. `base` is the app's root URL. */
  | { type: 'init'; backend: BackendName | 'auto'; base: string; stallMs?: number }
  /**
   * Loads one decoder again (the others keep running): its trained weights (a retry after a failed download, only
   * the files not already verified and cached are fetched), or its seeded initial weights when `seeded` (the user's
   * explicit choice). Answers LoadDecoderResult.
   */
  | { type: 'loadDecoder'; name: DecoderName; seeded?: boolean }
  /** Runs the backbone on a photo and keeps its features for later `detect`s; answers { backboneMs }. */
  | { type: 'setImage'; imageId: number; image: RgbaImage }
  /**
   * Runs the named heads on the cached features of `imageId`; posts one 'partial' per model, answers DetectResult[].
   * `stage` (1-based, default the last): the decoder stage whose predictions the decoders return.
   */
  | { type: 'detect'; imageId: number; models: ModelName[]; stage?: number }
  /**
   * Makes a slice of one source's ordered weights the 'lors' decoder (src/model/lors/source.ts; loads that source on
   * first use). The slice must fit the source (the page clamps its sliders); answers { config } (the slice's).
   */
  | { type: 'setLors'; source: LorsSourceName; slice: LorsSlice }
  /** Answers WorkerStats at once, even while a long request runs (the page's memory readout). */
  | { type: 'stats' };

/** What the worker holds: its backend and tfjs's live tensors and bytes. */
export interface WorkerStats {
  backend: string;
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
  decoders: Partial<Record<DecoderName, DecoderLoadInfo>>;
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
  | { kind: 'partial'; id: number; result: DetectResult };
