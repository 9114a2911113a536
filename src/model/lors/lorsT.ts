/**
 * LORS^T: the static low-rank residual structure on AdaMixer's L_output (paper §3.2 Eqs. 7–8; docs/model.md §5).
 *
 *   W_i = W^shared + Σ_k B_k A_k    with W^shared = lorsT.shared.weight [dq, outIn] (no bias, all stages),
 *                                   B_k = stages.i.lorsT.B[k] [dq, r], A_k = stages.i.lorsT.A[k] [r, outIn]
 *   q ← LN_i(q + o·W_iᵀ + b_i)
 * (Code layout: the paper's B is A_codeᵀ and its A is B_codeᵀ.)
 *
 * Two paths: 'factored' evaluates o·W_shᵀ + (o·A_catᵀ)·B_catᵀ (the K triplets concatenated along r);
 * 'folded' uses the dense W_i that foldLorsT adds once at load (`stages.i.lorsT.folded`).
 */
import * as tf from '@tensorflow/tfjs';
import { dims, lorsOf, type ModelConfig } from '../config';
import type { WeightMap } from '../types';
import { getLinearWeight, getWeight, layerNorm, linearWith, preparedName } from '../nn/ops';
import type { LorsPath } from './lorsA';
import { lowRankProduct } from './lowRank';

/** Name of the dense W_i [dq, outIn] that foldLorsT adds for stage i. */
export const lorsTFoldedName = (stage: number) => `stages.${stage}.lorsT.folded`;

/**
 * The concatenated private factors of stage i: B_cat [dq, K·r] (column k·r + s = B_k[:, s]), A_cat [K·r, outIn].
 * Works on raw and on prepared maps (prepareWeights stores B_catᵀ, A_catᵀ as `lorsT.BT`, `lorsT.AT`).
 */
export function lorsTFactors(
  weights: WeightMap,
  cfg: ModelConfig,
  stage: number,
): { Bcat: tf.Tensor2D; Acat: tf.Tensor2D } {
  const { K, r, dq, outIn } = lorsTDims(cfg, stage);
  const s = `stages.${stage}.lorsT`;
  return tf.tidy(() => {
    const BT = weights.get(preparedName(`${s}.B`));
    const AT = weights.get(preparedName(`${s}.A`));
    const Bcat = BT
      ? tf.transpose(getWeight(weights, preparedName(`${s}.B`), [K * r, dq]))
      : tf.transpose(getWeight(weights, `${s}.B`, [K, dq, r]), [1, 0, 2]).reshape([dq, K * r]);
    const Acat = AT
      ? tf.transpose(getWeight(weights, preparedName(`${s}.A`), [outIn, K * r]))
      : getWeight(weights, `${s}.A`, [K, r, outIn]).reshape([K * r, outIn]);
    return { Bcat: Bcat as tf.Tensor2D, Acat: Acat as tf.Tensor2D };
  });
}

function lorsTDims(cfg: ModelConfig, stage: number) {
  const lors = lorsOf(cfg, 'LORS^T');
  const K = lors.groupsT[stage];
  if (K === undefined) throw new Error(`LORS^T: no stage ${stage} (config has ${lors.groupsT.length})`);
  return { K, r: lors.rankT, dq: cfg.decoder.dQuery, outIn: dims(cfg.decoder).outIn };
}

/** o [B, L, outIn] → o·W_iᵀ + b_i [B, L, dq]. */
export function lorsTProject(
  weights: WeightMap,
  cfg: ModelConfig,
  stage: number,
  o: tf.Tensor,
  path: LorsPath = 'auto',
): tf.Tensor {
  const bias = getWeight(weights, `stages.${stage}.lorsT.bias`);
  const foldedName = lorsTFoldedName(stage);
  const folded = weights.has(preparedName(foldedName)) || weights.has(foldedName);
  if (path === 'folded' && !folded)
    throw new Error(`LORS^T folded path: "${foldedName}" is missing (call foldLorsT first)`);
  if (folded && path !== 'factored') {
    const { w, layout } = getLinearWeight(weights, foldedName);
    return tf.tidy(() => linearWith(o, w, bias, undefined, layout));
  }
  const { K, r, dq, outIn } = lorsTDims(cfg, stage);
  const s = `stages.${stage}.lorsT`;
  const sh = getLinearWeight(weights, 'lorsT.shared.weight');
  return tf.tidy(() => {
    // Eq. 7 (W_i = W^shared + W_i^private) and Eq. 8 (W_i^private = Σ_k B_ik A_ik), applied without forming W_i:
    // o·W_iᵀ = o·W_shᵀ + (o·A_catᵀ)·B_catᵀ.
    const sharedOut = linearWith(o, sh.w, bias, undefined, sh.layout);
    const AT = weights.get(preparedName(`${s}.A`));
    const BT = weights.get(preparedName(`${s}.B`));
    let privateOut: tf.Tensor;
    if (AT && BT) {
      // prepared: A_catᵀ [outIn, K·r], B_catᵀ [K·r, dq] (no transposed matMul operand)
      getWeight(weights, preparedName(`${s}.A`), [outIn, K * r]);
      getWeight(weights, preparedName(`${s}.B`), [K * r, dq]);
      privateOut = lowRankProduct(linearWith(o, AT, undefined, undefined, 'inOut'), BT as tf.Tensor2D);
    } else {
      const { Bcat, Acat } = lorsTFactors(weights, cfg, stage);
      privateOut = lowRankProduct(linearWith(o, Acat, undefined), tf.transpose(Bcat));
    }
    return tf.add(sharedOut, privateOut);
  });
}
/** q ← lorsT.norm(q + o·W_iᵀ + b_i): LORS^T's replacement of L_output and its LayerNorm. */
export function lorsTOutput(
  weights: WeightMap,
  cfg: ModelConfig,
  stage: number,
  q: tf.Tensor,
  o: tf.Tensor,
  path: LorsPath = 'auto',
): tf.Tensor {
  return tf.tidy(() =>
    layerNorm(tf.add(q, lorsTProject(weights, cfg, stage, o, path)), weights, `stages.${stage}.lorsT.norm`),
  );
}
