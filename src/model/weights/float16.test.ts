import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16, fromFloat16Bits, roundToFloat16, toFloat16Bits } from './float16';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

const bitsOf = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0]!;

describe('float32 → float16 (round to nearest, ties to even)', () => {
  it('encodes hand-picked values', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [1 / 3, 0x3555],
      [0.1, 0x2e66],
      [65504, 0x7bff], // largest finite
      [65519, 0x7bff], // below the midpoint to 65536: rounds down
      [65520, 0x7c00], // the midpoint rounds to even = Infinity
      [1e6, 0x7c00],
      [-1e6, 0xfc00],
      [Infinity, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [1023 * 2 ** -24, 0x03ff], // largest subnormal
      [1023.5 * 2 ** -24, 0x0400], // tie between 0x03ff and 0x0400: even, carries into the exponent
      [2 ** -25, 0x0000], // tie between 0 and 2^-24: even (0)
      [Math.fround(2 ** -25 * (1 + 2 ** -23)), 0x0001], // just above the tie
      [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal units: even (2)
      [2 ** -26, 0x0000],
      [-(2 ** -30), 0x8000],
      [1 + 2 ** -11, 0x3c00], // tie between 0x3c00 and 0x3c01: even
      [1 + 3 * 2 ** -11, 0x3c02], // tie between 0x3c01 and 0x3c02: even
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // above the tie
      [2049, 0x6800],
      [2051, 0x6802],
      [2047, 0x67ff],
    ];
    for (const [x, h] of cases) expect(toFloat16Bits(x).toString(16), `${x}`).toBe(h.toString(16));
    const nan = toFloat16Bits(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
  });

  it('decodes hand-picked values', () => {
    expect(fromFloat16Bits(0x3c00)).toBe(1);
    expect(fromFloat16Bits(0xc000)).toBe(-2);
    expect(fromFloat16Bits(0x7bff)).toBe(65504);
    expect(fromFloat16Bits(0x0001)).toBe(2 ** -24);
    expect(fromFloat16Bits(0x03ff)).toBe(1023 * 2 ** -24);
    expect(fromFloat16Bits(0x0400)).toBe(2 ** -14);
    expect(fromFloat16Bits(0x3555)).toBe(0.333251953125);
    expect(fromFloat16Bits(0x7c00)).toBe(Infinity);
    expect(fromFloat16Bits(0xfc00)).toBe(-Infinity);
    expect(Object.is(fromFloat16Bits(0x8000), -0)).toBe(true);
    expect(fromFloat16Bits(0x7e00)).toBeNaN();
  });

  it('round-trips every non-NaN float16 exactly', () => {
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue;
      if (toFloat16Bits(fromFloat16Bits(h)) !== h) throw new Error(`round trip of 0x${h.toString(16)}`);
    }
  });

  it('agrees with a brute-force nearest-value search (midpoints, their neighbours and random values)', () => {
    // Sorted positive finite float16 values, from the decoder (checked against tfjs below).
    const pos = Array.from({ length: 0x7c00 }, (_, h) => fromFloat16Bits(h));
    const nearest = (x: number): number => {
      const a = Math.abs(x);
      let h: number;
      if (a >= 65520) h = 0x7c00;
      else {
        let lo = 0,
          hi = pos.length - 1; // largest index with pos[i] <= a
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (pos[mid]! <= a) lo = mid;
          else hi = mid - 1;
        }
        if (lo === pos.length - 1) h = lo;
        else {
          const dl = a - pos[lo]!,
            du = pos[lo + 1]! - a;
          h = dl < du ? lo : du < dl ? lo + 1 : lo % 2 === 0 ? lo : lo + 1;
        }
      }
      return (x < 0 || Object.is(x, -0) ? 0x8000 : 0) | h;
    };
    const xs: number[] = [];
    for (let h = 0; h < 0x7bff; h += 7) {
      const mid = Math.fround((pos[h]! + pos[h + 1]!) / 2); // exact in float32
      const b = bitsOf(mid);
      const up = new Float32Array(new Uint32Array([b + 1]).buffer)[0]!;
      const down = new Float32Array(new Uint32Array([b - 1]).buffer)[0]!;
      xs.push(mid, up, down, -mid);
    }
    let s = 12345;
    for (let i = 0; i < 20000; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      xs.push(Math.fround((s / 2 ** 32 - 0.5) * 2 ** ((i % 44) - 28)));
    }
    const enc = float32ToFloat16(new Float32Array(xs));
    xs.forEach((x, i) => {
      if (enc[i] !== nearest(x))
        throw new Error(`${x}: got 0x${enc[i]!.toString(16)}, want 0x${nearest(x).toString(16)}`);
    });
  });

  it('array helpers agree with the scalar ones; roundToFloat16 bounds the error by half an ulp', () => {
    const x = new Float32Array([0.1, -3.7, 1e-6, 70000, 12.345]);
    const h = float32ToFloat16(x);
    expect([...h]).toEqual([...x].map(toFloat16Bits));
    expect([...float16ToFloat32(h)]).toEqual([...h].map(fromFloat16Bits));
    const r = roundToFloat16(new Float32Array([0.1, 12.345]));
    expect(Math.abs(r[0]! - 0.1)).toBeLessThanOrEqual(2 ** -14 / 2);
    expect(Math.abs(r[1]! - 12.345)).toBeLessThanOrEqual(2 ** -7 / 2);
  });
});

describe('float16 decoding matches tfjs (tf.io.decodeWeights with quantization float16)', () => {
  it('gives the same float32 bits for all 65536 patterns', async () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const before = tf.memory().numTensors;
    const spec = [
      {
        name: 'x',
        shape: [65536],
        dtype: 'float32' as const,
        quantization: { dtype: 'float16' as const, original_dtype: 'float32' as const },
      },
    ];
    const decoded = tf.io.decodeWeights(all.buffer, spec);
    const ref = new Float32Array(decoded.x!.dataSync());
    tf.dispose(decoded);
    expect(tf.memory().numTensors).toBe(before);
    const mine = float16ToFloat32(all);
    const rb = new Uint32Array(ref.buffer);
    const mb = new Uint32Array(mine.buffer);
    let mismatches = 0;
    for (let h = 0; h < 65536; h++) {
      if (Number.isNaN(ref[h]!)) {
        if (!Number.isNaN(mine[h]!)) mismatches++;
      } else if (rb[h] !== mb[h]) mismatches++;
    }
    expect(mismatches).toBe(0);
    // NaN payloads too, when tfjs keeps them.
    const nanSame = Array.from({ length: 65536 }, (_, h) => h)
      .filter((h) => Number.isNaN(ref[h]!))
      .every((h) => rb[h] === mb[h]);
    expect(nanSame).toBe(true);
  });
});
