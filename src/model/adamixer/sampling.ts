/**
 * Adaptive 3D sampling (spec §2.2): each query samples G·P_in points (x, y, log2-scale z) around its box,
 * bilinearly from every feature level (align_corners=False, zero padding), weighted by a softmax over levels of
 * −(z − log2 stride)²/2.
 *
 * tfjs has no grid_sample: the four neighbours are read with tf.gather from each level viewed as a flat
 * [B·H·W·G, C] map (row ((b·H + y)·W + x)·G + g holds group g's channel slice of pixel (x, y) of image b, a
 * free reshape of NHWC), out-of-map neighbours get weight 0, and the 4·levels weighted gathers are summed with
 * one tf.addN (no reduction over a small axis of a big tensor: slow on WebGPU).
 */
import * as tf from '@tensorflow/tfjs';
import { dims, type ModelConfig } from '../config';
import { exp2 } from './ops';

function checkLevels(levels: tf.Tensor4D[], cfg: ModelConfig, B: number): void {
  const d = cfg.decoder;
  if (levels.length !== d.strides.length) {
    throw new Error(`sampleFeatures: expected ${d.strides.length} feature levels (strides ${d.strides.join('/')}), got ${levels.length}`);
  }
  levels.forEach((t, l) => {
    if (t.rank !== 4 || t.shape[0] !== B || t.shape[3] !== d.dFeat) {
      throw new Error(`sampleFeatures: level ${l} must be NHWC [${B}, H, W, ${d.dFeat}], got [${t.shape.join(', ')}]`);
    }
  });
}

/**
 * levels: the necked maps, NHWC [B, H_l, W_l, dFeat] per stride of cfg.decoder.strides.
 * xyzr: [B, L, 4] current boxes. offsets: [B, L, G·P_in·3] (Linear_off output; index (g·P_in + p)·3 + xyz).
 * Returns x_s [B, L, G, P_in, C].
 */
export function sampleFeatures(levels: tf.Tensor4D[], xyzr: tf.Tensor, offsets: tf.Tensor, cfg: ModelConfig): tf.Tensor5D {
  const d = cfg.decoder;
  const { G, C } = dims(d);
  const P = d.pointsIn;
  if (xyzr.rank !== 3 || xyzr.shape[2] !== 4) throw new Error(`sampleFeatures: xyzr must be [B, L, 4], got [${xyzr.shape.join(', ')}]`);
  const [B, L] = xyzr.shape as [number, number, number];
  if (offsets.rank !== 3 || offsets.shape[0] !== B || offsets.shape[1] !== L || offsets.shape[2] !== G * P * 3) {
    throw new Error(`sampleFeatures: offsets must be [${B}, ${L}, ${G * P * 3}], got [${offsets.shape.join(', ')}]`);
  }
  checkLevels(levels, cfg, B);
  const nl = levels.length;
  const N = B * L * G * P;
  const sizes = levels.map((t) => ({ H: t.shape[1], W: t.shape[2] }));

  // Per level and sample: b·H_l·W_l·G + g (the flat row of pixel (0, 0) of the sample's image and group).
  const bgOff = new Float32Array(nl * N);
  for (let l = 0; l < nl; l++) {
    const hwg = sizes[l]!.H * sizes[l]!.W * G;
    for (let n = 0; n < N; n++) bgOff[l * N + n] = Math.floor(n / (L * G * P)) * hwg + (Math.floor(n / P) % G);
  }
  const col = (f: (l: number) => number) => tf.tensor2d(Float32Array.from({ length: nl }, (_, l) => f(l)), [nl, 1]);

  return tf.tidy(() => {
    const off = offsets.reshape([B, L, G * P, 3]);
    const [ox, oy, oz] = tf.split(off, 3, -1).map((t) => t.reshape([B, L, G * P])) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const [x, y, z, r] = tf.split(xyzr, 4, -1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]; // [B, L, 1]
    const halfR = tf.mul(r, 0.5);
    const w = exp2(tf.sub(z, halfR));
    const h = exp2(tf.add(z, halfR));
    const sx = tf.add(x, tf.mul(ox, w)).reshape([1, N]);
    const sy = tf.add(y, tf.mul(oy, h)).reshape([1, N]);
    const sz = tf.add(z, oz).reshape([N, 1]);

    // Level weights: softmax over levels of −(sz − log2 stride_l)²/2 → [nl, N].
    const log2s = tf.tensor2d(d.strides.map((s) => Math.log2(s)), [1, nl]);
    const lw = tf.transpose(tf.softmax(tf.mul(tf.square(tf.sub(sz, log2s)), -0.5)));

    // Pixel coordinates on each level (pixel centres at integers): u = sx/stride − 0.5.
    const stride = col((l) => d.strides[l]!);
    const u = tf.sub(tf.div(sx, stride), 0.5);
    const v = tf.sub(tf.div(sy, stride), 0.5);
    const x0 = tf.floor(u);
    const y0 = tf.floor(v);
    const fx = tf.sub(u, x0);
    const fy = tf.sub(v, y0);
    const Wm1 = col((l) => sizes[l]!.W - 1);
    const Hm1 = col((l) => sizes[l]!.H - 1);
    const inside = (c: tf.Tensor, lo: number, hi: tf.Tensor) =>
      tf.cast(tf.logicalAnd(tf.greaterEqual(c, lo), tf.lessEqual(c, hi)), 'float32');
    // Neighbour weights; a neighbour outside the map (zero padding) gets 0. Level weights go into the y factors.
    const wx0 = tf.mul(tf.sub(1, fx), inside(x0, 0, Wm1));
    const wx1 = tf.mul(fx, inside(x0, -1, tf.sub(Wm1, 1)));
    const wy0 = tf.mul(tf.mul(tf.sub(1, fy), inside(y0, 0, Hm1)), lw);
    const wy1 = tf.mul(tf.mul(fy, inside(y0, -1, tf.sub(Hm1, 1))), lw);
    // Clamped (always valid) flat indices.
    const clamp = (c: tf.Tensor, hi: tf.Tensor) => tf.minimum(tf.relu(c), hi);
    const WG = col((l) => sizes[l]!.W * G);
    const base = tf.tensor2d(bgOff, [nl, N]);
    const row0 = tf.add(base, tf.mul(clamp(y0, Hm1), WG));
    const row1 = tf.add(base, tf.mul(clamp(tf.add(y0, 1), Hm1), WG));
    const col0 = tf.mul(clamp(x0, Wm1), G);
    const col1 = tf.mul(clamp(tf.add(x0, 1), Wm1), G);

    const flats = levels.map((t, l) => t.reshape([B * sizes[l]!.H * sizes[l]!.W * G, C]));
    const terms: tf.Tensor[] = [];
    for (const [row, wy] of [[row0, wy0], [row1, wy1]] as const) {
      for (const [cl, wx] of [[col0, wx0], [col1, wx1]] as const) {
        const idx = tf.unstack(tf.cast(tf.add(row, cl), 'int32'));
        const wt = tf.unstack(tf.expandDims(tf.mul(wy, wx), -1));
        for (let l = 0; l < nl; l++) terms.push(tf.mul(tf.gather(flats[l]!, idx[l]!), wt[l]!));
      }
    }
    return tf.addN(terms).reshape([B, L, G, P, C]) as tf.Tensor5D;
  });
}
