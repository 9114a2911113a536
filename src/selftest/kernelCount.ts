/**
 * Kernels per decoder forward (backbone excluded), at the web preset, for vanilla and for LORS as the app runs it
 * (LORS^T and LORS^A folded at load, weights prepared), on WebGPU and on wasm. Run by selftest.html?kernels (the
 * `npm run bench -- --kernels` entry). Counting needs no real GPU: SwiftShader dispatches the same programs.
 *   - WebGPU: GPU programs dispatched (WebGPUBackend.runWebGPUProgram calls: tfjs's kernels and the fused ones),
 *     for the path the app takes (fused) and for the tfjs-op path.
 *   - wasm: tf.profile's kernels (the tfjs-op path, the only one there).
 * Seeded-init weights: counts do not depend on values.
 */
import * as tf from '@tensorflow/tfjs';
import { decoderForward, type DecoderOptions } from '../model/adamixer/decoder';
import { initBackend } from '../model/backend';
import { makeConfig, type ModelConfig } from '../model/config';
import { appWeights } from './fusedChecks';
import { countPrograms } from '../model/nn/webgpu/count';
import type { WeightMap } from '../model/types';
import { initWeights } from '../model/weights/init';
import { randomLevels } from '../testing/reference';

/** The letterboxed input the app feeds NanoDet (416 × 416: maps of 52², 26², 13²). */
const INPUT = 416;
const IMAGE: [number, number] = [416, 312];

export interface PathCount {
  /** GPU programs dispatched (WebGPU only). */
  programs?: number;
  /** Programs per name (WebGPU only). */
  byProgram?: Record<string, number>;
  /** tf.profile's kernels (wasm only). */
  tfKernels?: number;
}

export interface KernelReport {
  preset: 'web';
  input: number;
  /** kernels.<backend>.<model>: the count for the path the app runs (WebGPU: programs of the fused path). */
  kernels: { webgpu: Record<'vanilla' | 'lors', number>; wasm: Record<'vanilla' | 'lors', number> };
  detail: {
    webgpu: Record<'vanilla' | 'lors', { app: PathCount; ops: PathCount }>;
    wasm: Record<'vanilla' | 'lors', { app: PathCount }>;
  };
}

/** Counts one forward (no warm-up needed: uploads and shader compiles are not dispatches). */
async function countPath(
  cfg: ModelConfig,
  weights: WeightMap,
  levels: tf.Tensor4D[],
  opts: DecoderOptions,
): Promise<PathCount> {
  const forward = async () => {
    const preds = decoderForward(weights, cfg, levels, [IMAGE], opts);
    await preds[0]!.logits.data();
    tf.dispose(preds.flatMap((p) => [p.logits, p.boxes]));
  };
  if (tf.getBackend() === 'webgpu') {
    const { programs, byName } = await countPrograms(forward);
    return { programs, byProgram: byName };
  }
  const info = await tf.profile(async () => {
    await forward();
    return undefined as unknown as tf.Tensor;
  });
  return { tfKernels: info.kernels.length };
}

export async function countDecoderKernels(
  wasmPaths: Record<string, string>,
  status: (m: string) => void,
): Promise<KernelReport> {
  const report: KernelReport = {
    preset: 'web',
    input: INPUT,
    kernels: { webgpu: { vanilla: 0, lors: 0 }, wasm: { vanilla: 0, lors: 0 } },
    detail: { webgpu: {} as KernelReport['detail']['webgpu'], wasm: {} as KernelReport['detail']['wasm'] },
  };
  for (const backend of ['webgpu', 'wasm'] as const) {
    const choice = await initBackend(backend, { wasmPaths });
    if (choice.backend !== backend)
      throw new Error(`kernel count: could not use ${backend} (${choice.fallbackReason ?? 'unknown reason'})`);
    for (const variant of ['vanilla', 'lors'] as const) {
      status(`Counting kernels on ${backend}: ${variant}…`);
      const cfg = makeConfig('web', variant);
      const w = appWeights(initWeights(cfg, 0), cfg);
      const levels = randomLevels(cfg, 1, INPUT, INPUT, 7);
      try {
        if (backend === 'webgpu') {
          status(`Counting kernels on webgpu: ${variant}, fused path…`);
          const app = await countPath(w.runs, w.run, levels, { impl: 'fused' });
          status(`Counting kernels on webgpu: ${variant}, tfjs-op path…`);
          const ops = await countPath(w.runs, w.run, levels, { impl: 'ops' });
          report.detail.webgpu[variant] = { app, ops };
          report.kernels.webgpu[variant] = app.programs!;
        } else {
          const app = await countPath(w.runs, w.run, levels, {});
          report.detail.wasm[variant] = { app };
          report.kernels.wasm[variant] = app.tfKernels!;
        }
      } finally {
        tf.dispose([...w.all, ...levels]);
      }
    }
  }
  return report;
}
