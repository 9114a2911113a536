import { describe, expect, it } from 'vitest';
import { makeConfig } from '../config';
import { countParameters, parameterSpec, size } from '../params';
import { initArrays } from './init';
import { saveWeights } from './io';
import { encodedBytes, quantizationFor } from './encoding';

describe('encodedBytes', () => {
  const web = makeConfig('web', 'lors');
  const c = countParameters(web);
  const tensors = c.decoder + c.queries + c.neck;

  it('float32 and float16: 4 and 2 bytes per value', () => {
    expect(encodedBytes(web, 'float32')).toBe(4 * tensors);
    expect(encodedBytes(web, 'float16')).toBe(2 * tensors);
  });

  it('int8: one byte per matrix value plus a float32 scale per row; vectors at float16', () => {
    let want = 0;
    for (const s of parameterSpec(web)) {
      const n = size(s.shape);
      want += s.shape.length >= 2 ? n + 4 * (n / s.shape[s.shape.length - 1]!) : 2 * n;
    }
    expect(encodedBytes(web, 'int8')).toBe(want);
    expect(quantizationFor([4], 'int8')).toEqual({ dtype: 'float16', original_dtype: 'float32' });
    expect(quantizationFor([4, 3], 'float32')).toBeUndefined();
  });

  it('is what saveWeights writes (shards without compression)', async () => {
    const tiny = makeConfig('tiny', 'vanilla');
    for (const encoding of ['float32', 'float16', 'int8'] as const) {
      const files = await saveWeights(tiny, initArrays(tiny, 0), { encoding });
      const shards = [...files].filter(([n]) => n !== 'model.json').reduce((a, [, b]) => a + b.length, 0);
      expect(shards, encoding).toBe(encodedBytes(tiny, encoding));
    }
  });
});
