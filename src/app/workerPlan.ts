/**
 * How the models are spread over inference workers. On WebGPU one worker runs everything (the GPU runs one program
 * at a time anyway). On wasm and cpu with two cores or more, a second worker holds the vanilla decoder: both
 * decoders of a photo then run at once on the backbone's features (measured in docs/performance.md), each worker on
 * its share of the cores' threads.
 */
import type { DecoderSlot } from '../model/types';
import type { BackendChoiceName } from '../state/settings';

/** The decoders the second worker holds; the first keeps the backbone, NanoDet's head and the rest. */
export const SECOND_WORKER_SLOTS: readonly DecoderSlot[] = ['vanilla'];

export interface WorkerPlan {
  /** Whether a second, decoders-only worker runs SECOND_WORKER_SLOTS. */
  split: boolean;
  /** wasm threads per worker (used where the page is cross-origin isolated). */
  wasmThreads: number;
}

/** `webgpu`: whether the browser exposes WebGPU ('auto' then tries it first and keeps one worker). */
export function workerPlan(backend: BackendChoiceName, cores: number, webgpu: boolean): WorkerPlan {
  const n = Math.max(1, Math.floor(cores) || 1);
  const onGpu = backend === 'webgpu' || (backend === 'auto' && webgpu);
  const split = !onGpu && n >= 2;
  return { split, wasmThreads: split ? Math.floor(n / 2) : n };
}
