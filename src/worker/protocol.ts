/** Messages between the page and the inference worker (src/worker/detector.worker.ts). */
import type { ModelConfig } from '../model/config';
import type { LorsSlice, LorsSource } from '../model/lors/slice';
import type { BackendName, Detection, ModelName, RgbaImage } from '../model/types';

export type DecoderName = 'vanilla' | 'lors';

export type WorkerRequest =
  /** Loads the backbone and both decoders on a backend; answers InitResult. `base` is the app's root URL. */
  | { type: 'init'; backend: BackendName | 'auto'; base: string }
  /** Runs the backbone on a photo and keeps its features for later `detect`s; answers { backboneMs }. */
  | { type: 'setImage'; imageId: number; image: RgbaImage }
  /** Runs the named heads on the cached features of `imageId`; posts one 'partial' per model, answers DetectResult[]. */
  | { type: 'detect'; imageId: number; models: ModelName[] }
  /** Answers { backend: tf.getBackend() } (used by the tests). */
  | { type: 'probe' }
  /**
   * Cuts the LORS decoder to a slice of one source's ordered weights (src/model/lors/slice.ts; loads that source on
   * first use) and makes it the 'lors' decoder; answers { config } (the slice's config).
   */
  | { type: 'setLors'; source: LorsSource; slice: LorsSlice }
  /** Cross-backend check (webgpu vs wasm) of the building blocks; answers SelftestResult. */
  | { type: 'selftest'; base: string };

export interface DecoderLoadInfo {
  config: ModelConfig;
  trained: boolean;
  weightBytes: number;
  note?: string;
}

export interface InitResult {
  backend: BackendName;
  fallbackReason?: string;
  backboneParams: number;
  backboneBytes: number;
  decoders: Partial<Record<DecoderName, DecoderLoadInfo>>;
  /** The ordered LORS weights on the server, by source: their (largest) config and file bytes. */
  lorsSources: Partial<Record<LorsSource, { config: ModelConfig; weightBytes: number }>>;
}

export interface DetectResult {
  model: ModelName;
  imageId: number;
  detections: Detection[];
  latencyMs: number;
}

export interface SelftestCheck {
  name: string;
  maxAbsDiff: number;
  /** Largest accepted maxAbsDiff (Infinity: reported only). */
  tolerance: number;
  passed: boolean;
  /** Elements compared. */
  size: number;
  webgpuMs: number;
  wasmMs: number;
  /** Largest |value| on wasm (the scale the difference is relative to). */
  maxAbs: number;
  /** NaN/±Infinity values on each backend. */
  nonFiniteWebgpu: number;
  nonFiniteWasm: number;
  /** The first segments (stage, logits/boxes) above the tolerance. */
  mismatches?: string[];
}

export interface SelftestResult {
  backends: string[];
  checks: SelftestCheck[];
  maxAbsDiff: number;
  passed: boolean;
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
  | { kind: 'partial'; id: number; result: DetectResult };
