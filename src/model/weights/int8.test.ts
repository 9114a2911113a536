import { describe, expect, it } from 'vitest';
import { Rng } from '../random';
import { axesProblem, channelLayout, decodeInt8, encodeInt8, int8Bytes, rowAxes } from './int8';

const randn = (n: number, seed: number, spread = 1) => {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => (rng.uniform() * 2 - 1) * spread);
};

/** Channel index of each flat position, written out by hand from the strides (independent of channelLayout). */
function channelOf(shape: number[], axes: number[], flat: number): number {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d]!;
    flat = Math.floor(flat / shape[d]!);
  }
  return axes.reduce((c, a) => c * shape[a]! + idx[a]!, 0);
}

describe('int8 weights', () => {
  const cases: [number[], number[]][] = [
    [[6, 5], [0]], // Linear [out, in]: one scale per output
    [
      [2, 3, 4],
      [0, 1],
    ], // LORS factors [K, r, in]: one per (k, r) row
    [[2, 3, 4], [1]], // a middle axis
    [[3, 3, 4, 5], [3]], // TFJS conv kernel [kh, kw, in, out]
  ];
  for (const [shape, axes] of cases) {
    it(`round-trips shape [${shape}] with channel axes [${axes}] within half a step per channel`, () => {
      const n = shape.reduce((a, b) => a * b, 1);
      // Channels of very different sizes: a per-tensor scale would lose the small ones.
      const x = randn(n, 3);
      for (let i = 0; i < n; i++) x[i] = x[i]! * 10 ** -channelOf(shape, axes, i);
      const bytes = encodeInt8(x, shape, axes);
      expect(bytes.length).toBe(int8Bytes(shape, axes));
      const { channels } = channelLayout(shape, axes);
      const max = new Float64Array(channels);
      for (let i = 0; i < n; i++) {
        const c = channelOf(shape, axes, i);
        max[c] = Math.max(max[c]!, Math.abs(x[i]!));
      }
      const scales = new Float32Array(bytes.slice(0, 4 * channels).buffer);
      for (let c = 0; c < channels; c++) expect(scales[c]).toBe(Math.fround(max[c]! / 127));
      const y = decodeInt8(bytes, shape, axes);
      for (let i = 0; i < n; i++) {
        const step = scales[channelOf(shape, axes, i)]!;
        expect(Math.abs(y[i]! - x[i]!)).toBeLessThanOrEqual(step / 2 + 1e-12);
      }
      // The largest value of each channel is stored as ±127 exactly.
      const q = new Int8Array(bytes.buffer, 4 * channels);
      for (let i = 0; i < n; i++)
        if (Math.abs(x[i]!) === max[channelOf(shape, axes, i)]) expect(Math.abs(q[i]!)).toBe(127);
    });
  }

  it('stores an all-zero channel as zeros (scale 0), not NaN', () => {
    const x = new Float32Array([0, 0, 0, 1, -2, 0.5]);
    const y = decodeInt8(encodeInt8(x, [2, 3], [0]), [2, 3], [0]);
    expect([...y.slice(0, 3)]).toEqual([0, 0, 0]);
    expect(y[4]).toBe(-2);
  });

  it('refuses non-finite values, wrong lengths and bad axes with a reason', () => {
    expect(() => encodeInt8(new Float32Array([1, NaN]), [1, 2], [0])).toThrow(/NaN at 1 cannot be quantised/);
    expect(() => encodeInt8(new Float32Array(5), [2, 3], [0])).toThrow(/5 values do not fill shape \[2, 3\]/);
    expect(() => decodeInt8(new Uint8Array(13), [2, 3], [0])).toThrow(/13 bytes, expected 14/);
    expect(axesProblem([2, 3, 4], [0, 2])).toMatch(/contiguous/);
    expect(axesProblem([2, 3], [2])).toMatch(/integers in \[0, 1\]/);
    expect(axesProblem([2, 3], [])).toMatch(/at least one/);
    expect(axesProblem([2, 3], [0])).toBeNull();
  });

  it('rowAxes: all axes but the last', () => {
    expect(rowAxes([12288, 128])).toEqual([0]);
    expect(rowAxes([3, 8, 8192])).toEqual([0, 1]);
  });
});
