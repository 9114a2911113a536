/**
 * The AdaMixer decoder (docs/model.md §1–§4): neck (1×1 conv + shared GroupNorm per level), initial queries, N stages,
 * and the inference post-processing (sigmoid + top-k over L·classes, no NMS).
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config';
import type { WeightMap } from '../types';
import { initialXyzr } from './boxes';
import { getWeight, layerNormPlain, linear } from '../nn/ops';
import { samplingMaps, type SamplingMaps } from './sampling';
import { stageForward, type StageOptions } from './stage';
import { decodeBoxes, packLevels } from './webgpu/kernels';
import { fusedInitialQueries, fusedNeck, fusedStageForward, fusedUnsupported, type KernelChoice } from './webgpu/stage';

export const GN_EPS = 1e-5;

/**
 * Neck: per level y = x·W_lᵀ + b_l (1×1 conv) then one shared GroupNorm(neckGroups, dFeat, eps 1e-5, affine
 * neck.norm), statistics per image and group over H_l·W_l·(dFeat/neckGroups).
 * levels: raw backbone maps NHWC [B, H_l, W_l, featChannels] → [B, H_l, W_l, dFeat]. Caller disposes the result.
 */
export function applyNeck(weights: WeightMap, cfg: ModelConfig, levels: tf.Tensor4D[]): tf.Tensor4D[] {
  const d = cfg.decoder;
  if (levels.length !== d.strides.length) {
    throw new Error(
      `applyNeck: expected ${d.strides.length} feature levels (strides ${d.strides.join('/')}), got ${levels.length}`,
    );
  }
  if (d.dFeat % d.neckGroups !== 0)
    throw new Error(`applyNeck: dFeat ${d.dFeat} is not divisible by neckGroups ${d.neckGroups}`);
  const gamma = getWeight(weights, 'neck.norm.weight', [d.dFeat]);
  const beta = getWeight(weights, 'neck.norm.bias', [d.dFeat]);
  return levels.map((x, l) => {
    if (x.rank !== 4 || x.shape[3] !== d.featChannels) {
      throw new Error(`applyNeck: level ${l} must be NHWC [B, H, W, ${d.featChannels}], got [${x.shape.join(', ')}]`);
    }
    const [B, H, W] = x.shape;
    return tf.tidy(() => {
      const y = linear(x, weights, `neck.convs.${l}`); // [B, H, W, dFeat]
      const g = y.reshape([B, H * W, d.neckGroups, d.dFeat / d.neckGroups]);
      const { mean, variance } = tf.moments(g, [1, 3], true);
      const n = tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, GN_EPS))).reshape([B, H, W, d.dFeat]);
      return tf.add(tf.mul(n, gamma), beta) as tf.Tensor4D;
    });
  });
}

/**
 * The necked maps of `levels` (applyNeck) as the stages sample them (samplingMaps: per-group padded maps, with host
 * copies for the wasm kernels unless impl is 'ops'). New tensors: dispose() frees them.
 */
export function neckMaps(
  weights: WeightMap,
  cfg: ModelConfig,
  levels: tf.Tensor4D[],
  impl: KernelChoice = 'auto',
): SamplingMaps & { dispose(): void } {
  const necked = applyNeck(weights, cfg, levels);
  try {
    const maps = impl === 'ops' ? samplingMaps(necked, cfg, false) : samplingMaps(necked, cfg);
    return { ...maps, dispose: () => tf.dispose(maps.maps) };
  } finally {
    tf.dispose(necked);
  }
}

export interface DecoderOptions extends StageOptions {
  /** 'last' (default): only the last stage's output; 'all': every stage's. */
  stages?: 'last' | 'all';
  /** Per batch element, query proposals ([n·4] xyxy input pixels, n ≤ L) for the initial boxes (see `initialXyzr`). */
  proposals?: (Float32Array | undefined)[];
  /**
   * 'auto' (default): the backend's own kernels where they run — on webgpu the fused kernels (webgpu/stage.ts) for a
   * vanilla config (a LORS model folded by foldToVanilla is one), on wasm the attention and sampling + mixing kernels
   * (wasm/kernels.ts) — else tfjs ops; 'ops': always tfjs ops (the reference, and the only path on cpu); 'fused': the
   * fused WebGPU kernels or an error saying why not.
   */
  impl?: KernelChoice;
  /**
   * neckMaps of these levels and weights, made earlier (the detector keeps them with the features, so a slider move
   * does not run the neck again): used as they are and not disposed. Not used by the fused WebGPU path.
   */
  maps?: SamplingMaps;
}

export type StagePrediction = {
  /** [B, L, classes] class logits. */
  logits: tf.Tensor3D;
  /** [B, L, 4] xyxy in pixels of the resized (unpadded) image. */
  boxes: tf.Tensor3D;
};

/**
 * The whole decoder. levels: raw backbone maps NHWC [B, H_l, W_l, featChannels] per stride (computed on the padded
 * image); imageSize: [w, h] of each resized UNPADDED image. Returns one prediction per stage ('all') or just the
 * last one; the caller disposes them. Nothing else is left allocated. The weights are checked once at load
 * (checkWeights in prepare.ts, called by Detector.setDecoder), not here: a missing tensor fails where it is used.
 */
export function decoderForward(
  weights: WeightMap,
  cfg: ModelConfig,
  levels: tf.Tensor4D[],
  imageSize: [number, number][],
  opts: DecoderOptions = {},
): StagePrediction[] {
  const d = cfg.decoder;
  const B = levels[0]?.shape[0];
  if (B === undefined) throw new Error('decoderForward: no feature levels given');
  levels.forEach((t, l) => {
    if (t.shape[0] !== B) throw new Error(`decoderForward: level ${l} has batch ${t.shape[0]}, level 0 has ${B}`);
  });
  if (imageSize.length !== B) throw new Error(`decoderForward: ${imageSize.length} image sizes for a batch of ${B}`);
  const impl = opts.impl ?? 'auto';
  if (impl !== 'ops') {
    const why = fusedUnsupported(cfg);
    if (why === null) return fusedDecoderForward(weights, cfg, levels, imageSize, opts);
    if (impl === 'fused') throw new Error(`decoderForward: the fused WebGPU path cannot run: ${why}`);
  }
  return tf.tidy(() => {
    // padded per-group maps, made once for all stages (with host copies for the wasm kernels)
    const maps = opts.maps ?? neckMaps(weights, cfg, levels, impl);
    const content = layerNormPlain(getWeight(weights, 'queries.content', [d.queries, d.dQuery]));
    let q = tf.broadcastTo(content, [B, d.queries, d.dQuery]) as tf.Tensor3D;
    let xyzr = initialXyzr(imageSize, d.queries, opts.proposals);
    let xyxy: tf.Tensor3D | undefined;
    const out: StagePrediction[] = [];
    for (let i = 0; i < d.stages; i++) {
      const r = stageForward(weights, cfg, i, q, xyzr, maps, { ...opts, xyxy, wasmKernels: impl !== 'ops' });
      q = r.q;
      xyzr = r.xyzr;
      xyxy = r.boxes; // the next stage's input boxes, decoded once
      if (opts.stages === 'all' || i === d.stages - 1) out.push({ logits: r.logits, boxes: r.boxes });
    }
    return out;
  });
}

/** decoderForward on the fused WebGPU kernels (see webgpu/stage.ts); same inputs and outputs. */
function fusedDecoderForward(
  weights: WeightMap,
  cfg: ModelConfig,
  levels: tf.Tensor4D[],
  imageSize: [number, number][],
  opts: DecoderOptions,
): StagePrediction[] {
  const d = cfg.decoder;
  if (levels.length !== d.strides.length) {
    throw new Error(
      `decoderForward: expected ${d.strides.length} feature levels (strides ${d.strides.join('/')}), got ${levels.length}`,
    );
  }
  const B = levels[0]!.shape[0];
  return tf.tidy(() => {
    const perLevel = fusedNeck(weights, cfg, levels, GN_EPS);
    const necked = packLevels(perLevel); // one buffer for the sampling kernel
    tf.dispose(perLevel);
    let q = fusedInitialQueries(weights, cfg, B);
    let xyzr = initialXyzr(imageSize, d.queries, opts.proposals);
    const out: StagePrediction[] = [];
    for (let i = 0; i < d.stages; i++) {
      const r = fusedStageForward(weights, cfg, i, q, xyzr, necked);
      q = r.q;
      xyzr = r.xyzr;
      if (opts.stages === 'all' || i === d.stages - 1)
        out.push({ logits: r.logits, boxes: decodeBoxes(r.xyzr) as tf.Tensor3D });
    }
    return out;
  });
}

export interface TopKResult {
  /** Descending sigmoid scores [k]. */
  scores: Float32Array;
  /** 0-based class index [k]. */
  labels: Int32Array;
  /** [k·4] xyxy boxes (same units as the input boxes). */
  boxes: Float32Array;
}

/**
 * Inference post-processing (docs/model.md §4): sigmoid(logits), flatten [L·classes], top-k (k = L by default),
 * label = idx % classes, box = boxes[idx // classes]; no NMS. Per batch element. Does not dispose its inputs.
 */
export async function topK(logits: tf.Tensor3D, boxes: tf.Tensor3D, k?: number): Promise<TopKResult[]> {
  if (logits.rank !== 3) throw new Error(`topK: logits must be [B, L, classes], got [${logits.shape.join(', ')}]`);
  const [B, L, classes] = logits.shape;
  if (boxes.rank !== 3 || boxes.shape[0] !== B || boxes.shape[1] !== L || boxes.shape[2] !== 4) {
    throw new Error(`topK: boxes must be [${B}, ${L}, 4], got [${boxes.shape.join(', ')}]`);
  }
  const kk = k ?? L;
  if (!Number.isInteger(kk) || kk < 1 || kk > L * classes)
    throw new Error(`topK: k must be an integer in 1..${L * classes}, got ${k}`);
  const { values, indices } = tf.tidy(() => tf.topk(tf.sigmoid(logits).reshape([B, L * classes]), kk, true));
  try {
    const [v, idx, bx] = await Promise.all([values.data(), indices.data(), boxes.data()]);
    const res: TopKResult[] = [];
    for (let b = 0; b < B; b++) {
      const scores = new Float32Array(kk);
      const labels = new Int32Array(kk);
      const out = new Float32Array(kk * 4);
      for (let j = 0; j < kk; j++) {
        const id = idx[b * kk + j]!;
        scores[j] = v[b * kk + j]!;
        labels[j] = id % classes;
        const box = Math.floor(id / classes);
        for (let c = 0; c < 4; c++) out[j * 4 + c] = bx[(b * L + box) * 4 + c]!;
      }
      res.push({ scores, labels, boxes: out });
    }
    return res;
  } finally {
    values.dispose();
    indices.dispose();
  }
}
