import { describe, expect, it } from 'vitest';
import { makeConfig } from '../model/config';
import { countParameters } from '../model/params';
import type { Detection } from '../model/types';
import { createSessionStore } from './session';
import { clampSettings, createSettingsStore } from './settings';
import { groupsForStages, sliderConfig, slidersFromConfig } from './sliders';

const det = (label: number, score: number, box: Detection['box'] = [10, 20, 110, 70]): Detection => ({
  box,
  label,
  name: `c${label}`,
  score,
});

describe('LORS sliders → counted configuration', () => {
  const base = makeConfig('web', 'lors');
  it('the paper schedule and a uniform K', () => {
    expect(groupsForStages({ groupsMode: 'schedule', groupsK: 4 }, 6)).toEqual([1, 1, 2, 2, 3, 3]);
    expect(groupsForStages({ groupsMode: 'schedule', groupsK: 4 }, 3)).toEqual([1, 2, 3]);
    expect(groupsForStages({ groupsMode: 'uniform', groupsK: 2 }, 6)).toEqual([2, 2, 2, 2, 2, 2]);
  });
  it('the sliders of a config round-trip', () => {
    const s = slidersFromConfig(base);
    expect(s).toEqual({ rankA: 8, rankT: 8, groupsMode: 'schedule', groupsK: 1 });
    expect(sliderConfig(base, s)).toEqual(base);
    expect(slidersFromConfig(makeConfig('web', 'lors', { groups: 2 }))).toMatchObject({
      groupsMode: 'uniform',
      groupsK: 2,
    });
  });
  it('is the slice of the source the sliders select, clamped into the source (so counts match what runs)', () => {
    const src = makeConfig('web', 'lors', { rankA: 16, rankT: 32, groups: 3 }); // like the compressed vanilla source
    const c = sliderConfig(src, { rankA: 16, rankT: 4, groupsMode: 'uniform', groupsK: 3 });
    expect(c).toEqual(makeConfig('web', 'lors', { rankA: 16, rankT: 4, groups: 3 }));
    // beyond the source: clamped (r_A ≤ 16, K_i ≤ the source's [1,1,2,2,3,3] for the trained source)
    expect(sliderConfig(src, { rankA: 40, rankT: 64, groupsMode: 'uniform', groupsK: 8 })).toEqual(src);
    expect(sliderConfig(base, { rankA: 8, rankT: 8, groupsMode: 'uniform', groupsK: 3 }).lors!.groupsA).toEqual([
      1, 1, 2, 2, 3, 3,
    ]);
    expect(sliderConfig(base, { rankA: 2, rankT: 1, groupsMode: 'uniform', groupsK: 2 }).lors).toEqual({
      rankA: 2,
      rankT: 1,
      groupsA: [1, 1, 2, 2, 2, 2],
      groupsT: [1, 1, 1, 1, 1, 1],
    });
    // Raising r_A adds exactly the private LORS^A parameters: per stage 2·G·K·r²·dq (E generator weight) +
    // 2·G·K·r² (its bias) + G·K·r·(2C + P_out + P_in) (the four factors); web: dq=128, G=2, C=64, P_in=32, P_out=64.
    const at = (r: number) =>
      countParameters(sliderConfig(src, { rankA: r, rankT: 8, groupsMode: 'uniform', groupsK: 1 })).decoder;
    const perRank = (r: number) => 6 * (2 * 2 * r * r * 128 + 2 * 2 * r * r + 2 * r * (2 * 64 + 64 + 32));
    expect(at(9) - at(8)).toBe(perRank(9) - perRank(8));
  });
  it('clamps any value into the source (the clamp of the slice rule, the only one); refuses non-LORS configs', () => {
    const c = sliderConfig(base, { rankA: -3, rankT: 99, groupsMode: 'uniform', groupsK: 0.4 }).lors!;
    expect(c).toMatchObject({ rankA: 0, rankT: 8, groupsA: [1, 1, 1, 1, 1, 1] });
    // r = 0 is a slice (shared only); K stays at least 1
    expect(sliderConfig(base, { rankA: 0, rankT: 0, groupsMode: 'uniform', groupsK: 0 }).lors).toMatchObject({
      rankA: 0,
      rankT: 0,
      groupsA: [1, 1, 1, 1, 1, 1],
    });
    expect(() =>
      sliderConfig(makeConfig('web', 'vanilla'), { rankA: 8, rankT: 8, groupsMode: 'uniform', groupsK: 1 }),
    ).toThrow(/LORS config/);
  });
});

describe('stores', () => {
  it('settings: restored values, clamped threshold and stage, sliders kept as set (the slice rule clamps them)', () => {
    const s = createSettingsStore({ backend: 'cpu', decoderStage: 0 });
    expect(s.getState()).toMatchObject({ backend: 'cpu', decoderStage: 1 });
    s.getState().restore({ scoreThreshold: -1, showAgreement: true });
    expect(s.getState()).toMatchObject({ scoreThreshold: 0, showAgreement: true, backend: 'cpu' });
    s.getState().setScoreThreshold(3);
    s.getState().setDecoderStage(9);
    s.getState().setSliders({ rankA: 3, groupsK: 99 });
    expect(s.getState()).toMatchObject({ scoreThreshold: 1, decoderStage: 6, rankA: 3, groupsK: 99 });
    s.getState().setSliders({ rankT: 5 });
    expect(s.getState()).toMatchObject({ rankA: 3, rankT: 5, groupsK: 99 });
    expect(clampSettings({ ...s.getState(), scoreThreshold: NaN }).scoreThreshold).toBe(0);
  });
  it('session: results count runs per panel; late results of an older photo are dropped', () => {
    const s = createSessionStore();
    const photo = (id: number) => ({
      id,
      name: `${id}.jpg`,
      bitmap: null,
      width: 10,
      height: 10,
      originalWidth: 10,
      originalHeight: 10,
    });
    s.getState().setPhoto(photo(1));
    s.getState().setResult('lors', { imageId: 1, detections: [], latencyMs: 5 });
    s.getState().setResult('lors', { imageId: 1, detections: [], latencyMs: 4 });
    s.getState().setResult('vanilla', { imageId: 1, detections: [], latencyMs: 6 });
    expect(s.getState().results.lors?.run).toBe(2);
    expect(s.getState().results.vanilla?.run).toBe(1);
    s.getState().setPhoto(photo(2));
    expect(s.getState().results).toEqual({});
    s.getState().setResult('lors', { imageId: 1, detections: [det(0, 1)], latencyMs: 1 });
    expect(s.getState().results.lors).toBeUndefined();
  });
});
