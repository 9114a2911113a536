import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { decodeHead, headProposals, iou, nmsPerClass } from './decode';
import type { LetterboxInfo } from '../letterbox';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

/** A synthetic NanoDet head at S = 32 (levels 4×4, 2×2, 1×1). */
function fakeHead() {
  const S = 32;
  const levels = [8, 16, 32].map((s) => (S / s) ** 2);
  const scores = levels.map((hw) => new Float32Array(hw * 80));
  const boxes = levels.map((hw) => new Float32Array(hw * 44));
  // bins: per side, the bins that get a high logit (softmax spreads mass equally over them).
  const put = (l: number, k: number, cls: number, score: number, bins: number[][]) => {
    scores[l]![k * 80 + cls] = score;
    bins.forEach((bs, side) =>
      bs.forEach((b) => {
        boxes[l]![k * 44 + side * 11 + b] = 60;
      }),
    );
  };
  // Level 0 (stride 8), cell k=5 → (x=1, y=1), centre (12, 12). l = 1 bin = 8, t = mean of bins 0 and 2 = 1 bin = 8,
  // r = 2 bins = 16, b = 0 → letterbox box [4, 4, 28, 12].
  put(0, 5, 15, 0.9, [[1], [0, 2], [2], [0]]);
  // Level 1 (stride 16), cell 0, centre (8, 8), all sides 1 bin = 16 → [-8, -8, 24, 24].
  put(1, 0, 15, 0.8, [[1], [1], [1], [1]]);
  // Level 0, cell 6 → (x=2, y=1), centre (20, 12): l = 16, t = 8, r = 8, b = 0 → [4, 4, 28, 12], same box as the first.
  put(0, 6, 15, 0.7, [[2], [1], [1], [0]]);
  scores[0]![6 * 80 + 16] = 0.6; // dog on that same cell and box: another class, kept
  scores[2]![0 * 80 + 3] = 0.2; // below the threshold
  return {
    scores: scores.map((a, l) => tf.tensor3d(a, [1, levels[l]!, 80])),
    boxes: boxes.map((a, l) => tf.tensor3d(a, [1, levels[l]!, 44])),
  };
}

describe('decodeHead (GFL)', () => {
  it('decodes distances from the cell centres, scales to the photo, NMS per class', async () => {
    const head = fakeHead();
    // A 64×64 photo letterboxed into 32: scale 0.5.
    const lb: LetterboxInfo = {
      size: 32,
      scale: 0.5,
      width: 32,
      height: 32,
      origWidth: 64,
      origHeight: 64,
      flipped: false,
    };
    const n0 = tf.memory().numTensors;
    const dets = await decodeHead(head, lb, { scoreThreshold: 0.3 });
    expect(tf.memory().numTensors).toBe(n0);
    expect(dets.map((d) => [d.name, d.score])).toEqual([
      ['cat', expect.closeTo(0.9, 6)],
      ['cat', expect.closeTo(0.8, 6)],
      ['dog', expect.closeTo(0.6, 6)],
    ]);
    const near = (a: number[], b: number[]) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 3));
    near(dets[0]!.box, [8, 8, 56, 24]);
    near(dets[1]!.box, [0, 0, 48, 48]); // [-16, -16, 48, 48] clipped to the photo
    near(dets[2]!.box, [8, 8, 56, 24]);
    expect(dets[0]!.label).toBe(15);

    // A mirrored photo: boxes come back in the original (unmirrored) frame.
    const fl = await decodeHead(head, { ...lb, flipped: true }, { scoreThreshold: 0.3 });
    near(fl[0]!.box, [64 - 56, 8, 64 - 8, 24]);
    tf.dispose([...head.scores, ...head.boxes]);
  });
});

describe('headProposals (queryInit "nanodet")', () => {
  it('best class score per cell, boxes in input pixels clipped to the image, class-agnostic NMS, no threshold', async () => {
    const head = fakeHead();
    const n0 = tf.memory().numTensors;
    // Unpadded image part 30×20 of the 32×32 input.
    const p = await headProposals(head, 32, 30, 20, 5);
    expect(tf.memory().numTensors).toBe(n0);
    const boxes = Array.from({ length: p.scores.length }, (_, i) => Array.from(p.boxes.subarray(4 * i, 4 * i + 4)));
    // 0.9: [4, 4, 28, 12]; 0.8: [-8, -8, 24, 24] → [0, 0, 24, 20]; the 0.7 cell repeats the first box (IoU 1 > 0.7):
    // dropped whatever its class; then the zero-score cells, best first, also deduplicated.
    expect(p.scores[0]).toBeCloseTo(0.9, 6);
    expect(p.scores[1]).toBeCloseTo(0.8, 6);
    boxes[0]!.forEach((v, i) => expect(v).toBeCloseTo([4, 4, 28, 12][i]!, 3));
    boxes[1]!.forEach((v, i) => expect(v).toBeCloseTo([0, 0, 24, 20][i]!, 3));
    expect(p.scores.length).toBeGreaterThanOrEqual(2);
    expect(p.scores.length).toBeLessThanOrEqual(5);
    expect(Array.from(p.scores.slice(2)).every((s) => s < 0.7)).toBe(true);
    // Each proposal carries its cell's 80 class scores (the distillation targets); their max is the proposal's score.
    expect(p.classScores.length).toBe(80 * p.scores.length);
    expect(p.classScores[15]).toBeCloseTo(0.9, 6);
    expect(p.classScores[80 + 15]).toBeCloseTo(0.8, 6);
    for (let i = 0; i < p.scores.length; i++)
      expect(Math.max(...p.classScores.subarray(80 * i, 80 * i + 80))).toBeCloseTo(p.scores[i]!, 6);
    for (const b of boxes) {
      expect(b[0]).toBeGreaterThanOrEqual(0);
      expect(b[2]).toBeLessThanOrEqual(30);
      expect(b[3]).toBeLessThanOrEqual(20);
      expect(b[2]! - b[0]!).toBeGreaterThanOrEqual(1);
      expect(b[3]! - b[1]!).toBeGreaterThanOrEqual(1);
    }
    for (let i = 0; i < boxes.length; i++)
      for (let j = 0; j < i; j++) expect(iou(boxes[i] as never, boxes[j] as never)).toBeLessThanOrEqual(0.7);
    await expect(headProposals(head, 32, 0, 20, 5)).rejects.toThrow(/positive/);
    tf.dispose([...head.scores, ...head.boxes]);
  });
});

describe('nmsPerClass', () => {
  it('keeps the best of overlapping boxes of one class only', () => {
    const d = (box: [number, number, number, number], label: number, score: number) => ({ box, label, score });
    const out = nmsPerClass(
      [d([0, 0, 10, 10], 0, 0.5), d([1, 0, 11, 10], 0, 0.9), d([0, 0, 10, 10], 1, 0.4), d([20, 20, 30, 30], 0, 0.3)],
      0.6,
      10,
    );
    expect(out.map((x) => x.score)).toEqual([0.9, 0.4, 0.3]);
    expect(iou([0, 0, 10, 10], [5, 0, 15, 10])).toBeCloseTo(50 / 150, 10);
    expect(nmsPerClass([d([0, 0, 1, 1], 0, 0.2), d([5, 5, 6, 6], 0, 0.1)], 0.6, 1)).toHaveLength(1);
  });
});
