/**
 * Between tfjs tensors and the wasm kernels (kernels.ts): whether the kernels run for the current backend, and a
 * tensor's values without a copy.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { wasmThreadsInUse } from '../../backend';
import type { WeightMap } from '../../types';
import { getLinearWeight } from '../../nn/ops';
import { wasmKernels, type HostLinear, type WasmKernels } from './kernels';

/** The wasm kernels when the backend is wasm and they run here, else null (the tfjs ops run). */
export function onWasmKernels(): WasmKernels | null {
  return tf.getBackend() === 'wasm' ? wasmKernels() : null;
}

/** Whether the wasm kernels run the decoders here (worker stats, bench): null off the wasm backend. */
export function wasmKernelsInUse(): boolean | null {
  return tf.getBackend() === 'wasm' ? wasmKernels() !== null : null;
}

/**
 * A float32 tensor's values where the wasm backend keeps them, not copied (dataSync copies): read them before the
 * next tfjs op, which may move that memory. Other backends: dataSync.
 */
export function wasmValues(t: tf.Tensor): Float32Array {
  if (tf.getBackend() !== 'wasm' || t.dtype !== 'float32') return t.dataSync() as Float32Array;
  const backend = tf.backend() as BackendWasm;
  const { memoryOffset } = backend.dataIdMap.get(t.dataId) as { memoryOffset: number };
  const heap = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8; // (tfjs-backend-wasm's own accessor)
  return new Float32Array(heap.buffer, memoryOffset, t.size);
}

/**
 * The Linear `name` of a weight map for the kernels (its packed weight kept while the weight tensor lives), or null
 * where tfjs runs it: not prepared ([in, out], prepareWeights), no bias, or tfjs-wasm running on more than one
 * thread (`threads`, default its thread count), where XNNPACK's thread pool shares the product out and the kernels
 * run on one.
 */
export function hostLinear(weights: WeightMap, name: string, threads = wasmThreadsInUse() ?? 1): HostLinear | null {
  const { w, layout } = getLinearWeight(weights, `${name}.weight`);
  const b = weights.get(`${name}.bias`);
  if (threads > 1 || layout !== 'inOut' || !b || w.rank !== 2) return null;
  const [K, N] = w.shape as [number, number];
  return { owner: w, weight: () => wasmValues(w), bias: () => wasmValues(b), K, N };
}
