/**
 * The exact floating-point work of one decoder forward (batch 1), counted from the config: every matrix product
 * as 2·m·k·n FLOPs (a multiply and an add per term), the parts named as docs/model.md names them. Element-wise ops
 * (LayerNorms, softmax, bilinear sampling, box refinement) are left out: they are O(L·width), not O(L·width²).
 * A LORS model is counted as the app runs it, folded into the dense decoder of the same G and P_in
 * (foldToVanilla), which is the vanilla count.
 */
import { dims, type DecoderConfig } from './config';

export interface DecoderFlops {
  /** Per stage: one entry per part (FLOPs for all L queries). */
  perStage: {
    /** in-projection (Q, K, V), Q·Kᵀ, softmax·V, out-projection. */
    attention: number;
    /** Linear_off: the sampling offsets. */
    samplingOffsets: number;
    /** Linear_gen: M_c and M_s from the query. */
    generator: number;
    /** ACM: xs [P_in, C] · M_c [C, C] per query and group. */
    channelMixing: number;
    /** ASM: M_s [P_out, P_in] · a [P_in, C] per query and group. */
    spatialMixing: number;
    /** L_output: [G·P_out·C] → d_q. */
    outputProjection: number;
    /** fc1, fc2. */
    ffn: number;
    /** cls and reg branches (fc, then out). */
    heads: number;
  };
  /** The neck's 1×1 convolution on the three maps, once per forward. */
  neck: number;
  stage: number;
  total: number;
}

/** FLOPs of one decoder forward of `d` on one image whose feature maps are `levelSizes` ([H, W] per stride). */
export function decoderFlops(d: DecoderConfig, levelSizes: [number, number][]): DecoderFlops {
  const { C, G, genOut, outIn, offOut } = dims(d);
  const L = d.queries;
  const q = d.dQuery;
  const mm = (m: number, k: number, n: number) => 2 * m * k * n;
  const perStage = {
    attention: mm(L, q, 3 * q) + mm(L, q, L) + mm(L, L, q) + mm(L, q, q),
    samplingOffsets: mm(L, q, offOut),
    generator: mm(L, q, genOut),
    channelMixing: L * G * mm(d.pointsIn, C, C),
    spatialMixing: L * G * mm(d.pointsOut, d.pointsIn, C),
    outputProjection: mm(L, outIn, q),
    ffn: mm(L, q, d.ffn) + mm(L, d.ffn, q),
    heads: 2 * mm(L, q, q) + mm(L, q, d.classes) + mm(L, q, 4),
  };
  const stage = Object.values(perStage).reduce((a, b) => a + b, 0);
  const neck = levelSizes.reduce((a, [h, w]) => a + mm(h * w, d.featChannels, d.dFeat), 0);
  return { perStage, neck, stage, total: d.stages * stage + neck };
}

/** [H, W] of each feature level for a square input of side `inputSize` (NanoDet pads to a multiple of the stride). */
export function levelSizesOf(d: DecoderConfig, inputSize: number): [number, number][] {
  return d.strides.map((s) => [Math.ceil(inputSize / s), Math.ceil(inputSize / s)] as [number, number]);
}
