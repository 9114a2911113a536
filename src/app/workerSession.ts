/**
 * The inference worker's lifecycle: one worker at a time (a fresh one on every start: first load, backend switch,
 * retry, lost GPU device), its progress and status in the models store, and the image whose features it holds.
 * Every detection goes through `detect`, its results through one callback as each panel lands.
 */
import type { DecoderSlot, ModelName } from '../model/types';
import { makeConfig } from '../model/config';
import { SLOT_VARIANTS } from '../model/constants';
import { modelsStore, type DecoderInfo } from '../state/modelStatus';
import { DECODER_STAGES, settingsStore, type BackendChoiceName } from '../state/settings';
import { stallMsFromSearch } from '../state/settingsUrl';
import type { DetectResult, InitResult, LoadDecoderResult } from '../worker/protocol';
import { bitmapPixels } from './imageInput';
import { WorkerClient } from './workerClient';

export const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));
export const appBase = () => new URL('./', location.href).href;

export class WorkerSession {
  private client: WorkerClient | null = null;
  private generation = 0;
  private imageSeq = 0;
  /** Image id whose features the worker holds (null: none / unknown). */
  featuresOf: number | null = null;
  /** Why the current worker runs another backend than the chosen one (a lost GPU device), for the header. */
  private fallbackReason: string | undefined;

  constructor(private readonly onDeviceLost: (message: string) => void) {}

  /** The client while the models are ready, with its generation (null: none, or still loading). */
  ready(): { client: WorkerClient; gen: number } | null {
    return this.client && modelsStore.getState().phase === 'ready'
      ? { client: this.client, gen: this.generation }
      : null;
  }

  /** Whether `gen` is still the current worker (an older worker's answers are ignored). */
  current(gen: number): boolean {
    return gen === this.generation;
  }

  nextImageId(): number {
    return ++this.imageSeq;
  }

  /** A fresh worker on `backend` with the models loaded; null when it failed (the store says why) or was replaced. */
  async start(backend: BackendChoiceName, fallbackReason?: string): Promise<InitResult | null> {
    this.fallbackReason = fallbackReason;
    this.client?.terminate();
    const gen = ++this.generation;
    const mine = (f: () => void) => gen === this.generation && f();
    const worker = new Worker(new URL('../worker/detector.worker.ts', import.meta.url), { type: 'module' });
    const models = () => modelsStore.getState();
    const client = new WorkerClient(worker, {
      onProgress: (model, loaded, total) => mine(() => models().setProgress(model, loaded, total)),
      onStatus: (message, phase) => mine(() => models().setStatus(message, phase)),
      onBackend: (b, reason) => mine(() => models().setBackend(b, this.fallbackReason ?? reason ?? null)),
      onFatal: (message) => mine(() => models().fail(message)),
      onDeviceLost: (message) => mine(() => this.onDeviceLost(message)),
    });
    this.client = client;
    this.featuresOf = null;
    models().startLoading('Loading models…');
    try {
      const stallMs = stallMsFromSearch(location.search);
      const r = await client.request('init', { backend, base: appBase(), ...(stallMs ? { stallMs } : {}) });
      if (gen !== this.generation) return null;
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
    const client = this.client;
    if (!client || m.phase !== 'ready' || m.decoderLoading[name]) return null;
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

  /** Runs the backbone on a bitmap (its pixels move to the worker), which then holds its features; the backbone ms. */
  async setImage(client: WorkerClient, imageId: number, bitmap: ImageBitmap): Promise<number> {
    const pixels = bitmapPixels(bitmap);
    const data = new Uint8ClampedArray(pixels.data.buffer);
    const image = { data, width: pixels.width, height: pixels.height };
    const { backboneMs } = await client.request('setImage', { imageId, image }, { transfer: [data.buffer] });
    this.featuresOf = imageId;
    return backboneMs;
  }

  /**
   * Runs the panels' heads on the cached features at the scrubber's stage; `onResult` gets each as it lands.
   * `allStages`: the decoders also return every stage (the scrubber then redraws without the worker).
   */
  detect(
    client: WorkerClient,
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
    return client.request('detect', req, { onResult });
  }

  stats() {
    return this.client?.request('stats', {}) ?? Promise.reject(new Error('no worker'));
  }
}
