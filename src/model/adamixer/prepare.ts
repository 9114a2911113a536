/**
 * One-time weight preparation for fast inference (mainly for the wasm backend).
 *
 * tf.matMul(x, W, false, true) on a PyTorch-layout Linear weight W [out, in] is ~14× slower on the wasm backend of
 * tfjs 4.22 than tf.matMul(x, Wᵀ) on a pre-transposed [in, out] copy. prepareWeights stores that copy once:
 *   - every Linear weight `x.weight` [out, in] of parameterSpec (neck, attention, sampling offsets, generators,
 *     L_output, LORS shared parts, LORS^A's E generator, FFN, heads) → `x.weightT` [in, out];
 *   - the folded weights present in the map: `stages.i.lorsT.folded` [dq, outIn] → `stages.i.lorsT.foldedT`
 *     [outIn, dq] (foldLorsT) and `stages.i.lorsA.folded.weight` → `.weightT` (foldLorsA);
 *   - LORS^T's private factors: `stages.i.lorsT.A` [K, r, outIn] → `stages.i.lorsT.AT` = A_catᵀ [outIn, K·r] and
 *     `stages.i.lorsT.B` [K, dq, r] → `stages.i.lorsT.BT` = B_catᵀ [K·r, dq], so the factored path is
 *     (o·A_catᵀ)·B_catᵀ with no transposed operand.
 * The returned map DROPS the originals it transposed (to avoid holding every big weight twice); it holds the same
 * tensor objects as the input for everything else. Every consumer (linear(), checkWeights below, lorsTProject,
 * lorsTFactors, foldLorsT, foldLorsA) accepts either form, and folding a prepared map adds prepared folded weights.
 * Preparing twice adds nothing.
 *
 * Ownership: the added tensors are new (`added`); the dropped originals (`replaced`) are NOT disposed — dispose them
 * when the input map is no longer needed (or dispose the input map's tensors and then the `added` ones).
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config';
import { parameterSpec } from '../params';
import type { WeightMap } from '../types';
import { preparedName, preparedShape, sameShape } from '../nn/ops';

export interface Prepared {
  weights: WeightMap;
  /** Names of the prepared copies this call added (new tensors). */
  added: string[];
  /** Names of the originals left out of the returned map (still owned by the input map; not disposed). */
  replaced: string[];
}

/** The names (and PyTorch shapes) prepareWeights transposes for `cfg`, folded weights included when present. */
function candidates(weights: WeightMap, cfg: ModelConfig): { name: string; shape: number[] }[] {
  const out = parameterSpec(cfg)
    .filter((p) => preparedShape(p.name, p.shape) !== undefined)
    .map((p) => ({ name: p.name, shape: p.shape }));
  for (let i = 0; i < cfg.decoder.stages; i++) {
    for (const name of [`stages.${i}.lorsT.folded`, `stages.${i}.lorsA.folded.weight`]) {
      const t = weights.get(name);
      if (t) out.push({ name, shape: t.shape });
    }
  }
  return out;
}

export function prepareWeights(weights: WeightMap, cfg: ModelConfig): Prepared {
  const out: WeightMap = new Map(weights);
  const added: string[] = [];
  const replaced: string[] = [];
  const made: tf.Tensor[] = [];
  try {
    for (const { name, shape } of candidates(weights, cfg)) {
      const pName = preparedName(name);
      const t = weights.get(name);
      if (!t) {
        if (!weights.has(pName)) throw new Error(`prepareWeights: weight "${name}" [${shape.join(', ')}] is missing`);
        continue; // already prepared
      }
      if (!sameShape(t.shape, shape)) {
        throw new Error(`prepareWeights: "${name}" has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
      }
      if (!weights.has(pName)) {
        const p = tf.tidy(() => {
          if (name.endsWith('.lorsT.A')) return tf.transpose(t.reshape([-1, t.shape[2]!])); // A_catᵀ [outIn, K·r]
          if (name.endsWith('.lorsT.B')) return tf.transpose(t, [0, 2, 1]).reshape([-1, t.shape[1]!]); // B_catᵀ [K·r, dq]
          return tf.transpose(t);
        });
        made.push(p);
        out.set(pName, p);
        added.push(pName);
      }
      out.delete(name);
      replaced.push(name);
    }
  } catch (e) {
    tf.dispose(made);
    throw e;
  }
  return { weights: out, added, replaced };
}

/**
 * Checks, once at load (Detector.setDecoder), that `weights` holds every tensor of parameterSpec(cfg) with the right shape, each either as is or as its
 * prepared copy (preparedName / preparedShape, see prepareWeights). Extra entries, such as folded weights, are
 * allowed. Throws one error listing every problem.
 */
export function checkWeights(weights: WeightMap, cfg: ModelConfig): void {
  const problems: string[] = [];
  for (const p of parameterSpec(cfg)) {
    const t = weights.get(p.name);
    const pShape = preparedShape(p.name, p.shape);
    const tp = pShape ? weights.get(preparedName(p.name)) : undefined;
    if (tp && !t) {
      if (!sameShape(tp.shape, pShape!)) {
        problems.push(`"${preparedName(p.name)}" has shape [${tp.shape.join(', ')}], expected [${pShape!.join(', ')}]`);
      }
    } else if (!t) problems.push(`missing "${p.name}" [${p.shape.join(', ')}]`);
    else if (!sameShape(t.shape, p.shape)) {
      problems.push(`"${p.name}" has shape [${t.shape.join(', ')}], expected [${p.shape.join(', ')}]`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join('; ');
    const more = problems.length > 10 ? ` (and ${problems.length - 10} more)` : '';
    throw new Error(`weights do not match the ${cfg.preset}/${cfg.variant} config: ${shown}${more}`);
  }
}
