/**
 * The settings' place in the address bar: one schema entry per setting (its parameter name, how it is read — an
 * out-of-range or malformed value is clamped or dropped with a notice, never an error — and how it is written).
 * A new setting is one entry in URL_SETTINGS. Parameters that are not settings (`stallSeconds`) are read here too
 * and kept as they are when the settings are written back.
 */
import { COCO_CLASSES } from '../model/cocoFormat';
import { LORS_SOURCE_NAMES } from '../model/constants';
import {
  BACKEND_CHOICES,
  DECODER_STAGES,
  MAX_RESULTS_LIMIT,
  type BackendChoiceName,
  type SettingsValues,
} from './settings';

/** What one parameter set: the values it gives, and a notice when the raw value had to be clamped or was dropped. */
interface Read {
  values: Partial<SettingsValues>;
  notice?: string;
}

export interface UrlSetting {
  /** The query parameter. */
  param: string;
  /** The settings fields it carries (a change of any of them rewrites it). */
  fields: (keyof SettingsValues)[];
  read: (raw: string) => Read;
  write: (s: SettingsValues) => string;
}

const dropped = (param: string, raw: string, why: string): Read => ({
  values: {},
  notice: `${param}=${raw} ignored: ${why}`,
});

type NumberField = { [K in keyof SettingsValues]: SettingsValues[K] extends number ? K : never }[keyof SettingsValues];

/** A number in lo..hi (integers when `int`): rounded and clamped, with a notice when it moved. */
function numberSetting(param: string, field: NumberField, lo: number, hi: number, int: boolean): UrlSetting {
  return {
    param,
    fields: [field],
    read: (raw) => {
      const v = raw.trim() === '' ? NaN : Number(raw);
      if (!Number.isFinite(v)) return dropped(param, raw, 'not a number');
      const c = Math.min(hi, Math.max(lo, int ? Math.round(v) : v));
      const values = { [field]: c } as Partial<SettingsValues>;
      return c === v ? { values } : { values, notice: `${param}=${raw} is outside ${lo}–${hi}: set to ${c}` };
    },
    write: (s) => String(s[field]),
  };
}

/** One of a fixed list of names. */
function choiceSetting(param: string, field: keyof SettingsValues, choices: readonly string[]): UrlSetting {
  return {
    param,
    fields: [field],
    read: (raw) =>
      choices.includes(raw)
        ? { values: { [field]: raw } as Partial<SettingsValues> }
        : dropped(param, raw, `use one of ${choices.join(', ')}`),
    write: (s) => String(s[field]),
  };
}

/** On/off as 1/0 (also true/false, on/off). */
function flagSetting(param: string, field: keyof SettingsValues): UrlSetting {
  return {
    param,
    fields: [field],
    read: (raw) => {
      const v = raw.toLowerCase();
      if (['1', 'true', 'on', 'yes'].includes(v)) return { values: { [field]: true } as Partial<SettingsValues> };
      if (['0', 'false', 'off', 'no'].includes(v)) return { values: { [field]: false } as Partial<SettingsValues> };
      return dropped(param, raw, 'use 1 or 0');
    },
    write: (s) => (s[field] ? '1' : '0'),
  };
}

/** The largest rank the address bar takes; the selected LORS source clamps further (the slice rule). */
export const URL_MAX_RANK = 4096;
/** The largest K the address bar takes; each stage is clamped to its stored K (the slice rule). */
export const URL_MAX_GROUPS = 64;

/** Every setting that travels in the address bar. */
export const URL_SETTINGS: UrlSetting[] = [
  choiceSetting('backend', 'backend', BACKEND_CHOICES),
  numberSetting('threshold', 'scoreThreshold', 0, 1, false),
  choiceSetting('source', 'lorsSource', LORS_SOURCE_NAMES),
  // r = 0: the shared weights alone
  numberSetting('rA', 'rankA', 0, URL_MAX_RANK, true),
  numberSetting('rT', 'rankT', 0, URL_MAX_RANK, true),
  {
    // K: one K for every stage, or the paper's schedule.
    param: 'K',
    fields: ['groupsMode', 'groupsK'],
    read: (raw) => {
      if (raw === 'schedule') return { values: { groupsMode: 'schedule' } };
      const r = numberSetting('K', 'groupsK', 1, URL_MAX_GROUPS, true).read(raw);
      return r.values.groupsK === undefined ? r : { ...r, values: { ...r.values, groupsMode: 'uniform' } };
    },
    write: (s) => (s.groupsMode === 'schedule' ? 'schedule' : String(s.groupsK)),
  },
  numberSetting('stage', 'decoderStage', 1, DECODER_STAGES, true),
  flagSetting('agreement', 'showAgreement'),
  flagSetting('nanodet', 'showNanodet'),
  numberSetting('top', 'maxResults', 1, MAX_RESULTS_LIMIT, true),
  flagSetting('nms', 'displayNms'),
  flagSetting('before', 'showLorsBefore'),
  {
    param: 'class',
    fields: ['classFilter'],
    read: (raw) => {
      const i = COCO_CLASSES.indexOf(raw);
      return i >= 0 ? { values: { classFilter: i } } : dropped('class', raw, 'not a COCO class name');
    },
    write: (s) => (s.classFilter === null ? '' : (COCO_CLASSES[s.classFilter] ?? '')),
  },
];

/** The settings an address gives (only those it names), and one notice per value that was clamped or dropped. */
export function settingsFromSearch(search: string): { values: Partial<SettingsValues>; notices: string[] } {
  const p = new URLSearchParams(search);
  const values: Partial<SettingsValues> = {};
  const notices: string[] = [];
  for (const e of URL_SETTINGS) {
    const raw = p.get(e.param);
    if (raw === null) continue;
    const r = e.read(raw);
    Object.assign(values, r.values);
    if (r.notice) notices.push(r.notice);
  }
  return { values, notices };
}

/**
 * The query string for `s`: each setting that differs from `baseline` (the defaults) is written, the others
 * removed; parameters that are not settings are kept in place.
 */
export function searchWithSettings(search: string, s: SettingsValues, baseline: SettingsValues): string {
  const p = new URLSearchParams(search);
  for (const e of URL_SETTINGS) {
    const v = e.write(s);
    if (v === e.write(baseline) || v === '') p.delete(e.param);
    else p.set(e.param, v);
  }
  const q = p.toString();
  return q ? `?${q}` : '';
}

/** The backend an address asks for ('auto' when none, or an unknown one). */
export const backendFromSearch = (search: string): BackendChoiceName =>
  settingsFromSearch(search).values.backend ?? 'auto';

/**
 * `?stallSeconds=N`: how long a model download may go without data before it is called stalled (tests use a few
 * seconds; the default is the worker's STALL_TIMEOUT_MS). Accepted: 0.1 to 600 seconds. Not a setting.
 */
export function stallMsFromSearch(search: string): number | undefined {
  const raw = new URLSearchParams(search).get('stallSeconds');
  if (raw === null || raw.trim() === '') return undefined;
  const s = Number(raw);
  return Number.isFinite(s) && s >= 0.1 && s <= 600 ? Math.round(s * 1000) : undefined;
}
