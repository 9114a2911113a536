/**
 * Letterboxing a photo into NanoDet's square input, and a safe pre-downscale for very large photos.
 *
 * Layout of the result (what NanoDet-g was converted with, see shared/design/BACKBONE.md):
 *   [1, 3, S, S] float32, channels first, BGR, (x − [103.53, 116.28, 123.675]) / [57.375, 57.12, 58.395].
 *
 * The photo keeps its aspect ratio: scale = S / max(w, h); the resized size is (round(w·scale), round(h·scale)),
 * placed at the top-left corner. Resampling is bilinear with half-pixel centres (as OpenCV's INTER_LINEAR).
 *
 * Padding (bottom/right) is 0 **in the normalised space**, i.e. the mean colour, as in mmdet/AdaMixer, which pads
 * after normalisation. Every consumer of the features (app, CLI, eval, the feature cache the PyTorch trainer
 * reads) goes through this function, so training and inference see the same padding.
 */
import * as tf from '@tensorflow/tfjs';
import { fittedSize, MAX_IMAGE_SIDE } from './imageSize';
import type { LetterboxInfo, RgbaImage } from './types';

/** NanoDet's per-channel mean and std, in BGR order. */
export const NANODET_MEAN_BGR = [103.53, 116.28, 123.675] as const;
export const NANODET_STD_BGR = [57.375, 57.12, 58.395] as const;

export { fittedSize, MAX_IMAGE_SIDE } from './imageSize';

export type { LetterboxInfo };

export interface Letterboxed extends LetterboxInfo {
  /** [1, 3, S, S] float32, BGR, normalised. Owned by the caller (dispose it). */
  input: tf.Tensor4D;
}

export function checkImage(image: RgbaImage): void {
  const { width: w, height: h, data } = image;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) {
    throw new Error(`image size must be positive integers, got ${w}×${h}`);
  }
  if (data.length !== w * h * 4) {
    throw new Error(`image data has ${data.length} bytes; a ${w}×${h} RGBA image needs ${w * h * 4}`);
  }
}

/** The resized (unpadded) size and scale of a w×h photo in an S×S letterbox. */
export function letterboxGeometry(
  w: number,
  h: number,
  size: number,
): { scale: number; width: number; height: number } {
  const scale = size / Math.max(w, h);
  const width = Math.min(size, Math.max(1, Math.round(w * scale)));
  const height = Math.min(size, Math.max(1, Math.round(h * scale)));
  return { scale, width, height };
}

/** Maps a box in letterbox-input pixels to the original photo (clipped; un-mirrored when the photo was flipped). */
export function toOriginal(box: ArrayLike<number>, lb: LetterboxInfo): [number, number, number, number] {
  const cx = (v: number, max: number) => Math.min(Math.max(v / lb.scale, 0), max);
  const x1 = cx(box[0]!, lb.origWidth),
    y1 = cx(box[1]!, lb.origHeight),
    x2 = cx(box[2]!, lb.origWidth),
    y2 = cx(box[3]!, lb.origHeight);
  return lb.flipped ? [lb.origWidth - x2, y1, lb.origWidth - x1, y2] : [x1, y1, x2, y2];
}

/** Letterboxes an RGBA photo into NanoDet's input. `flip` mirrors the photo horizontally first. */
export function letterbox(image: RgbaImage, size: number, opts: { flip?: boolean } = {}): Letterboxed {
  checkImage(image);
  if (!Number.isInteger(size) || size < 1) throw new Error(`letterbox size must be a positive integer, got ${size}`);
  const { width: w, height: h, data } = image;
  const flip = opts.flip ?? false;
  const { scale, width, height } = letterboxGeometry(w, h, size);

  // RGBA bytes → RGB float32 (drops alpha; mirrors when asked).
  const rgb = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = (y * w + (flip ? w - 1 - x : x)) * 4;
      const dst = (y * w + x) * 3;
      rgb[dst] = data[src]!;
      rgb[dst + 1] = data[src + 1]!;
      rgb[dst + 2] = data[src + 2]!;
    }
  }

  const input = tf.tidy(() => {
    let t: tf.Tensor3D = tf.tensor3d(rgb, [h, w, 3], 'float32');
    if (width !== w || height !== h) t = tf.image.resizeBilinear(t, [height, width], false, true);
    const bgr = tf.reverse(t, -1);
    const norm = tf.div(tf.sub(bgr, tf.tensor1d([...NANODET_MEAN_BGR])), tf.tensor1d([...NANODET_STD_BGR]));
    const padded = tf.pad(
      norm,
      [
        [0, size - height],
        [0, size - width],
        [0, 0],
      ],
      0,
    );
    return tf.expandDims(tf.transpose(padded, [2, 0, 1]), 0) as tf.Tensor4D;
  });
  return { input, size, scale, width, height, origWidth: w, origHeight: h, flipped: flip };
}

/**
 * Area-averaging resize of an RGBA image (each output pixel is the coverage-weighted mean of the source pixels
 * under it: no aliasing when shrinking). Pure JS, no tensors.
 */
export function resizeArea(image: RgbaImage, width: number, height: number): RgbaImage {
  checkImage(image);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`target size must be positive integers, got ${width}×${height}`);
  }
  const { width: w, height: h, data } = image;
  // Separable: first along x (h rows × width), then along y.
  const weights = (n: number, m: number) => {
    // For each output index: list of (source index, weight) with weights summing to 1.
    const out: { idx: number[]; wt: number[] }[] = [];
    const ratio = n / m;
    for (let o = 0; o < m; o++) {
      const a = o * ratio,
        b = (o + 1) * ratio;
      const idx: number[] = [],
        wt: number[] = [];
      for (let s = Math.floor(a); s < Math.min(n, Math.ceil(b)); s++) {
        const cover = Math.min(b, s + 1) - Math.max(a, s);
        if (cover > 0) {
          idx.push(s);
          wt.push(cover / ratio);
        }
      }
      out.push({ idx, wt });
    }
    return out;
  };
  const wx = weights(w, width),
    wy = weights(h, height);
  const tmp = new Float32Array(h * width * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < width; x++) {
      const { idx, wt } = wx[x]!;
      for (let c = 0; c < 4; c++) {
        let acc = 0;
        for (let k = 0; k < idx.length; k++) acc += data[(y * w + idx[k]!) * 4 + c]! * wt[k]!;
        tmp[(y * width + x) * 4 + c] = acc;
      }
    }
  }
  const out = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    const { idx, wt } = wy[y]!;
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 4; c++) {
        let acc = 0;
        for (let k = 0; k < idx.length; k++) acc += tmp[(idx[k]! * width + x) * 4 + c]! * wt[k]!;
        out[(y * width + x) * 4 + c] = Math.round(acc);
      }
    }
  }
  return { data: out, width, height };
}

/**
 * Returns the image unchanged when both sides are ≤ maxSide, else an area-averaged copy whose longer side is
 * maxSide (aspect kept). Use before uploading very large photos (GPU texture/buffer limits, memory).
 */
export function fitWithin(image: RgbaImage, maxSide = MAX_IMAGE_SIDE): RgbaImage {
  checkImage(image);
  const fit = fittedSize(image.width, image.height, maxSide);
  return fit.scaled ? resizeArea(image, fit.width, fit.height) : image;
}
