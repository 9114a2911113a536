import { describe, expect, it } from 'vitest';
import { folderReader } from '../../cli/node-io';
import type { FileReader } from '../types';
import { OrderedLors } from './source';

const FIX = 'test/fixtures/compress/lorsified-vanilla'; // tiny, r_A 16, K 2, r_T 32

describe('OrderedLors', () => {
  it('reads model.json once and the shards once, whatever the number of slices', async () => {
    const reads = new Map<string, number>();
    const base = folderReader(FIX);
    const counting: FileReader = (p, onProgress) => {
      reads.set(p, (reads.get(p) ?? 0) + 1);
      return base(p, onProgress);
    };
    const src = await OrderedLors.open(counting);
    const a = await src.slice({ rankA: 4, groupsA: 1 });
    const b = await src.slice();
    expect(a.config.lors!.rankA).toBe(4);
    expect(b.config).toEqual(src.config);
    expect(reads.get('model.json')).toBe(1);
    for (const [p, n] of reads) expect(`${p}: ${n}`).toBe(`${p}: 1`);
  });
});
