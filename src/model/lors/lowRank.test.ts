import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { lowRankProduct } from './lowRank';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('lowRankProduct', () => {
  it('is a · b over the leading axes', async () => {
    const a = tf.tensor([1, 2, 3, 4], [2, 1, 2]);
    const b = tf.tensor2d([1, 0, 2, 0, 1, 3], [2, 3]);
    const out = lowRankProduct(a, b);
    expect(out.shape).toEqual([2, 1, 3]);
    expect(Array.from(await out.data())).toEqual([1, 2, 8, 3, 4, 18]);
    tf.dispose([a, b, out]);
  });

  it('r = 0 gives exact zeros on wasm, also where its memory held other values', async () => {
    for (let i = 0; i < 3; i++) {
      const dirty = tf.randomUniform([64, 64], 1, 2);
      await dirty.data();
      dirty.dispose();
      const [a, b] = [tf.zeros([2, 3, 0]), tf.zeros([0, 4]) as tf.Tensor2D];
      const out = lowRankProduct(a, b);
      expect(out.shape).toEqual([2, 3, 4]);
      expect(Array.from(await out.data())).toEqual(new Array(24).fill(0));
      tf.dispose([a, b, out]);
    }
  });
});
