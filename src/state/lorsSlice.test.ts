import { describe, expect, it } from 'vitest';
import { makeConfig } from '../model/config';
import { selectLors } from './lorsSlice';

describe('selectLors: the one LORS slice of the sliders', () => {
  const trained = makeConfig('web', 'lors'); // r_A 8, r_T 8, K [1,1,2,2,3,3]
  const compressed = makeConfig('web', 'lors', { rankA: 16, rankT: 32, groups: 3 });
  const sliders = { rankA: 12, rankT: 12, groupsMode: 'uniform', groupsK: 3 } as const;
  const sources = { trained: { config: trained, weightBytes: 1 }, compressed: { config: compressed, weightBytes: 1 } };

  it('cuts the selected source, clamped into it; the source is the sliders range', () => {
    const t = selectLors({ lorsSources: sources, decoders: {} }, { ...sliders, lorsSource: 'trained' });
    expect(t.limits).toBe(trained);
    expect(t.config.lors).toEqual({ rankA: 8, rankT: 8, groupsA: [1, 1, 2, 2, 3, 3], groupsT: [1, 1, 1, 1, 1, 1] });
    const c = selectLors({ lorsSources: sources, decoders: {} }, { ...sliders, lorsSource: 'compressed' });
    expect(c.source).toBe('compressed');
    expect(c.limits).toBe(compressed);
    expect(c.config.lors).toMatchObject({ rankA: 12, rankT: 12, groupsA: [3, 3, 3, 3, 3, 3] });
  });

  it('falls back to the trained source, the loaded decoder, then the web preset', () => {
    const pick = { ...sliders, lorsSource: 'compressed' } as const;
    expect(selectLors({ lorsSources: { trained: sources.trained }, decoders: {} }, pick).limits).toBe(trained);
    const loaded = { config: compressed, trained: false, weightBytes: 0 };
    expect(selectLors({ lorsSources: {}, decoders: { lors: loaded } }, pick).limits).toBe(compressed);
    expect(selectLors({ lorsSources: {}, decoders: {} }, pick).limits).toEqual(trained);
  });
});
