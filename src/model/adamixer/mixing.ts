/**
 * Adaptive mixing (docs/model.md §3.3): per query and sampling group, channel mixing (ACM) with M_c [C_in × C_out] and
 * spatial mixing (ASM) with M_s [P_out × P_in], each followed by a joint (P, C) LayerNorm without affine and
 * a ReLU.
 */
import * as tf from '@tensorflow/tfjs';
import { dims, type ModelConfig } from '../config';
import { layerNormPlain, LN_EPS } from '../nn/ops';
import { checkSamplingMaps, hostPoints, isSamplingMaps, type SamplingMaps } from './sampling';
import type { HostLinear } from './wasm/kernels';
import { onWasmKernels, wasmValues } from './wasm/tensors';

/**
 * How adaptiveMixing evaluates its per-query products: 'matmul' (batched tf.matMul), 'depthwise' (the same sums
 * as a depthwise convolution whose channels are the B·L·G query groups, see below), 'auto' (default): 'depthwise'
 * on the wasm backend, where batched matMul (batch > 1) is ~3× slower than depthwiseConv2d plus the transposes it
 * needs, 'matmul' elsewhere (WebGPU, cpu).
 */
export type MixingImpl = 'auto' | 'matmul' | 'depthwise';

/**
 * xs [B, L, G, P_in, C], Mc [B, L, G, C, C], Ms [B, L, G, P_out, P_in] → o [B, L, G·P_out·C]
 * (flatten order g, p_out, c).
 *   ACM: o = ReLU(LN_(P_in,C)(xs @ M_c));  ASM: o = ReLU(LN_(P_out,C)(M_s @ o)).
 */
export function adaptiveMixing(xs: tf.Tensor, Mc: tf.Tensor, Ms: tf.Tensor, impl: MixingImpl = 'auto'): tf.Tensor3D {
  if (xs.rank !== 5) throw new Error(`adaptiveMixing: xs must be [B, L, G, P_in, C], got [${xs.shape.join(', ')}]`);
  const [B, L, G, Pin, C] = xs.shape as [number, number, number, number, number];
  if (
    Mc.rank !== 5 ||
    Mc.shape[0] !== B ||
    Mc.shape[1] !== L ||
    Mc.shape[2] !== G ||
    Mc.shape[3] !== C ||
    Mc.shape[4] !== C
  ) {
    throw new Error(`adaptiveMixing: Mc must be [${B}, ${L}, ${G}, ${C}, ${C}], got [${Mc.shape.join(', ')}]`);
  }
  const Pout = Ms.shape[3]!;
  if (Ms.rank !== 5 || Ms.shape[0] !== B || Ms.shape[1] !== L || Ms.shape[2] !== G || Ms.shape[4] !== Pin) {
    throw new Error(`adaptiveMixing: Ms must be [${B}, ${L}, ${G}, P_out, ${Pin}], got [${Ms.shape.join(', ')}]`);
  }
  const n = B * L * G;
  const depthwise = impl === 'depthwise' || (impl === 'auto' && tf.getBackend() === 'wasm');
  return tf.tidy(() => {
    let acm: tf.Tensor;
    if (depthwise) {
      // ACM (paper Eq. 4) as a depthwise convolution over the n query groups (channels): image [1, P_in, C, n],
      // filter [1, C, n, C] (filter[0, c, j, c'] = M_c[j][c, c']); the 1×C window sums over c:
      // out[0, p, 0, j·C + c'] = Σ_c xs[j][p, c] · M_c[j][c, c']. The image is a 2-D transpose ([n, P_in·C] →
      // [P_in·C, n]): in a forward ~5× faster on wasm than the same permutation of [n, P_in, C] as a 3-D transpose.
      const img = tf.transpose(xs.reshape([n, Pin * C])).reshape([1, Pin, C, n]) as tf.Tensor4D;
      const filt = tf.transpose(Mc.reshape([n, C, C]), [1, 0, 2]).reshape([1, C, n, C]) as tf.Tensor4D;
      acm = tf.transpose(tf.depthwiseConv2d(img, filt, 1, 'valid').reshape([Pin, n, C]), [1, 0, 2]); // [n, P_in, C]
    } else {
      // ACM (paper Eq. 4): channel mixing.
      acm = tf.matMul(xs.reshape([n, Pin, C]) as tf.Tensor3D, Mc.reshape([n, C, C]) as tf.Tensor3D);
    }
    const a = tf.relu(layerNormPlain(acm, 2)); // [n, P_in, C]
    let asm: tf.Tensor;
    if (depthwise) {
      // ASM likewise: image [1, P_in, C, n], filter [P_in, 1, n, P_out] (filter[p, 0, j, q] = M_s[j][q, p]); the
      // P_in×1 window sums over p: out[0, 0, c, j·P_out + q] = Σ_p M_s[j][q, p] · a[j][p, c]. Its transposes are
      // 2-D, as above.
      const img = tf.transpose(a.reshape([n, Pin * C])).reshape([1, Pin, C, n]) as tf.Tensor4D;
      const filt = tf.transpose(Ms.reshape([n, Pout, Pin]), [2, 0, 1]).reshape([Pin, 1, n, Pout]) as tf.Tensor4D;
      asm = tf.transpose(tf.depthwiseConv2d(img, filt, 1, 'valid').reshape([C, n * Pout])); // [n·P_out, C]
    } else {
      // ASM (paper Eq. 6, in the code's [P_out × P_in] layout): spatial mixing.
      asm = tf.matMul(Ms.reshape([n, Pout, Pin]) as tf.Tensor3D, a as tf.Tensor3D);
    }
    const o = tf.relu(layerNormPlain(asm.reshape([n, Pout * C]), 1));
    return o.reshape([B, L, G * Pout * C]) as tf.Tensor3D;
  });
}

/** Whether hostMixing runs for these maps: the wasm kernels run here and the maps have host copies (samplingMaps). */
export function canMixOnHost(levels: tf.Tensor4D[] | SamplingMaps): levels is SamplingMaps {
  return onWasmKernels() !== null && isSamplingMaps(levels) && levels.host !== undefined;
}

/**
 * Sampling (sampling.ts) and adaptive mixing in the wasm kernels (wasm/kernels.ts), for maps where canMixOnHost:
 * `gen` is the generated mixing parameters [B, L, G·(C·C + P_out·P_in)] (nn/generator.ts layout), or the
 * generator's input x [B, L, dq] and Linear, run in the kernels too → o [B, L, G·P_out·C], as
 * adaptiveMixing(sampleFeatures(…), M_c, M_s) up to float32 rounding; with `output` (a Linear on o), that Linear's
 * result [B, L, output.N] instead (o stays in the kernels' memory). The Linears equal tfjs's value for value.
 */
export function hostMixing(
  levels: SamplingMaps,
  xyzr: tf.Tensor,
  offsets: tf.Tensor,
  gen: tf.Tensor | { x: tf.Tensor; linear: HostLinear },
  cfg: ModelConfig,
  output: HostLinear | null = null,
): tf.Tensor3D {
  const kernels = onWasmKernels();
  if (!kernels || !levels.host)
    throw new Error('hostMixing: the wasm kernels do not run here, or the maps have no host copies');
  const d = cfg.decoder;
  const { C, genOut, outIn } = dims(d);
  const [B, L] = xyzr.shape as [number, number];
  checkSamplingMaps(levels, cfg, B, 'hostMixing');
  const x = gen instanceof tf.Tensor ? gen : gen.x;
  const [inW, outW] = gen instanceof tf.Tensor ? [genOut, genOut] : [gen.linear.K, gen.linear.N];
  if (x.rank !== 3 || x.shape[0] !== B || x.shape[1] !== L || x.shape[2] !== inW || outW !== genOut) {
    throw new Error(
      `hostMixing: the generator must give [${B}, ${L}, ${genOut}], got [${x.shape.join(', ')}] → [${x.shape.slice(0, -1).join(', ')}, ${outW}]`,
    );
  }
  if (output && output.K !== outIn)
    throw new Error(`hostMixing: the output Linear takes ${output.K} values, o has ${outIn}`);
  const points = hostPoints(xyzr, offsets, cfg); // (tfjs ops: before any tensor's values are looked up)
  const y = kernels.sampleAndMix(
    levels.host,
    points,
    gen instanceof tf.Tensor ? wasmValues(gen) : { x: wasmValues(gen.x), linear: gen.linear },
    { Pin: d.pointsIn, Pout: d.pointsOut, C, eps: LN_EPS },
    output,
  );
  return tf.tensor3d(y, [B, L, output ? output.N : outIn]); // copies y out of the kernels' memory
}
