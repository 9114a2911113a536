/**
 * Decoding NanoDet's own GFL head into detections, and a small per-class NMS (plain JS, no tensors).
 */
import type * as tf from '@tensorflow/tfjs';
import { COCO_CLASSES } from '../cocoFormat';
import type { Detection } from '../types';
import { toOriginal, type LetterboxInfo } from '../letterbox';
import { NANODET_BINS, NANODET_CLASSES, NANODET_STRIDES, type NanoDetHead } from './nanodet';

export interface DecodeHeadOptions {
  /** Keep class scores above this (default 0.3). */
  scoreThreshold?: number;
  /** Per-class NMS IoU (default 0.6, NanoDet's). */
  iouThreshold?: number;
  /** Detections kept after NMS (default 100). */
  maxDetections?: number;
  /** Candidates kept per level before NMS, best first (default 1000, NanoDet's nms_pre). */
  preNms?: number;
}

type Box = [number, number, number, number];

export function iou(a: Box, b: Box): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return ua > 0 ? inter / ua : 0;
}

/**
 * Greedy per-class NMS: within each label, a box is dropped when its IoU with a higher-scoring kept box is
 * > iouThreshold. Returns the kept detections sorted by score (descending), at most maxDetections.
 */
export function nmsPerClass<T extends { box: Box; label: number; score: number }>(
  dets: T[],
  iouThreshold: number,
  maxDetections: number,
): T[] {
  const sorted = [...dets].sort((a, b) => b.score - a.score);
  const keptByLabel = new Map<number, T[]>();
  const out: T[] = [];
  for (const d of sorted) {
    const kept = keptByLabel.get(d.label) ?? [];
    if (kept.some((k) => iou(k.box, d.box) > iouThreshold)) continue;
    kept.push(d);
    keptByLabel.set(d.label, kept);
    out.push(d);
    if (out.length >= maxDetections) break;
  }
  return out;
}

/** Expected bin index of 11 logits (softmax over bins), i.e. the distance in units of the stride. */
function expectedBin(logits: Float32Array | Int32Array | Uint8Array, at: number): number {
  let m = -Infinity;
  for (let i = 0; i < NANODET_BINS; i++) m = Math.max(m, logits[at + i]!);
  let z = 0,
    e = 0;
  for (let i = 0; i < NANODET_BINS; i++) {
    const p = Math.exp(logits[at + i]! - m);
    z += p;
    e += p * i;
  }
  return e / z;
}

/** One level's head outputs as arrays, shapes checked. */
async function levelArrays(head: NanoDetHead, l: number, S: number) {
  const stride = NANODET_STRIDES[l]!;
  const W = S / stride;
  const scoresT = head.scores[l] as tf.Tensor3D,
    boxesT = head.boxes[l] as tf.Tensor3D;
  const HW = scoresT.shape[1];
  if (
    scoresT.shape[2] !== NANODET_CLASSES ||
    boxesT.shape[2] !== 4 * NANODET_BINS ||
    boxesT.shape[1] !== HW ||
    HW !== W * W
  ) {
    throw new Error(`NanoDet head level ${l}: unexpected shapes [${scoresT.shape}] / [${boxesT.shape}] for input ${S}`);
  }
  const [scores, logits] = await Promise.all([scoresT.data(), boxesT.data()]);
  return { stride, W, HW, scores, logits: logits as Float32Array };
}

/** GFL box of cell k in input pixels: softmax over the 11 bins per side, expected bin × stride from the cell centre. */
function cellBox(logits: Float32Array, k: number, W: number, stride: number): Box {
  const cx = ((k % W) + 0.5) * stride,
    cy = (Math.floor(k / W) + 0.5) * stride;
  const at = k * 4 * NANODET_BINS;
  const d = [0, 1, 2, 3].map((j) => expectedBin(logits, at + j * NANODET_BINS) * stride);
  return [cx - d[0]!, cy - d[1]!, cx + d[2]!, cy + d[3]!];
}

/**
 * NanoDet's detections in original-image pixels. GFL decode per level: softmax over the 11 bins of each side,
 * expected value × stride = distance from the cell centre ((i + 0.5)·stride) to the left/top/right/bottom edge.
 * Then score threshold, per-class NMS (IoU 0.6), at most 100. Does not dispose `head`.
 */
export async function decodeHead(
  head: NanoDetHead,
  lb: LetterboxInfo,
  opts: DecodeHeadOptions = {},
): Promise<Detection[]> {
  const thr = opts.scoreThreshold ?? 0.3;
  const iouThr = opts.iouThreshold ?? 0.6;
  const maxDet = opts.maxDetections ?? 100;
  const preNms = opts.preNms ?? 1000;
  const cands: { box: Box; label: number; score: number }[] = [];
  for (let l = 0; l < NANODET_STRIDES.length; l++) {
    const { stride, W, HW, scores, logits } = await levelArrays(head, l, lb.size);
    const level: { k: number; c: number; s: number }[] = [];
    for (let k = 0; k < HW; k++) {
      for (let c = 0; c < NANODET_CLASSES; c++) {
        const s = scores[k * NANODET_CLASSES + c]!;
        if (s > thr) level.push({ k, c, s });
      }
    }
    level.sort((a, b) => b.s - a.s);
    if (level.length > preNms) level.length = preNms;
    const boxCache = new Map<number, Box>();
    for (const { k, c, s } of level) {
      let box = boxCache.get(k);
      if (!box) {
        box = toOriginal(cellBox(logits, k, W, stride), lb);
        boxCache.set(k, box);
      }
      cands.push({ box, label: c, score: s });
    }
  }
  return nmsPerClass(cands, iouThr, maxDet).map((d) => ({
    box: [...d.box] as Box,
    label: d.label,
    name: COCO_CLASSES[d.label]!,
    score: d.score,
  }));
}

/** Class-agnostic NMS IoU of the query proposals. */
export const PROPOSAL_IOU = 0.7;

export interface Proposals {
  /** [n·4] xyxy in input pixels of the letterboxed frame (the frame the decoder works in), best first. */
  boxes: Float32Array;
  /** [n] the cell's best class score. */
  scores: Float32Array;
  /** [n·80] the cell's score of every COCO class (the targets of score distillation in training). */
  classScores: Float32Array;
}

/**
 * Query proposals from NanoDet's head (the `queryInit: 'nanodet'` lever): per cell its best class score
 * and GFL box, clipped to the unpadded image [0, width] × [0, height] (boxes under 1 px on a side dropped), the best
 * `preNms` per level, then class-agnostic NMS (IoU 0.7), at most `count`. No score threshold: a photo normally yields
 * `count` proposals; `initialXyzr` pads any shortfall with whole-image boxes. Does not dispose `head`.
 */
export async function headProposals(
  head: NanoDetHead,
  size: number,
  width: number,
  height: number,
  count: number,
  opts: { preNms?: number; iouThreshold?: number } = {},
): Promise<Proposals> {
  if (!(width > 0 && height > 0)) throw new Error(`headProposals: image size must be positive, got ${width}×${height}`);
  const preNms = opts.preNms ?? 1000;
  const cands: { box: Box; label: number; score: number; classes: ArrayLike<number> }[] = [];
  for (let l = 0; l < NANODET_STRIDES.length; l++) {
    const { stride, W, HW, scores, logits } = await levelArrays(head, l, size);
    const best: { k: number; s: number }[] = [];
    for (let k = 0; k < HW; k++) {
      let s = -Infinity;
      for (let c = 0; c < NANODET_CLASSES; c++) s = Math.max(s, scores[k * NANODET_CLASSES + c]!);
      best.push({ k, s });
    }
    best.sort((a, b) => b.s - a.s);
    let kept = 0;
    for (const { k, s } of best) {
      if (kept >= preNms) break;
      const b = cellBox(logits, k, W, stride);
      const box: Box = [Math.max(0, b[0]), Math.max(0, b[1]), Math.min(width, b[2]), Math.min(height, b[3])];
      if (box[2] - box[0] < 1 || box[3] - box[1] < 1) continue;
      const at = k * NANODET_CLASSES;
      cands.push({ box, label: 0, score: s, classes: scores.subarray(at, at + NANODET_CLASSES) });
      kept++;
    }
  }
  const kept = nmsPerClass(cands, opts.iouThreshold ?? PROPOSAL_IOU, count);
  const boxes = new Float32Array(kept.length * 4),
    scores = new Float32Array(kept.length),
    classScores = new Float32Array(kept.length * NANODET_CLASSES);
  kept.forEach((d, i) => {
    boxes.set(d.box, 4 * i);
    scores[i] = d.score;
    classScores.set(d.classes, NANODET_CLASSES * i);
  });
  return { boxes, scores, classScores };
}
