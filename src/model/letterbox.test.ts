import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { fitWithin, fittedSize, letterbox, letterboxGeometry, resizeArea } from './letterbox';
import type { RgbaImage } from './types';

const MEAN = { b: 103.53, g: 116.28, r: 123.675 };
const STD = { b: 57.375, g: 57.12, r: 58.395 };

function rgba(w: number, h: number, px: [number, number, number][]): RgbaImage {
  const data = new Uint8ClampedArray(w * h * 4);
  px.forEach(([r, g, b], i) => data.set([r, g, b, 255], i * 4));
  return { data, width: w, height: h };
}

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('letterbox', () => {
  it('geometry: scale = S / max side, resized sides rounded', () => {
    expect(letterboxGeometry(640, 427, 416)).toEqual({ scale: 0.65, width: 416, height: 278 }); // 277.55 → 278
    expect(letterboxGeometry(300, 451, 416)).toEqual({ scale: 416 / 451, width: 277, height: 416 }); // 276.7 → 277
  });

  it('2×1 photo into 4×4: half-pixel bilinear upsampling, BGR normalisation, mean-colour (0) padding', () => {
    const n0 = tf.memory().numTensors;
    const lb = letterbox(
      rgba(2, 1, [
        [10, 20, 30],
        [50, 60, 70],
      ]),
      4,
    );
    expect(lb.input.shape).toEqual([1, 3, 4, 4]);
    expect([lb.scale, lb.width, lb.height, lb.origWidth, lb.origHeight, lb.size]).toEqual([2, 4, 2, 2, 1, 4]);
    // Along x, output i samples source x = (i + 0.5)/2 − 0.5 = −0.25, 0.25, 0.75, 1.25 (clamped):
    // a, 0.75a + 0.25b, 0.25a + 0.75b, b. Along y both rows sample the single source row.
    const R = [10, 20, 40, 50],
      G = [20, 30, 50, 60],
      B = [30, 40, 60, 70];
    const row = (v: number[], m: number, s: number) => v.map((x) => (x - m) / s);
    const expected = [
      [row(B, MEAN.b, STD.b), row(B, MEAN.b, STD.b), [0, 0, 0, 0], [0, 0, 0, 0]],
      [row(G, MEAN.g, STD.g), row(G, MEAN.g, STD.g), [0, 0, 0, 0], [0, 0, 0, 0]],
      [row(R, MEAN.r, STD.r), row(R, MEAN.r, STD.r), [0, 0, 0, 0], [0, 0, 0, 0]],
    ];
    const got = (lb.input.arraySync() as number[][][][])[0]!;
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 4; y++)
        for (let x = 0; x < 4; x++) {
          expect(got[c]![y]![x]!).toBeCloseTo(expected[c]![y]![x]!, 5);
        }
    lb.input.dispose();
    expect(tf.memory().numTensors).toBe(n0);
  });

  it('no resize when the long side is S; pads on the right; flip mirrors', () => {
    const img = rgba(2, 3, [
      [0, 0, 0],
      [255, 255, 255],
      [10, 10, 10],
      [20, 20, 20],
      [30, 30, 30],
      [40, 40, 40],
    ]);
    const lb = letterbox(img, 3);
    expect([lb.scale, lb.width, lb.height]).toEqual([1, 2, 3]);
    const r = (lb.input.arraySync() as number[][][][])[0]![2]!; // red channel (BGR index 2)
    const n = (v: number) => (v - MEAN.r) / STD.r;
    expect(r.map((rr) => rr.map((v) => Math.round(v * 1e4)))).toEqual(
      [
        [n(0), n(255), 0],
        [n(10), n(20), 0],
        [n(30), n(40), 0],
      ].map((rr) => rr.map((v) => Math.round(v * 1e4))),
    );
    lb.input.dispose();
    const fl = letterbox(img, 3, { flip: true });
    expect(fl.flipped).toBe(true);
    const rf = (fl.input.arraySync() as number[][][][])[0]![2]!;
    expect(rf[0]![0]).toBeCloseTo(n(255), 5);
    expect(rf[0]![1]).toBeCloseTo(n(0), 5);
    expect(rf[2]![0]).toBeCloseTo(n(40), 5);
    fl.input.dispose();
  });

  it('rejects malformed images', () => {
    expect(() => letterbox({ data: new Uint8Array(7), width: 2, height: 1 }, 4)).toThrow(/needs 8/);
    expect(() => letterbox({ data: new Uint8Array(0), width: 0, height: 1 }, 4)).toThrow(/positive/);
  });
});

describe('resizeArea / fitWithin', () => {
  it('averages the covered source pixels', () => {
    // 4×2 → 2×1: each output is the mean of a 2×2 block.
    const img = rgba(4, 2, [
      [0, 0, 0],
      [100, 0, 0],
      [10, 20, 30],
      [30, 40, 50],
      [200, 0, 0],
      [100, 0, 0],
      [50, 60, 70],
      [70, 80, 90],
    ]);
    const out = resizeArea(img, 2, 1);
    expect(Array.from(out.data)).toEqual([100, 0, 0, 255, 40, 50, 60, 255]);
    // 3 → 2 along x: output 0 covers source [0, 1.5): (a + 0.5 b) / 1.5.
    const o2 = resizeArea(
      rgba(3, 1, [
        [30, 0, 0],
        [60, 0, 0],
        [90, 0, 0],
      ]),
      2,
      1,
    );
    expect([o2.data[0], o2.data[4]]).toEqual([40, 80]);
  });

  it('fitWithin leaves small images alone and shrinks large ones to the max side', () => {
    const small = rgba(3, 2, []);
    expect(fitWithin(small, 4)).toBe(small);
    const big = fitWithin({ data: new Uint8ClampedArray(10 * 4 * 4).fill(7), width: 10, height: 4 }, 5);
    expect([big.width, big.height]).toEqual([5, 2]);
    expect(Array.from(big.data).every((v) => v === 7)).toBe(true);
  });
  it('fittedSize: the one size rule (page and CLIs) keeps the aspect ratio and at least 1 px', () => {
    expect(fittedSize(5000, 3000, 4096)).toEqual({ width: 4096, height: 2458, scaled: true });
    expect(fittedSize(1000, 800, 4096)).toEqual({ width: 1000, height: 800, scaled: false });
    expect(fittedSize(100000, 1, 4096)).toEqual({ width: 4096, height: 1, scaled: true });
  });
});
