/**
 * AdaMixer's sinusoidal embedding of a box (docs/model.md §3.1).
 * v = xyzr / [s, s, 1, 1] with s = posScale (the config's `posScale`, default AdaMixer's 1000); D = dQuery/4 features per coordinate; freq_m = 10000^(2m/D), m < D/2;
 * pe[c·D + 2m] = sin(v_c / freq_m), pe[c·D + 2m + 1] = cos(v_c / freq_m), coordinates in the order x, y, z, r.
 */
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_POS_SCALE } from '../config';

/** xyzr [..., 4] → [..., dQuery]. dQuery must be a multiple of 8; posScale > 0 divides x and y. */
export function positionEmbedding(xyzr: tf.Tensor, dQuery: number, posScale = DEFAULT_POS_SCALE): tf.Tensor {
  if (xyzr.shape[xyzr.rank - 1] !== 4)
    throw new Error(`positionEmbedding: last dim must be 4, got [${xyzr.shape.join(', ')}]`);
  if (!Number.isInteger(dQuery) || dQuery % 8 !== 0 || dQuery <= 0) {
    throw new Error(`positionEmbedding: dQuery must be a positive multiple of 8, got ${dQuery}`);
  }
  if (!(posScale > 0 && Number.isFinite(posScale)))
    throw new Error(`positionEmbedding: posScale must be a positive number, got ${posScale}`);
  const D = dQuery / 4;
  const half = D / 2;
  const freq = new Float32Array(half);
  for (let m = 0; m < half; m++) freq[m] = Math.pow(10000, (2 * m) / D);
  return tf.tidy(() => {
    const lead = xyzr.shape.slice(0, -1);
    const v = tf.div(xyzr, tf.tensor1d([posScale, posScale, 1, 1]));
    const angles = tf.div(tf.expandDims(v, -1), tf.tensor1d(freq)); // [..., 4, D/2]
    // Interleave: [..., 4, D/2, 2] with sin at 0 and cos at 1, flattened to [..., 4·D]. Stacked first and then
    // transposed (a stack on the last axis is a copy per value on wasm).
    const perm = [...Array(angles.rank).keys()].map((i) => i + 1);
    const pe = tf.transpose(tf.stack([tf.sin(angles), tf.cos(angles)]), [...perm, 0]);
    return pe.reshape([...lead, dQuery]);
  });
}
