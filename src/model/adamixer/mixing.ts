/**
 * Adaptive mixing (spec §2.3): per query and sampling group, channel mixing (ACM) with M_c [C_in × C_out] and
 * spatial mixing (ASM) with M_s [P_out × P_in], each followed by a joint (P, C) LayerNorm without affine and
 * a ReLU.
 */
import * as tf from '@tensorflow/tfjs';
import { dims, type ModelConfig } from '../config';
import { layerNormPlain } from './ops';

/**
 * Splits generated mixing parameters [B, L, G·(C·C + P_out·P_in)] per group into
 * M_c [B, L, G, C, C] (first C·C entries, row-major C_in × C_out) and M_s [B, L, G, P_out, P_in] (the rest).
 */
export function splitMixingParams(params: tf.Tensor, cfg: ModelConfig): { Mc: tf.Tensor5D; Ms: tf.Tensor5D } {
  const d = cfg.decoder;
  const { G, C, genPerGroup, genOut } = dims(d);
  if (params.rank !== 3 || params.shape[2] !== genOut) {
    throw new Error(`splitMixingParams: expected [B, L, ${genOut}], got [${params.shape.join(', ')}]`);
  }
  const [B, L] = params.shape as [number, number, number];
  return tf.tidy(() => {
    const per = params.reshape([B, L, G, genPerGroup]);
    const [mc, ms] = tf.split(per, [C * C, d.pointsOut * d.pointsIn], -1) as [tf.Tensor, tf.Tensor];
    return {
      Mc: mc.reshape([B, L, G, C, C]) as tf.Tensor5D,
      Ms: ms.reshape([B, L, G, d.pointsOut, d.pointsIn]) as tf.Tensor5D,
    };
  });
}

/**
 * xs [B, L, G, P_in, C], Mc [B, L, G, C, C], Ms [B, L, G, P_out, P_in] → o [B, L, G·P_out·C]
 * (flatten order g, p_out, c).
 *   ACM: o = ReLU(LN_(P_in,C)(xs @ M_c));  ASM: o = ReLU(LN_(P_out,C)(M_s @ o)).
 */
export function adaptiveMixing(xs: tf.Tensor, Mc: tf.Tensor, Ms: tf.Tensor): tf.Tensor3D {
  if (xs.rank !== 5) throw new Error(`adaptiveMixing: xs must be [B, L, G, P_in, C], got [${xs.shape.join(', ')}]`);
  const [B, L, G, Pin, C] = xs.shape as [number, number, number, number, number];
  if (Mc.rank !== 5 || Mc.shape[0] !== B || Mc.shape[1] !== L || Mc.shape[2] !== G || Mc.shape[3] !== C || Mc.shape[4] !== C) {
    throw new Error(`adaptiveMixing: Mc must be [${B}, ${L}, ${G}, ${C}, ${C}], got [${Mc.shape.join(', ')}]`);
  }
  const Pout = Ms.shape[3]!;
  if (Ms.rank !== 5 || Ms.shape[0] !== B || Ms.shape[1] !== L || Ms.shape[2] !== G || Ms.shape[4] !== Pin) {
    throw new Error(`adaptiveMixing: Ms must be [${B}, ${L}, ${G}, P_out, ${Pin}], got [${Ms.shape.join(', ')}]`);
  }
  const n = B * L * G;
  return tf.tidy(() => {
    // ACM (paper Eq. 4): channel mixing.
    const acm = tf.matMul(xs.reshape([n, Pin, C]) as tf.Tensor3D, Mc.reshape([n, C, C]) as tf.Tensor3D);
    const a = tf.relu(layerNormPlain(acm, 2));
    // ASM (paper Eq. 6, in the code's [P_out × P_in] layout): spatial mixing.
    const asm = tf.matMul(Ms.reshape([n, Pout, Pin]) as tf.Tensor3D, a as tf.Tensor3D);
    const o = tf.relu(layerNormPlain(asm, 2));
    return o.reshape([B, L, G * Pout * C]) as tf.Tensor3D;
  });
}
