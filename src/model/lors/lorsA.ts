/**
 * LORS^A: the adaptive low-rank residual structure on AdaMixer's generated mixing weights M_c (ACM) and M_s (ASM)
 * (paper §3.2 Eqs. 9–12; official code FactorizedAdaptiveMixing, docs/model.md §5).
 *
 * Per stage i and sampling group g:
 *   M_c,g = Mc_sh,g(q) + Σ_k ml[gK+k] (C×r) · E^M[gK+k](q) (r×r) · mr[gK+k] (r×C)
 *   M_s,g = Ms_sh,g(q) + Σ_k sl[gK+k] (P_out×r) · E^S[gK+k](q) (r×r) · sr[gK+k] (r×P_in)
 * The paper's B̂ is ml/sl, Ê is E, Â is mr/sr.
 *
 * Evaluation (docs/model.md §5.3): E·A first (r²·h per triplet), then the K triplets of a group are concatenated, so the
 * Σ_k is one batched matmul: [B̂_1 … B̂_K] (d × K·r) · [(ÊA)_1; …; (ÊA)_K] (K·r × h). tfjs's batched matMul
 * only broadcasts when one side has a single batch, so the per-(g,k) factors are tiled over the queries.
 */
import * as tf from '@tensorflow/tfjs';
import { dims, lorsOf, type ModelConfig } from '../config';
import type { WeightMap } from '../types';
import { splitMixingParams } from '../nn/generator';
import { getWeight, linear, preparedName } from '../nn/ops';
import { lowRankProduct } from './lowRank';

export type LorsPath = 'auto' | 'factored' | 'folded';

/** Name of the dense generator that foldLorsA adds for stage i (weight [genOut, dq], bias [genOut]). */
export const lorsAFoldedName = (stage: number) => `stages.${stage}.lorsA.folded`;

/**
 * Σ_k B_k · E_k · A_k for every query and group: E [n, G·K, r, r], B [G·K, d, r], A [G·K, r, h] (triplet index
 * g·K + k) → [n·G, d, h].
 *
 * Only plain 2-D matMuls (batched matMul with batch > 1 and tf.tile are slow on wasm): per triplet j,
 * (ÊÂ)_j for all n queries at once as Ê_j laid out [(s, n), t] times Â_j [r, h] → [r, n·h]; per group g, the K
 * blocks stacked [K·r, n·h] and [B̂_1 … B̂_K] [d, K·r] times that → [d, n·h]; one transpose at the end.
 */
export function lowRankSum(E: tf.Tensor, B: tf.Tensor, A: tf.Tensor, G: number, K: number): tf.Tensor3D {
  const [n, gk, r] = E.shape as [number, number, number, number];
  if (gk !== G * K) throw new Error(`lowRankSum: E has ${gk} triplets, expected G·K = ${G * K}`);
  const d = B.shape[1]!;
  const h = A.shape[2]!;
  return tf.tidy(() => {
    // Ê laid out [G·K, r (rows s), n, r (cols t)] so that triplet j is a contiguous [(s, n), t] matrix.
    const Et = tf.unstack(tf.transpose(E, [1, 2, 0, 3]).reshape([gk, r * n, r])) as tf.Tensor2D[];
    const As = tf.unstack(A) as tf.Tensor2D[];
    const Bcat = tf.unstack(
      tf.transpose(B.reshape([G, K, d, r]), [0, 2, 1, 3]).reshape([G, d, K * r]),
    ) as tf.Tensor2D[];
    const perGroup = Bcat.map((Bg, g) => {
      const EA = Array.from({ length: K }, (_, k) => tf.matMul(Et[g * K + k]!, As[g * K + k]!).reshape([r, n * h]));
      return lowRankProduct(Bg, (K === 1 ? EA[0]! : tf.concat(EA, 0)) as tf.Tensor2D); // [d, n·h]
    });
    // [G, d, n, h] → [n, G, d, h]
    return tf.transpose(tf.stack(perGroup).reshape([G, d, n, h]), [2, 0, 1, 3]).reshape([n * G, d, h]) as tf.Tensor3D;
  });
}

/**
 * The Linear that makes stage `stage`'s generated parameters on `path` (foldLorsA's dense generator: 'folded', or
 * 'auto' where it is present), else null (the factored Eqs. 9–12). 'folded' without it throws.
 */
export function lorsAFoldedLinear(weights: WeightMap, stage: number, path: LorsPath): string | null {
  const name = lorsAFoldedName(stage);
  const present = weights.has(`${name}.weight`) || weights.has(preparedName(`${name}.weight`));
  if (path === 'folded' && !present)
    throw new Error(`LORS^A folded path: "${name}.weight" is missing (call foldLorsA first)`);
  return path === 'folded' || (path === 'auto' && present) ? name : null;
}

/**
 * The generated mixing parameters of stage `stage` under LORS^A: q [B, L, dq] → [B, L, G·(C·C + P_out·P_in)], the
 * layout of a vanilla generator's output (nn/generator.ts). path 'folded' uses the dense generator of foldLorsA (must
 * be present), 'auto' uses it when present.
 */
export function lorsAGenerated(
  weights: WeightMap,
  cfg: ModelConfig,
  stage: number,
  q: tf.Tensor,
  path: LorsPath = 'auto',
): tf.Tensor3D {
  const lors = lorsOf(cfg, 'LORS^A');
  const d = cfg.decoder;
  const { G, C, genOut } = dims(d);
  const K = lors.groupsA[stage];
  if (K === undefined) throw new Error(`LORS^A: no stage ${stage} (config has ${lors.groupsA.length})`);
  const r = lors.rankA;
  // docs/model.md §5.3: LORS^A is affine in q, so Eqs. 9–12 fold into one dense per-stage generator.
  const folded = lorsAFoldedLinear(weights, stage, path);
  if (folded) return linear(q, weights, folded) as tf.Tensor3D;
  const [B, L] = q.shape as [number, number, number];
  const n = B * L;
  const s = `stages.${stage}.lorsA`;
  const gk = G * K;
  const ml = getWeight(weights, `${s}.ml`, [gk, C, r]);
  const mr = getWeight(weights, `${s}.mr`, [gk, r, C]);
  const sl = getWeight(weights, `${s}.sl`, [gk, d.pointsOut, r]);
  const sr = getWeight(weights, `${s}.sr`, [gk, r, d.pointsIn]);
  return tf.tidy(() => {
    // Eq. 10: Ŵ^shared = Linear(q), one generator shared by all stages.
    const shared = linear(q, weights, 'lorsA.shared');
    // Eq. 12: Ê_ik = Linear(q) ∈ R^{r×r}: one per-stage Linear gives 2·G·K_i of them (0 → E^M, 1 → E^S).
    // (split as [n, 2, ·]: a SplitV of a rank-5 view is very slow on wasm)
    const E = linear(q, weights, `${s}.generator`).reshape([n, 2, gk * r * r]);
    const [EM, ES] = tf.split(E, 2, 1).map((t) => t.reshape([n, gk, r, r])) as [tf.Tensor, tf.Tensor];
    // Eq. 11: Ŵ_i^private = Σ_k B̂_ik Ê_ik Â_ik, per sampling group, laid out per group as M_c then M_s.
    const McPriv = lowRankSum(EM, ml, mr, G, K).reshape([n * G, C * C]);
    const MsPriv = lowRankSum(ES, sl, sr, G, K).reshape([n * G, d.pointsOut * d.pointsIn]);
    // Eq. 9: Ŵ_i = Ŵ^shared + Ŵ_i^private.
    return tf.add(shared, tf.concat([McPriv, MsPriv], 1).reshape([B, L, genOut])) as tf.Tensor3D;
  });
}

/**
 * The mixing weights of stage `stage` under LORS^A (lorsAGenerated, split): M_c [B, L, G, C, C],
 * M_s [B, L, G, P_out, P_in].
 */
export function lorsAMixingParams(
  weights: WeightMap,
  cfg: ModelConfig,
  stage: number,
  q: tf.Tensor,
  path: LorsPath = 'auto',
): { Mc: tf.Tensor5D; Ms: tf.Tensor5D } {
  return tf.tidy(() => splitMixingParams(lorsAGenerated(weights, cfg, stage, q, path), cfg.decoder));
}
