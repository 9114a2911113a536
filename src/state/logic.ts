/**
 * Pure logic behind the stores: no DOM, no tfjs. Unit-tested in logic.test.ts.
 */
import { clampSlice, slicedConfig, type LorsSlice } from '../model/lors/slice';
import { PAPER_GROUPS, type ModelConfig } from '../model/config';
import { COCO_CATEGORY_IDS } from '../model/coco';
import { countParameters } from '../model/params';
import type { BackendName, Detection } from '../model/types';

export type BackendChoiceName = BackendName | 'auto';
export const BACKEND_CHOICES: BackendChoiceName[] = ['auto', 'webgpu', 'wasm', 'cpu'];

/** Reads `?backend=webgpu|wasm|cpu` (anything else, or nothing: 'auto'). */
export function backendFromSearch(search: string): BackendChoiceName {
  const v = new URLSearchParams(search).get('backend');
  return v === 'webgpu' || v === 'wasm' || v === 'cpu' ? v : 'auto';
}

/** The query string with `backend` set (removed for 'auto'), other parameters kept. */
export function searchWithBackend(search: string, backend: BackendChoiceName): string {
  const p = new URLSearchParams(search);
  if (backend === 'auto') p.delete('backend');
  else p.set('backend', backend);
  const s = p.toString();
  return s ? `?${s}` : '';
}

export type GroupsMode = 'uniform' | 'schedule';

export interface LorsSliders {
  rankA: number;
  rankT: number;
  groupsMode: GroupsMode;
  /** K for every stage when groupsMode is 'uniform'. */
  groupsK: number;
}

/** Per-stage K of LORS^A for the sliders: one K everywhere, or the paper's [1,1,2,2,3,3] stretched to N stages. */
export function groupsForStages(s: Pick<LorsSliders, 'groupsMode' | 'groupsK'>, stages: number): number[] {
  if (s.groupsMode === 'uniform') return new Array<number>(stages).fill(s.groupsK);
  return Array.from({ length: stages }, (_, i) => PAPER_GROUPS[Math.floor((i * PAPER_GROUPS.length) / stages)]!);
}

/**
 * The slice of a LORS source (its ordered weights, src/model/lors/slice.ts) the sliders select: r_A, r_T and K of
 * LORS^A per stage, each clamped into what the source holds (K_i ≤ the source's K_i).
 */
export function sliceForSliders(source: ModelConfig, s: LorsSliders): LorsSlice {
  if (source.variant !== 'lors' || !source.lors) throw new Error('sliceForSliders needs a LORS config');
  for (const [k, v] of [['rankA', s.rankA], ['rankT', s.rankT], ['groupsK', s.groupsK]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be an integer ≥ 1, got ${v}`);
  }
  return clampSlice(source, { rankA: s.rankA, rankT: s.rankT, groupsA: groupsForStages(s, source.decoder.stages) });
}

/** The config of that slice: what the LORS decoder runs and the counters count. */
export function countedLorsConfig(source: ModelConfig, s: LorsSliders): ModelConfig {
  return slicedConfig(source, sliceForSliders(source, s));
}

/** Slider values that describe a LORS config (inverse of countedLorsConfig, for the initial slider positions). */
export function slidersFromConfig(cfg: ModelConfig): LorsSliders {
  const l = cfg.lors;
  if (!l) throw new Error('slidersFromConfig needs a LORS config');
  const sched = groupsForStages({ groupsMode: 'schedule', groupsK: 1 }, cfg.decoder.stages);
  const isSchedule = l.groupsA.length === sched.length && l.groupsA.every((k, i) => k === sched[i]) && new Set(l.groupsA).size > 1;
  return { rankA: l.rankA, rankT: l.rankT, groupsMode: isSchedule ? 'schedule' : 'uniform', groupsK: isSchedule ? 1 : (l.groupsA[0] ?? 1) };
}

/** Bytes the weights file of a config would take in float16 (every tensor of parameterSpec, 2 bytes each). */
export function float16Bytes(cfg: ModelConfig): number {
  const c = countParameters(cfg);
  return 2 * (c.decoder + c.queries + c.neck);
}

/** Detections at or above the threshold, optionally of one class (label index), best first. */
export function filterDetections(dets: readonly Detection[], threshold: number, classFilter: number | null): Detection[] {
  return dets
    .filter((d) => d.score >= threshold && (classFilter === null || d.label === classFilter))
    .sort((a, b) => b.score - a.score);
}

export interface CocoDetection {
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  score: number;
}

/**
 * COCO results format. Boxes are [x1,y1,x2,y2] in the pixels the detector saw; `scale` maps them back to the
 * original photo (original size / decoded size, ≥ 1 when the photo was downscaled).
 */
export function toCocoResults(dets: readonly Detection[], imageId: number, scale = 1): CocoDetection[] {
  const r = (v: number) => Math.round(v * 100) / 100;
  return dets.map((d) => {
    const cat = COCO_CATEGORY_IDS[d.label];
    if (cat === undefined) throw new Error(`detection label ${d.label} is not a COCO-80 index`);
    const [x1, y1, x2, y2] = d.box;
    return {
      image_id: imageId,
      category_id: cat,
      bbox: [r(x1 * scale), r(y1 * scale), r((x2 - x1) * scale), r((y2 - y1) * scale)],
      score: Math.round(d.score * 1e5) / 1e5,
    };
  });
}

/** Size of the downscaled image: longest side at most `maxSide`, aspect kept, at least 1 px. */
export function fitWithin(width: number, height: number, maxSide: number): { width: number; height: number; scaled: boolean } {
  const longest = Math.max(width, height);
  if (longest <= maxSide) return { width, height, scaled: false };
  const f = maxSide / longest;
  return { width: Math.max(1, Math.round(width * f)), height: Math.max(1, Math.round(height * f)), scaled: true };
}

/**
 * A one-slot queue: at most one job runs; while it runs, a new job replaces any job already waiting
 * (the latest wins). `push` says whether the job starts now, waits, or replaced a waiting one.
 */
export class LatestQueue<T> {
  private running = false;
  private waiting: T | null = null;
  constructor(private readonly run: (job: T) => Promise<void>) {}

  get busy() { return this.running; }
  get pending() { return this.waiting; }

  push(job: T): 'started' | 'queued' | 'replaced' {
    if (!this.running) {
      this.start(job);
      return 'started';
    }
    const had = this.waiting !== null;
    this.waiting = job;
    return had ? 'replaced' : 'queued';
  }

  private start(job: T) {
    this.running = true;
    void this.run(job)
      .catch(() => undefined)
      .finally(() => {
        this.running = false;
        const next = this.waiting;
        this.waiting = null;
        if (next !== null) this.start(next);
      });
  }
}

/** "12.3 M", "456.7 k", "789". */
export function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e8 ? 1 : 2)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return n.toLocaleString('en-US');
}

/** "1.23 MB" (decimal units). */
export function formatBytes(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}
