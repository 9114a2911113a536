import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeXyzr, initialXyzr, iof, logIofHost } from './boxes';
import { maxErr, rng, uniformArray } from '../../testing/reference';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

const close = (a: ArrayLike<number>, b: number[], tol = 1e-4) => {
  expect(a.length).toBe(b.length);
  b.forEach((v, i) => expect(a[i]).toBeCloseTo(v, -Math.log10(tol)));
};

describe('xyzr boxes', () => {
  it('decodes hand values', async () => {
    // w = 2^(3 − 1/2)... choose z = 3, r = 1 → w = 2^2.5, h = 2^3.5
    const w = 2 ** 2.5,
      h = 2 ** 3.5;
    const t = tf.tensor2d([
      [10, 20, 3, 1],
      [0, 0, 0, 0],
    ]);
    const out = decodeXyzr(t);
    close(await out.data(), [10 - w / 2, 20 - h / 2, 10 + w / 2, 20 + h / 2, -0.5, -0.5, 0.5, 0.5]);
    tf.dispose([t, out]);
  });

  it('decodes hand values', async () => {
    // box 1: centre (2, 8), w 4, h 16: z = log2 √64 = 3, r = log2 4 = 2; box 2: centre (20, 22.5), w 20, h 5.
    const e = tf.tensor3d([
      [
        [2, 8, 3, 2],
        [20, 22.5, Math.log2(10), Math.log2(5 / 20)],
      ],
    ]);
    const back = decodeXyzr(e);
    close(await back.data(), [0, 0, 4, 16, 10, 20, 30, 25]);
    expect(back.shape).toEqual([1, 2, 4]);
    tf.dispose([e, back]);
  });

  it('initialXyzr takes proposals for the first n queries, whole-image boxes for the rest', async () => {
    const props = new Float32Array([10, 20, 50, 100, 5, 5, 5.5, 9]); // the second is 0.5 px wide → widened to 1
    const t = initialXyzr(
      [
        [640, 480],
        [100, 400],
      ],
      3,
      [props, undefined],
    );
    const v = Array.from(await t.data());
    t.dispose();
    const want = [
      [30, 60, Math.log2(Math.sqrt(40 * 80)), Math.log2(80 / 40)],
      [5.25, 7, Math.log2(Math.sqrt(1 * 4)), Math.log2(4 / 1)],
      [320, 240, Math.log2(Math.sqrt(640 * 480)), Math.log2(480 / 640)],
      [50, 200, Math.log2(200), 2],
      [50, 200, Math.log2(200), 2],
      [50, 200, Math.log2(200), 2],
    ].flat();
    v.forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 5));
    expect(() => initialXyzr([[10, 10]], 1, [props])).toThrow(/n ≤ 1/);
    expect(() => initialXyzr([[10, 10]], 2, [props, props])).toThrow(/2 proposal sets for a batch of 1/);
  });

  it('initialXyzr is the whole image per batch element', async () => {
    const t = initialXyzr(
      [
        [640, 480],
        [100, 400],
      ],
      3,
    );
    expect(t.shape).toEqual([2, 3, 4]);
    const d = await t.data();
    close(d.slice(0, 4), [320, 240, Math.log2(Math.sqrt(640 * 480)), Math.log2(480 / 640)]);
    close(d.slice(8, 12), [320, 240, Math.log2(Math.sqrt(640 * 480)), Math.log2(480 / 640)]);
    close(d.slice(12, 16), [50, 200, Math.log2(200), 2]);
    const dec = decodeXyzr(t);
    close((await dec.data()).slice(12, 16), [0, 0, 100, 400], 1e-3);
    tf.dispose([t, dec]);
    expect(() => initialXyzr([[0, 10]], 2)).toThrow(/positive/);
  });

  it('iof on hand-computed boxes (rows are the attending box)', async () => {
    const boxes = tf.tensor3d([
      [
        [0, 0, 10, 10], // area 100
        [5, 5, 15, 25], // area 200, overlap with box 0: 5×5 = 25
        [20, 20, 30, 30], // disjoint from 0, touches nothing of 1 (x 20 > 15)
        [0, 0, 10, 10], // same as 0
      ],
    ]);
    const t = iof(boxes);
    expect(t.shape).toEqual([1, 4, 4]);
    close(await t.data(), [1, 25 / 100, 0, 1, 25 / 200, 1, 0, 25 / 200, 0, 0, 1, 0, 1, 25 / 100, 0, 1], 1e-6);
    tf.dispose([boxes, t]);
  });

  it('iof guards a zero area with 1e-6 and works per batch element', async () => {
    const boxes = tf.tensor3d([
      [
        [0, 0, 0, 5],
        [0, 0, 4, 4],
      ],
      [
        [0, 0, 2, 2],
        [1, 1, 3, 3],
      ],
    ]);
    const d = await iof(boxes).data();
    // zero-width box: inter 0 → 0; batch 2: overlap 1×1, area 4 → 0.25 both ways
    close(Array.from(d), [0, 0, 0, 1, 1, 0.25, 0.25, 1], 1e-6);
    boxes.dispose();
  });

  it('leaks nothing', () => {
    const x = tf.tensor3d([[[1, 2, 3, 0.5]]]);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      decodeXyzr(x);
      iof(decodeXyzr(x));
    });
    decodeXyzr(x).dispose();
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

describe('logIofHost', () => {
  it('equals log(iof + 1e-7) of the tfjs ops within float32 rounding (B = 2, overlapping, nested, apart, degenerate)', async () => {
    const B = 2,
      L = 30;
    const rand = rng(21);
    const xy = uniformArray(B * L * 2, 0, 300, rand);
    const wh = uniformArray(B * L * 2, 0, 120, rand);
    const boxes = new Float32Array(B * L * 4);
    for (let i = 0; i < B * L; i++)
      boxes.set([xy[2 * i]!, xy[2 * i + 1]!, xy[2 * i]! + wh[2 * i]!, xy[2 * i + 1]! + wh[2 * i + 1]!], 4 * i);
    boxes.set([10, 10, 10, 50], 0); // zero width: area below 1e-6
    const t = tf.tensor3d(boxes, [B, L, 4]);
    const ref = tf.tidy(() => tf.log(tf.add(iof(t), 1e-7)));
    const got = logIofHost(boxes, B, L);
    const want = await ref.data();
    expect(want.some((v) => v > -1) && want.some((v) => v < -15)).toBe(true); // overlaps and disjoint pairs
    expect(maxErr(got, want).rel).toBeLessThan(1e-6);
    expect(() => logIofHost(boxes, B, L + 1)).toThrow(/not \[2, 31, 4\]/);
    tf.dispose([t, ref]);
  });
});
