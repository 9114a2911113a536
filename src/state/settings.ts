/** User settings: backend, display filters, the LORS sliders, the NanoDet toggle. */
import { createStore, useStore } from 'zustand';
import { DEFAULT_SCORE_THRESHOLD, makeConfig } from '../model/config';
import type { LorsSourceName } from '../model/constants';
import { backendFromSearch, type BackendChoiceName } from './backendParam';
import { slidersFromConfig, type GroupsMode, type LorsSliders } from './sliders';

export interface SettingsState {
  backend: BackendChoiceName;
  scoreThreshold: number;
  /** COCO-80 label index, or null for every class. */
  classFilter: number | null;
  rankA: number;
  rankT: number;
  groupsMode: GroupsMode;
  groupsK: number;
  /** Which ordered LORS weights the sliders cut: the trained LORS model or the vanilla model compressed into LORS. */
  lorsSource: LorsSourceName;
  showNanodet: boolean;
  setBackend: (backend: BackendChoiceName) => void;
  setScoreThreshold: (t: number) => void;
  setClassFilter: (label: number | null) => void;
  setShowNanodet: (show: boolean) => void;
  /** Moves one or more LORS sliders (values clamped to the control ranges). */
  setSliders: (s: Partial<LorsSliders>) => void;
  setLorsSource: (source: LorsSourceName) => void;
}

type SettingsValues = Omit<SettingsState, `set${string}`>;

export function createSettingsStore(search = '') {
  const initial = slidersFromConfig(makeConfig('web', 'lors'));
  return createStore<SettingsState>()((set) => ({
    backend: backendFromSearch(search),
    scoreThreshold: DEFAULT_SCORE_THRESHOLD,
    classFilter: null,
    ...initial,
    lorsSource: 'trained',
    showNanodet: false,
    setBackend: (backend) => set({ backend }),
    setScoreThreshold: (scoreThreshold) => set((s) => clampSettings({ ...s, scoreThreshold })),
    setClassFilter: (classFilter) => set({ classFilter }),
    setShowNanodet: (showNanodet) => set({ showNanodet }),
    setSliders: (sliders) => set((s) => clampSettings({ ...s, ...sliders })),
    setLorsSource: (lorsSource) => set({ lorsSource }),
  }));
}

/** Keeps values inside the control ranges (threshold 0..1, ranks 1..64, K 1..8). */
export function clampSettings<T extends SettingsValues>(s: T): T {
  const int = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, Math.round(Number.isFinite(v) ? v : lo)));
  return {
    ...s,
    scoreThreshold: Math.min(1, Math.max(0, Number.isFinite(s.scoreThreshold) ? s.scoreThreshold : 0)),
    rankA: int(s.rankA, 1, 64),
    rankT: int(s.rankT, 1, 64),
    groupsK: int(s.groupsK, 1, 8),
  };
}

export const settingsStore = createSettingsStore(typeof location === 'undefined' ? '' : location.search);
export const useSettings = <T,>(sel: (s: SettingsState) => T) => useStore(settingsStore, sel);
