/**
 * WebGPU device loss seen from the worker: the `lost` promise of the device behind tfjs's webgpu backend (driver
 * reset, GPU process crash, a laptop switching GPUs, a tab in the background on mobile), and errors that mean the same.
 */
import * as tf from '@tensorflow/tfjs';

interface LostInfo {
  reason?: string;
  message?: string;
}
interface WithDevice {
  device?: { lost?: Promise<LostInfo> };
}

const describe = (info: LostInfo | undefined) =>
  [info?.reason && info.reason !== 'unknown' ? info.reason : '', info?.message ?? ''].filter(Boolean).join(': ') ||
  'no reason given';

/** The active backend's device, without initialising a backend when none is active (tfjs's engine field). */
function activeDevice(): WithDevice['device'] {
  return (tf.engine() as unknown as { backendInstance?: WithDevice | null }).backendInstance?.device;
}

/** Calls `onLost` once when the active backend's WebGPU device is lost; nothing for backends without a device. */
export function watchDeviceLoss(onLost: (message: string) => void): void {
  void activeDevice()?.lost?.then((info) => onLost(describe(info)));
}

/** True for an error that a lost or destroyed WebGPU device raises. */
export function isDeviceLossError(e: unknown): boolean {
  const m = e instanceof Error ? `${e.name} ${e.message}` : String(e);
  return /device (is |was |has been )?(lost|destroyed)|GPUDevice.*\b(lost|destroyed)\b/i.test(m);
}

/** An error raised by a WebGPU API call (a lost device is one cause among others). */
const isWebGpuApiError = (m: string) => /\bGPU(Buffer|Device|Queue|CommandEncoder)\b|mapAsync/.test(m);

/**
 * The device loss behind a failed request, or null: the error says so, or the device's `lost` promise settles
 * in time. Calls on a destroyed device fail at once ("Failed to execute 'mapAsync' on 'GPUBuffer': Buffer was
 * unmapped before mapping was resolved") while `lost` settles only when the GPU process gets to it — with
 * SwiftShader busy on queued work, more than 3 s later. So a WebGPU API error waits up to `apiWaitMs` for `lost`,
 * any other failure on a WebGPU backend `waitMs`; nothing waits without a device.
 */
export async function deviceLossBehind(e: unknown, waitMs = 250, apiWaitMs = 30_000): Promise<string | null> {
  if (isDeviceLossError(e)) return e instanceof Error ? e.message : String(e);
  const lost = activeDevice()?.lost;
  if (!lost) return null;
  if (isWebGpuApiError(e instanceof Error ? e.message : String(e))) waitMs = apiWaitMs;
  const info = await Promise.race([lost, new Promise<null>((ok) => setTimeout(() => ok(null), waitMs))]);
  return info ? describe(info) : null;
}
