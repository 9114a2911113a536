/**
 * Adaptive 3D sampling (docs/model.md §3.2): each query samples G·P_in points (x, y, log2-scale z) around its box,
 * bilinearly from every feature level (align_corners=False, zero padding), weighted by a softmax over levels of
 * −(z − log2 stride)²/2.
 *
 * tfjs has no grid_sample; its bilinear tf.image.cropAndResize with a 1×1 crop of a degenerate box (y1 = y2,
 * x1 = x2) is one: it samples image point in_y = y1·(H_img − 1), in_x = x1·(W_img − 1) (pixel centres at integers)
 * and returns the extrapolation value (0) only when the point lies outside [0, H_img − 1] × [0, W_img − 1].
 * Each level is therefore viewed per (image, sampling group) as a map [B·G, H+2, W+2, C] with a one-pixel ZERO
 * border (samplingMaps, once per decoder forward): the unpadded pixel coordinate u = sx/stride − 0.5 becomes the
 * padded u + 1, normalised by W + 1. Inside the padded map this is exactly grid_sample's zero padding (a neighbour
 * outside the unpadded map reads the zero border), and a point further out has both neighbours outside, i.e. 0,
 * which is the extrapolation value. One cropAndResize per level (kernel time ∝ points·C, ~30× faster than four
 * tf.gather on wasm), times the level weights, summed with one tf.addN (no reduction over a small axis of a big
 * tensor: slow on WebGPU). On the wasm backend the maps' host copies are sampled by a wasm SIMD kernel instead
 * (wasm/kernels.c: the same float32 steps, bit-identical), which the stage also uses to mix the samples
 * (mixing.ts hostMixing).
 */
import * as tf from '@tensorflow/tfjs';
import { dims, type ModelConfig } from '../config';
import { exp2 } from '../nn/ops';
import { wasmKernels, type HostMap, type HostPoints } from './wasm/kernels';
import { onWasmKernels } from './wasm/tensors';

/** The per-group zero-padded maps of every level (see the file comment); make once per decoder forward. */
export interface SamplingMaps {
  /** Per level: [B·G, H_l + 2, W_l + 2, C], row b·G + g = image b, channels [g·C, (g+1)·C) of the level. */
  readonly maps: tf.Tensor4D[];
  /** Batch size B. */
  readonly batch: number;
  /** The maps' host copies, where the wasm kernels sample them (wasm/kernels.ts; made on the wasm backend). */
  readonly host?: HostMap[];
}

function checkLevels(levels: tf.Tensor4D[], cfg: ModelConfig, B?: number): void {
  const d = cfg.decoder;
  if (levels.length !== d.strides.length) {
    throw new Error(
      `sampleFeatures: expected ${d.strides.length} feature levels (strides ${d.strides.join('/')}), got ${levels.length}`,
    );
  }
  const b = B ?? levels[0]!.shape[0];
  levels.forEach((t, l) => {
    if (t.rank !== 4 || t.shape[0] !== b || t.shape[3] !== d.dFeat) {
      throw new Error(`sampleFeatures: level ${l} must be NHWC [${b}, H, W, ${d.dFeat}], got [${t.shape.join(', ')}]`);
    }
  });
}

/**
 * levels: the necked maps NHWC [B, H_l, W_l, dFeat] → per level [B·G, H_l + 2, W_l + 2, C] (group-major, one-pixel
 * zero border). New tensors; the caller disposes them (or makes them inside tf.tidy). host (default: on the wasm
 * backend, where tensors live in CPU memory, when its kernels run here): also keep the maps' host copies, which the
 * wasm kernels sample (bit-identical to cropAndResize).
 */
export function samplingMaps(levels: tf.Tensor4D[], cfg: ModelConfig, host = onWasmKernels() !== null): SamplingMaps {
  const { G, C } = dims(cfg.decoder);
  checkLevels(levels, cfg);
  const B = levels[0]!.shape[0];
  const maps = levels.map((t) =>
    tf.tidy(() => {
      const [, H, W] = t.shape;
      const perGroup = tf.transpose(t.reshape([B, H, W, G, C]), [0, 3, 1, 2, 4]).reshape([B * G, H, W, C]);
      return tf.pad(perGroup, [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]) as tf.Tensor4D;
    }),
  );
  if (!host) return { maps, batch: B };
  const copies = maps.map((m, l) => ({
    data: m.dataSync() as Float32Array,
    Hp: m.shape[1],
    Wp: m.shape[2],
    stride: cfg.decoder.strides[l]!,
  }));
  return { maps, batch: B, host: copies };
}

export function isSamplingMaps(x: tf.Tensor4D[] | SamplingMaps): x is SamplingMaps {
  return !Array.isArray(x);
}

function checkPoints(xyzr: tf.Tensor, offsets: tf.Tensor, cfg: ModelConfig): [number, number] {
  const { G } = dims(cfg.decoder);
  const P = cfg.decoder.pointsIn;
  if (xyzr.rank !== 3 || xyzr.shape[2] !== 4)
    throw new Error(`sampleFeatures: xyzr must be [B, L, 4], got [${xyzr.shape.join(', ')}]`);
  const [B, L] = xyzr.shape as [number, number, number];
  if (offsets.rank !== 3 || offsets.shape[0] !== B || offsets.shape[1] !== L || offsets.shape[2] !== G * P * 3) {
    throw new Error(`sampleFeatures: offsets must be [${B}, ${L}, ${G * P * 3}], got [${offsets.shape.join(', ')}]`);
  }
  return [B, L];
}

/** Image row of each sample n = ((b·L + l)·G + g)·P + p: b·G + g. */
function imageRows(B: number, L: number, G: number, P: number): Int32Array {
  const rows = new Int32Array(B * L * G * P);
  for (let n = 0; n < rows.length; n++) rows[n] = Math.floor(n / (L * G * P)) * G + (Math.floor(n / P) % G);
  return rows;
}

/**
 * The N = B·L·G·P_in sample points (see sampleFeatures for xyzr and offsets): (x, y) in pixels [N, 2] and the level
 * weights [N, levels], a softmax over levels of −(z − log2 stride_l)²/2. New tensors (inside the caller's tidy).
 */
export function samplePoints(
  xyzr: tf.Tensor,
  offsets: tf.Tensor,
  cfg: ModelConfig,
): { sxy: tf.Tensor2D; levelWeights: tf.Tensor2D } {
  const d = cfg.decoder;
  const { G } = dims(d);
  const P = d.pointsIn;
  const [B, L] = xyzr.shape as [number, number, number];
  const N = B * L * G * P;
  // (x, y) and z offsets [N, 2], [N, 1] by exact 0/1 matmuls (a split of the last axis is a copy per row on wasm)
  const off = offsets.reshape([N, 3]) as tf.Tensor2D;
  const oxy = tf.matMul(off, tf.tensor2d([1, 0, 0, 1, 0, 0], [3, 2])).reshape([B, L, G * P, 2]);
  const oz = tf.matMul(off, tf.tensor2d([0, 0, 1], [3, 1])).reshape([B, L, G * P, 1]);
  const [xy, z, r] = tf.split(xyzr.reshape([B, L, 1, 4]), [2, 1, 1], -1) as [tf.Tensor, tf.Tensor, tf.Tensor];
  const wh = exp2(tf.add(z, tf.mul(r, tf.tensor1d([-0.5, 0.5])))); // box (w, h) = 2^(z ∓ r/2) [B, L, 1, 2]
  const sxy = tf.add(xy, tf.mul(oxy, wh)).reshape([N, 2]) as tf.Tensor2D; // sample (x, y) in pixels
  const sz = tf.add(z, oz).reshape([N, 1]);
  const log2s = tf.tensor2d(
    d.strides.map((s) => Math.log2(s)),
    [1, d.strides.length],
  );
  return { sxy, levelWeights: tf.softmax(tf.mul(tf.square(tf.sub(sz, log2s)), -0.5)) as tf.Tensor2D };
}

const f = Math.fround;

/**
 * samplePoints computed in JavaScript from the host values of xyzr and offsets, for the wasm kernels (its ~15 tfjs
 * kernels on [N, 3] columns cost ~4 ms per stage on wasm). Every step is samplePoints' float32 operation, in its
 * order, except that exp is Math.exp rounded to float32 and the softmax is computed directly: a level weight (and
 * through 2^z a point) may differ from tfjs's kernels in the last bits.
 */
export function hostPoints(xyzr: tf.Tensor, offsets: tf.Tensor, cfg: ModelConfig): HostPoints {
  const [B, L] = checkPoints(xyzr, offsets, cfg);
  const d = cfg.decoder;
  const { G } = dims(d);
  const P = d.pointsIn;
  const nl = d.strides.length;
  const box = xyzr.dataSync() as Float32Array;
  const off = offsets.dataSync() as Float32Array;
  const log2s = d.strides.map((s) => f(Math.log2(s)));
  const ln2 = f(Math.LN2);
  const N = B * L * G * P;
  const xy = new Float32Array(2 * N);
  const weights = new Float32Array(N * nl);
  const a = new Float64Array(nl);
  for (let q = 0; q < B * L; q++) {
    const [x, y, z, r] = [box[4 * q]!, box[4 * q + 1]!, box[4 * q + 2]!, box[4 * q + 3]!];
    // box (w, h) = 2^(z ∓ r/2) as exp((z + r·∓0.5)·ln 2)
    const w = f(Math.exp(f(f(z + f(r * -0.5)) * ln2)));
    const h = f(Math.exp(f(f(z + f(r * 0.5)) * ln2)));
    for (let n = q * G * P; n < (q + 1) * G * P; n++) {
      xy[2 * n] = f(x + f(off[3 * n]! * w));
      xy[2 * n + 1] = f(y + f(off[3 * n + 1]! * h));
      const sz = f(z + off[3 * n + 2]!);
      let max = -Infinity;
      for (let l = 0; l < nl; l++) {
        const dz = f(sz - log2s[l]!);
        a[l] = f(f(dz * dz) * -0.5);
        max = Math.max(max, a[l]!);
      }
      let sum = 0;
      for (let l = 0; l < nl; l++) {
        a[l] = Math.exp(a[l]! - max);
        sum += a[l]!;
      }
      for (let l = 0; l < nl; l++) weights[n * nl + l] = a[l]! / sum;
    }
  }
  return { xy, weights, image: imageRows(B, L, G, P) };
}

/** Checks sampling maps against the config and the batch B of the boxes; `what` names the caller in errors. */
export function checkSamplingMaps(levels: SamplingMaps, cfg: ModelConfig, B: number, what = 'sampleFeatures'): void {
  const d = cfg.decoder;
  const { G, C } = dims(d);
  if (levels.batch !== B) throw new Error(`${what}: sampling maps are for a batch of ${levels.batch}, boxes for ${B}`);
  if (levels.maps.length !== d.strides.length) {
    throw new Error(
      `${what}: expected ${d.strides.length} feature levels (strides ${d.strides.join('/')}), got ${levels.maps.length}`,
    );
  }
  levels.maps.forEach((t, l) => {
    if (t.rank !== 4 || t.shape[0] !== B * G || t.shape[3] !== C) {
      throw new Error(`${what}: sampling map ${l} must be [${B * G}, H + 2, W + 2, ${C}], got [${t.shape.join(', ')}]`);
    }
  });
}

/**
 * levels: the necked maps, NHWC [B, H_l, W_l, dFeat] per stride of cfg.decoder.strides, or their samplingMaps.
 * xyzr: [B, L, 4] current boxes. offsets: [B, L, G·P_in·3] (Linear_off output; index (g·P_in + p)·3 + xyz).
 * Returns x_s [B, L, G, P_in, C].
 */
export function sampleFeatures(
  levels: tf.Tensor4D[] | SamplingMaps,
  xyzr: tf.Tensor,
  offsets: tf.Tensor,
  cfg: ModelConfig,
): tf.Tensor5D {
  const d = cfg.decoder;
  const { G, C } = dims(d);
  const P = d.pointsIn;
  const [B, L] = checkPoints(xyzr, offsets, cfg);
  if (isSamplingMaps(levels)) checkSamplingMaps(levels, cfg, B);
  else checkLevels(levels, cfg, B);
  const N = B * L * G * P;
  return tf.tidy(() => {
    const { maps, host } = isSamplingMaps(levels) ? levels : samplingMaps(levels, cfg);
    const kernels = host && wasmKernels();
    if (host && kernels) {
      return tf.tensor(kernels.sample(host, C, hostPoints(xyzr, offsets, cfg)), [B, L, G, P, C]) as tf.Tensor5D;
    }
    const { sxy, levelWeights } = samplePoints(xyzr, offsets, cfg);
    // (x, y) → (y, x, y, x), the layout of cropAndResize's boxes, by an exact 0/1 matmul (a concat of [N, 1] columns
    // is slow on wasm).
    const yxyx = tf.matMul(sxy, tf.tensor2d([0, 1, 0, 1, 1, 0, 1, 0], [2, 4]));

    // One [N, 1] column per level (split as [nl, N] rows: a split of the [N, nl] columns is a copy per value on wasm).
    const lw = tf.unstack(tf.transpose(levelWeights)).map((w) => w.reshape([N, 1]));

    const boxInd = tf.tensor1d(imageRows(B, L, G, P), 'int32');
    const terms = maps.map((m, l) => {
      const Hp = m.shape[1],
        Wp = m.shape[2];
      const s = d.strides[l]!;
      // Padded pixel coordinate u + 1 = sx/stride + 0.5, normalised by (W_padded − 1) = W + 1 (cropAndResize
      // multiplies it back).
      const size = tf.tensor2d([Hp - 1, Wp - 1, Hp - 1, Wp - 1], [1, 4]);
      const boxes = tf.div(tf.add(tf.div(yxyx, s), 0.5), size) as tf.Tensor2D;
      const sampled = tf.image.cropAndResize(m, boxes, boxInd as tf.Tensor1D, [1, 1], 'bilinear', 0).reshape([N, C]);
      return tf.mul(sampled, lw[l]!);
    });
    return tf.addN(terms).reshape([B, L, G, P, C]) as tf.Tensor5D;
  });
}
