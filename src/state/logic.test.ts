import { describe, expect, it } from 'vitest';
import { makeConfig } from '../model/config';
import { countParameters } from '../model/params';
import type { Detection } from '../model/types';
import {
  backendFromSearch, countedLorsConfig, filterDetections, fitWithin, float16Bytes, groupsForStages, LatestQueue,
  searchWithBackend, sliceForSliders, slidersFromConfig, toCocoResults,
} from './logic';
import { createSessionStore } from './session';
import { clampSettings, createSettingsStore } from './settings';

const det = (label: number, score: number, box: Detection['box'] = [10, 20, 110, 70]): Detection => ({ box, label, name: `c${label}`, score });

describe('backend from the URL', () => {
  it('reads ?backend= and ignores anything else', () => {
    expect(backendFromSearch('?backend=wasm')).toBe('wasm');
    expect(backendFromSearch('?x=1&backend=webgpu')).toBe('webgpu');
    expect(backendFromSearch('?backend=webgl')).toBe('auto');
    expect(backendFromSearch('')).toBe('auto');
  });
  it('writes it back, keeping other parameters', () => {
    expect(searchWithBackend('?x=1', 'cpu')).toBe('?x=1&backend=cpu');
    expect(searchWithBackend('?backend=cpu&x=1', 'auto')).toBe('?x=1');
    expect(searchWithBackend('?backend=cpu', 'auto')).toBe('');
  });
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
    expect(countedLorsConfig(base, s)).toEqual(base);
    expect(slidersFromConfig(makeConfig('web', 'lors', { groups: 2 }))).toMatchObject({ groupsMode: 'uniform', groupsK: 2 });
  });
  it('is the slice of the source the sliders select, clamped into the source (so counts match what runs)', () => {
    const src = makeConfig('web', 'lors', { rankA: 16, rankT: 32, groups: 3 }); // like the compressed vanilla source
    const c = countedLorsConfig(src, { rankA: 16, rankT: 4, groupsMode: 'uniform', groupsK: 3 });
    expect(c).toEqual(makeConfig('web', 'lors', { rankA: 16, rankT: 4, groups: 3 }));
    // beyond the source: clamped (r_A ≤ 16, K_i ≤ the source's [1,1,2,2,3,3] for the trained source)
    expect(countedLorsConfig(src, { rankA: 40, rankT: 64, groupsMode: 'uniform', groupsK: 8 })).toEqual(src);
    expect(countedLorsConfig(base, { rankA: 8, rankT: 8, groupsMode: 'uniform', groupsK: 3 }).lors!.groupsA).toEqual([1, 1, 2, 2, 3, 3]);
    expect(sliceForSliders(base, { rankA: 2, rankT: 1, groupsMode: 'uniform', groupsK: 2 })).toEqual({ rankA: 2, rankT: 1, groupsA: [1, 1, 2, 2, 2, 2], groupsT: [1, 1, 1, 1, 1, 1] });
    // Raising r_A adds exactly the private LORS^A parameters: per stage 2·G·K·r²·dq (E generator weight) +
    // 2·G·K·r² (its bias) + G·K·r·(2C + P_out + P_in) (the four factors); web: dq=128, G=2, C=64, P_in=32, P_out=64.
    const at = (r: number) => countParameters(countedLorsConfig(src, { rankA: r, rankT: 8, groupsMode: 'uniform', groupsK: 1 })).decoder;
    const perRank = (r: number) => 6 * (2 * 2 * r * r * 128 + 2 * 2 * r * r + 2 * r * (2 * 64 + 64 + 32));
    expect(at(9) - at(8)).toBe(perRank(9) - perRank(8));
  });
  it('rejects bad values and non-LORS configs', () => {
    expect(() => countedLorsConfig(base, { rankA: 0, rankT: 8, groupsMode: 'uniform', groupsK: 1 })).toThrow(/rankA/);
    expect(() => countedLorsConfig(makeConfig('web', 'vanilla'), { rankA: 8, rankT: 8, groupsMode: 'uniform', groupsK: 1 })).toThrow(/LORS/);
  });
  it('float16 size counts every tensor of the weights file at 2 bytes', () => {
    const c = countParameters(base);
    expect(float16Bytes(base)).toBe(2 * (c.decoder + c.queries + c.neck));
  });
});

describe('detections', () => {
  it('filter by threshold and class, best first', () => {
    const d = [det(0, 0.2), det(15, 0.9), det(0, 0.5), det(15, 0.05)];
    expect(filterDetections(d, 0.3, null).map((x) => x.score)).toEqual([0.9, 0.5]);
    expect(filterDetections(d, 0, 15).map((x) => x.score)).toEqual([0.9, 0.05]);
    expect(filterDetections(d, 0.95, null)).toEqual([]);
  });
  it('COCO results: category ids, xywh boxes, scaled back to the original photo', () => {
    // label 11 = stop sign = COCO id 13 (ids skip 12); label 79 = toothbrush = 90.
    expect(toCocoResults([det(11, 0.812345, [10, 20, 110, 70]), det(79, 0.5)], 7, 2)).toEqual([
      { image_id: 7, category_id: 13, bbox: [20, 40, 200, 100], score: 0.81235 },
      { image_id: 7, category_id: 90, bbox: [20, 40, 200, 100], score: 0.5 },
    ]);
    expect(() => toCocoResults([det(80, 0.5)], 1)).toThrow(/COCO-80/);
  });
  it('downscale size keeps the aspect ratio', () => {
    expect(fitWithin(5000, 3000, 4096)).toEqual({ width: 4096, height: 2458, scaled: true });
    expect(fitWithin(1000, 800, 4096)).toEqual({ width: 1000, height: 800, scaled: false });
    expect(fitWithin(100000, 1, 4096)).toEqual({ width: 4096, height: 1, scaled: true });
  });
});

describe('stores', () => {
  it('settings: URL backend, clamped values', () => {
    const s = createSettingsStore('?backend=cpu');
    expect(s.getState().backend).toBe('cpu');
    s.getState().set({ scoreThreshold: 3, rankA: 0.4, groupsK: 99 });
    expect(s.getState()).toMatchObject({ scoreThreshold: 1, rankA: 1, groupsK: 8 });
    expect(clampSettings({ ...s.getState(), scoreThreshold: NaN }).scoreThreshold).toBe(0);
  });
  it('session: results count runs per panel; late results of an older photo are dropped', () => {
    const s = createSessionStore();
    const photo = (id: number) => ({ id, name: `${id}.jpg`, bitmap: null, width: 10, height: 10, originalWidth: 10, originalHeight: 10 });
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

describe('LatestQueue (a second drop while one runs)', () => {
  it('runs one job at a time and keeps only the latest waiting job', async () => {
    const ran: string[] = [];
    const gates: (() => void)[] = [];
    const q = new LatestQueue<string>((job) => new Promise<void>((ok) => { ran.push(job); gates.push(ok); }));
    expect(q.push('a')).toBe('started');
    expect(q.push('b')).toBe('queued');
    expect(q.push('c')).toBe('replaced');
    expect(ran).toEqual(['a']);
    gates.shift()!();
    await new Promise((r) => setTimeout(r, 0));
    expect(ran).toEqual(['a', 'c']);
    expect(q.busy).toBe(true);
    gates.shift()!();
    await new Promise((r) => setTimeout(r, 0));
    expect(q.busy).toBe(false);
    expect(q.push('d')).toBe('started');
  });
  it('keeps going after a failing job', async () => {
    const ran: string[] = [];
    const q = new LatestQueue<string>(async (job) => { ran.push(job); if (job === 'bad') throw new Error('x'); });
    q.push('bad');
    q.push('good');
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setTimeout(r, 0));
    expect(ran).toEqual(['bad', 'good']);
  });
});
