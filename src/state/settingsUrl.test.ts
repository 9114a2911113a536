import { describe, expect, it } from 'vitest';
import { defaultSettings, type SettingsValues } from './settings';
import {
  backendFromSearch,
  searchWithSettings,
  settingsFromSearch,
  stallMsFromSearch,
  URL_MAX_RANK,
  URL_SETTINGS,
} from './settingsUrl';

const base = defaultSettings();
const roundTrip = (s: SettingsValues) => ({ ...base, ...settingsFromSearch(searchWithSettings('', s, base)).values });

describe('settings in the address bar', () => {
  it('reads every setting it names, and nothing else', () => {
    const r = settingsFromSearch(
      '?backend=wasm&threshold=0.3&source=compressed&rA=4&rT=2&K=3&stage=2&agreement=1&nanodet=1&class=cat&x=y',
    );
    expect(r.notices).toEqual([]);
    expect(r.values).toEqual({
      backend: 'wasm',
      scoreThreshold: 0.3,
      lorsSource: 'compressed',
      rankA: 4,
      rankT: 2,
      groupsMode: 'uniform',
      groupsK: 3,
      decoderStage: 2,
      showAgreement: true,
      showNanodet: true,
      classFilter: 15,
    });
    expect(settingsFromSearch('').values).toEqual({});
    expect(settingsFromSearch('?K=schedule').values).toEqual({ groupsMode: 'schedule' });
  });

  it('clamps out-of-range numbers and drops malformed values, each with a notice (never an error)', () => {
    const r = settingsFromSearch('?threshold=7&stage=0&rA=2.6&rT=-3&K=abc&backend=webgl&agreement=maybe&class=unicorn');
    expect(r.values).toEqual({ scoreThreshold: 1, decoderStage: 1, rankA: 3, rankT: 0 }); // r ≥ 0 (shared only)
    expect(r.notices).toHaveLength(8);
    expect(r.notices).toContain('threshold=7 is outside 0–1: set to 1');
    expect(r.notices.join(' | ')).toMatch(/K=abc ignored: not a number/);
    expect(r.notices.join(' | ')).toMatch(/backend=webgl ignored: use one of auto, webgpu, wasm, cpu/);
    expect(settingsFromSearch(`?rA=${URL_MAX_RANK + 1}`).values.rankA).toBe(URL_MAX_RANK);
    expect(settingsFromSearch('?threshold=').notices).toEqual(['threshold= ignored: not a number']);
  });

  it('writes only what differs from the defaults, and keeps other parameters', () => {
    expect(searchWithSettings('', base, base)).toBe('');
    expect(searchWithSettings('?stallSeconds=3&backend=wasm', { ...base, backend: 'auto' }, base)).toBe(
      '?stallSeconds=3',
    );
    expect(searchWithSettings('?x=1', { ...base, backend: 'cpu', decoderStage: 3 }, base)).toBe(
      '?x=1&backend=cpu&stage=3',
    );
    expect(searchWithSettings('', { ...base, classFilter: 0, groupsMode: 'uniform', groupsK: 2 }, base)).toBe(
      '?K=2&class=person',
    );
  });

  it('round-trips every setting of the schema', () => {
    const s: SettingsValues = {
      ...base,
      backend: 'cpu',
      scoreThreshold: 0.42,
      lorsSource: 'compressed',
      rankA: 5,
      rankT: 3,
      groupsMode: 'uniform',
      groupsK: 2,
      decoderStage: 4,
      showAgreement: true,
      showNanodet: true,
      classFilter: 79,
      maxResults: 35,
      displayNms: false,
      showLorsBefore: true,
    };
    expect(roundTrip(s)).toEqual(s);
    expect(roundTrip({ ...s, rankA: 0, rankT: 0 })).toMatchObject({ rankA: 0, rankT: 0 }); // shared only
    // every field of the settings is carried by one entry (a new setting must get one)
    const carried = new Set(URL_SETTINGS.flatMap((e) => e.fields));
    expect(Object.keys(base).filter((k) => !carried.has(k as keyof SettingsValues))).toEqual([]);
  });

  it('backend: a known one, else auto', () => {
    expect(backendFromSearch('?backend=wasm')).toBe('wasm');
    expect(backendFromSearch('?x=1&backend=webgpu')).toBe('webgpu');
    expect(backendFromSearch('?backend=webgl')).toBe('auto');
    expect(backendFromSearch('')).toBe('auto');
  });
});

describe('stallMsFromSearch', () => {
  it('reads seconds into milliseconds', () => {
    expect(stallMsFromSearch('?stallSeconds=3')).toBe(3000);
    expect(stallMsFromSearch('?backend=wasm&stallSeconds=0.5')).toBe(500);
  });
  it('ignores absent, empty and out-of-range values', () => {
    expect(stallMsFromSearch('')).toBeUndefined();
    expect(stallMsFromSearch('?stallSeconds=')).toBeUndefined();
    expect(stallMsFromSearch('?stallSeconds=0')).toBeUndefined();
    expect(stallMsFromSearch('?stallSeconds=abc')).toBeUndefined();
    expect(stallMsFromSearch('?stallSeconds=601')).toBeUndefined();
  });
});
