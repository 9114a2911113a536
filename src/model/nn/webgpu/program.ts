/**
 * Custom WebGPU programs run through tfjs-backend-webgpu's own program interface (WebGPUBackend.runWebGPUProgram),
 * so inputs and outputs stay tfjs tensors on the backend's device: no second device, no copies.
 *
 * A program here is one flat dispatch: `threads` invocations in workgroups of `workgroupSize`, each calling the
 * user code's `fn main(index: i32)` with its global index (tfjs reshapes big dispatches and keeps the index flat).
 * Sizes are baked into the WGSL as constants, and the shader key names them, so one pipeline is compiled per shape.
 * Inputs are read as plain `array<f32>` buffers named by `inputs`; the output is `result`.
 * tfjs binds one storage buffer per input plus the output, and WebGPU's default limit is 8 per stage: ≤ 7 inputs.
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

/** Most inputs of one program (maxStorageBuffersPerShaderStage 8, output included). */
export const MAX_PROGRAM_INPUTS = 7;

export interface ProgramSpec {
  /** Shader key prefix; with `key` it must identify the WGSL exactly. */
  name: string;
  /** Everything baked into the code (sizes, constants). */
  key: string;
  /** Input buffer names, in the order of the tensors passed to runProgram. */
  inputs: string[];
  outputShape: number[];
  /** Invocations (global indices 0 … threads − 1; may exceed the output size). */
  threads: number;
  /** Invocations per workgroup (a kernel that shares workgroup memory gets whole workgroups of this size). */
  workgroupSize: number;
  /** WGSL: module-scope declarations and `fn main(index : i32) { … }`. */
  code: string;
}

/** The WebGPUProgram of a spec (tfjs fills in shaderKey and the pipeline). */
export function makeProgram(s: ProgramSpec): WebGPUProgram {
  if (s.inputs.length > MAX_PROGRAM_INPUTS) {
    throw new Error(`${s.name}: ${s.inputs.length} inputs, at most ${MAX_PROGRAM_INPUTS} storage buffers per program`);
  }
  const head = 'fn main(index : i32) {';
  if (!s.code.includes(head)) throw new Error(`${s.name}: the code must define \`${head}\``);
  // tfjs always binds its uniforms buffer; a pipeline with layout 'auto' only has the bindings the shader uses, so
  // the shader must use it (or the bind group is invalid).
  const code = s.code.replace(head, `${head}\n  _ = uniforms.NAN;`);
  const groups = Math.ceil(s.threads / s.workgroupSize);
  return {
    variableNames: s.inputs,
    outputShape: s.outputShape,
    shaderKey: `${s.name}_${s.key}`,
    dispatchLayout: { x: s.outputShape.map((_, i) => i) },
    dispatch: [groups, 1, 1],
    workgroupSize: [s.workgroupSize, 1, 1],
    getUserCode: () => code,
  };
}

/** True when tfjs runs on its WebGPU backend (the only place these programs run). */
export function onWebGPU(): boolean {
  return tf.getBackend() === 'webgpu';
}

/**
 * Runs a program on float32 inputs and returns its output as a tfjs tensor (tracked by the enclosing tf.tidy).
 */
export function runProgram(s: ProgramSpec, inputs: tf.Tensor[]): tf.Tensor {
  if (!onWebGPU()) throw new Error(`${s.name}: custom WebGPU programs need the webgpu backend, not ${tf.getBackend()}`);
  if (inputs.length !== s.inputs.length)
    throw new Error(`${s.name}: ${inputs.length} inputs for ${s.inputs.length} buffers`);
  inputs.forEach((t, i) => {
    if (t.dtype !== 'float32') throw new Error(`${s.name}: input ${s.inputs[i]} is ${t.dtype}, expected float32`);
  });
  const backend = tf.backend() as unknown as WebGPUBackend;
  const info = backend.runWebGPUProgram(makeProgram(s), inputs, 'float32');
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** A WGSL f32 literal that rounds to the same float32 as `x`. */
export function f32(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`f32: ${x} is not finite`);
  const v = Math.fround(x);
  const s = v.toPrecision(9);
  return /[.e]/.test(s) ? `f32(${s})` : `f32(${s}.0)`;
}

/**
 * WGSL of workgroup tree reductions: `fn reduceSum(v : f32) -> f32` and `fn reduceMax(v : f32) -> f32` (every
 * invocation of the workgroup must call them, in uniform control flow; all get the result).
 * `wg` must be a power of two.
 */
export function reduceSumSnippet(wg: number): string {
  if (wg & (wg - 1)) throw new Error(`reduceSumSnippet: workgroup size ${wg} is not a power of two`);
  const reducer = (name: string, combine: string) => `
fn ${name}(v : f32) -> f32 {
  let lane = i32(localId.x);
  workgroupBarrier();
  red_[lane] = v;
  workgroupBarrier();
  for (var s = ${wg / 2}; s > 0; s = s / 2) {
    if (lane < s) { red_[lane] = ${combine}; }
    workgroupBarrier();
  }
  let total = red_[0];
  workgroupBarrier();
  return total;
}`;
  return `
var<workgroup> red_ : array<f32, ${wg}>;
${reducer('reduceSum', 'red_[lane] + red_[lane + s]')}
${reducer('reduceMax', 'max(red_[lane], red_[lane + s])')}
`;
}

/**
 * WGSL `main` of a kernel in which each workgroup of `wg` invocations LayerNorm-s one row of `size` values (rows <
 * `rows`; invocation `lane` holds the columns j = lane + t·wg). For column j of `row`, `value` (WGSL statements, run
 * only where the row and column exist) sets `acc`; after the row's mean and 1/√(var + eps), `write` stores column j
 * given `y` = (acc − mean)·rstd. `prelude` runs first and `after` last, in every invocation. Needs
 * reduceSumSnippet(wg).
 */
export function rowNormMain(o: {
  rows: number;
  size: number;
  wg: number;
  eps: number;
  value: string;
  write: string;
  prelude?: string;
  after?: string;
}): string {
  const { rows, size, wg } = o;
  const per = Math.ceil(size / wg);
  const columns = (body: string) => `
  for (var t = 0; t < ${per}; t++) {
    let j = lane + t * ${wg};
    ${body}
  }`;
  return `
fn main(index : i32) {
  let row = index / ${wg};
  let lane = index - row * ${wg};
  let ok = row < ${rows};
  ${o.prelude ?? ''}
  var v : array<f32, ${per}>;
  var s = 0.0;${columns(`var acc = 0.0;
    if (ok && j < ${size}) {
      ${o.value}
      s = s + acc;
    }
    v[t] = acc;`)}
  let mean = reduceSum(s) / ${size}.0;
  var s2 = 0.0;${columns(`if (ok && j < ${size}) { let d = v[t] - mean; s2 = s2 + d * d; }`)}
  let rstd = inverseSqrt(reduceSum(s2) / ${size}.0 + ${f32(o.eps)});${columns(`if (ok && j < ${size}) { let y = (v[t] - mean) * rstd; ${o.write} }`)}
  ${o.after ?? ''}
}`;
}

/** The power of two ≥ n, clamped to [lo, hi]. */
export function pow2(n: number, lo = 32, hi = 256): number {
  let p = lo;
  while (p < n && p < hi) p *= 2;
  return p;
}
