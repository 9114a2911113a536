import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { positionEmbedding } from './positional';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('positionEmbedding', () => {
  it('matches hand values for dQuery = 16 (D = 4 per coordinate)', async () => {
    const xyzr = [500, 250, 3, -1];
    const t = tf.tensor3d([[xyzr]]);
    const pe = positionEmbedding(t, 16);
    expect(pe.shape).toEqual([1, 1, 16]);
    // v = (0.5, 0.25, 3, −1); freq_0 = 1, freq_1 = 10000^(2/4) = 100.
    const v = [0.5, 0.25, 3, -1];
    const expected = v.flatMap((c) => [Math.sin(c), Math.cos(c), Math.sin(c / 100), Math.cos(c / 100)]);
    const d = await pe.data();
    expected.forEach((e, i) => expect(d[i]).toBeCloseTo(e, 6));
    tf.dispose([t, pe]);
  });

  it('uses freq_m = 10000^(2m/D) for dQuery 256 (D = 64) at a few indices', async () => {
    const t = tf.tensor2d([[1000, 2000, 5, 0.5]]);
    const d = await positionEmbedding(t, 256).data();
    const D = 64;
    // coordinate y (c = 1), m = 5: index 64 + 10 (sin) and 64 + 11 (cos), v_y = 2
    const f5 = 10000 ** (10 / D);
    expect(d[64 + 10]).toBeCloseTo(Math.sin(2 / f5), 6);
    expect(d[64 + 11]).toBeCloseTo(Math.cos(2 / f5), 6);
    // coordinate r (c = 3), m = 31: last pair
    const f31 = 10000 ** (62 / D);
    expect(d[192 + 62]).toBeCloseTo(Math.sin(0.5 / f31), 6);
    expect(d[255]).toBeCloseTo(Math.cos(0.5 / f31), 6);
    // coordinate z, m = 0
    expect(d[128]).toBeCloseTo(Math.sin(5), 6);
    expect(d[129]).toBeCloseTo(Math.cos(5), 6);
    t.dispose();
  });

  it('divides x and y (only) by posScale; the default is 1000', async () => {
    const t = tf.tensor2d([[312, 156, 3, -1]]);
    const d = await positionEmbedding(t, 16, 312).data();
    const v = [1, 0.5, 3, -1];
    const expected = v.flatMap((c) => [Math.sin(c), Math.cos(c), Math.sin(c / 100), Math.cos(c / 100)]);
    expected.forEach((e, i) => expect(d[i]).toBeCloseTo(e, 6));
    const [a, b] = await Promise.all([positionEmbedding(t, 16).data(), positionEmbedding(t, 16, 1000).data()]);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(() => positionEmbedding(t, 16, 0)).toThrow(/posScale/);
    t.dispose();
  });

  it('rejects a dQuery that is not a multiple of 8', () => {
    const t = tf.tensor2d([[1, 2, 3, 4]]);
    expect(() => positionEmbedding(t, 12)).toThrow(/multiple of 8/);
    t.dispose();
  });
});
