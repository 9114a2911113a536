/**
 * WebGPU device loss seen from the worker: the `lost` promise of the device behind tfjs's webgpu backend (driver
 * reset, GPU process crash, a laptop switching GPUs, a tab in the background on mobile), and errors that mean the same.
 */
import * as tf from '@tensorflow/tfjs';

interface LostInfo { reason?: string; message?: string }

const describe = (info: LostInfo | undefined) =>
  [info?.reason && info.reason !== 'unknown' ? info.reason : '', info?.message ?? ''].filter(Boolean).join(': ') || 'no reason given';

/** Calls `onLost` once when the active backend's WebGPU device is lost; nothing for backends without a device. */
export function watchDeviceLoss(onLost: (message: string) => void): void {
  const device = (tf.backend() as { device?: { lost?: Promise<LostInfo> } }).device;
  void device?.lost?.then((info) => onLost(describe(info)));
}

/** True for an error that a lost or destroyed WebGPU device raises. */
export function isDeviceLossError(e: unknown): boolean {
  const m = e instanceof Error ? `${e.name} ${e.message}` : String(e);
  return /device (is |was |has been )?(lost|destroyed)|GPUDevice.*\b(lost|destroyed)\b/i.test(m);
}
