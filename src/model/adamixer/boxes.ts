/**
 * AdaMixer's box parameterisation (docs/model.md §2): xyzr = (centre x, centre y, z = log2 √(w·h), r = log2(h/w)) in
 * pixels of the resized, unpadded image; and the IoF used by the box-aware self-attention (docs/model.md §3.1).
 */
import * as tf from '@tensorflow/tfjs';
import { exp2 } from '../nn/ops';

function last4(t: tf.Tensor, what: string): tf.Tensor[] {
  if (t.shape[t.rank - 1] !== 4) throw new Error(`${what}: last dim must be 4, got shape [${t.shape.join(', ')}]`);
  return tf.split(t, 4, -1);
}

/** xyzr [..., 4] → xyxy [..., 4]: w = 2^(z − r/2), h = 2^(z + r/2). */
export function decodeXyzr(xyzr: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [x, y, z, r] = last4(xyzr, 'decodeXyzr') as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    const halfR = tf.mul(r, 0.5);
    const w = exp2(tf.sub(z, halfR));
    const h = exp2(tf.add(z, halfR));
    const hw = tf.mul(w, 0.5);
    const hh = tf.mul(h, 0.5);
    return tf.concat([tf.sub(x, hw), tf.sub(y, hh), tf.add(x, hw), tf.add(y, hh)], -1);
  });
}

/**
 * Intersection over foreground: iof[b, i, j] = inter(i, j) / max(area(i), 1e-6) (mmdet bbox_overlaps, mode
 * 'iof'; row i is the attending query). xyxy [B, L, 4] → [B, L, L].
 */
export function iof(xyxy: tf.Tensor): tf.Tensor3D {
  if (xyxy.rank !== 3 || xyxy.shape[2] !== 4)
    throw new Error(`iof: expected [B, L, 4], got [${xyxy.shape.join(', ')}]`);
  return tf.tidy(() => {
    const [x1, y1, x2, y2] = tf.split(xyxy, 4, -1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]; // [B, L, 1]
    const t = (v: tf.Tensor) => tf.transpose(v, [0, 2, 1]); // [B, 1, L]
    const iw = tf.relu(tf.sub(tf.minimum(x2, t(x2)), tf.maximum(x1, t(x1))));
    const ih = tf.relu(tf.sub(tf.minimum(y2, t(y2)), tf.maximum(y1, t(y1))));
    const inter = tf.mul(iw, ih); // [B, L, L]
    const area = tf.mul(tf.sub(x2, x1), tf.sub(y2, y1)); // [B, L, 1]
    return tf.div(inter, tf.maximum(area, 1e-6)) as tf.Tensor3D;
  });
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
