import { describe, expect, it } from 'vitest';
import { makeConfig } from '../model/config';
import { paperTotals, stageBars, table1LOutput, table1Ms, TABLE1_RANKS } from './paperReference';

const M4 = (x: number) => Number((x / 1e6).toFixed(4));

describe('paper reference numbers shown in the parameter view', () => {
  it('reproduces Table 1 (L_output with LORS^T, vanilla 8,388,608)', () => {
    expect(TABLE1_RANKS.map((r) => M4(table1LOutput(r).lors))).toEqual([1.5302, 1.6623, 1.9265, 2.4549]);
    expect(table1LOutput(8).vanilla).toBe(8_388_608);
  });
  it('reproduces Table 1 (M_s with LORS^A, vanilla 2,097,152)', () => {
    expect(TABLE1_RANKS.map((r) => M4(table1Ms(r).lors))).toEqual([0.3593, 0.3854, 0.4867, 0.8861]);
    expect(table1Ms(16).vanilla).toBe(2_097_152);
  });
  it('gives 110M vs 35M decoders', () => {
    expect(paperTotals()).toEqual({ vanilla4x32: 110_272_296, vanilla2x64: 135_536_424, lors: 35_348_264 });
  });
  it('stage bars add up to the decoder totals', () => {
    const { bars, shared } = stageBars(makeConfig('paper', 'vanilla'), makeConfig('paper', 'lors'));
    expect(bars).toHaveLength(6);
    expect(bars.reduce((a, b) => a + b.vanilla, 0)).toBe(135_536_424);
    expect(bars.reduce((a, b) => a + b.other + b.private + b.sharedShare, 0)).toBeCloseTo(35_348_264, 6);
    expect(shared).toBe(12_632_064 + 8_388_608);
  });
});
