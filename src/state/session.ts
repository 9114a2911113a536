/** The current photo and the detections of each panel. */
import { createStore, useStore } from 'zustand';
import type { LorsSourceName } from '../model/constants';
import type { Detection, ModelName } from '../model/types';

export interface PhotoInfo {
  id: number;
  name: string;
  /** The decoded (possibly downscaled) bitmap the detectors see and the panels draw. */
  bitmap: ImageBitmap | null;
  width: number;
  height: number;
  /** Size of the original photo (larger than width/height when it was downscaled). */
  originalWidth: number;
  originalHeight: number;
}

export interface PanelResult {
  imageId: number;
  detections: Detection[];
  /** Decoder (or NanoDet head) latency of this run, ms. */
  latencyMs: number;
  /** Decoder stage of these detections (1-based; absent: the last stage, and for NanoDet). */
  stage?: number;
  /** Every decoder stage's detections of this run (index 0 = stage 1), when the worker returned them all. */
  stages?: Detection[][];
  /** Counts the runs of this panel (changes on every new detection run). */
  run: number;
  at: number;
}

/** The full LORS model's result on the current photo: what the sliders' slices are compared with. */
export interface LorsReference {
  imageId: number;
  source: LorsSourceName;
  detections: Detection[];
  stages?: Detection[][];
}

export interface SessionState {
  photo: PhotoInfo | null;
  results: Partial<Record<ModelName, PanelResult>>;
  /** Backbone (feature extraction) latency of the current photo. */
  backboneMs: number | null;
  busy: boolean;
  /** The full LORS model's latest result on this photo (null: none yet). */
  lorsReference: LorsReference | null;
  /** Panels whose decoder (or head) is re-running: their result on screen is stale until the new one lands. */
  pending: Partial<Record<ModelName, boolean>>;
  /** Message shown in data-testid="error" (null: none). */
  error: string | null;
  /** Informational message (downscaled, queued, …). */
  notice: string | null;
  setPhoto: (p: PhotoInfo) => void;
  setResult: (model: ModelName, r: Omit<PanelResult, 'run' | 'at'>) => void;
  /** A camera frame and its panels' results, shown together (no frame without its boxes). */
  setFrame: (p: PhotoInfo, results: Partial<Record<ModelName, Omit<PanelResult, 'run' | 'at'>>>) => void;
  /** A photo job starts (or the queue drains): busy, and the previous messages cleared when starting. */
  setBusy: (busy: boolean) => void;
  setError: (message: string | null) => void;
  setNotice: (message: string | null) => void;
  setBackboneMs: (ms: number) => void;
  /** Panels starting (true) or giving up (false) a re-run; a panel's new result clears its mark. */
  setPending: (models: readonly ModelName[], pending: boolean) => void;
  /** A full-model LORS result to compare slices with (dropped when it belongs to another photo). */
  setLorsReference: (ref: LorsReference) => void;
  clearResults: () => void;
}

export function createSessionStore() {
  return createStore<SessionState>()((set) => ({
    photo: null,
    results: {},
    backboneMs: null,
    busy: false,
    pending: {},
    lorsReference: null,
    error: null,
    notice: null,
    setPhoto: (p) =>
      set((s) => {
        if (s.photo?.bitmap && s.photo.bitmap !== p.bitmap) s.photo.bitmap.close();
        return { photo: p, results: {}, backboneMs: null, pending: {}, lorsReference: null };
      }),
    setResult: (model, r) =>
      set((s) => {
        // Results of an older photo that finish late are dropped.
        if (s.photo && r.imageId !== s.photo.id) return {};
        const prev = s.results[model];
        return {
          results: { ...s.results, [model]: { ...r, run: (prev?.run ?? 0) + 1, at: Date.now() } },
          pending: { ...s.pending, [model]: false },
        };
      }),
    setFrame: (p, results) =>
      set((s) => {
        if (s.photo?.bitmap && s.photo.bitmap !== p.bitmap) s.photo.bitmap.close();
        const next: SessionState['results'] = {};
        for (const [model, r] of Object.entries(results) as [ModelName, Omit<PanelResult, 'run' | 'at'>][]) {
          next[model] = { ...r, run: (s.results[model]?.run ?? 0) + 1, at: Date.now() };
        }
        return { photo: p, results: next, pending: {}, lorsReference: null };
      }),
    setBusy: (busy) => set(busy ? { busy, error: null, notice: null } : { busy }),
    setError: (error) => set({ error }),
    setNotice: (notice) => set({ notice }),
    setBackboneMs: (backboneMs) => set({ backboneMs }),
    setLorsReference: (ref) => set((s) => (s.photo && ref.imageId !== s.photo.id ? {} : { lorsReference: ref })),
    setPending: (models, pending) =>
      set((s) => ({ pending: { ...s.pending, ...Object.fromEntries(models.map((m) => [m, pending])) } })),
    clearResults: () => set({ results: {}, backboneMs: null }),
  }));
}

export const sessionStore = createSessionStore();
export const useSession = <T>(sel: (s: SessionState) => T) => useStore(sessionStore, sel);
