/**
 * The layout of a mixing-weight generator's output (paper Eq. 3; the same for vanilla AdaMixer's per-stage generator
 * and for LORS^A's shared and folded generators): per sampling group, M_c then M_s, row-major.
 */
import * as tf from '@tensorflow/tfjs';

/** The sizes the layout depends on (a decoder config has them): G groups of C = dFeat / G channels, P_in, P_out. */
export interface MixingShape {
  samplingGroups: number;
  dFeat: number;
  pointsIn: number;
  pointsOut: number;
}

/**
 * Splits generated mixing parameters [B, L, G·(C·C + P_out·P_in)] per group into
 * M_c [B, L, G, C, C] (first C·C entries, row-major C_in × C_out) and M_s [B, L, G, P_out, P_in] (the rest).
 */
export function splitMixingParams(params: tf.Tensor, d: MixingShape): { Mc: tf.Tensor5D; Ms: tf.Tensor5D } {
  const G = d.samplingGroups;
  const C = d.dFeat / G;
  const genPerGroup = C * C + d.pointsOut * d.pointsIn;
  const genOut = G * genPerGroup;
  if (params.rank !== 3 || params.shape[2] !== genOut) {
    throw new Error(`splitMixingParams: expected [B, L, ${genOut}], got [${params.shape.join(', ')}]`);
  }
  const [B, L] = params.shape as [number, number, number];
  return tf.tidy(() => {
    const per = params.reshape([B * L * G, genPerGroup]); // (2-D: SplitV of higher-rank views is slow on wasm)
    const [mc, ms] = tf.split(per, [C * C, d.pointsOut * d.pointsIn], -1) as [tf.Tensor, tf.Tensor];
    return {
      Mc: mc.reshape([B, L, G, C, C]) as tf.Tensor5D,
      Ms: ms.reshape([B, L, G, d.pointsOut, d.pointsIn]) as tf.Tensor5D,
    };
  });
}
