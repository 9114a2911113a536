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
import { getWeight, linearWeightOutIn, preparedName } from '../nn/ops';
import { lorsAFoldedName, lowRankSum } from './lorsA';
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
 * LORS^A's private part of stage `stage` as a dense generator in the prepared layout, with the bias as one more row:
 * [dq + 1, genOut], row j < dq = Σ_k vec(B̂_k · mat(W_E,k[:, j]) · Â_k), row dq = the same of b_E. The folded
 * generator is the shared one plus this (foldLorsA, ResidentLors).
 */
export function lorsAPrivateFolded(weights: WeightMap, cfg: ModelConfig, stage: number): tf.Tensor2D {
  const lors = lorsOf(cfg, 'lorsAPrivateFolded');
  const d = cfg.decoder;
  const { G, C, genOut } = dims(d);
  const dq = d.dQuery;
  const r = lors.rankA;
  const K = lors.groupsA[stage]!;
  const gk = G * K;
  const s = `stages.${stage}.lorsA`;
  const bE = getWeight(weights, `${s}.generator.bias`, [2 * gk * r * r]);
  return tf.tidy(() => {
    const WE = linearWeightOutIn(weights, `${s}.generator.weight`, [2 * gk * r * r, dq]);
    // Treat the dq weight columns and the bias as dq + 1 "queries" of the factored path.
    const aug = tf.concat([WE, bE.reshape([-1, 1])], 1).reshape([2, gk, r, r, dq + 1]);
    const perCol = tf.transpose(aug, [0, 4, 1, 2, 3]); // [2, dq+1, GK, r, r]
    // tf.slice, not tf.split: the same copy, and tfjs-wasm's SplitV is ~20× slower on these shapes.
    const half = (h: number) => tf.slice(perCol, [h, 0, 0, 0, 0], [1, dq + 1, gk, r, r]).reshape([dq + 1, gk, r, r]);
    const [EM, ES] = [half(0), half(1)];
    const mc = lowRankSum(EM, getWeight(weights, `${s}.ml`), getWeight(weights, `${s}.mr`), G, K).reshape([
      dq + 1,
      G,
      C * C,
    ]);
    const ms = lowRankSum(ES, getWeight(weights, `${s}.sl`), getWeight(weights, `${s}.sr`), G, K).reshape([
      dq + 1,
      G,
      d.pointsOut * d.pointsIn,
    ]);
    return tf.concat([mc, ms], 2).reshape([dq + 1, genOut]) as tf.Tensor2D;
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
      const Wsh = linearWeightOutIn(weights, 'lorsA.shared.weight', [genOut, dq]);
      const priv = tf.transpose(lorsAPrivateFolded(weights, cfg, i)); // [genOut, dq+1]
      const sharedAug = tf.concat([Wsh, bsh.reshape([-1, 1])], 1);
      const full = tf.add(sharedAug, priv);
      const [fw, fb] = tf.split(full, [dq, 1], 1) as [tf.Tensor, tf.Tensor];
      return [prepared ? tf.transpose(fw) : fw, fb.reshape([genOut])];
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
