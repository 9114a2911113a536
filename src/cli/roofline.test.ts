import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { makeConfig } from '../model/config';
import { rooflineOf, rooflineShapes, timeMatMuls } from './roofline';

describe('roofline', () => {
  it('takes the fastest product as the ceiling and the FLOPs at it as the floor', () => {
    const t = (name: string, gflopPerS: number) => ({
      name,
      by: 'tf.matMul' as const,
      m: 1,
      k: 1,
      n: 1,
      medianMs: 1,
      gflopPerS,
    });
    const r = rooflineOf([t('a', 20), t('b', 40)], 4e9, 250);
    expect(r.ceilingGflopPerS).toBe(40);
    expect(r.floorMs).toBe(100); // 4 GFLOP at 40 GFLOP/s
    expect(r.timesFloor).toBe(2.5);
    expect(() => rooflineOf([], 1, 1)).toThrow(/no timed products/);
  });

  it("times the web decoder's generator and output projection shapes", async () => {
    const shapes = rooflineShapes(makeConfig('web', 'vanilla').decoder);
    expect(shapes.map((s) => [s.m, s.k, s.n])).toEqual([
      [100, 128, 12288],
      [100, 8192, 128],
    ]);
    await tf.setBackend('cpu');
    const before = tf.memory().numTensors;
    const small = [{ name: 'x', m: 4, k: 8, n: 16 }];
    const [x] = await timeMatMuls(small, 2, 1);
    expect(x!.medianMs).toBeGreaterThanOrEqual(0);
    expect(x!.gflopPerS).toBeGreaterThanOrEqual(0);
    expect(tf.memory().numTensors).toBe(before);
    expect(x!.by).toBe('tf.matMul'); // (the wasm kernels run on the wasm backend only)
  });

  it("times the wasm kernels' Linear beside tf.matMul on the wasm backend", async () => {
    await tf.setBackend('wasm');
    const timed = await timeMatMuls([{ name: 'x', m: 5, k: 8, n: 12 }], 2, 1);
    expect(timed.map((t) => t.by)).toEqual(['tf.matMul', 'wasm kernels']);
    expect(timed.every((t) => t.medianMs >= 0 && t.name === 'x')).toBe(true);
  });
});
