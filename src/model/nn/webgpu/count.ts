/**
 * Counting dispatches: how many GPU programs a piece of work issues on the WebGPU backend (tfjs's own kernels and
 * the custom programs alike go through WebGPUBackend.runWebGPUProgram, one dispatch per call).
 */
import * as tf from '@tensorflow/tfjs';

type Runner = { runWebGPUProgram: (...args: unknown[]) => unknown };

/**
 * Runs `f` (sync or async) and returns its result with the number of runWebGPUProgram calls made meanwhile, per
 * program name too. On another backend `programs` is 0 (use tf.profile's kernels there).
 */
export async function countPrograms<T>(
  f: () => T | Promise<T>,
): Promise<{ result: T; programs: number; byName: Record<string, number> }> {
  const byName: Record<string, number> = {};
  let programs = 0;
  if (tf.getBackend() !== 'webgpu') return { result: await f(), programs, byName };
  const backend = tf.backend() as unknown as Runner;
  const original = backend.runWebGPUProgram;
  backend.runWebGPUProgram = function (this: unknown, ...args: unknown[]) {
    programs++;
    // The shader key's leading words name the program (class names are minified in a production bundle).
    const key = (args[0] as { shaderKey?: string }).shaderKey ?? '?';
    const words = key.split('_');
    const n = words.findIndex((w, k) => k > 0 && (k >= 2 || /^[0-9]/.test(w)));
    const name = words.slice(0, n < 0 ? words.length : n).join('_');
    byName[name] = (byName[name] ?? 0) + 1;
    return original.apply(this, args);
  };
  try {
    return { result: await f(), programs, byName };
  } finally {
    backend.runWebGPUProgram = original;
  }
}
