/**
 * One AdaMixer decoder stage (docs/model.md §3), vanilla or with LORS (docs/model.md §5):
 * box-aware self-attention → adaptive 3D sampling → adaptive mixing (+ L_output) → FFN → cls/reg heads → box
 * refinement.
 */
import * as tf from '@tensorflow/tfjs';
import { posScaleOf, type ModelConfig } from '../config';
import type { WeightMap } from '../types';
import { VARIANTS } from '../variants';
import { lorsAFoldedLinear, lorsAGenerated, type LorsPath } from '../lors/lorsA';
import { lorsTOutput } from '../lors/lorsT';
import { decodeXyzr, iof, logIofHost } from './boxes';
import { splitMixingParams } from '../nn/generator';
import { adaptiveMixing, canMixOnHost, hostMixing } from './mixing';
import { exp2, getWeight, layerNorm, linear } from '../nn/ops';
import { positionEmbedding } from './positional';
import { sampleFeatures, type SamplingMaps } from './sampling';
import { hostLinear, onWasmKernels, wasmValues } from './wasm/tensors';

export interface StageOptions {
  /** LORS^A evaluation: 'factored' (Eqs. 9–12), 'folded' (dense generator of foldLorsA), 'auto' (folded when present). */
  lorsA?: LorsPath;
  /** LORS^T evaluation: 'factored', 'folded' (W_i of foldLorsT), 'auto' (folded when present). */
  lorsT?: LorsPath;
  /** The stage's input boxes as decodeXyzr(xyzr) gives them (the previous stage's `boxes`): not decoded again. */
  xyxy?: tf.Tensor3D;
  /**
   * true (default): on the wasm backend, the attention and the generator → sampling + mixing → L_output in the wasm
   * kernels (wasm/kernels.ts) where they run; false: tfjs ops only (the reference).
   */
  wasmKernels?: boolean;
}

export interface StageOutput {
  /** Content after the stage [B, L, dQuery]. */
  q: tf.Tensor3D;
  /** Refined boxes xyzr' [B, L, 4] (input of the next stage). */
  xyzr: tf.Tensor3D;
  /** Class logits [B, L, classes]. */
  logits: tf.Tensor3D;
  /** Refined boxes as xyxy [B, L, 4] in resized-image pixels. */
  boxes: tf.Tensor3D;
}

/**
 * Box-aware self-attention (docs/model.md §3.1): x = q + pe(xyzr); q ← attnNorm(x + MHA(x, x, x) with the additive
 * per-head bias log(iof + 1e-7)·iofTau[h]). xyxy (optional): decodeXyzr(xyzr), when the caller has it.
 */
export function selfAttention(
  weights: WeightMap,
  cfg: ModelConfig,
  stage: number,
  q: tf.Tensor,
  xyzr: tf.Tensor,
  xyxy?: tf.Tensor,
  wasmKernels = true,
): tf.Tensor3D {
  const d = cfg.decoder;
  const [B, L, dq] = q.shape as [number, number, number];
  const H = d.heads;
  const hd = dq / H;
  const s = `stages.${stage}`;
  const tau = getWeight(weights, `${s}.iofTau`, [H]);
  return tf.tidy(() => {
    const boxes = xyxy ?? decodeXyzr(xyzr);
    const x = tf.add(q, positionEmbedding(xyzr, dq, posScaleOf(cfg)));
    const qkv = linear(x, weights, `${s}.attn.inProj`); // [B, L, 3·dq]: (3, H, hd) per query
    const kernels = wasmKernels && onWasmKernels();
    let merged: tf.Tensor;
    if (kernels) {
      const logIof = logIofHost(boxes.dataSync() as Float32Array, B, L);
      const att = kernels.attend(
        wasmValues(qkv),
        logIof,
        tau.dataSync() as Float32Array,
        { B, L, H, hd },
        1 / Math.sqrt(hd),
      );
      merged = tf.tensor3d(att, [B, L, dq]); // copies att out of the kernels' memory
    } else {
      const logIof = tf.log(tf.add(iof(boxes), 1e-7)).reshape([B, 1, L, L]);
      const bias = tf.mul(logIof, tau.reshape([1, H, 1, 1])); // [B, H, L, L]
      const [Q, K, V] = tf
        .split(tf.transpose(qkv.reshape([B, L, 3, H, hd]), [2, 0, 3, 1, 4]), 3, 0)
        .map((t) => t.reshape([B, H, L, hd])) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      const logits = tf.add(tf.matMul(tf.mul(Q, 1 / Math.sqrt(hd)), K, false, true), bias);
      const att = tf.matMul(tf.softmax(logits), V); // [B, H, L, hd]
      merged = tf.transpose(att, [0, 2, 1, 3]).reshape([B, L, dq]);
    }
    const out = linear(merged, weights, `${s}.attn.outProj`);
    return layerNorm(tf.add(x, out), weights, `${s}.attnNorm`) as tf.Tensor3D; // residual is q + pe (mmcv 1.3.3)
  });
}

/**
 * One stage. levels: the NECKED maps (NHWC [B, H_l, W_l, dFeat]) or, faster when running several stages, their
 * samplingMaps (made once). Returns new tensors (caller disposes); inputs are not disposed.
 */
export function stageForward(
  weights: WeightMap,
  cfg: ModelConfig,
  stage: number,
  q: tf.Tensor3D,
  xyzr: tf.Tensor3D,
  levels: tf.Tensor4D[] | SamplingMaps,
  opts: StageOptions = {},
): StageOutput {
  const d = cfg.decoder;
  if (!Number.isInteger(stage) || stage < 0 || stage >= d.stages)
    throw new Error(`stage ${stage} is out of range 0..${d.stages - 1}`);
  const s = `stages.${stage}`;
  return tf.tidy(() => {
    // 2.1 box-aware self-attention
    const wasmKernels = opts.wasmKernels ?? true;
    let x = selfAttention(weights, cfg, stage, q, xyzr, opts.xyxy, wasmKernels);
    // 2.2 adaptive 3D sampling and 2.3 adaptive mixing: in the wasm kernels where the maps have host copies, with
    // the generator and the output projection where each is one prepared Linear (o then stays in the kernels)
    const off = linear(x, weights, `${s}.sampling.offset`);
    const parts = VARIANTS[cfg.variant];
    const lorsA = opts.lorsA ?? 'auto';
    const genName = parts.generator === 'lorsA' ? lorsAFoldedLinear(weights, stage, lorsA) : `${s}.mixing.generator`;
    const generated = () => (genName ? linear(x, weights, genName) : lorsAGenerated(weights, cfg, stage, x, lorsA));
    const outName = parts.output === 'lorsT' ? null : `${s}.mixing.output`;
    let o: tf.Tensor;
    let projected = false;
    if (wasmKernels && canMixOnHost(levels)) {
      const genLinear = genName ? hostLinear(weights, genName) : null;
      const outLinear = outName ? hostLinear(weights, outName) : null;
      o = hostMixing(levels, xyzr, off, genLinear ? { x, linear: genLinear } : generated(), cfg, outLinear);
      projected = outLinear !== null;
    } else {
      const { Mc, Ms } = splitMixingParams(generated(), cfg.decoder);
      o = adaptiveMixing(sampleFeatures(levels, xyzr, off, cfg), Mc, Ms);
    }
    x = (
      outName
        ? layerNorm(tf.add(x, projected ? o : linear(o, weights, outName)), weights, `${s}.mixNorm`)
        : lorsTOutput(weights, cfg, stage, x, o, opts.lorsT ?? 'auto')
    ) as tf.Tensor3D;
    // 2.4 FFN
    const hidden = linear(x, weights, `${s}.ffn.fc1`, 'relu');
    x = layerNorm(tf.add(x, linear(hidden, weights, `${s}.ffn.fc2`)), weights, `${s}.ffnNorm`) as tf.Tensor3D;
    // heads
    const branch = (name: 'cls' | 'reg') =>
      linear(
        tf.relu(layerNorm(linear(x, weights, `${s}.${name}.fc`), weights, `${s}.${name}.norm`)),
        weights,
        `${s}.${name}.out`,
      );
    const logits = branch('cls') as tf.Tensor3D;
    const delta = branch('reg');
    // refinement: x' = x + dx·2^z, y' = y + dy·2^z, z' = z + dz, r' = r + dr, i.e. xyzr + delta·(2^z, 2^z, 1, 1)
    const [B, L] = xyzr.shape;
    const e = exp2(tf.slice(xyzr, [0, 0, 2], [B, L, 1]));
    const scale = tf.concat([e, e, tf.ones([B, L, 2])], -1);
    const refined = tf.add(xyzr, tf.mul(delta, scale)) as tf.Tensor3D;
    return { q: x, xyzr: refined, logits, boxes: decodeXyzr(refined) as tf.Tensor3D };
  });
}
