import * as tf from '@tensorflow/tfjs';

/**
 * a [..., r] · b [r, n] → [..., n]: the one product over a LORS rank. Exactly zero when r = 0 (a shared-only slice):
 * tfjs-wasm's matMul over an empty inner dimension returns whatever its memory held, not zeros.
 */
export function lowRankProduct(a: tf.Tensor, b: tf.Tensor2D): tf.Tensor {
  const [r, n] = b.shape;
  const lead = a.shape.slice(0, -1);
  if (r === 0) return tf.zeros([...lead, n]);
  return tf.tidy(() => tf.matMul(a.reshape([-1, r]) as tf.Tensor2D, b).reshape([...lead, n]));
}
