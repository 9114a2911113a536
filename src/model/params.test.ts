import { describe, expect, it } from 'vitest';
import { makeConfig, stretchGroups } from './config';
import { countParameters, parameterSpec, size } from './params';

const decoder = (...a: Parameters<typeof makeConfig>) => countParameters(makeConfig(...a)).decoder;

describe('parameter accounting reproduces docs/model.md §6', () => {
  it('vanilla 4×32 decoder = 110,272,296 (18,378,716 per stage)', () => {
    const c = countParameters(makeConfig('paper', 'vanilla4x32'));
    expect(c.decoder).toBe(110_272_296);
    expect(c.perStage[0]!.total).toBe(18_378_716);
    expect(c.byComponent.generator! / 6).toBe(8_421_376);
    expect(c.byComponent.output! / 6).toBe(8_388_864 + 512); // L_output with bias + its LayerNorm
    expect(c.queries).toBe(26_000 - 100 * 4); // content only: the whole-image boxes are not learned
  });

  it('vanilla with G=2, P_in=64 = 135,536,424', () => {
    const c = countParameters(makeConfig('paper', 'vanilla'));
    expect(c.decoder).toBe(135_536_424);
    expect(c.perStage[3]!.total).toBe(22_589_404);
  });

  it('LORS decoder = 35,348,264 with the spec breakdown', () => {
    const cfg = makeConfig('paper', 'lors');
    const c = countParameters(cfg);
    expect(c.decoder).toBe(35_348_264);
    const spec = parameterSpec(cfg);
    const sum = (f: (t: (typeof spec)[number]) => boolean) => spec.filter(f).reduce((a, t) => a + size(t.shape), 0);
    expect(sum((t) => ['attention', 'sampling', 'ffn', 'heads'].includes(t.component))).toBe(9_407_784);
    expect(sum((t) => t.name.startsWith('lorsA.shared'))).toBe(12_632_064);
    expect(sum((t) => t.component === 'lorsA' && t.role === 'private')).toBe(3_330_048);
    expect(sum((t) => t.name === 'lorsT.shared.weight')).toBe(8_388_608);
    expect(sum((t) => /lorsT\.[AB]$/.test(t.name))).toBe(1_585_152);
    expect(sum((t) => /lorsT\.bias$/.test(t.name))).toBe(1_536);
    expect(sum((t) => /lorsT\.norm/.test(t.name))).toBe(3_072);
    expect(c.shared).toBe(12_632_064 + 8_388_608);
    expect(c.perStage.reduce((a, s) => a + s.private, 0)).toBe(3_330_048 + 1_585_152 + 1_536 + 3_072);
  });
});

/** Table 1: per-layer average of the weights (shared part amortised over 6 stages), biases left out. */
function table1LOutput(r: number) {
  const d = 32768,
    h = 256;
  return (d * h + 6 * r * (d + h)) / 6;
}
function table1Ms(r: number) {
  const dq = 256,
    d = 64,
    h = 128,
    K = 2;
  return (dq * d * h + 6 * K * (dq * r * r + h * r + r * d)) / 6;
}
const M4 = (x: number) => Number((x / 1e6).toFixed(4));

describe('Table 1 of the paper, from the same formulas the counter uses', () => {
  it('L_output with LORS^T', () => {
    expect([4, 8, 16, 32].map((r) => M4(table1LOutput(r)))).toEqual([1.5302, 1.6623, 1.9265, 2.4549]);
  });
  it('M_s with LORS^A', () => {
    expect([4, 8, 16, 32].map((r) => M4(table1Ms(r)))).toEqual([0.3593, 0.3854, 0.4867, 0.8861]);
  });
  it('the counter agrees with the Table 1 formula for L_output (rank r_T changes only LORS^T)', () => {
    const at = (r: number) => countParameters(makeConfig('paper', 'lors', { rankT: r })).byComponent.lorsT!;
    // counter's lorsT = W_sh + 6·r·(d+h) + 6·(bias 256 + LN 512)
    for (const r of [4, 8, 16, 32]) expect(at(r)).toBe(table1LOutput(r) * 6 + 6 * (256 + 512));
  });
});

describe('decoder totals of Tables 6, 7 and 8', () => {
  const M1 = (x: number) => Number((x / 1e6).toFixed(1));
  it('Table 6 (groups, r_A)', () => {
    const rows = [
      decoder('paper', 'lors', { groups: 1, rankA: 8 }),
      decoder('paper', 'lors', { groups: 1, rankA: 16 }),
      decoder('paper', 'lors', { groups: 2, rankA: 16 }),
      decoder('paper', 'lors', { groups: [1, 1, 2, 2, 3, 3], rankA: 16 }),
      decoder('paper', 'lors', { groups: 1, rankA: 32 }),
    ];
    expect(rows.map(M1)).toEqual([32.5, 33.7, 35.3, 35.3, 38.5]);
  });
  it('Table 7 (r_T)', () => {
    expect([2, 4, 8, 16, 32].map((r) => M1(decoder('paper', 'lors', { rankT: r })))).toEqual([
      34.2, 34.6, 35.3, 36.9, 40.1,
    ]);
  });
  it('Table 8 (stages, K pattern stretched)', () => {
    expect([3, 6, 9, 12].map((n) => M1(decoder('paper', 'lors', { stages: n })))).toEqual([28.2, 35.3, 42.5, 49.7]);
    expect(stretchGroups([1, 1, 2, 2, 3, 3], 3)).toEqual([1, 2, 3]);
  });
});

describe('config validation', () => {
  it('r = 0 counts the shared-only model (Table 5): the full count less every low-rank factor, whatever K', () => {
    const full = makeConfig('web', 'lors');
    const factors = parameterSpec(full)
      .filter((t) => /lorsA\.(generator\.(weight|bias)|ml|mr|sl|sr)$|lorsT\.[AB]$/.test(t.name))
      .reduce((n, t) => n + size(t.shape), 0);
    expect(factors).toBeGreaterThan(0);
    const sharedOnly = countParameters(full).decoder - factors;
    for (const groups of [1, 3, [1, 1, 2, 2, 3, 3]]) {
      const c = countParameters(makeConfig('web', 'lors', { rankA: 0, rankT: 0, groups }));
      expect(c.decoder).toBe(sharedOnly);
      // per stage only LORS^T's bias and LayerNorm stay private
      expect(c.perStage.map((st) => st.private)).toEqual(new Array(6).fill(3 * full.decoder.dQuery));
    }
    // each rank alone removes only its own part
    expect(decoder('web', 'lors', { rankA: 0 })).toBeLessThan(countParameters(full).decoder);
    expect(decoder('web', 'lors', { rankA: 0 })).toBeGreaterThan(sharedOnly);
  });

  it('rejects bad ranks and group lists', () => {
    expect(() => makeConfig('paper', 'lors', { rankA: -1 })).toThrow(/rankA/);
    expect(() => makeConfig('paper', 'lors', { rankT: 0.5 })).toThrow(/rankT/);
    expect(() => makeConfig('paper', 'lors', { groups: [1, 2] })).toThrow(/6 per-stage/);
  });
});
