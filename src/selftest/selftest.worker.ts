/// <reference lib="webworker" />
/** The self-test page's worker: runs the WebGPU-vs-wasm checks once and posts the result. */
import { wasmPaths } from '../worker/wasmPaths';
import { runSelftest, type SelftestResult } from './checks';
import { fusedChecks } from './fusedChecks';
import { countDecoderKernels, type KernelReport } from './kernelCount';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../model/backend';

declare const self: DedicatedWorkerGlobalScope;

export type SelftestMessage =
  | { kind: 'status'; message: string }
  | { kind: 'done'; result: SelftestResult }
  | { kind: 'kernels'; report: KernelReport }
  | { kind: 'error'; message: string };

const post = (m: SelftestMessage) => self.postMessage(m);

/** Only the fused-vs-ops checks on WebGPU (selftest.html?fused: a quicker loop while working on the kernels). */
async function fusedOnly(status: (m: string) => void, only?: string): Promise<SelftestResult> {
  const choice = await initBackend('webgpu', { wasmPaths: wasmPaths() });
  if (choice.backend !== 'webgpu')
    throw new Error(`self-test: could not use webgpu (${choice.fallbackReason ?? 'unknown reason'})`);
  // Surface WebGPU validation errors (an invalid shader would otherwise only show as wrong or missing results).
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  device.addEventListener('uncapturederror', (ev) =>
    status(`WebGPU error: ${(ev as GPUUncapturedErrorEvent).error.message}`),
  );
  const checks = await fusedChecks(status, only);
  return {
    backends: ['webgpu'],
    checks,
    maxAbsDiff: Math.max(...checks.map((c) => c.maxAbsDiff)),
    passed: checks.every((c) => c.passed),
  };
}

self.onmessage = (ev: MessageEvent<{ base: string; mode?: 'kernels' | 'fused'; only?: string }>) => {
  const status = (message: string) => post({ kind: 'status', message });
  if (ev.data.mode === 'fused') {
    fusedOnly(status, ev.data.only).then(
      (result) => post({ kind: 'done', result }),
      (e: unknown) => post({ kind: 'error', message: e instanceof Error ? e.message : String(e) }),
    );
    return;
  }
  if (ev.data.mode === 'kernels') {
    countDecoderKernels(wasmPaths(), status).then(
      (report) => post({ kind: 'kernels', report }),
      (e: unknown) => post({ kind: 'error', message: e instanceof Error ? e.message : String(e) }),
    );
    return;
  }
  runSelftest(ev.data.base, wasmPaths(), (message) => post({ kind: 'status', message })).then(
    (result) => post({ kind: 'done', result }),
    (e: unknown) => post({ kind: 'error', message: e instanceof Error ? e.message : String(e) }),
  );
};
