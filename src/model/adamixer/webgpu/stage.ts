/**
 * The decoder on WebGPU with fused kernels: 14 dispatches per stage instead of ~270 (docs/webgpu.md). Same
 * arithmetic as the tfjs-op path (neck in decoder.ts, stageForward in stage.ts), the reference it is tested against
 * (src/selftest/checks.ts). It knows one stage: a LORS model runs here as the app runs it, folded at load into the
 * vanilla stage it then is (lors/fold.ts foldToVanilla).
 */
import * as tf from '@tensorflow/tfjs';
import { dims, posScaleOf, type ModelConfig } from '../../config';
import type { WeightMap } from '../../types';
import { getLinearWeight, getWeight } from '../../nn/ops';
import { groupNorm, layerNormRows, linearFused, linearResidualLayerNorm, mlpHead } from '../../nn/webgpu/kernels';
import { onWebGPU } from '../../nn/webgpu/program';
import {
  boxAttention,
  channelMixing,
  posAdd,
  refineBoxes,
  sampleFeatures3d,
  spatialMixing,
  type PackedLevels,
} from './kernels';

/** How the decoder runs: 'auto' (fused on the webgpu backend when supported, else tfjs ops), 'ops', 'fused'. */
export type KernelChoice = 'auto' | 'ops' | 'fused';

/** Why the fused path cannot run this decoder, or null when it can. */
export function fusedUnsupported(cfg: ModelConfig): string | null {
  if (!onWebGPU()) return `the backend is ${tf.getBackend()}, not webgpu`;
  if (cfg.lors) return 'LORS factors run on tfjs ops (the fused stage runs LORS folded: foldToVanilla)';
  return null;
}

/** The Linear weight `name` ([out, in] in PyTorch layout) as [in, out] (a transpose only for unprepared maps). */
function inOut(weights: WeightMap, name: string): tf.Tensor {
  const { w, layout } = getLinearWeight(weights, name);
  return layout === 'inOut' ? w : tf.transpose(w);
}

/** Neck (decoder.ts applyNeck, GroupNorm epsilon `eps`): per level a fused matMul + bias, then one GroupNorm kernel. */
export function fusedNeck(weights: WeightMap, cfg: ModelConfig, levels: tf.Tensor4D[], eps: number): tf.Tensor4D[] {
  const d = cfg.decoder;
  const gamma = getWeight(weights, 'neck.norm.weight', [d.dFeat]);
  const beta = getWeight(weights, 'neck.norm.bias', [d.dFeat]);
  return levels.map((x, l) =>
    tf.tidy(() => {
      if (x.rank !== 4 || x.shape[3] !== d.featChannels) {
        throw new Error(`fusedNeck: level ${l} must be NHWC [B, H, W, ${d.featChannels}], got [${x.shape.join(', ')}]`);
      }
      const y = linearFused(
        x,
        inOut(weights, `neck.convs.${l}.weight`),
        getWeight(weights, `neck.convs.${l}.bias`),
      ) as tf.Tensor4D;
      return groupNorm(y, d.neckGroups, gamma, beta, eps);
    }),
  );
}

/** Initial content: LayerNorm of queries.content, for every image of the batch → [B, L, dq]. */
export function fusedInitialQueries(weights: WeightMap, cfg: ModelConfig, B: number): tf.Tensor3D {
  const d = cfg.decoder;
  return layerNormRows(getWeight(weights, 'queries.content', [d.queries, d.dQuery]), B).reshape([
    B,
    d.queries,
    d.dQuery,
  ]);
}

export interface FusedStageOutput {
  q: tf.Tensor3D;
  xyzr: tf.Tensor3D;
  logits: tf.Tensor3D;
}

/**
 * One stage on the fused kernels: q [B, L, dq], xyzr [B, L, 4], levels = the necked maps NHWC [B, H_l, W_l, dFeat]
 * packed by packLevels (once per forward). 14 dispatches. New tensors (the caller disposes them); intermediates are
 * disposed.
 */
export function fusedStageForward(
  weights: WeightMap,
  cfg: ModelConfig,
  stage: number,
  q: tf.Tensor3D,
  xyzr: tf.Tensor3D,
  levels: PackedLevels,
): FusedStageOutput {
  const d = cfg.decoder;
  const { G, C } = dims(d);
  const s = `stages.${stage}`;
  const w = (name: string) => getWeight(weights, name);
  const [B, L] = q.shape;
  return tf.tidy(() => {
    // 2.1 box-aware self-attention: x = q + pe; q ← attnNorm(x + outProj(MHA(x) with the IoF bias))
    const x0 = posAdd(q, xyzr, posScaleOf(cfg));
    const qkv = linearFused(x0, inOut(weights, `${s}.attn.inProj.weight`), w(`${s}.attn.inProj.bias`));
    const att = boxAttention(qkv, xyzr, getWeight(weights, `${s}.iofTau`, [d.heads]), d.heads);
    const x1 = linearResidualLayerNorm(
      att,
      inOut(weights, `${s}.attn.outProj.weight`),
      w(`${s}.attn.outProj.bias`),
      x0,
      w(`${s}.attnNorm.weight`),
      w(`${s}.attnNorm.bias`),
    );
    // 2.2 adaptive 3D sampling
    const xs = sampleFeatures3d(
      x1,
      inOut(weights, `${s}.sampling.offset.weight`),
      w(`${s}.sampling.offset.bias`),
      xyzr,
      levels,
      { G, P: d.pointsIn, C, strides: d.strides },
    );
    // 2.3 adaptive mixing + L_output
    const gen = linearFused(x1, inOut(weights, `${s}.mixing.generator.weight`), w(`${s}.mixing.generator.bias`));
    const mix = { G, C, Pin: d.pointsIn, Pout: d.pointsOut };
    const o = spatialMixing(channelMixing(xs, gen, mix), gen, mix, B, L);
    const outW = inOut(weights, `${s}.mixing.output.weight`);
    const x2 = linearResidualLayerNorm(
      o,
      outW,
      w(`${s}.mixing.output.bias`),
      x1,
      w(`${s}.mixNorm.weight`),
      w(`${s}.mixNorm.bias`),
    );
    // 2.4 FFN
    const hidden = linearFused(x2, inOut(weights, `${s}.ffn.fc1.weight`), w(`${s}.ffn.fc1.bias`), true);
    const x3 = linearResidualLayerNorm(
      hidden,
      inOut(weights, `${s}.ffn.fc2.weight`),
      w(`${s}.ffn.fc2.bias`),
      x2,
      w(`${s}.ffnNorm.weight`),
      w(`${s}.ffnNorm.bias`),
    ) as tf.Tensor3D;
    // heads and box refinement
    const head = (name: 'cls' | 'reg') =>
      mlpHead(
        x3,
        inOut(weights, `${s}.${name}.fc.weight`),
        w(`${s}.${name}.fc.bias`),
        w(`${s}.${name}.norm.weight`),
        w(`${s}.${name}.norm.bias`),
        inOut(weights, `${s}.${name}.out.weight`),
        w(`${s}.${name}.out.bias`),
      );
    const logits = head('cls') as tf.Tensor3D;
    const refined = refineBoxes(xyzr, head('reg')) as tf.Tensor3D;
    return { q: x3, xyzr: refined, logits };
  });
}
