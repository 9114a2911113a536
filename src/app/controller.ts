/**
 * Wires the stores to the worker: starts it on the chosen backend, decodes photos (one at a time, the latest
 * drop queued), runs the panels; when the LORS source or a slider changes, has the worker cut the LORS decoder to that
 * slice (src/model/lors/slice.ts) and re-runs only the LORS decoder on the cached backbone features.
 */
import type { ModelName } from '../model/types';
import type { ModelConfig } from '../model/config';
import { searchWithBackend, type BackendChoiceName } from '../state/backendParam';
import { sliderConfig, slidersFromConfig } from '../state/sliders';
import { LatestQueue } from './latestQueue';
import { modelsStore, type CompressionCurves, type DecoderInfo } from '../state/models';
import { sessionStore, type PhotoInfo } from '../state/session';
import { DECODER_STAGES, settingsStore } from '../state/settings';
import { cameraStore } from '../state/camera';
import type { DetectResult, InitResult, LoadDecoderResult, WorkerStats } from '../worker/protocol';
import { makeConfig } from '../model/config';
import type { DecoderName } from '../model/types';
import { stallMsFromSearch } from '../state/stallParam';
import { Camera, cameraErrorText, nextAnimationFrame } from './camera';
import { FrameLoop } from './frameLoop';
import { bitmapPixels, decodePhoto, InputError } from './imageInput';
import { WorkerClient } from './workerClient';

interface PhotoJob {
  blob: Blob;
  name: string;
}

const appBase = () => new URL('./', location.href).href;
/** The stage option of a detect request: omitted for the last stage (the decoders' output, no extra work). */
const stageOption = (): { stage?: number } => {
  const stage = settingsStore.getState().decoderStage;
  return stage === DECODER_STAGES ? {} : { stage };
};
const panelResult = (r: DetectResult) => ({
  imageId: r.imageId,
  detections: r.detections,
  latencyMs: r.latencyMs,
  ...(r.stage !== undefined ? { stage: r.stage } : {}),
});
const CAMERA_LOST =
  'The camera stopped (it was unplugged, or another application took it). ' +
  'Photos still work: drop one or pick a sample.';
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class Controller {
  private client: WorkerClient | null = null;
  private generation = 0;
  private photoSeq = 0;
  /** Image id whose features the worker holds (null: none / unknown). */
  private featuresOf: number | null = null;
  private slidersInitialised = false;
  private lorsRunning = false;
  private lorsPending = false;
  private readonly photos = new LatestQueue<PhotoJob>((job) => this.processPhoto(job));
  /** Re-runs both decoders at the scrubber's stage (bursts coalesced: the latest stage runs next). */
  private readonly stageRuns = new LatestQueue<null>(() => this.runStage());
  private camera: { cam: Camera; loop: FrameLoop<ImageBitmap> } | null = null;
  /** Why the current worker runs another backend than the chosen one (a lost GPU device), for the header. */
  private fallbackReason: string | undefined;

  private newClient(): WorkerClient {
    this.client?.terminate();
    const gen = ++this.generation;
    const worker = new Worker(new URL('../worker/detector.worker.ts', import.meta.url), { type: 'module' });
    const client = new WorkerClient(worker, {
      onProgress: (model, loaded, total) => {
        if (gen === this.generation) modelsStore.getState().setProgress(model, loaded, total);
      },
      onStatus: (message, phase) => {
        if (gen === this.generation) modelsStore.getState().setStatus(message, phase);
      },
      onBackend: (backend, fallbackReason) => {
        if (gen !== this.generation) return;
        modelsStore.getState().setBackend(backend, this.fallbackReason ?? fallbackReason ?? null);
      },
      onPartial: (r) => {
        if (gen === this.generation) this.applyResult(r);
      },
      onFatal: (message) => {
        if (gen === this.generation) modelsStore.getState().fail(message);
      },
      onDeviceLost: (message) => {
        if (gen === this.generation) this.recoverFromDeviceLoss(message);
      },
    });
    this.client = client;
    this.featuresOf = null;
    return client;
  }

  /**
   * (Re)starts the worker on a backend and loads the models; re-runs the current photo when done. `fallbackReason`:
   * why this backend replaces the chosen one (shown in the header's notice).
   */
  async start(backend: BackendChoiceName, fallbackReason?: string): Promise<void> {
    this.fallbackReason = fallbackReason;
    const client = this.newClient();
    const gen = this.generation;
    modelsStore.getState().startLoading('Loading models…');
    sessionStore.getState().clearResults();
    try {
      const stallMs = stallMsFromSearch(location.search);
      const init = { type: 'init', backend, base: appBase(), ...(stallMs ? { stallMs } : {}) } as const;
      const r = await client.request<InitResult>(init);
      if (gen !== this.generation) return;
      modelsStore.getState().setLoaded({
        backend: r.backend,
        fallbackReason: fallbackReason ?? r.fallbackReason ?? null,
        decoders: r.decoders,
        backboneParams: r.backboneParams,
        backboneBytes: r.backboneBytes,
        lorsSources: r.lorsSources,
      });
      const lors = r.decoders.lors?.config;
      if (lors && !this.slidersInitialised) {
        this.slidersInitialised = true;
        settingsStore.getState().setSliders(slidersFromConfig(lors));
      } else if (lors) {
        await this.updateLors(false); // a restart (other backend): the worker starts from the whole model
      }
      void this.loadCompression();
      const photo = sessionStore.getState().photo;
      if (photo && !this.photos.busy) await this.runPhoto(photo);
    } catch (e) {
      if (gen !== this.generation) return;
      modelsStore.getState().fail(`Could not load the models: ${errorText(e)}`);
    }
  }

  /**
   * The worker's WebGPU device was lost: its tensors are gone. A fresh worker loads the models on wasm (no page
   * reload; the header says why) and re-runs the current photo; the backend menu can go back to WebGPU.
   */
  private recoverFromDeviceLoss(message: string) {
    void this.start('wasm', `the GPU device was lost (${message}); the models were reloaded on wasm`);
  }

  /**
   * Loads one decoder again while the other panels keep working: a retry of its trained weights (only the files
   * that failed are fetched again), or — only when the user asks — its seeded initial weights. Then re-runs it on
   * the current photo.
   */
  async loadDecoder(name: DecoderName, seeded = false): Promise<void> {
    const client = this.client;
    if (!client || modelsStore.getState().phase !== 'ready' || modelsStore.getState().decoderLoading[name]) return;
    const gen = this.generation;
    modelsStore.getState().startDecoderLoad(name, seeded ? 'seeded' : 'retry');
    let info: DecoderInfo;
    let lorsSources: LoadDecoderResult['lorsSources'] | undefined;
    try {
      ({ info, lorsSources } = await client.request<LoadDecoderResult>({ type: 'loadDecoder', name, seeded }));
    } catch (e) {
      if (gen !== this.generation) return;
      const prev = modelsStore.getState().decoders[name];
      const failed = { file: `models/${name}/`, reason: errorText(e) };
      info = { config: prev?.config ?? makeConfig('web', name), trained: false, weightBytes: 0, failed };
    }
    if (gen !== this.generation) return;
    modelsStore.getState().setDecoderInfo(name, info, lorsSources);
    if (info.failed) return;
    if (name === 'lors') {
      if (!this.slidersInitialised) {
        this.slidersInitialised = true;
        settingsStore.getState().setSliders(slidersFromConfig(info.config));
      }
      await this.updateLors(false); // the sliders' slice (the worker loaded the whole model)
    }
    await this.rerun([name]);
  }

  /** Switches backend: updates ?backend= in the address bar and restarts the worker. */
  setBackend(backend: BackendChoiceName) {
    settingsStore.getState().setBackend(backend);
    history.replaceState(
      null,
      '',
      `${location.pathname}${searchWithBackend(location.search, backend)}${location.hash}`,
    );
    void this.start(backend);
  }

  /** A dropped, pasted or picked file (or a sample). */
  submit(blob: Blob, name: string) {
    if (this.camera || cameraStore.getState().status === 'starting') void this.stopCamera();
    const s = sessionStore.getState();
    const state = this.photos.push({ blob, name });
    if (state === 'started') {
      s.setError(null);
      s.setNotice(null);
    } else
      s.setNotice(
        `Still working on the previous photo: “${name}” is queued and runs next${state === 'replaced' ? ' (it replaces the one queued before)' : ''}.`,
      );
  }

  /** An input problem found before decoding (an empty drop, a clipboard without an image). */
  reportInputError(message: string) {
    sessionStore.getState().setError(message);
  }

  async submitUrl(url: string, name: string) {
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      this.submit(await res.blob(), name);
    } catch (e) {
      sessionStore.getState().setError(`Could not load the sample “${name}”: ${errorText(e)}`);
    }
  }

  private async processPhoto(job: PhotoJob): Promise<void> {
    const s = sessionStore.getState();
    s.setBusy(true);
    try {
      const d = await decodePhoto(job.blob, job.name);
      const photo: PhotoInfo = {
        id: ++this.photoSeq,
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
      if (modelsStore.getState().phase === 'ready') await this.runPhoto(photo);
    } catch (e) {
      // A bad file leaves the previous photo and its results as they were.
      sessionStore
        .getState()
        .setError(e instanceof InputError ? e.message : `Could not process “${job.name}”: ${errorText(e)}`);
    } finally {
      sessionStore.getState().setBusy(this.photos.pending !== null);
    }
  }

  /** The panels that can run: a decoder whose weights failed (or are loading again) is left out. */
  private models(): ModelName[] {
    const m = modelsStore.getState();
    const usable = (['vanilla', 'lors'] as const).filter((n) => !m.decoders[n]?.failed && !m.decoderLoading[n]);
    return settingsStore.getState().showNanodet ? [...usable, 'nanodet'] : usable;
  }

  private async runPhoto(photo: PhotoInfo): Promise<void> {
    const client = this.client;
    if (!client || !photo.bitmap) return;
    const gen = this.generation;
    const pixels = bitmapPixels(photo.bitmap);
    const data = new Uint8ClampedArray(pixels.data.buffer);
    try {
      const { backboneMs } = await client.request<{ backboneMs: number }>(
        { type: 'setImage', imageId: photo.id, image: { data, width: pixels.width, height: pixels.height } },
        [data.buffer],
      );
      if (gen !== this.generation) return;
      this.featuresOf = photo.id;
      sessionStore.getState().setBackboneMs(backboneMs);
      const models = this.models();
      await client.request<DetectResult[]>({ type: 'detect', imageId: photo.id, models, ...stageOption() });
    } catch (e) {
      if (gen !== this.generation) return;
      sessionStore.getState().setError(`Detection failed on “${photo.name}”: ${errorText(e)}`);
    }
  }

  private applyResult(r: DetectResult) {
    sessionStore.getState().setResult(r.model, panelResult(r));
  }

  /**
   * The LORS source or a slider changed: cut the LORS decoder to the slice the sliders select, then re-run it on the
   * cached features. Bursts of slider moves are coalesced (one run at a time, the latest settings next).
   */
  rerunLors() {
    void this.updateLors(true);
  }

  private async updateLors(detect: boolean): Promise<void> {
    if (this.lorsRunning) {
      this.lorsPending = true;
      return;
    }
    this.lorsRunning = true;
    try {
      do {
        this.lorsPending = false;
        const client = this.client;
        const s = settingsStore.getState();
        const source = modelsStore.getState().lorsSources[s.lorsSource];
        if (!client || modelsStore.getState().phase !== 'ready') return;
        // No trained LORS decoder (its download failed, or the user runs seeded weights): the sliders only count.
        if (!modelsStore.getState().decoders.lors?.trained) return;
        if (source) {
          const slice = sliderConfig(source.config, s).lors!;
          try {
            const r = await client.request<{ config: ModelConfig }>({ type: 'setLors', source: s.lorsSource, slice });
            modelsStore.getState().setLorsConfig(r.config);
          } catch (e) {
            sessionStore.getState().setError(`Could not switch the LORS model: ${errorText(e)}`);
            if (s.lorsSource !== 'trained') settingsStore.getState().setLorsSource('trained');
            continue;
          }
        }
        const photo = sessionStore.getState().photo;
        // With the camera on, the next frame runs the new slice.
        if (detect && !this.camera && photo && this.featuresOf === photo.id) {
          try {
            const lors: ModelName[] = ['lors'];
            await client.request<DetectResult[]>({ type: 'detect', imageId: photo.id, models: lors, ...stageOption() });
          } catch {
            /* the photo changed meanwhile: its own run covers it */
          }
        }
      } while (this.lorsPending);
    } finally {
      this.lorsRunning = false;
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

  /** Runs NanoDet's head on the cached features when its panel is switched on. */
  ensureNanodet() {
    const s = sessionStore.getState();
    if (s.photo && !s.results.nanodet && !this.camera) void this.rerun(['nanodet']);
  }

  /** The stage scrubber moved: both decoders show that stage's predictions (the backbone does not re-run). */
  rerunStage() {
    if (!this.camera) this.stageRuns.push(null);
  }

  private runStage(): Promise<void> {
    return this.rerun(['vanilla', 'lors']);
  }

  private async rerun(models: ModelName[]): Promise<void> {
    const client = this.client;
    const photo = sessionStore.getState().photo;
    if (!client || !photo || this.featuresOf !== photo.id || modelsStore.getState().phase !== 'ready') return;
    try {
      await client.request<DetectResult[]>({ type: 'detect', imageId: photo.id, models, ...stageOption() });
    } catch {
      /* the photo changed meanwhile: its own run covers it */
    }
  }

  /**
   * Starts the live camera: each frame runs the backbone once and the panels' heads on it, one frame at a time (the
   * newest; see FrameLoop). Sliders, stage and threshold stay live. A denied, absent or lost camera stops it with a
   * message; photos keep working.
   */
  async startCamera(): Promise<void> {
    if (this.camera || cameraStore.getState().status === 'starting') return;
    const cs = cameraStore.getState();
    cs.setStarting();
    let cam: Camera;
    try {
      cam = await Camera.open(() => void this.stopCamera(CAMERA_LOST));
    } catch (e) {
      cameraStore.getState().setOff(cameraErrorText(e));
      return;
    }
    if (cameraStore.getState().status !== 'starting') {
      cam.stop();
      return;
    } // stopped while asking
    const loop: FrameLoop<ImageBitmap> = new FrameLoop<ImageBitmap>({
      grab: () => cam.grab(),
      process: (frame) => this.runFrame(frame, loop),
      tick: nextAnimationFrame,
      discard: (frame) => frame.close(),
      onFrame: () => cameraStore.getState().setFrameStats(loop.frames, loop.fps),
      onError: (e) => void this.stopCamera(`The camera stopped: ${errorText(e)}`),
    });
    this.camera = { cam, loop };
    sessionStore.getState().setError(null);
    cameraStore.getState().setRunning(cam.label);
  }

  /** Pause shows once the frame in flight has landed (from then on nothing changes); resume at once. */
  async pauseCamera(paused: boolean): Promise<void> {
    const c = this.camera;
    if (!c) return;
    if (!paused) {
      c.loop.resume();
      cameraStore.getState().setPaused(false);
      return;
    }
    await c.loop.pause();
    if (this.camera === c && c.loop.status === 'paused') cameraStore.getState().setPaused(true);
  }

  /** Stops the camera (every track ended); the last frame and its boxes stay on screen. */
  async stopCamera(message: string | null = null): Promise<void> {
    const c = this.camera;
    this.camera = null;
    cameraStore.getState().setOff(message);
    if (!c) return;
    c.cam.stop();
    await c.loop.stop();
  }

  /** One camera frame: backbone, then the panels' heads; shown with its boxes only when all are done. */
  private async runFrame(frame: ImageBitmap, loop: FrameLoop<ImageBitmap>): Promise<boolean> {
    const client = this.client;
    const gen = this.generation;
    if (!client || modelsStore.getState().phase !== 'ready' || this.photos.busy) {
      frame.close(); // models (re)loading or a photo running: skip this frame
      return false;
    }
    const id = ++this.photoSeq;
    const pixels = bitmapPixels(frame);
    const data = new Uint8ClampedArray(pixels.data.buffer);
    let shown = false;
    try {
      const { backboneMs } = await client.request<{ backboneMs: number }>(
        { type: 'setImage', imageId: id, image: { data, width: pixels.width, height: pixels.height } },
        [data.buffer],
      );
      this.featuresOf = id;
      const req = { type: 'detect', imageId: id, models: this.models(), ...stageOption() } as const;
      const results = await client.request<DetectResult[]>(req);
      if (gen !== this.generation || this.camera?.loop !== loop) return false;
      const photo: PhotoInfo = {
        id,
        name: 'camera',
        bitmap: frame,
        width: frame.width,
        height: frame.height,
        originalWidth: frame.width,
        originalHeight: frame.height,
      };
      sessionStore.getState().setFrame(photo, Object.fromEntries(results.map((r) => [r.model, panelResult(r)])));
      sessionStore.getState().setBackboneMs(backboneMs);
      shown = true;
      return true;
    } catch (e) {
      if (gen === this.generation && this.camera?.loop === loop) throw e;
      return false;
    } finally {
      if (!shown) frame.close();
    }
  }

  /** The worker's backend and live tensors (answered at once). */
  stats(): Promise<WorkerStats> {
    return this.client?.request<WorkerStats>({ type: 'stats' }) ?? Promise.reject(new Error('no worker'));
  }
}

export const controller = new Controller();
