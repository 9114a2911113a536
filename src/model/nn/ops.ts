/**
 * Small building blocks shared by the AdaMixer decoder and the LORS parts: weight look-up with clear errors,
 * PyTorch-layout Linear, LayerNorm (affine or not, over one or several trailing dims).
 * All functions allocate; call them inside tf.tidy.
 */
import * as tf from '@tensorflow/tfjs';
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
 * Name of the prepared (transposed) copy of the tensor `name` that prepareWeights stores: a Linear weight
 * `x.weight` [out, in] becomes `x.weightT` [in, out]; LORS^T's `stages.i.lorsT.A` [K, r, outIn] becomes
 * `stages.i.lorsT.AT` = A_catᵀ [outIn, K·r] and `stages.i.lorsT.B` [K, dq, r] becomes `stages.i.lorsT.BT` = B_catᵀ
 * [K·r, dq] (see prepare.ts).
 */
export const preparedName = (name: string) => `${name}T`;

/** The shape of the prepared copy of a parameter of shape `shape` (2-D: [in, out]; LORS^T's A, B: see preparedName). */
export function preparedShape(name: string, shape: readonly number[]): number[] | undefined {
  if (shape.length === 2 && name.endsWith('.weight')) return [shape[1]!, shape[0]!];
  if (shape.length === 3 && name.endsWith('.lorsT.A')) return [shape[2]!, shape[0]! * shape[1]!];
  if (shape.length === 3 && name.endsWith('.lorsT.B')) return [shape[0]! * shape[2]!, shape[1]!];
  return undefined;
}

/** Layout of a stored Linear weight: PyTorch's [out, in] or the prepared [in, out]. */
export type WeightLayout = 'outIn' | 'inOut';

/** A Linear weight as stored in the map. */
export interface LinearWeight {
  w: tf.Tensor;
  layout: WeightLayout;
}

/**
 * The Linear weight `name` ([out, in] in PyTorch layout): its prepared [in, out] copy `${name}T` when present
 * (prepareWeights), else `name` itself. A clear error when neither is there.
 */
export function getLinearWeight(weights: WeightMap, name: string): LinearWeight {
  const t = weights.get(preparedName(name));
  if (t) return { w: t, layout: 'inOut' };
  const w = weights.get(name);
  if (!w) throw new Error(`weight "${name}" is missing from the weight map`);
  return { w, layout: 'outIn' };
}

/** The Linear weight `name` in PyTorch layout [out, in] (transposed back if only the prepared copy is stored). */
export function linearWeightOutIn(weights: WeightMap, name: string, shape?: number[]): tf.Tensor {
  const { w, layout } = getLinearWeight(weights, name);
  const t = layout === 'outIn' ? w : tf.transpose(w);
  if (shape && !sameShape(t.shape, shape)) {
    if (t !== w) t.dispose();
    throw new Error(`weight "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return t;
}

/**
 * y = x·Wᵀ + b for a PyTorch Linear `name` (weight [out, in] or its prepared [in, out] copy `name.weightT`,
 * optional bias [out]) applied to the last dim of x. `activation: 'relu'` fuses a ReLU.
 */
export function linear(x: tf.Tensor, weights: WeightMap, name: string, activation?: 'relu'): tf.Tensor {
  const { w, layout } = getLinearWeight(weights, `${name}.weight`);
  const b = weights.get(`${name}.bias`);
  return linearWith(x, w, b, activation, layout);
}

/**
 * y = x·Wᵀ + b over the last dim of x, any leading dims. w is [out, in] (layout 'outIn', PyTorch) or [in, out]
 * ('inOut', prepared). The prepared layout is the fast one: tf.matMul with transposeB is ~14× slower on the wasm
 * backend of tfjs 4.22 than the same product on a pre-transposed weight.
 */
export function linearWith(
  x: tf.Tensor,
  w: tf.Tensor,
  b: tf.Tensor | undefined,
  activation?: 'relu',
  layout: WeightLayout = 'outIn',
): tf.Tensor {
  const inDim = x.shape[x.rank - 1]!;
  const [wIn, outDim] = (layout === 'inOut' ? w.shape : [w.shape[1], w.shape[0]]) as [number, number];
  if (w.rank !== 2 || wIn !== inDim) {
    const shown = layout === 'inOut' ? `[in, out] = [${w.shape.join(', ')}]` : `[out, in] = [${w.shape.join(', ')}]`;
    throw new Error(`linear: input has ${inDim} features but the weight is ${shown}`);
  }
  const lead = x.shape.slice(0, -1);
  const x2 = x.reshape([-1, inDim]) as tf.Tensor2D;
  if (b && (b.rank !== 1 || b.shape[0] !== outDim)) {
    throw new Error(`linear: the bias has shape [${b.shape.join(', ')}], expected [${outDim}]`);
  }
  // Not tf.fused.matMul: its bias is wrong with transposeB on the wasm backend of tfjs 4.22, and even without
  // transposeB its result is measurably less accurate there (2× the float32 error of matMul + add).
  let y = layout === 'inOut' ? tf.matMul(x2, w as tf.Tensor2D) : tf.matMul(x2, w as tf.Tensor2D, false, true);
  if (b) y = tf.add(y, b);
  if (activation === 'relu') y = tf.relu(y);
  return y.reshape([...lead, outDim]);
}

/** LayerNorm over the last `dims` dims without affine parameters (F.layer_norm with no weight), eps 1e-5. */
export function layerNormPlain(x: tf.Tensor, dims = 1, eps = LN_EPS): tf.Tensor {
  if (dims === 1) {
    // tf.moments' arithmetic, with the centred x computed once (it is reused for the output).
    const xc = tf.sub(x, tf.mean(x, -1, true));
    const variance = tf.mean(tf.square(xc), -1, true);
    return tf.mul(xc, tf.rsqrt(tf.add(variance, eps)));
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
