/** Model/worker status: loading progress, active backend, loaded configs and weight sizes. */
import { createStore, useStore } from 'zustand';
import type { ModelConfig } from '../model/config';
import type { LorsSourceName } from '../model/constants';
import type { BackendName, DecoderSlot } from '../model/types';

/** One measured slice (training/lors_studio/compress.py grid). */
export interface CompressionPoint {
  rankA: number;
  groupsA: number[];
  rankT: number;
  decoderParams: number;
  AP: number;
  AP50: number;
  /** false: computed offline at ranks beyond the shipped factors (not reachable by the sliders). */
  shipped?: boolean;
}

export interface CompressionCurves {
  split: string;
  images: number;
  measured: string;
  trained: CompressionPoint[];
  compressed: CompressionPoint[];
  /** Reference APs of the same split, when known: the vanilla decoder and the whole trained LORS decoder. */
  reference?: { vanilla?: { AP: number; decoderParams: number }; lors?: { AP: number; decoderParams: number } };
}

/** The headline result (models/metrics.json): each shipped decoder's val AP and decoder parameters. */
export interface HeadlineFigures {
  /** Photos of the split the APs were measured on. */
  images: number;
  vanilla: { AP: number; decoderParams: number };
  lors: { AP: number; decoderParams: number };
  /** NanoDet-g's own head on the same photos, when measured. */
  nanodet?: { AP: number };
}

export type Phase = 'starting' | 'loading' | 'warming' | 'ready' | 'error';

export interface DecoderInfo {
  config: ModelConfig;
  /** True when trained weights were loaded; false: seeded initial weights. */
  trained: boolean;
  /** Bytes of the weights files read (trained), or the int8 size the weights would have (seeded). */
  weightBytes: number;
  /** Why trained weights were not used (missing, or failed to load). */
  note?: string;
  /** The trained weights failed to load (nothing runs in this panel): the file and the reason. */
  failed?: { file: string; reason: string };
}

export interface ModelsState {
  phase: Phase;
  message: string;
  /** Bytes loaded / total per model file group (backbone, vanilla, lors). */
  progress: Record<string, { loaded: number; total: number }>;
  backend: BackendName | null;
  fallbackReason: string | null;
  webgpuAvailable: boolean;
  decoders: Partial<Record<DecoderSlot, DecoderInfo>>;
  backboneParams: number;
  backboneBytes: number;
  /** The ordered LORS weights on the server (their largest config), by source. */
  lorsSources: Partial<Record<LorsSourceName, { config: ModelConfig; weightBytes: number }>>;
  /** The source the LORS decoder's slice (decoders.lors.config) was cut from. */
  lorsRunning: LorsSourceName;
  /** Val AP vs decoder parameters of slices of both sources (models/compression.json), when shipped. */
  compression: CompressionCurves | null;
  /** The shipped decoders' val AP and sizes (models/metrics.json), when shipped. */
  headline: HeadlineFigures | null;
  /** Decoders being loaded again on their own: a retry of the trained weights, or the seeded weights asked for. */
  decoderLoading: Partial<Record<DecoderSlot, 'retry' | 'seeded'>>;
  /** The worker is (re)starting: progress and backend reset. */
  startLoading: (message: string) => void;
  setStatus: (message: string, phase?: Phase) => void;
  setBackend: (backend: BackendName, fallbackReason: string | null) => void;
  /** The models are loaded: what the worker's init answered. */
  setLoaded: (
    r: Pick<
      ModelsState,
      'backend' | 'fallbackReason' | 'decoders' | 'backboneParams' | 'backboneBytes' | 'lorsSources'
    >,
  ) => void;
  /** The LORS decoder now runs this (slice) config of this source. */
  setLorsConfig: (config: ModelConfig, source: LorsSourceName) => void;
  setCompression: (c: CompressionCurves) => void;
  setHeadline: (h: HeadlineFigures) => void;
  startDecoderLoad: (name: DecoderSlot, how: 'retry' | 'seeded') => void;
  /** One decoder was loaded again (or failed again); the LORS sources as the worker now knows them. */
  setDecoderInfo: (name: DecoderSlot, info: DecoderInfo, lorsSources?: ModelsState['lorsSources']) => void;
  fail: (message: string) => void;
  setProgress: (model: string, loaded: number, total: number) => void;
}

export function createModelsStore() {
  return createStore<ModelsState>()((set) => ({
    phase: 'starting',
    message: 'Starting the inference worker…',
    progress: {},
    backend: null,
    fallbackReason: null,
    webgpuAvailable: typeof navigator !== 'undefined' && 'gpu' in navigator,
    decoders: {},
    backboneParams: 0,
    backboneBytes: 0,
    lorsSources: {},
    lorsRunning: 'trained',
    compression: null,
    headline: null,
    decoderLoading: {},
    startLoading: (message) =>
      set({ phase: 'loading', message, progress: {}, backend: null, fallbackReason: null, decoderLoading: {} }),
    setStatus: (message, phase) => set(phase ? { message, phase } : { message }),
    setBackend: (backend, fallbackReason) => set({ backend, fallbackReason }),
    setLoaded: (r) => set({ ...r, lorsRunning: 'trained', phase: 'ready', message: 'Ready' }),
    setLorsConfig: (config, lorsRunning) =>
      set((s) =>
        s.decoders.lors ? { decoders: { ...s.decoders, lors: { ...s.decoders.lors, config } }, lorsRunning } : {},
      ),
    setCompression: (compression) => set({ compression }),
    setHeadline: (headline) => set({ headline }),
    startDecoderLoad: (name, how) =>
      set((s) => ({
        decoderLoading: { ...s.decoderLoading, [name]: how },
        progress: { ...s.progress, [name]: { loaded: 0, total: 0 } },
      })),
    setDecoderInfo: (name, info, lorsSources) =>
      set((s) => {
        const { [name]: _done, ...loading } = s.decoderLoading;
        const sources = lorsSources ? { lorsSources } : {};
        return { decoders: { ...s.decoders, [name]: info }, decoderLoading: loading, ...sources };
      }),
    fail: (message) => set({ phase: 'error', message }),
    setProgress: (model, loaded, total) => set((s) => ({ progress: { ...s.progress, [model]: { loaded, total } } })),
  }));
}

export const modelsStore = createModelsStore();
export const useModels = <T>(sel: (s: ModelsState) => T) => useStore(modelsStore, sel);
