/** Types shared by the model, the worker, the UI, the CLI and the tests. Platform-free (no DOM, no Node). */
import type * as tf from '@tensorflow/tfjs';

/** An RGBA image (the layout of ImageData): what every detection entry point takes. */
export interface RgbaImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/** Named tensors of one model: the names and shapes of `parameterSpec(config)`. */
export type WeightMap = Map<string, tf.Tensor>;

/** Reads a file of a weights folder (fetch in the browser, fs in Node): path relative to the folder. */
export type FileReader = (path: string, onProgress?: (loadedBytes: number) => void) => Promise<ArrayBuffer>;

/** What a FileReader throws when the file does not exist (HTTP 404, ENOENT), as opposed to failing to read it. */
export class FileNotFoundError extends Error {
  constructor(readonly path: string) {
    super(`${path}: file not found`);
    this.name = 'FileNotFoundError';
  }
}

/**
 * The detector's two decoder slots, the app's two decoder panels: the trained vanilla decoder and a slice of an
 * ordered LORS source. A slot is where a decoder runs, not its architecture (ModelConfig.variant, variants.ts);
 * constants.ts says which variant and folder each slot takes.
 */
export type DecoderSlot = 'vanilla' | 'lors';
export const DECODER_SLOTS: readonly DecoderSlot[] = ['vanilla', 'lors'];
/** Everything that detects: the two decoder slots and NanoDet-g's own head. */
export type ModelName = DecoderSlot | 'nanodet';
export type BackendName = 'webgpu' | 'wasm' | 'cpu';

export interface Detection {
  /** [x1, y1, x2, y2] in pixels of the original image. */
  box: [number, number, number, number];
  /** Contiguous COCO-80 index, 0-based. */
  label: number;
  /** COCO class name. */
  name: string;
  score: number;
}

/** Where a photo sits in the backbone's square input (letterbox.ts makes it). */
export interface LetterboxInfo {
  /** S, the square input side. */
  size: number;
  /** Resized / original (the same on both axes up to rounding). Boxes in input pixels ÷ scale = original pixels. */
  scale: number;
  /** Size of the resized photo inside the S×S input (unpadded): AdaMixer's img_whwh. */
  width: number;
  height: number;
  origWidth: number;
  origHeight: number;
  /** True when the photo was mirrored horizontally before letterboxing. */
  flipped: boolean;
}
