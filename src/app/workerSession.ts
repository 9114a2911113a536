/**
 * The inference workers' lifecycle: the worker with the backbone, and where workerPlan says so a second one with
 * some decoders (fresh ones on every start: first load, backend switch, retry, lost GPU device), their progress and
 * status in the models store, and the image whose features they hold. Every request is routed to the worker that
 * holds its model; every detection goes through `detect`, its results through one callback as each panel lands.
 */
import { DECODER_SLOTS, type DecoderSlot, type ModelName } from '../model/types';
import { makeConfig } from '../model/config';
import { SLICED_SLOT, SLOT_VARIANTS, type LorsSourceName } from '../model/constants';
import { hostBuffers } from '../model/hostFeatures';
import type { LorsSlice } from '../model/lors/slice';
import { modelsStore, type DecoderInfo } from '../state/modelStatus';
import { DECODER_STAGES, settingsStore, type BackendChoiceName } from '../state/settings';
import { stallMsFromSearch } from '../state/settingsUrl';
import type { DetectResult, InitResult, LoadDecoderResult, WorkerStats } from '../worker/protocol';
import { bitmapPixels } from './imageInput';
import { WorkerClient, type WorkerEvents } from './workerClient';
import { SECOND_WORKER_SLOTS, workerPlan } from './workerPlan';

export const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));
export const appBase = () => new URL('./', location.href).href;

/** What the workers hold together: the backbone worker's backend and threads, and the sum of their tensors. */
export interface SessionStats extends WorkerStats {
  /** Inference workers running (2: the decoders run at once, workerPlan.ts). */
  workers: number;
}

/** The decoders the backbone's worker holds when a second worker holds SECOND_WORKER_SLOTS. */
const DECODER_SLOTS_OF_FIRST = DECODER_SLOTS.filter((d) => !SECOND_WORKER_SLOTS.includes(d));

const newWorker = () => new Worker(new URL('../worker/detector.worker.ts', import.meta.url), { type: 'module' });

export class WorkerSession {
  /** The worker with the backbone (and NanoDet's head, and the decoders the second one does not hold). */
  private client: WorkerClient | null = null;
  /** The decoders-only worker, when the plan has one. */
  private second: WorkerClient | null = null;
  private generation = 0;
  private imageSeq = 0;
  /** Image id whose features the worker holds (null: none / unknown). */
  featuresOf: number | null = null;
  /** Why the current worker runs another backend than the chosen one (a lost GPU device), for the header. */
  private fallbackReason: string | undefined;

  constructor(private readonly onDeviceLost: (message: string) => void) {}

  /** The workers' generation while the models are ready (null: none, or still loading). */
  ready(): { gen: number } | null {
    return this.client && modelsStore.getState().phase === 'ready' ? { gen: this.generation } : null;
  }

  /** The worker that holds `model`. */
  private holder(model: ModelName): WorkerClient {
    const c = this.second && (SECOND_WORKER_SLOTS as readonly string[]).includes(model) ? this.second : this.client;
    if (!c) throw new Error('no worker');
    return c;
  }

  /** Whether `gen` is still the current worker (an older worker's answers are ignored). */
  current(gen: number): boolean {
    return gen === this.generation;
  }

  nextImageId(): number {
    return ++this.imageSeq;
  }

  /**
   * Fresh workers on `backend` with the models loaded (workerPlan: one, or two loading side by side); null when one
   * failed (the store says why) or they were replaced.
   */
  async start(backend: BackendChoiceName, fallbackReason?: string): Promise<InitResult | null> {
    this.fallbackReason = fallbackReason;
    this.client?.terminate();
    this.second?.terminate();
    const gen = ++this.generation;
    const mine = (f: () => void) => gen === this.generation && f();
    const models = () => modelsStore.getState();
    const events: WorkerEvents = {
      onProgress: (model, loaded, total) => mine(() => models().setProgress(model, loaded, total)),
      onFatal: (message) => mine(() => models().fail(message)),
    };
    const client = new WorkerClient(newWorker(), {
      ...events,
      onStatus: (message, phase) => mine(() => models().setStatus(message, phase)),
      onBackend: (b, reason) => mine(() => models().setBackend(b, this.fallbackReason ?? reason ?? null)),
      onDeviceLost: (message) => mine(() => this.onDeviceLost(message)),
    });
    const plan = workerPlan(backend, navigator.hardwareConcurrency, 'gpu' in navigator);
    const second = plan.split ? new WorkerClient(newWorker(), events) : null;
    this.client = client;
    this.second = second;
    this.featuresOf = null;
    models().startLoading('Loading models…');
    try {
      const stallMs = stallMsFromSearch(location.search);
      const common = { backend, base: appBase(), wasmThreads: plan.wasmThreads, ...(stallMs ? { stallMs } : {}) };
      const own = second ? { decoders: DECODER_SLOTS_OF_FIRST } : {};
      const [r, s] = await Promise.all([
        client.request('init', { ...common, ...own }),
        second?.request('init', { ...common, backbone: false, decoders: [...SECOND_WORKER_SLOTS] }),
      ]);
      if (gen !== this.generation) return null;
      if (s) r.decoders = { ...r.decoders, ...s.decoders };
      models().setLoaded({
        backend: r.backend,
        fallbackReason: fallbackReason ?? r.fallbackReason ?? null,
        decoders: r.decoders,
        backboneParams: r.backboneParams,
        backboneBytes: r.backboneBytes,
        lorsSources: r.lorsSources,
      });
      return r;
    } catch (e) {
      if (gen === this.generation) models().fail(`Could not load the models: ${errorText(e)}`);
      return null;
    }
  }

  /**
   * Loads one decoder again (a retry of its trained weights, or its seeded weights) while the other panels keep
   * working; the store follows. Resolves to what was loaded, or null when nothing changed (busy, or replaced).
   */
  async loadDecoder(name: DecoderSlot, seeded: boolean): Promise<DecoderInfo | null> {
    const m = modelsStore.getState();
    if (!this.client || m.phase !== 'ready' || m.decoderLoading[name]) return null;
    const client = this.holder(name);
    const gen = this.generation;
    m.startDecoderLoad(name, seeded ? 'seeded' : 'retry');
    let info: DecoderInfo;
    let lorsSources: LoadDecoderResult['lorsSources'] | undefined;
    try {
      ({ info, lorsSources } = await client.request('loadDecoder', { name, seeded }));
    } catch (e) {
      if (gen !== this.generation) return null;
      const prev = modelsStore.getState().decoders[name];
      const failed = { file: `models/${name}/`, reason: errorText(e) };
      info = { config: prev?.config ?? makeConfig('web', SLOT_VARIANTS[name]), trained: false, weightBytes: 0, failed };
    }
    if (gen !== this.generation) return null;
    modelsStore.getState().setDecoderInfo(name, info, lorsSources);
    return info;
  }

  /**
   * Runs the backbone on a bitmap (its pixels move to the worker), which then holds its features (and hands a copy to
   * the second worker); the backbone ms.
   */
  async setImage(imageId: number, bitmap: ImageBitmap): Promise<number> {
    const pixels = bitmapPixels(bitmap);
    const data = new Uint8ClampedArray(pixels.data.buffer);
    const image = { data, width: pixels.width, height: pixels.height };
    const share = this.second !== null;
    const client = this.holder('nanodet');
    const r = await client.request('setImage', { imageId, image, share }, { transfer: [data.buffer] });
    if (this.second && r.features) {
      await this.second.request(
        'setFeatures',
        { imageId, features: r.features },
        { transfer: hostBuffers(r.features) },
      );
    }
    this.featuresOf = imageId;
    return r.backboneMs;
  }

  /** Makes a slice of one source's ordered weights the LORS decoder; the slice's config. */
  setLors(source: LorsSourceName, slice: LorsSlice) {
    return this.holder(SLICED_SLOT).request('setLors', { source, slice });
  }

  /**
   * Runs the panels' heads on the cached features at the scrubber's stage; `onResult` gets each as it lands.
   * `allStages`: the decoders also return every stage (the scrubber then redraws without the worker).
   */
  async detect(
    imageId: number,
    models: ModelName[],
    onResult?: (r: DetectResult) => void,
    opts: { allStages?: boolean } = {},
  ): Promise<DetectResult[]> {
    const stage = settingsStore.getState().decoderStage;
    // The last stage is the decoders' output: no stage option, no extra work.
    const req = {
      imageId,
      models,
      ...(stage === DECODER_STAGES ? {} : { stage }),
      ...(opts.allStages ? { allStages: true } : {}),
    };
    // Each worker runs the heads it holds, at the same time; the answer keeps the order of `models`.
    const byWorker = new Map<WorkerClient, ModelName[]>();
    for (const m of models) {
      const c = this.holder(m);
      byWorker.set(c, [...(byWorker.get(c) ?? []), m]);
    }
    const parts = await Promise.all(
      [...byWorker].map(([c, ms]) => c.request('detect', { ...req, models: ms }, { onResult })),
    );
    const all = parts.flat();
    return models.map((m) => all.find((r) => r.model === m)!);
  }

  async stats(): Promise<SessionStats> {
    if (!this.client) throw new Error('no worker');
    const clients = this.second ? [this.client, this.second] : [this.client];
    const all = await Promise.all(clients.map((c) => c.request('stats', {})));
    const sum = (k: 'numTensors' | 'numBytes') => all.reduce((a, s) => a + s[k], 0);
    const kernels = all.map((s) => s.wasmKernels);
    return {
      ...all[0]!,
      workers: clients.length,
      wasmKernels: kernels.includes(null) ? null : kernels.every(Boolean),
      numTensors: sum('numTensors'),
      numBytes: sum('numBytes'),
    };
  }
}
