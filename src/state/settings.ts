/** User settings: backend, display filters, the LORS sliders, the NanoDet toggle. */
import { createStore, useStore } from 'zustand';
import { DEFAULT_SCORE_THRESHOLD, makeConfig } from '../model/config';
import type { LorsSourceName } from '../model/constants';
import type { BackendName } from '../model/types';
import { slidersFromConfig, type GroupsMode, type LorsSliders } from './sliders';

/** The backend the user chose ('auto': WebGPU, else wasm, else cpu). */
export type BackendChoiceName = BackendName | 'auto';
export const BACKEND_CHOICES: BackendChoiceName[] = ['auto', 'webgpu', 'wasm', 'cpu'];

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
  /** Each panel draws and lists at most this many boxes (the best). */
  maxResults: number;
  /** Class-wise NMS on the displayed boxes (off: the decoders' raw set prediction). */
  displayNms: boolean;
  /** The LORS panel shows the full model's boxes instead of the slice's (the sliders' before/after toggle). */
  showLorsBefore: boolean;
  setBackend: (backend: BackendChoiceName) => void;
  setScoreThreshold: (t: number) => void;
  setClassFilter: (label: number | null) => void;
  setShowNanodet: (show: boolean) => void;
  /** Moves one or more LORS sliders (kept as set: the slice rule clamps them into the source, lorsSlice.ts). */
  setSliders: (s: Partial<LorsSliders>) => void;
  setLorsSource: (source: LorsSourceName) => void;
  setDecoderStage: (stage: number) => void;
  setShowAgreement: (show: boolean) => void;
  /** Settings read from the address bar (settingsUrl.ts), clamped like every other change. */
  restore: (values: Partial<SettingsValues>) => void;
  setMaxResults: (n: number) => void;
  setDisplayNms: (on: boolean) => void;
  setShowLorsBefore: (show: boolean) => void;
}

/** Boxes per panel by default: a busy street photo stays legible. */
export const DEFAULT_MAX_RESULTS = 20;
/** The most boxes a panel can show (the decoders' top-k). */
export const MAX_RESULTS_LIMIT = 100;

/** The decoders' stage count (both web decoders have the same): the stage scrubber's range and default. */
export const DECODER_STAGES = makeConfig('web', 'lors').decoder.stages;

/** The settings' values (no actions): what the address bar carries. */
export type SettingsValues = Omit<SettingsState, `set${string}` | 'restore'>;

/** Every setting's default (the LORS sliders: the web preset's LORS config until the shipped model says more). */
export function defaultSettings(): SettingsValues {
  return {
    backend: 'auto',
    scoreThreshold: DEFAULT_SCORE_THRESHOLD,
    classFilter: null,
    ...slidersFromConfig(makeConfig('web', 'lors')),
    lorsSource: 'trained',
    showNanodet: false,
    decoderStage: DECODER_STAGES,
    showAgreement: false,
    maxResults: DEFAULT_MAX_RESULTS,
    displayNms: true,
    showLorsBefore: false,
  };
}

export function createSettingsStore(initial: Partial<SettingsValues> = {}) {
  return createStore<SettingsState>()((set) => ({
    ...clampSettings({ ...defaultSettings(), ...initial }),
    setBackend: (backend) => set({ backend }),
    setScoreThreshold: (scoreThreshold) => set((s) => clampSettings({ ...s, scoreThreshold })),
    setClassFilter: (classFilter) => set({ classFilter }),
    setShowNanodet: (showNanodet) => set({ showNanodet }),
    setSliders: (sliders) => set(sliders),
    setLorsSource: (lorsSource) => set({ lorsSource }),
    setDecoderStage: (decoderStage) => set((s) => clampSettings({ ...s, decoderStage })),
    setShowAgreement: (showAgreement) => set({ showAgreement }),
    restore: (values) => set((s) => clampSettings({ ...s, ...values })),
    setMaxResults: (maxResults) => set((s) => clampSettings({ ...s, maxResults })),
    setDisplayNms: (displayNms) => set({ displayNms }),
    setShowLorsBefore: (showLorsBefore) => set({ showLorsBefore }),
  }));
}

/** Keeps the threshold in 0..1, the stage in 1..DECODER_STAGES and the boxes per panel in 1..MAX_RESULTS_LIMIT. */
export function clampSettings<T extends SettingsValues>(s: T): T {
  const int = (v: number, lo: number, hi: number) =>
    Math.min(hi, Math.max(lo, Math.round(Number.isFinite(v) ? v : lo)));
  return {
    ...s,
    scoreThreshold: Math.min(1, Math.max(0, Number.isFinite(s.scoreThreshold) ? s.scoreThreshold : 0)),
    decoderStage: int(s.decoderStage, 1, DECODER_STAGES),
    maxResults: int(s.maxResults, 1, MAX_RESULTS_LIMIT),
  };
}

/** The page's settings; the controller restores the address bar's (settingsUrl.ts) when it attaches. */
export const settingsStore = createSettingsStore();
export const useSettings = <T>(sel: (s: SettingsState) => T) => useStore(settingsStore, sel);
