/**
 * Small building blocks shared by the AdaMixer decoder and the LORS parts: weight look-up with clear errors,
 * PyTorch-layout Linear, LayerNorm (affine or not, over one or several trailing dims).
 * All functions allocate; call them inside tf.tidy.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config';
import { parameterSpec } from '../params';
import type { WeightMap } from '../types';

export const LN_EPS = 1e-5;

/** The tensor `name` of the weight map, or a clear error. `shape` (optional) is checked too. */
export function getWeight(weights: WeightMap, name: string, shape?: number[]): tf.Tensor {
  const t = weights.get(name);
  if (!t) throw new Error(`weight "${name}" is missing from the weight map`);
  if (shape && !sameShape(t.shape, shape)) {
    throw new Error(`weight "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return t;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * Checks that `weights` holds every tensor of parameterSpec(cfg) with the right shape (extra entries, such as
 * folded weights, are allowed). Throws one error listing every problem.
 */
export function checkWeights(weights: WeightMap, cfg: ModelConfig): void {
  const problems: string[] = [];
  for (const p of parameterSpec(cfg)) {
    const t = weights.get(p.name);
    if (!t) problems.push(`missing "${p.name}" [${p.shape.join(', ')}]`);
    else if (!sameShape(t.shape, p.shape)) {
      problems.push(`"${p.name}" has shape [${t.shape.join(', ')}], expected [${p.shape.join(', ')}]`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join('; ');
    const more = problems.length > 10 ? ` (and ${problems.length - 10} more)` : '';
    throw new Error(`weights do not match the ${cfg.preset}/${cfg.variant} config: ${shown}${more}`);
  }
}

/**
 * y = x·Wᵀ + b for a PyTorch Linear `name` (weight [out, in], optional bias [out]) applied to the last dim of x.
 * `activation: 'relu'` fuses a ReLU.
 */
export function linear(x: tf.Tensor, weights: WeightMap, name: string, activation?: 'relu'): tf.Tensor {
  const w = getWeight(weights, `${name}.weight`);
  const b = weights.get(`${name}.bias`);
  return linearWith(x, w, b, activation);
}

/** y = x·wᵀ + b (w [out, in]) over the last dim of x, any leading dims. */
export function linearWith(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | undefined, activation?: 'relu'): tf.Tensor {
  const inDim = x.shape[x.rank - 1]!;
  const [outDim, wIn] = w.shape as [number, number];
  if (wIn !== inDim) throw new Error(`linear: input has ${inDim} features but the weight is [${outDim}, ${wIn}]`);
  const lead = x.shape.slice(0, -1);
  const x2 = x.reshape([-1, inDim]) as tf.Tensor2D;
  // Not tf.fused.matMul: its bias is wrong with transposeB on the wasm backend of tfjs 4.22.
  let y = tf.matMul(x2, w as tf.Tensor2D, false, true);
  if (b) y = tf.add(y, b);
  if (activation === 'relu') y = tf.relu(y);
  return y.reshape([...lead, outDim]);
}

/** LayerNorm over the last `dims` dims without affine parameters (F.layer_norm with no weight), eps 1e-5. */
export function layerNormPlain(x: tf.Tensor, dims = 1, eps = LN_EPS): tf.Tensor {
  if (dims === 1) {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  }
  const lead = x.shape.slice(0, x.rank - dims);
  const flat = x.reshape([...lead, -1]);
  return layerNormPlain(flat, 1, eps).reshape(x.shape);
}

/** Affine LayerNorm `name` (weight, bias [d]) over the last dim, eps 1e-5. */
export function layerNorm(x: tf.Tensor, weights: WeightMap, name: string, eps = LN_EPS): tf.Tensor {
  const g = getWeight(weights, `${name}.weight`);
  const b = getWeight(weights, `${name}.bias`);
  return tf.add(tf.mul(layerNormPlain(x, 1, eps), g), b);
}

/** 2^x, as exp(x·ln 2). */
export function exp2(x: tf.Tensor): tf.Tensor {
  return tf.exp(tf.mul(x, Math.LN2));
}
