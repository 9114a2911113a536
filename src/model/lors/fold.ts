/**
 * One-time folds of the LORS parts into dense per-stage weights (docs/model.md §5.3).
 *
 * Both return a NEW WeightMap holding the same tensor objects as `weights` plus the folded tensors they add (the
 * factors stay, so either path can still run), and the names they added. Dispose only the added tensors (`added`)
 * if the original map is kept, or dispose everything of the returned map once. Stages already folded in the input
 * map are kept as they are (folding twice adds nothing).
 *
 * Both accept raw and prepared maps (prepareWeights). On a prepared map they add the folded weights in the prepared
 * layout ([in, out]: `stages.i.lorsT.foldedT`, `stages.i.lorsA.folded.weightT`), so folding and preparing commute.
 */
import * as tf from '@tensorflow/tfjs';
import { dims, lorsOf, type ModelConfig } from '../config';
import { parameterSpec } from '../params';
import type { WeightMap } from '../types';
import { PLAIN_VARIANT, VARIANTS } from '../variants';
import { getLinearWeight, getWeight, linearWeightOutIn, preparedName, sameShape } from '../nn/ops';
import { lorsAFoldedName } from './lorsA';
import { lorsTFactors, lorsTFoldedName } from './lorsT';
import { lowRankProduct } from './lowRank';

export interface Folded {
  weights: WeightMap;
  /** The names this fold added. */
  added: string[];
}

/** Adds `stages.{i}.lorsT.folded` = W_i = W_sh + Σ_k B_k A_k [dq, outIn] (Eqs. 7–8) for every stage. */
export function foldLorsT(weights: WeightMap, cfg: ModelConfig): Folded {
  lorsOf(cfg, 'foldLorsT');
  const { outIn } = dims(cfg.decoder);
  const prepared = weights.has(preparedName('lorsT.shared.weight'));
  const out: WeightMap = new Map(weights);
  const added: string[] = [];
  for (let i = 0; i < cfg.decoder.stages; i++) {
    const name = lorsTFoldedName(i);
    if (out.has(name) || out.has(preparedName(name))) continue; // already folded: keep it
    const Wi = tf.tidy(() => {
      const Wsh = linearWeightOutIn(weights, 'lorsT.shared.weight', [cfg.decoder.dQuery, outIn]);
      const { Bcat, Acat } = lorsTFactors(weights, cfg, i);
      const W = tf.add(Wsh, lowRankProduct(Bcat, Acat)); // Eq. 7 with Eq. 8
      return prepared ? tf.transpose(W) : W;
    });
    const n = prepared ? preparedName(name) : name;
    out.set(n, Wi);
    added.push(n);
  }
  return { weights: out, added };
}

/**
 * LORS^A's private part of stage `stage` as a dense generator in the prepared layout: weight [dq, genOut], row j =
 * Σ_k vec(B̂_k · mat(W_E,k[:, j]) · Â_k), and bias [genOut], the same of b_E. The folded generator is the shared one
 * plus this (foldLorsA, ResidentLors).
 *
 * Computed in that layout (the weight columns and the bias taken as dq + 1 "queries" j): per sampling group g and
 * half (M_c: B̂ = ml, Â = mr; M_s: sl, sr), with E_k[s, t, j] the E generator's rows,
 *   BE[j, c, (k, t)] = Σ_s B̂_k[c, s] · E_k[s, t, j]    (one matMul of [B̂_1 … B̂_K] by the block diagonal of the E_k)
 *   P[(j, c), c'] = Σ_(k, t) BE[(j, c), (k, t)] · Â_k[t, c']    (one matMul by [Â_1; …; Â_K]),
 * so the only layout change is BE's transpose (K·r / C' of the block's size); the blocks are then concatenated.
 */
export function lorsAPrivateFolded(
  weights: WeightMap,
  cfg: ModelConfig,
  stage: number,
): { weight: tf.Tensor2D; bias: tf.Tensor1D } {
  const lors = lorsOf(cfg, 'lorsAPrivateFolded');
  const d = cfg.decoder;
  const { G, C, genOut } = dims(d);
  const dq = d.dQuery;
  const r = lors.rankA;
  const K = lors.groupsA[stage]!;
  const gk = G * K;
  const s = `stages.${stage}.lorsA`;
  // r = 0: no private part (this computation's matMuls run over K·r, empty then: see lowRank.ts)
  if (r === 0) return { weight: tf.zeros([dq, genOut]), bias: tf.zeros([genOut]) };
  const bE = getWeight(weights, `${s}.generator.bias`, [2 * gk * r * r]);
  return tf.tidy(() => {
    const X = dq + 1;
    const WE = linearWeightOutIn(weights, `${s}.generator.weight`, [2 * gk * r * r, dq]); // rows (half, g, k, s, t)
    const E = tf.unstack(tf.concat([WE, bE.reshape([-1, 1])], 1).reshape([2 * G, K, r, 1, r * X]));
    // δ(k', k): E_k' [s, (t, j)] placed in column block k of a [(k', s), (k, t, j)] matrix (exact: ×1 and ×0).
    const eye = tf.tensor4d(
      Array.from({ length: K * K }, (_, i) => (i % (K + 1) === 0 ? 1 : 0)),
      [K, 1, K, 1],
    );
    const halves = [
      { B: getWeight(weights, `${s}.ml`), A: getWeight(weights, `${s}.mr`), rows: C, cols: C },
      { B: getWeight(weights, `${s}.sl`), A: getWeight(weights, `${s}.sr`), rows: d.pointsOut, cols: d.pointsIn },
    ];
    const perHalf = halves.map(({ B, A, rows, cols }) => ({
      Bcat: tf.unstack(tf.transpose(B.reshape([G, K, rows, r]), [0, 2, 1, 3]).reshape([G, rows, K * r])),
      Acat: tf.unstack(A.reshape([G, K * r, cols])),
      rows,
      cols,
    }));
    const wBlocks: tf.Tensor[] = [];
    const bBlocks: tf.Tensor[] = [];
    for (let g = 0; g < G; g++) {
      for (const [h, { Bcat, Acat, rows, cols }] of perHalf.entries()) {
        const Eh = E[h * G + g]!;
        const Ediag = K === 1 ? Eh : tf.mul(Eh, eye);
        const BE = tf.matMul(Bcat[g] as tf.Tensor2D, Ediag.reshape([K * r, K * r * X]) as tf.Tensor2D); // [c, (k, t, j)]
        const BEt = tf.transpose(BE.reshape([rows, K * r, X]), [2, 0, 1]).reshape([X * rows, K * r]); // [(j, c), (k, t)]
        const [BEw, BEb] = tf.split(BEt, [dq * rows, rows], 0) as [tf.Tensor2D, tf.Tensor2D];
        wBlocks.push(tf.matMul(BEw, Acat[g] as tf.Tensor2D).reshape([dq, rows * cols]));
        bBlocks.push(tf.matMul(BEb, Acat[g] as tf.Tensor2D).reshape([1, rows * cols]));
      }
    }
    return {
      weight: tf.concat(wBlocks, 1) as tf.Tensor2D,
      bias: tf.concat(bBlocks, 1).reshape([genOut]) as tf.Tensor1D,
    };
  });
}

/**
 * Adds the dense per-stage generator `stages.{i}.lorsA.folded.weight` [genOut, dq] and `.bias` [genOut]
 * (docs/model.md §5.3): LORS^A is affine in q, so with Ê = W_E q + b_E,
 *   W_gen,i[:, j] = W_sh[:, j] + Σ_k vec(B̂_k · mat(W_E,k[:, j]) · Â_k), and likewise for the bias.
 * After this, a LORS stage costs exactly a vanilla stage (G, P_in of the config); memory goes back up.
 */
export function foldLorsA(weights: WeightMap, cfg: ModelConfig): Folded {
  lorsOf(cfg, 'foldLorsA');
  const d = cfg.decoder;
  const { genOut } = dims(d);
  const dq = d.dQuery;
  const prepared = weights.has(preparedName('lorsA.shared.weight'));
  const bsh = getWeight(weights, 'lorsA.shared.bias', [genOut]);
  const out: WeightMap = new Map(weights);
  const added: string[] = [];
  for (let i = 0; i < d.stages; i++) {
    const base = lorsAFoldedName(i);
    if (out.has(`${base}.weight`) || out.has(preparedName(`${base}.weight`))) continue; // already folded: keep it
    const [w, b] = tf.tidy(() => {
      const { w: Wsh, layout } = getLinearWeight(weights, 'lorsA.shared.weight');
      const WshT = layout === 'inOut' ? Wsh : tf.transpose(Wsh); // [dq, genOut]
      if (!sameShape(WshT.shape, [dq, genOut]))
        throw new Error(
          `weight "lorsA.shared.weight" is [${WshT.shape.join(', ')}] as [in, out], expected [${dq}, ${genOut}]`,
        );
      const priv = lorsAPrivateFolded(weights, cfg, i);
      const fw = tf.add(WshT, priv.weight);
      return [prepared ? fw : tf.transpose(fw), tf.add(bsh, priv.bias)];
    });
    const wName = prepared ? preparedName(`${base}.weight`) : `${base}.weight`;
    for (const [name, t] of [
      [wName, w],
      [`${base}.bias`, b],
    ] as const) {
      out.set(name, t!);
      added.push(name);
    }
  }
  return { weights: out, added };
}

/** Where a vanilla stage's mixing weights are in a folded LORS part (prepared names: the same with a trailing T). */
export const FOLDED_AS: Record<'lorsA' | 'lorsT', [RegExp, string][]> = {
  lorsA: [[/^(stages\.\d+)\.mixing\.generator\./, '$1.lorsA.folded.']],
  lorsT: [
    [/^(stages\.\d+)\.mixing\.output\.weight/, '$1.lorsT.folded'],
    [/^(stages\.\d+)\.mixing\.output\.bias$/, '$1.lorsT.bias'],
    [/^(stages\.\d+)\.mixNorm\./, '$1.lorsT.norm.'],
  ],
};

/**
 * A model with LORS parts folded (foldLorsT, foldLorsA: those its variant has) into the vanilla decoder it then is
 * (docs/model.md §5.3): a config of the plain variant (variants.ts) with the same decoder and the weights under
 * vanilla names (L_output = W_i with LORS^T's bias and LayerNorm, the generator = LORS^A's folded one); the LORS
 * factors and shared parts are left out. Raw or prepared input, as the folds; `added`: the names of the new (folded)
 * tensors, all of which the result holds.
 */
export function foldToVanilla(weights: WeightMap, cfg: ModelConfig): Folded & { config: ModelConfig } {
  const parts = VARIANTS[cfg.variant];
  const lorsParts = [parts.output, parts.generator].filter((p): p is 'lorsA' | 'lorsT' => p !== 'dense');
  const steps = lorsParts.map((p) => (p === 'lorsT' ? foldLorsT : foldLorsA));
  let a: Folded = { weights, added: [] };
  const added: string[] = [];
  try {
    for (const step of steps) {
      a = step(a.weights, cfg);
      added.push(...a.added);
    }
  } catch (e) {
    tf.dispose(added.map((n) => a.weights.get(n)!));
    throw e;
  }
  const folded = new Set(added.map((n) => a.weights.get(n)));
  const { lors: _factors, ...rest } = cfg;
  const config: ModelConfig = { ...rest, variant: PLAIN_VARIANT };
  const renames = lorsParts.flatMap((p) => FOLDED_AS[p]);
  const lorsName = (name: string) => renames.reduce((n, [re, to]) => n.replace(re, to), name);
  const out: WeightMap = new Map();
  for (const p of parameterSpec(config)) {
    for (const name of [p.name, preparedName(p.name)]) {
      const w = a.weights.get(lorsName(name));
      if (w) out.set(name, w);
    }
  }
  return { weights: out, added: [...out].filter(([, w]) => folded.has(w)).map(([n]) => n), config };
}
