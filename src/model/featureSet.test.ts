import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { Features } from './featureSet';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('Features.derived', () => {
  it('makes a value once per key, returns it again, and disposes it with the features', () => {
    const n0 = tf.memory().numTensors;
    const f = new Features({ size: 8, scale: 1, width: 8, height: 8 } as never, [
      tf.zeros([1, 1, 1, 128]) as tf.Tensor4D,
    ]);
    let made = 0;
    const make = () => {
      made++;
      const t = tf.ones([2]);
      return { t, dispose: () => t.dispose() };
    };
    const key = {};
    const a = f.derived(key, make);
    expect(f.derived(key, make)).toBe(a);
    expect(f.derived('other', make)).not.toBe(a);
    expect(f.derived('plain', () => 42)).toBe(42); // values without dispose are kept too
    expect(made).toBe(2);
    expect(tf.memory().numTensors).toBe(n0 + 3);
    f.dispose();
    expect(tf.memory().numTensors).toBe(n0);
    expect(() => f.derived(key, make)).toThrow(/disposed/);
  });
});
