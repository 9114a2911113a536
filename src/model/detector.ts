/**
 * The detection API used by the app's worker, the CLIs, eval and bench.
 *
 * One frozen NanoDet-g backbone runs once per photo (`extract`); its PAN pyramid feeds the AdaMixer decoders
 * (vanilla and LORS), and its own head gives the NanoDet baseline. Boxes are always in original-image pixels
 * (of the photo as given, also when its features were extracted mirrored).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend';
import {
  decodeHead,
  disposeFeatures,
  headProposals,
  loadNanoDet,
  NANODET_NATIVE_SIZE,
  type NanoDet,
  type NanoDetHead,
} from './backbone';
import { COCO_CLASSES } from './cocoFormat';
import { DEFAULT_SCORE_THRESHOLD, queryInitOf, type ModelConfig } from './config';
import { SLICED_SLOT, SLOT_VARIANTS } from './constants';
import { checkDecoderConfig, disposeDecoder, makeRunWeights, type LoadedDecoder } from './loadedDecoder';
import { toOriginal } from './letterbox';
import { Features, type FeatureSet } from './featureSet';
import {
  DECODER_SLOTS,
  type BackendName,
  type DecoderSlot,
  type Detection,
  type FileReader,
  type ModelName,
  type RgbaImage,
} from './types';
import { decoderForward, neckMaps, topK } from './adamixer/decoder';
import { fusedUnsupported } from './adamixer/webgpu/stage';
import { getLinearWeight } from './nn/ops';
import { sourceWeights, type DecoderSource } from './decoderSource';
import { canStayResident, ResidentLors } from './residentLors';
import type { LorsSlice } from './lors/slice';
import type { OrderedLors } from './lors/source';
import type { LorsPath } from './lors/lorsA';

export type { FeatureSet } from './featureSet';

export interface LoadOptions {
  /** Backend to use first (default 'auto' = webgpu → wasm → cpu). */
  backend?: BackendName | 'auto';
  /** Where the wasm binaries are (the app passes Vite URLs). */
  wasmPaths?: string | Record<string, string>;
  /** Threads of the wasm backend where its threaded build can run (cross-origin isolated pages); see initBackend. */
  wasmThreads?: number;
  /**
   * Reads NanoDet's folder (model.json + nanodet.bin). Absent: a detector of decoders only, run on features extracted
   * by another detector (featureSet.ts: featuresToHost there, featuresFromHost here); `extract` then throws.
   */
  readBackbone?: FileReader;
  decoders?: Partial<Record<DecoderSlot, DecoderSource>>;
  /** Square input side, a multiple of 32 (default 416, NanoDet's native size). */
  inputSize?: number;
  onProgress?: (p: { model: string; loaded: number; total: number }) => void;
  /**
   * How the LORS decoder runs: 'folded' (default) folds, once at load, LORS^T into a dense W_i = W_shared + Σ B·A
   * per stage (foldLorsT) and LORS^A into a dense per-stage generator (foldLorsA, docs/model.md §5.3), so a LORS stage
   * costs exactly a vanilla stage of the same G and P_in (measured: `npm run bench`, docs/performance.md) at the
   * price of dense weights in memory (the download stays small); 'factored' evaluates the low-rank factors at every
   * forward (Eqs. 7–12 as written). Either way the weights are prepared once at load (prepareWeights).
   */
  lorsPath?: Exclude<LorsPath, 'auto'>;
}

export interface DetectOptions {
  model: ModelName;
  /** Keep detections scoring above this (default DEFAULT_SCORE_THRESHOLD, config.ts). */
  scoreThreshold?: number;
  /** At most this many detections (default 100). */
  maxDetections?: number;
  /**
   * Decoder stage (1-based) whose predictions to return (default: the last, the decoder's output). Earlier stages
   * cost the same forward (every stage runs anyway); the last stage keeps only its own outputs. Ignored for nanodet.
   */
  stage?: number;
}

export interface ExtractOptions {
  /** Also run NanoDet's own head now (default true; otherwise detect('nanodet') runs it on demand). */
  withHead?: boolean;
  /** Mirror the photo horizontally before the backbone (training augmentation). */
  flip?: boolean;
}

export interface Detector {
  backend: BackendName;
  fallbackReason?: string;
  /** Configs of the loaded decoders. */
  configs: Partial<Record<DecoderSlot, ModelConfig>>;
  /** NanoDet-g's learnable parameter count (float32 weights of its manifest); 0 without a backbone. */
  backboneParams: number;
  /** False for a detector of decoders only (no `readBackbone`). */
  hasBackbone: boolean;
  inputSize: number;
  /** Runs the backbone once per photo; the result is reusable by all decoders. */
  extract(image: RgbaImage, options?: ExtractOptions): FeatureSet;
  /** Detections with boxes in original-image pixels, best first. Leaves no tensors behind. */
  detect(input: RgbaImage | FeatureSet, options: DetectOptions): Promise<Detection[]>;
  /**
   * Every decoder stage's detections from one forward (index 0 = stage 1, the last = the decoder's output), each
   * as `detect` returns it for that stage. Only for the decoders (vanilla, lors); `stage` is ignored.
   */
  detectStages(input: RgbaImage | FeatureSet, options: DetectOptions): Promise<Detection[][]>;
  /**
   * Loads (or replaces) a decoder from a source — the one road by which weights enter a detector, at load and later
   * (the app's sliders). Resolves to the config it runs; the old weights are disposed once the new ones are ready.
   */
  setDecoder(
    name: DecoderSlot,
    source: DecoderSource,
    onProgress?: (loaded: number, total: number) => void,
  ): Promise<ModelConfig>;
  /** Compiles what the first photo needs (WebGPU); nothing for a detector without a backbone. */
  warmup(): Promise<void>;
  dispose(): void;
}

function isFeatureSet(x: RgbaImage | FeatureSet): x is FeatureSet {
  return Array.isArray((x as FeatureSet).levels) && typeof (x as FeatureSet).dispose === 'function' && 'letterbox' in x;
}

class LoadedDetector implements Detector {
  configs: Partial<Record<DecoderSlot, ModelConfig>> = {};
  readonly backboneParams: number;
  readonly inputSize: number;
  private decoders = new Map<DecoderSlot, LoadedDecoder>();
  /** The ordered LORS source the folded LORS decoder slices, kept on the backend (one at a time). */
  private resident: ResidentLors | null = null;
  private disposed = false;

  constructor(
    readonly backend: BackendName,
    readonly fallbackReason: string | undefined,
    private readonly nanodet: NanoDet | null,
    private readonly lorsPath: Exclude<LorsPath, 'auto'>,
    inputSize: number,
  ) {
    this.backboneParams = nanodet?.params ?? 0;
    this.inputSize = nanodet?.inputSize ?? inputSize;
  }

  get hasBackbone() {
    return this.nanodet !== null;
  }

  private backbone(): NanoDet {
    if (!this.nanodet) throw new Error('this detector has no backbone (decoders only: give it extracted features)');
    return this.nanodet;
  }

  private check() {
    if (this.disposed) throw new Error('detector was disposed');
  }

  extract(image: RgbaImage, options: ExtractOptions = {}): FeatureSet {
    this.check();
    const f = this.backbone().extract(image, { withHead: options.withHead ?? true, flip: options.flip ?? false });
    return new Features(f.letterbox, f.levels, f.head);
  }

  async setDecoder(
    name: DecoderSlot,
    source: DecoderSource,
    onProgress?: (loaded: number, total: number) => void,
  ): Promise<ModelConfig> {
    this.check();
    if (!DECODER_SLOTS.includes(name))
      throw new Error(`unknown decoder "${String(name)}" (expected ${DECODER_SLOTS.join(' or ')})`);
    if ('config' in source) checkDecoderConfig(name, source.config);
    if (name === SLICED_SLOT && 'lors' in source && this.lorsPath === 'folded' && canStayResident(source.lors.config)) {
      return this.setResidentLors(source.lors, source.slice, onProgress);
    }
    const { config, weights } = await sourceWeights(source, { variant: SLOT_VARIANTS[name] }, onProgress);
    let run: Omit<LoadedDecoder, 'config'>;
    try {
      checkDecoderConfig(name, config);
      run = makeRunWeights(weights, config, this.lorsPath === 'folded' && config.lors !== undefined);
    } catch (e) {
      tf.dispose([...weights.values()]);
      throw e;
    }
    this.check();
    const old = this.decoders.get(name);
    this.decoders.set(name, { config, ...run });
    if (name === SLICED_SLOT) {
      this.resident?.dispose(); // the sliced decoder no longer slices it
      this.resident = null;
    }
    this.configs = { ...this.configs, [name]: config };
    if (old) disposeDecoder(old);
    return config;
  }

  /** A slice of an ordered LORS source as the folded LORS decoder: only the stages the slice changes are folded. */
  private async setResidentLors(
    lors: OrderedLors,
    slice: LorsSlice | undefined,
    onProgress?: (loaded: number, total: number) => void,
  ): Promise<ModelConfig> {
    checkDecoderConfig(SLICED_SLOT, lors.config);
    let resident = this.resident;
    if (resident?.source !== lors) {
      resident = await ResidentLors.create(lors, onProgress);
      this.check();
      this.resident?.dispose(); // what the current decoder runs stays until it is released below
      this.resident = resident;
    } else onProgress?.(1, 1);
    const r = await resident.runWeights(slice);
    this.check();
    const old = this.decoders.get(SLICED_SLOT);
    this.decoders.set(SLICED_SLOT, { config: r.config, runs: r.runs, run: r.weights, release: r.release });
    this.configs = { ...this.configs, [SLICED_SLOT]: r.config };
    if (old) disposeDecoder(old);
    return r.config;
  }

  async detectStages(input: RgbaImage | FeatureSet, options: DetectOptions): Promise<Detection[][]> {
    if (options.model === 'nanodet') throw new Error('detectStages: "nanodet" has no stages');
    return this.withFeatures(input, options, (feats, dec, scoreThreshold, maxDetections) =>
      this.runStages(dec!, feats, scoreThreshold, maxDetections, 'all'),
    );
  }

  async detect(input: RgbaImage | FeatureSet, options: DetectOptions): Promise<Detection[]> {
    return this.withFeatures(input, options, (feats, dec, scoreThreshold, maxDetections) =>
      dec
        ? this.runDecoder(dec, feats, scoreThreshold, maxDetections, options.stage)
        : this.withHead(feats, (head) => decodeHead(head, feats.letterbox, { scoreThreshold, maxDetections })),
    );
  }

  /**
   * Checks the options, then runs `use` on the features of `input` (extracted now and freed after when `input` is
   * a photo) with the model's decoder (undefined for nanodet) and the options' limits.
   */
  private async withFeatures<T>(
    input: RgbaImage | FeatureSet,
    options: DetectOptions,
    use: (
      feats: FeatureSet,
      dec: LoadedDecoder | undefined,
      scoreThreshold: number,
      maxDetections: number,
    ) => Promise<T>,
  ): Promise<T> {
    this.check();
    const model = options.model;
    if (model !== 'nanodet' && !DECODER_SLOTS.includes(model)) {
      throw new Error(`unknown model "${String(model)}" (expected nanodet, ${DECODER_SLOTS.join(' or ')})`);
    }
    const maxDetections = options.maxDetections ?? 100;
    if (!(maxDetections >= 1)) throw new Error(`maxDetections must be ≥ 1, got ${maxDetections}`);
    const dec = model === 'nanodet' ? undefined : this.decoders.get(model);
    if (model !== 'nanodet' && !dec) throw new Error(`the ${model} decoder is not loaded`);
    const owned = !isFeatureSet(input);
    const withHead = !dec || queryInitOf(dec.config) === 'nanodet';
    const feats = owned ? this.extract(input, { withHead }) : input;
    if (feats.disposed) throw new Error(`${model}: this FeatureSet was disposed`);
    try {
      return await use(feats, dec, options.scoreThreshold ?? DEFAULT_SCORE_THRESHOLD, maxDetections);
    } finally {
      if (owned) feats.dispose();
    }
  }

  /** Runs `use` on NanoDet's head outputs: the extracted ones, or made now (and freed after) when not extracted. */
  private async withHead<T>(feats: FeatureSet, use: (head: NanoDetHead) => Promise<T>): Promise<T> {
    const head = feats.head ?? this.backbone().head([...feats.levels]);
    try {
      return await use(head);
    } finally {
      if (head !== feats.head) disposeFeatures({ levels: [], head });
    }
  }

  private async runDecoder(
    dec: LoadedDecoder,
    feats: FeatureSet,
    scoreThreshold: number,
    maxDetections: number,
    stage = dec.config.decoder.stages,
  ): Promise<Detection[]> {
    const { stages } = dec.config.decoder;
    if (!Number.isInteger(stage) || stage < 1 || stage > stages) {
      throw new Error(`stage must be an integer in 1..${stages} (the decoder's stages), got ${stage}`);
    }
    return (await this.runStages(dec, feats, scoreThreshold, maxDetections, stage))[0]!;
  }

  /** One decoder forward: the detections of one stage (1-based), or of every stage ('all'). */
  private async runStages(
    dec: LoadedDecoder,
    feats: FeatureSet,
    scoreThreshold: number,
    maxDetections: number,
    stage: number | 'all',
  ): Promise<Detection[][]> {
    const lb = feats.letterbox;
    const d = dec.config.decoder;
    const k = Math.min(maxDetections, d.queries * d.classes);
    // NanoDet's head proposals for a decoder trained with queryInit 'nanodet' (kept with the features: a slider move
    // or another stage reuses them)
    const proposals =
      queryInitOf(dec.config) === 'nanodet'
        ? [
            (
              await feats.derived(`proposals/${d.queries}`, () =>
                this.withHead(feats, (h) => headProposals(h, lb.size, lb.width, lb.height, d.queries)),
              )
            ).boxes,
          ]
        : undefined;
    // The decoder's necked maps, kept with the features (keyed by its neck weights: a slider move keeps them) where
    // the tfjs ops and wasm kernels run (the fused WebGPU path has its own neck).
    const maps =
      fusedUnsupported(dec.runs) !== null
        ? feats.derived(getLinearWeight(dec.run, 'neck.convs.0.weight').w, () =>
            neckMaps(dec.run, dec.runs, [...feats.levels]),
          )
        : undefined;
    const picked = tf.tidy(() => {
      const stages = decoderForward(dec.run, dec.runs, [...feats.levels], [[lb.width, lb.height]], {
        maps,
        proposals,
        stages: stage === d.stages ? 'last' : 'all',
        lorsT: this.lorsPath,
        lorsA: this.lorsPath,
      });
      const chosen = stage === 'all' ? stages : [stage === d.stages ? stages[stages.length - 1] : stages[stage - 1]];
      if (chosen.some((l) => !l)) throw new Error(`decoder returned no stage ${stage}`);
      // Every stage asked for in one batch: one top-k and one download for all of them.
      const one = (t: tf.Tensor3D[]) => (t.length === 1 ? t[0]! : (tf.concat(t, 0) as tf.Tensor3D));
      return { logits: one(chosen.map((l) => l!.logits)), boxes: one(chosen.map((l) => l!.boxes)) };
    });
    try {
      const tops = await topK(picked.logits, picked.boxes, k);
      return tops.map((res) => {
        if (!res) throw new Error('topK returned no result');
        const out: Detection[] = [];
        for (let i = 0; i < res.scores.length; i++) {
          const score = res.scores[i]!;
          if (!(score > scoreThreshold)) continue;
          const label = res.labels[i]!;
          out.push({
            box: toOriginal(res.boxes.subarray(4 * i, 4 * i + 4), lb),
            label,
            name: COCO_CLASSES[label]!,
            score,
          });
        }
        return out.sort((a, b) => b.score - a.score).slice(0, maxDetections);
      });
    } finally {
      tf.dispose([picked.logits, picked.boxes]);
    }
  }

  async warmup(): Promise<void> {
    this.check();
    // Without a backbone there is no photo to warm up on: the first features it is given warm the same code.
    if (!this.nanodet) return;
    const S = this.inputSize;
    const data = new Uint8ClampedArray(S * S * 4).fill(128);
    const feats = this.extract({ data, width: S, height: S });
    try {
      await this.detect(feats, { model: 'nanodet' });
      for (const name of this.decoders.keys()) await this.detect(feats, { model: name });
    } finally {
      feats.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const d of this.decoders.values()) disposeDecoder(d);
    this.decoders.clear();
    this.resident?.dispose();
    this.resident = null;
    this.nanodet?.dispose();
  }
}

/** Picks a backend, loads NanoDet-g (when `readBackbone` is given) and the requested decoders. */
export async function load(options: LoadOptions): Promise<Detector> {
  const choice = await initBackend(options.backend ?? 'auto', {
    wasmPaths: options.wasmPaths,
    ...(options.wasmThreads !== undefined ? { wasmThreads: options.wasmThreads } : {}),
  });
  const inputSize = options.inputSize ?? NANODET_NATIVE_SIZE;
  const nanodet = options.readBackbone
    ? await loadNanoDet(options.readBackbone, inputSize, {
        onProgress: (loaded, total) => options.onProgress?.({ model: 'nanodet', loaded, total }),
      })
    : null;
  const det = new LoadedDetector(
    choice.backend,
    choice.fallbackReason,
    nanodet,
    options.lorsPath ?? 'folded',
    inputSize,
  );
  try {
    for (const name of DECODER_SLOTS) {
      const src = options.decoders?.[name];
      if (src) await det.setDecoder(name, src, (loaded, total) => options.onProgress?.({ model: name, loaded, total }));
    }
  } catch (e) {
    det.dispose();
    throw e;
  }
  return det;
}
