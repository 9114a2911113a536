/**
 * Between the stores and the worker: follows the settings store (one subscription, one `applySettings`) and wires
 * the jobs together — the worker's lifecycle (workerSession.ts), photos (photos.ts), the live camera (liveCamera.ts)
 * and live compression (lorsRuns.ts). The UI calls the methods below; settings reach the worker only through the
 * settings store.
 */
import type { ModelConfig } from '../model/config';
import { SLICED_SLOT } from '../model/constants';
import type { DecoderSlot } from '../model/types';
import { currentLors, type LorsSelection } from '../state/lorsSlice';
import { modelsStore, type CompressionCurves } from '../state/modelStatus';
import { sessionStore } from '../state/session';
import {
  defaultSettings,
  settingsStore,
  type BackendChoiceName,
  type SettingsState,
  type SettingsValues,
} from '../state/settings';
import { searchWithSettings, settingsFromSearch, URL_SETTINGS } from '../state/settingsUrl';
import { slidersFromConfig, type LorsSliders } from '../state/sliders';
import { urlNoticesStore } from '../state/urlNotices';
import { headlineFromMetrics } from './headline';
import { FIRST_SAMPLE } from './samples';
import { LiveCamera } from './liveCamera';
import { LorsRuns } from './lorsRuns';
import { Photos } from './photos';
import { appBase, WorkerSession } from './workerSession';

/** What the worker must run for the LORS panel: the source and the slice of it the sliders select. */
const runKey = (s: LorsSelection) => JSON.stringify([s.source, s.config.lors]);

export class Controller {
  private readonly session = new WorkerSession(
    (message) =>
      // The worker's tensors are gone: a fresh worker on wasm (no page reload; the header says why).
      void this.start('wasm', `the GPU device was lost (${message}); the models were reloaded on wasm`),
  );
  private readonly camera = new LiveCamera(this.session, () => this.photos.busy);
  private readonly photos = new Photos(this.session, () => this.camera.stopIfOn());
  private readonly lors = new LorsRuns(this.session, () =>
    this.camera.on ? Promise.resolve() : this.photos.rerun([SLICED_SLOT]),
  );
  private slidersInitialised = false;
  /** The first sample was offered (once per page, when the models are first ready and nothing was dropped). */
  private sampleOffered = false;
  /** The settings the address bar gave when the page opened. */
  private fromUrl: Partial<SettingsValues> = {};
  /** What a setting equals when the address bar leaves it out (the sliders: the shipped LORS model's config). */
  private baseline: SettingsValues = defaultSettings();

  /**
   * Restores the address bar's settings, follows the settings store and starts the worker on the chosen backend;
   * returns the unsubscribe.
   */
  attach(): () => void {
    const { values, notices } = settingsFromSearch(location.search);
    this.fromUrl = values;
    settingsStore.getState().restore(values);
    if (notices.length) urlNoticesStore.getState().add(notices);
    this.writeUrl(settingsStore.getState()); // the address shows the values in use (clamped, malformed ones gone)
    const unsubscribe = settingsStore.subscribe((next, prev) => this.applySettings(prev, next));
    void this.loadMetrics();
    void this.start(settingsStore.getState().backend);
    return unsubscribe;
  }

  /** The one reaction to a settings change: the address bar, and what the worker must do about it. */
  applySettings(prev: SettingsState, next: SettingsState) {
    if (URL_SETTINGS.some((e) => e.fields.some((f) => next[f] !== prev[f]))) this.writeUrl(next);
    if (next.backend !== prev.backend) void this.start(next.backend);
    const lors = currentLors(next);
    if (runKey(lors) !== runKey(currentLors(prev))) this.lors.rerun(lors);
    if (this.camera.on) return; // the next frame shows the rest
    if (next.showNanodet && !prev.showNanodet) this.photos.ensureNanodet();
    if (next.decoderStage !== prev.decoderStage) this.photos.rerunStage();
  }

  /**
   * (Re)starts the worker on a backend and loads the models; re-runs the current photo when done. `fallbackReason`:
   * why this backend replaces the chosen one (shown in the header's notice).
   */
  async start(backend: BackendChoiceName, fallbackReason?: string): Promise<void> {
    sessionStore.getState().clearResults();
    const r = await this.session.start(backend, fallbackReason);
    if (!r) return;
    if (r.decoders.lors) this.lorsLoaded(r.decoders.lors.config);
    void this.loadCompression();
    this.offerFirstSample();
    await this.photos.runCurrent();
  }

  /** The settings into the address bar (a reload or a shared link restores them); other parameters kept. */
  private writeUrl(s: SettingsValues) {
    const search = searchWithSettings(location.search, s, this.baseline);
    if (search !== location.search) history.replaceState(null, '', `${location.pathname}${search}${location.hash}`);
  }

  /**
   * The first time the models are ready, a sample runs by itself — unless the user already gave a photo (or
   * anything: a drop that failed, the camera), which always wins.
   */
  private offerFirstSample() {
    if (this.sampleOffered) return;
    this.sampleOffered = true;
    if (this.photos.submitted > 0 || sessionStore.getState().photo || this.camera.on) return;
    this.photos.submitSample(FIRST_SAMPLE.file, FIRST_SAMPLE.name);
  }

  /**
   * Loads one decoder again while the other panels keep working: a retry of its trained weights (only the files
   * that failed are fetched again), or — only when the user asks — its seeded initial weights. Then re-runs it on
   * the current photo.
   */
  async loadDecoder(name: DecoderSlot, seeded = false): Promise<void> {
    const info = await this.session.loadDecoder(name, seeded);
    if (!info || info.failed) return;
    if (name === SLICED_SLOT && info.trained)
      this.lorsLoaded(info.config); // its run re-detects
    else await this.photos.rerun([name]);
  }

  /**
   * The worker loaded the whole LORS model: the first time it sets the sliders (to the loaded config, or to what
   * the address bar asked for, clamped into the source with a notice), later it gets their slice.
   */
  private lorsLoaded(config: ModelConfig) {
    if (this.slidersInitialised) return this.lors.rerun();
    this.slidersInitialised = true;
    const loaded = slidersFromConfig(config);
    this.baseline = { ...this.baseline, ...loaded };
    const asked: Partial<LorsSliders> = {};
    for (const k of ['rankA', 'rankT', 'groupsMode', 'groupsK'] as const)
      if (this.fromUrl[k] !== undefined) Object.assign(asked, { [k]: this.fromUrl[k] });
    settingsStore.getState().setSliders({ ...loaded, ...asked }); // applySettings re-runs LORS if the slice moved
    const { source, config: run } = currentLors();
    const clamped: Partial<LorsSliders> = {};
    const notices: string[] = [];
    const check = (param: string, field: 'rankA' | 'rankT' | 'groupsK', got: number) => {
      const want = asked[field];
      if (want === undefined || want <= got) return;
      clamped[field] = got;
      notices.push(`${param}=${want} is more than the ${source} LORS model stores: set to ${got}`);
    };
    check('rA', 'rankA', run.lors!.rankA);
    check('rT', 'rankT', run.lors!.rankT);
    if (asked.groupsK !== undefined && (asked.groupsMode ?? loaded.groupsMode) === 'uniform')
      check('K', 'groupsK', Math.max(...run.lors!.groupsA));
    if (notices.length) {
      settingsStore.getState().setSliders(clamped);
      urlNoticesStore.getState().add(notices);
    }
  }

  /** models/metrics.json (the shipped decoders' AP and sizes): the headline result; absent: none shown. */
  private async loadMetrics(): Promise<void> {
    try {
      const res = await fetch(new URL('models/metrics.json', appBase()).href);
      if (!res.ok) return;
      const headline = headlineFromMetrics(await res.json());
      if (headline) modelsStore.getState().setHeadline(headline);
    } catch {
      /* optional */
    }
  }

  /** models/compression.json (AP vs parameters of the slices), shipped with the models; absent: no chart. */
  private async loadCompression(): Promise<void> {
    try {
      const res = await fetch(new URL('models/compression.json', appBase()).href);
      if (!res.ok) return;
      modelsStore.getState().setCompression((await res.json()) as CompressionCurves);
    } catch {
      /* optional */
    }
  }

  submit = (blob: Blob, name: string) => this.photos.submit(blob, name);
  submitUrl = (url: string, name: string) => this.photos.submitUrl(url, name);
  /** An input problem found before decoding (an empty drop, a clipboard without an image). */
  reportInputError = (message: string) => sessionStore.getState().setError(message);
  startCamera = () => this.camera.start();
  pauseCamera = (paused: boolean) => this.camera.pause(paused);
  stopCamera = () => this.camera.stop();
  /** The worker's backend and live tensors (answered at once). */
  stats = () => this.session.stats();
}

export const controller = new Controller();
