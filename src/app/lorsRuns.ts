/**
 * Live compression: cuts the worker's LORS decoder to the slice the sliders select (state/lorsSlice.ts, the same
 * selection the counters show) and re-runs it on the cached features. One run at a time; the latest settings next.
 */
import { currentLors, type LorsSelection } from '../state/lorsSlice';
import { modelsStore } from '../state/modelStatus';
import { sessionStore } from '../state/session';
import { settingsStore } from '../state/settings';
import { LatestQueue } from './latestQueue';
import { errorText, type WorkerSession } from './workerSession';

export class LorsRuns {
  private readonly queue = new LatestQueue<LorsSelection>((sel) => this.run(sel));

  constructor(
    private readonly session: WorkerSession,
    /** Re-runs the LORS panel on the current features (a no-op with the camera on: the next frame runs the slice). */
    private readonly redetect: () => Promise<void>,
  ) {}

  /** The LORS source or slice changed, or the worker holds the whole model (a restart, a reload). */
  rerun(selection: LorsSelection = currentLors()) {
    if (sessionStore.getState().results.lors) sessionStore.getState().setPending(['lors'], true);
    this.queue.push(selection);
  }

  private async run(sel: LorsSelection): Promise<void> {
    if (sessionStore.getState().results.lors) sessionStore.getState().setPending(['lors'], true);
    try {
      await this.cut(sel);
    } finally {
      // Nothing newer queued: whatever happened, the panel is no longer waiting.
      if (this.queue.pending === null) sessionStore.getState().setPending(['lors'], false);
    }
  }

  private async cut({ source, config }: LorsSelection): Promise<void> {
    const w = this.session.ready();
    // No trained LORS decoder (its download failed, or the user runs seeded weights): the sliders only count.
    if (!w || !modelsStore.getState().decoders.lors?.trained) return;
    if (modelsStore.getState().lorsSources[source]) {
      try {
        const r = await this.session.setLors(source, config.lors!);
        if (!this.session.current(w.gen)) return;
        modelsStore.getState().setLorsConfig(r.config, source);
      } catch (e) {
        if (!this.session.current(w.gen)) return;
        sessionStore.getState().setError(`Could not switch the LORS model: ${errorText(e)}`);
        // Back to the trained source: the settings change queues its slice.
        if (source !== 'trained') settingsStore.getState().setLorsSource('trained');
        return;
      }
    }
    await this.redetect();
  }
}
