/**
 * Photos: decodes dropped, pasted, picked or sample photos (one at a time, the latest drop queued), runs the panels on
 * them, and re-runs panels on the cached features (the stage scrubber, the NanoDet toggle, a reloaded decoder).
 */
import { DECODER_SLOTS, type ModelName } from '../model/types';
import { SLICED_SLOT } from '../model/constants';
import { modelsStore } from '../state/modelStatus';
import { sessionStore, type PanelResult, type PhotoInfo } from '../state/session';
import { settingsStore } from '../state/settings';
import type { DetectResult } from '../worker/protocol';
import { decodePhoto, InputError } from './imageInput';
import { LatestQueue } from './latestQueue';
import { errorText, type WorkerSession } from './workerSession';

interface PhotoJob {
  /** The photo's bytes, or how to fetch them (the first visit's sample, queued at once so it counts as busy). */
  blob: Blob | (() => Promise<Blob>);
  name: string;
}

/** What a panel shows of a detection result. */
export const panelResult = (r: DetectResult): Omit<PanelResult, 'run' | 'at'> => ({
  imageId: r.imageId,
  detections: r.detections,
  latencyMs: r.latencyMs,
  ...(r.stage !== undefined ? { stage: r.stage } : {}),
  ...(r.stages ? { stages: r.stages } : {}),
});

/** The panels that can run: a decoder whose weights failed (or are loading again) is left out. */
export function runnablePanels(): ModelName[] {
  const m = modelsStore.getState();
  const usable = DECODER_SLOTS.filter((n) => !m.decoders[n]?.failed && !m.decoderLoading[n]);
  return settingsStore.getState().showNanodet ? [...usable, 'nanodet'] : usable;
}

/** The LORS decoder runs the whole model of its source (no slice cut off). */
export function lorsRunsFull(): boolean {
  const m = modelsStore.getState();
  const run = m.decoders.lors?.config.lors;
  const full = m.lorsSources[m.lorsRunning]?.config.lors;
  if (!run || !full) return false;
  const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
  return (
    run.rankA === full.rankA &&
    run.rankT === full.rankT &&
    same(run.groupsA, full.groupsA) &&
    same(run.groupsT, full.groupsT)
  );
}

const showResult = (r: DetectResult) => {
  const s = sessionStore.getState();
  s.setResult(r.model, panelResult(r));
  if (r.model === SLICED_SLOT && lorsRunsFull()) {
    const source = modelsStore.getState().lorsRunning;
    s.setLorsReference({
      imageId: r.imageId,
      source,
      detections: r.detections,
      ...(r.stages ? { stages: r.stages } : {}),
    });
  }
};

export class Photos {
  private readonly queue = new LatestQueue<PhotoJob>((job) => this.process(job));
  /** Re-runs both decoders at the scrubber's stage (bursts coalesced: the latest stage runs next). */
  private readonly stageRuns = new LatestQueue<null>(() => this.rerun([...DECODER_SLOTS]));

  constructor(
    private readonly session: WorkerSession,
    /** Stops the live camera if it is on or starting (a photo replaces it). */
    private readonly stopCamera: () => void,
  ) {}

  /** How many photos the user gave (dropped, pasted, picked or clicked, good or bad). */
  submitted = 0;

  get busy(): boolean {
    return this.queue.busy;
  }

  /** A dropped, pasted or picked file (or a sample). */
  submit(blob: Blob, name: string) {
    this.submitted++;
    this.enqueue({ blob, name });
  }

  /** A sample the page picks by itself (not counted as the user's): fetched when its turn comes. */
  submitSample(url: string, name: string) {
    this.enqueue({
      blob: async () => {
        const res = await fetch(url);
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        return res.blob();
      },
      name,
    });
  }

  private enqueue(job: PhotoJob) {
    const { name } = job;
    this.stopCamera();
    const s = sessionStore.getState();
    const state = this.queue.push(job);
    if (state === 'started') {
      s.setError(null);
      s.setNotice(null);
    } else
      s.setNotice(
        `Still working on the previous photo: “${name}” is queued and runs next${state === 'replaced' ? ' (it replaces the one queued before)' : ''}.`,
      );
  }

  async submitUrl(url: string, name: string) {
    this.submitted++;
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      this.enqueue({ blob: await res.blob(), name });
    } catch (e) {
      sessionStore.getState().setError(`Could not load the sample “${name}”: ${errorText(e)}`);
    }
  }

  private async process(job: PhotoJob): Promise<void> {
    const s = sessionStore.getState();
    s.setBusy(true);
    try {
      const d = await decodePhoto(typeof job.blob === 'function' ? await job.blob() : job.blob, job.name);
      const photo: PhotoInfo = {
        id: this.session.nextImageId(),
        name: job.name,
        bitmap: d.bitmap,
        width: d.width,
        height: d.height,
        originalWidth: d.originalWidth,
        originalHeight: d.originalHeight,
      };
      sessionStore.getState().setPhoto(photo);
      sessionStore
        .getState()
        .setNotice(
          d.width !== d.originalWidth
            ? `“${job.name}” is ${d.originalWidth}×${d.originalHeight}; it was downscaled to ${d.width}×${d.height} for detection (exported boxes use the original pixels).`
            : null,
        );
      if (modelsStore.getState().phase === 'ready') await this.run(photo);
    } catch (e) {
      // A bad file leaves the previous photo and its results as they were.
      sessionStore
        .getState()
        .setError(e instanceof InputError ? e.message : `Could not process “${job.name}”: ${errorText(e)}`);
    } finally {
      sessionStore.getState().setBusy(this.queue.pending !== null);
    }
  }

  /** The backbone, then every panel on a photo; each panel shows its result as it lands. */
  private async run(photo: PhotoInfo): Promise<void> {
    const w = this.session.ready();
    if (!w || !photo.bitmap) return;
    const panels = runnablePanels();
    sessionStore.getState().setPending(panels, true);
    try {
      const backboneMs = await this.session.setImage(photo.id, photo.bitmap);
      if (!this.session.current(w.gen)) return;
      sessionStore.getState().setBackboneMs(backboneMs);
      await this.session.detect(photo.id, panels, showResult, { allStages: true });
    } catch (e) {
      if (!this.session.current(w.gen)) return;
      sessionStore.getState().setError(`Detection failed on “${photo.name}”: ${errorText(e)}`);
    } finally {
      if (sessionStore.getState().photo?.id === photo.id) sessionStore.getState().setPending(panels, false);
    }
  }

  /** Runs the current photo again (a fresh worker holds no features), unless a photo job is running. */
  async runCurrent(): Promise<void> {
    const photo = sessionStore.getState().photo;
    if (photo && !this.queue.busy) await this.run(photo);
  }

  /** Re-runs `models` on the cached features of the current photo. */
  async rerun(models: ModelName[]): Promise<void> {
    const w = this.session.ready();
    const photo = sessionStore.getState().photo;
    if (!w || !photo || this.session.featuresOf !== photo.id) return;
    sessionStore.getState().setPending(models, true);
    try {
      await this.session.detect(photo.id, models, showResult, { allStages: true });
    } catch {
      /* the photo changed meanwhile: its own run covers it */
    } finally {
      sessionStore.getState().setPending(models, false);
    }
  }

  /** Runs NanoDet's head on the cached features when its panel is switched on. */
  ensureNanodet() {
    const s = sessionStore.getState();
    if (s.photo && !s.results.nanodet) void this.rerun(['nanodet']);
  }

  /**
   * The stage scrubber moved: both decoders show that stage's predictions. Results that hold every stage are redrawn
   * by the panels without the worker; older ones (a camera frame's) re-run the decoders (not the backbone).
   */
  rerunStage() {
    const r = sessionStore.getState().results;
    if (DECODER_SLOTS.every((m) => !r[m] || r[m].stages)) return;
    this.stageRuns.push(null);
  }
}
