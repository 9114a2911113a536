/**
 * AdaMixer's box parameterisation (docs/model.md §2): xyzr = (centre x, centre y, z = log2 √(w·h), r = log2(h/w)) in
 * pixels of the resized, unpadded image; and the IoF used by the box-aware self-attention (docs/model.md §3.1).
 */
import * as tf from '@tensorflow/tfjs';
import { exp2 } from '../nn/ops';

/** xyzr [..., 4] → xyxy [..., 4]: w = 2^(z − r/2), h = 2^(z + r/2). */
export function decodeXyzr(xyzr: tf.Tensor): tf.Tensor {
  if (xyzr.shape[xyzr.rank - 1] !== 4)
    throw new Error(`decodeXyzr: last dim must be 4, got shape [${xyzr.shape.join(', ')}]`);
  return tf.tidy(() => {
    const [xy, z, r] = tf.split(xyzr, [2, 1, 1], -1) as [tf.Tensor, tf.Tensor, tf.Tensor];
    // (w, h) as one pair: z + r·(−0.5) is exactly z − r·0.5
    const halfWh = tf.mul(exp2(tf.add(z, tf.mul(r, tf.tensor1d([-0.5, 0.5])))), 0.5);
    return tf.concat([tf.sub(xy, halfWh), tf.add(xy, halfWh)], -1);
  });
}

/**
 * Intersection over foreground: iof[b, i, j] = inter(i, j) / max(area(i), 1e-6) (mmdet bbox_overlaps, mode
 * 'iof'; row i is the attending query). xyxy [B, L, 4] → [B, L, L].
 */
export function iof(xyxy: tf.Tensor): tf.Tensor3D {
  if (xyxy.rank !== 3 || xyxy.shape[2] !== 4)
    throw new Error(`iof: expected [B, L, 4], got [${xyxy.shape.join(', ')}]`);
  const [B, L] = xyxy.shape as [number, number, number];
  return tf.tidy(() => {
    // Coordinates as rows: lo = (x1, y1), hi = (x2, y2), each [2, B, L] (a transpose and contiguous slices).
    const [lo, hi] = tf.unstack(tf.transpose(xyxy, [2, 0, 1]).reshape([2, 2, B, L])) as [tf.Tensor, tf.Tensor];
    const [w, h] = tf.unstack(tf.sub(hi, lo));
    const area = tf.mul(w!, h!).reshape([B, L, 1]);
    // Row i and column j spread to [2, B, L, L] by adding zeros (exact; a broadcasting add is fast on wasm, a
    // broadcasting minimum or maximum ~100× slower), then min/max of equal shapes.
    const zRow = tf.zeros([1, 1, 1, L]);
    const zCol = tf.zeros([1, 1, L, 1]);
    const i = (v: tf.Tensor) => tf.add(v.reshape([2, B, L, 1]), zRow);
    const j = (v: tf.Tensor) => tf.add(v.reshape([2, B, 1, L]), zCol);
    const [iw, ih] = tf.unstack(tf.relu(tf.sub(tf.minimum(i(hi), j(hi)), tf.maximum(i(lo), j(lo)))));
    return tf.div(tf.mul(iw!, ih!), tf.maximum(area, 1e-6)) as tf.Tensor3D; // [B, L, L]
  });
}

const f = Math.fround;

/**
 * log(iof + 1e-7) [B, L, L] from xyxy host values [B, L, 4], for the attention bias on the wasm kernels: iof's
 * float32 steps in its order, the log as Math.log rounded to float32 (tfjs's Log kernel may differ in the last bit).
 */
export function logIofHost(xyxy: Float32Array, B: number, L: number): Float32Array {
  if (xyxy.length !== B * L * 4) throw new Error(`logIofHost: ${xyxy.length} values are not [${B}, ${L}, 4]`);
  const out = new Float32Array(B * L * L);
  const eps = f(1e-7);
  const minArea = f(1e-6);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < L; i++) {
      const p = 4 * (b * L + i);
      const area = Math.max(f(f(xyxy[p + 2]! - xyxy[p]!) * f(xyxy[p + 3]! - xyxy[p + 1]!)), minArea);
      for (let j = 0; j < L; j++) {
        const q = 4 * (b * L + j);
        const iw = Math.max(f(Math.min(xyxy[p + 2]!, xyxy[q + 2]!) - Math.max(xyxy[p]!, xyxy[q]!)), 0);
        const ih = Math.max(f(Math.min(xyxy[p + 3]!, xyxy[q + 3]!) - Math.max(xyxy[p + 1]!, xyxy[q + 1]!)), 0);
        out[(b * L + i) * L + j] = f(Math.log(f(f(f(iw * ih) / area) + eps)));
      }
    }
  }
  return out;
}

/**
 * The queries' initial boxes [B, L, 4] xyzr: whole-image boxes (AdaMixer), or, where `proposals[b]` is given, its
 * boxes ([n·4] xyxy input pixels, n ≤ L, best first; sides below 1 px are widened to 1 px) for the first n queries and
 * whole-image boxes for the rest.
 */
export function initialXyzr(
  imageSize: [number, number][],
  queries: number,
  proposals?: (Float32Array | undefined)[],
): tf.Tensor3D {
  if (imageSize.length === 0) throw new Error('initialXyzr: imageSize is empty');
  if (!Number.isInteger(queries) || queries < 1)
    throw new Error(`initialXyzr: queries must be a positive integer, got ${queries}`);
  if (proposals && proposals.length !== imageSize.length) {
    throw new Error(`initialXyzr: ${proposals.length} proposal sets for a batch of ${imageSize.length}`);
  }
  const B = imageSize.length;
  const data = new Float32Array(B * queries * 4);
  imageSize.forEach(([w, h], b) => {
    if (!(w > 0 && h > 0))
      throw new Error(`initialXyzr: image size must be positive, got [${w}, ${h}] for batch element ${b}`);
    const p = proposals?.[b];
    const n = p ? p.length / 4 : 0;
    if (!Number.isInteger(n) || n > queries)
      throw new Error(
        `initialXyzr: batch element ${b} has ${p?.length} proposal numbers; expected 4·n with n ≤ ${queries}`,
      );
    for (let l = 0; l < queries; l++) {
      let [x1, y1, x2, y2] = l < n ? [p![4 * l]!, p![4 * l + 1]!, p![4 * l + 2]!, p![4 * l + 3]!] : [0, 0, w, h];
      const bw = Math.max(x2 - x1, 1),
        bh = Math.max(y2 - y1, 1);
      data.set(
        [(x1 + x2) / 2, (y1 + y2) / 2, Math.log2(Math.sqrt(bw * bh)), Math.log2(bh / bw)],
        (b * queries + l) * 4,
      );
    }
  });
  return tf.tensor3d(data, [B, queries, 4]);
}
