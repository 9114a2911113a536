/**
 * Seeded initialisation of every tensor of `parameterSpec(cfg)`, following each ParamSpec's `init` rule
 * (docs/model.md §3.5 and §5).
 *
 * Determinism: each tensor draws from its own xoshiro128** stream, seeded (via splitmix32) from the model seed
 * and a 32-bit FNV-1a hash of the tensor's name. So the same seed gives the same values in browsers, workers and
 * Node, and a tensor's values do not depend on which other tensors the config has (e.g. stage 0 of a 3-stage and a
 * 6-stage model agree). Values are drawn in float64 and rounded to float32. Normal draws use Box–Muller
 * (`Math.log/cos/sin`, which engines may differ on in the last float64 bit; after the float32 rounding this is
 * practically never visible).
 *
 * Platform-free.
 */
import * as tf from '@tensorflow/tfjs';
import { dims, type ModelConfig } from '../config';
import { parameterSpec, size, type ParamSpec } from '../params';
import { Rng } from '../random';
import type { WeightMap } from '../types';

/** FNV-1a over the UTF-16 code units of `s`. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** torch's fan_in / fan_out of a weight of `shape` ([out, in, ...receptive field]). */
function fans(shape: number[], name: string): { fanIn: number; fanOut: number } {
  if (shape.length < 2)
    throw new Error(`${name}: xavier init needs a tensor of rank ≥ 2, got shape [${shape.join(', ')}]`);
  const rf = size(shape.slice(2));
  return { fanIn: shape[1]! * rf, fanOut: shape[0]! * rf };
}

function fillUniform(out: Float32Array, rng: Rng, low: number, high: number) {
  const w = high - low;
  for (let i = 0; i < out.length; i++) out[i] = low + w * rng.uniform();
}

/** AdaMixer's Linear_off bias (docs/model.md §3.5), viewed as (G, P_in, 3). */
function offsetBias(cfg: ModelConfig, spec: ParamSpec, rng: Rng): Float32Array {
  const { G } = dims(cfg.decoder);
  const P = cfg.decoder.pointsIn;
  const n = size(spec.shape);
  if (n !== G * P * 3)
    throw new Error(
      `${spec.name}: offsetBias expects G·P_in·3 = ${G * P * 3} values, shape is [${spec.shape.join(', ')}]`,
    );
  const out = new Float32Array(n);
  const s = Math.round(Math.sqrt(P));
  const grid = s * s === P;
  const t = Array.from({ length: s }, (_, j) => -0.5 + (j + 0.5) / s);
  for (let g = 0; g < G; g++) {
    for (let p = 0; p < P; p++) {
      const o = (g * P + p) * 3;
      if (grid) {
        out[o] = t[Math.floor(p / s)]!;
        out[o + 1] = t[p % s]!;
      } else {
        out[o] = rng.uniform() - 0.5;
        out[o + 1] = rng.uniform() - 0.5;
      }
      out[o + 2] = -1;
    }
  }
  return out;
}

/** Values of one tensor by its init rule. */
export function initTensorValues(cfg: ModelConfig, spec: ParamSpec, seed: number): Float32Array {
  const rng = new Rng(seed, fnv1a(spec.name));
  const n = size(spec.shape);
  const init = spec.init;
  switch (init.kind) {
    case 'zeros':
      return new Float32Array(n);
    case 'ones':
      return new Float32Array(n).fill(1);
    case 'constant':
      return new Float32Array(n).fill(init.value);
    case 'uniform': {
      const out = new Float32Array(n);
      fillUniform(out, rng, init.low, init.high);
      return out;
    }
    case 'normal': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = rng.normal();
      return out;
    }
    case 'xavier': {
      const { fanIn, fanOut } = fans(spec.shape, spec.name);
      const b = Math.sqrt(6 / (fanIn + fanOut));
      const out = new Float32Array(n);
      fillUniform(out, rng, -b, b);
      return out;
    }
    case 'linearBias': {
      const b = 1 / Math.sqrt(init.fanIn);
      const out = new Float32Array(n);
      fillUniform(out, rng, -b, b);
      return out;
    }
    case 'kaimingUniform': {
      const b = Math.sqrt(2 / (1 + init.a * init.a)) * Math.sqrt(3 / init.fanIn);
      const out = new Float32Array(n);
      fillUniform(out, rng, -b, b);
      return out;
    }
    case 'offsetBias':
      return offsetBias(cfg, spec, rng);
    default: {
      const never: never = init;
      throw new Error(`${spec.name}: unknown init rule ${JSON.stringify(never)}`);
    }
  }
}

/** Seeded initial values of every tensor of `parameterSpec(cfg)`, in spec order (no tfjs). */
export function initArrays(cfg: ModelConfig, seed: number): Map<string, Float32Array> {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be an integer ≥ 0, got ${seed}`);
  const out = new Map<string, Float32Array>();
  for (const spec of parameterSpec(cfg)) out.set(spec.name, initTensorValues(cfg, spec, seed));
  return out;
}

/** Seeded initial tensors (float32) of every entry of `parameterSpec(cfg)`; the caller owns (disposes) them. */
export function initWeights(cfg: ModelConfig, seed: number): WeightMap {
  const arrays = initArrays(cfg, seed);
  const out: WeightMap = new Map();
  for (const spec of parameterSpec(cfg)) out.set(spec.name, tf.tensor(arrays.get(spec.name)!, spec.shape, 'float32'));
  return out;
}
