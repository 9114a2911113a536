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
  /** Decoder stage (1-based) whose predictions both decoder panels show; the last = the decoders' output. */
  decoderStage: number;
  /** Draw agreed boxes quietly and highlight the ones only one decoder found. */
  showAgreement: boolean;
  setBackend: (backend: BackendChoiceName) => void;
  setScoreThreshold: (t: number) => void;
  setClassFilter: (label: number | null) => void;
  setShowNanodet: (show: boolean) => void;
  /** Moves one or more LORS sliders (kept as set: the slice rule clamps them into the source, lorsSlice.ts). */
  setSliders: (s: Partial<LorsSliders>) => void;
  setLorsSource: (source: LorsSourceName) => void;
  setDecoderStage: (stage: number) => void;
  setShowAgreement: (show: boolean) => void;
}

/** The decoders' stage count (both web decoders have the same): the stage scrubber's range and default. */
export const DECODER_STAGES = makeConfig('web', 'lors').decoder.stages;

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
    decoderStage: DECODER_STAGES,
    showAgreement: false,
    setBackend: (backend) => set({ backend }),
    setScoreThreshold: (scoreThreshold) => set((s) => clampSettings({ ...s, scoreThreshold })),
    setClassFilter: (classFilter) => set({ classFilter }),
    setShowNanodet: (showNanodet) => set({ showNanodet }),
    setSliders: (sliders) => set(sliders),
    setLorsSource: (lorsSource) => set({ lorsSource }),
    setDecoderStage: (decoderStage) => set((s) => clampSettings({ ...s, decoderStage })),
    setShowAgreement: (showAgreement) => set({ showAgreement }),
  }));
}

/** Keeps the threshold in 0..1 and the stage in 1..DECODER_STAGES. */
export function clampSettings<T extends SettingsValues>(s: T): T {
  const int = (v: number, lo: number, hi: number) =>
    Math.min(hi, Math.max(lo, Math.round(Number.isFinite(v) ? v : lo)));
  return {
    ...s,
    scoreThreshold: Math.min(1, Math.max(0, Number.isFinite(s.scoreThreshold) ? s.scoreThreshold : 0)),
    decoderStage: int(s.decoderStage, 1, DECODER_STAGES),
  };
}

export const settingsStore = createSettingsStore(typeof location === 'undefined' ? '' : location.search);
export const useSettings = <T>(sel: (s: SettingsState) => T) => useStore(settingsStore, sel);
