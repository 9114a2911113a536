/**
 * Node-only I/O for the CLIs: a folder FileReader, writing a weights folder, JPEG/PNG decoding into RgbaImage, and PNG overlays with boxes
 * and labels drawn in a tiny built-in bitmap font.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { FileNotFoundError, type Detection, type FileReader, type RgbaImage } from '../model/types';
import { MODEL_JSON } from '../model/weights/manifest';

/** A FileReader over a local folder (paths relative to it). */
export function folderReader(dir: string): FileReader {
  const root = resolve(dir);
  return async (path, onProgress) => {
    const full = join(root, path);
    let buf: Buffer;
    try {
      buf = await readFile(full);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new FileNotFoundError(full);
      throw new Error(`${full}: ${(e as Error).message}`);
    }
    onProgress?.(buf.byteLength);
    return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  };
}

/** Writes the files into `dir`: shards first, model.json last; with `force`, stale shards are removed first. */
export function writeWeightsFolder(dir: string, files: Map<string, Uint8Array>, force = false): void {
  const root = resolve(dir);
  if (existsSync(join(root, MODEL_JSON))) {
    if (!force) throw new Error(`${join(root, MODEL_JSON)} already exists (use --force to overwrite)`);
    for (const f of readdirSync(root)) if (/^weights-shard\d+of\d+\.bin$/.test(f)) unlinkSync(join(root, f));
  }
  mkdirSync(root, { recursive: true });
  for (const [name, bytes] of files) if (name !== MODEL_JSON) writeFileSync(join(root, name), bytes);
  writeFileSync(join(root, MODEL_JSON), files.get(MODEL_JSON)!);
}

export function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function fileExists(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Decodes JPEG or PNG bytes (sniffed from the content, not the name) into RGBA. */
export function decodeImage(bytes: Uint8Array, name = 'image'): RgbaImage {
  const isJpeg = bytes.length > 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  const isPng = bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  if (isJpeg) {
    try {
      const img = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: 250,
        maxMemoryUsageInMB: 2048,
      });
      if (!img.width || !img.height) throw new Error('no image data');
      return { data: img.data, width: img.width, height: img.height };
    } catch (e) {
      throw new Error(`${name}: corrupt or unsupported JPEG (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  if (isPng) {
    try {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return {
        data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength),
        width: png.width,
        height: png.height,
      };
    } catch (e) {
      throw new Error(`${name}: corrupt PNG (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  throw new Error(`${name}: not a JPEG or PNG file (only JPEG and PNG images are supported)`);
}

export function readImage(path: string): RgbaImage {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? `${path}: file not found`
        : code === 'EISDIR'
          ? `${path}: is a folder, not an image`
          : `${path}: ${(e as Error).message}`,
    );
  }
  return decodeImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

export function encodePng(img: RgbaImage): Buffer {
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return PNG.sync.write(png);
}

/** A distinct, stable colour per class (golden-angle hues). */
export function classColor(label: number): [number, number, number] {
  const h = ((label * 137.508) % 360) / 60;
  const s = 0.85,
    v = 0.95;
  const c = v * s,
    x = c * (1 - Math.abs((h % 2) - 1)),
    m = v - c;
  const [r, g, b] =
    h < 1 ? [c, x, 0] : h < 2 ? [x, c, 0] : h < 3 ? [0, c, x] : h < 4 ? [0, x, c] : h < 5 ? [x, 0, c] : [c, 0, x];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

/** 5×7 glyphs, one 5-bit row per entry (bit 4 = left). Text is drawn upper-case. */
const FONT: Record<string, number[]> = {
  A: [0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
  B: [0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e],
  C: [0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e],
  D: [0x1e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1e],
  E: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f],
  F: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10],
  G: [0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f],
  H: [0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
  I: [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e],
  J: [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c],
  K: [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
  L: [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f],
  M: [0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11],
  N: [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
  O: [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
  P: [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10],
  Q: [0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d],
  R: [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11],
  S: [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e],
  T: [0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
  U: [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e],
  V: [0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04],
  W: [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a],
  X: [0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11],
  Y: [0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04],
  Z: [0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f],
  '0': [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e],
  '1': [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
  '2': [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f],
  '3': [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
  '4': [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02],
  '5': [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
  '6': [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e],
  '7': [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
  '8': [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e],
  '9': [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
  '.': [0, 0, 0, 0, 0, 0x0c, 0x0c],
  '-': [0, 0, 0, 0x1f, 0, 0, 0],
  ':': [0, 0x0c, 0x0c, 0, 0x0c, 0x0c, 0],
  '%': [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
  ' ': [0, 0, 0, 0, 0, 0, 0],
};

function fillRect(
  img: { data: Uint8Array | Uint8ClampedArray; width: number; height: number },
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  rgb: readonly number[],
) {
  const xa = Math.max(0, Math.floor(x0)),
    xb = Math.min(img.width, Math.ceil(x1));
  const ya = Math.max(0, Math.floor(y0)),
    yb = Math.min(img.height, Math.ceil(y1));
  for (let y = ya; y < yb; y++) {
    for (let x = xa; x < xb; x++) {
      const i = (y * img.width + x) * 4;
      img.data[i] = rgb[0]!;
      img.data[i + 1] = rgb[1]!;
      img.data[i + 2] = rgb[2]!;
      img.data[i + 3] = 255;
    }
  }
}

/** Width in pixels of `text` at font scale k. */
export function textWidth(text: string, k: number): number {
  return text.length * 6 * k - k;
}

/** Draws upper-cased `text` with its top-left at (x, y); unknown characters render as spaces. */
export function drawText(img: RgbaImage, text: string, x: number, y: number, k: number, rgb: readonly number[]) {
  let cx = x;
  for (const ch of text.toUpperCase()) {
    const g = FONT[ch] ?? FONT[' ']!;
    for (let r = 0; r < 7; r++) {
      for (let c = 0; c < 5; c++)
        if (g[r]! & (1 << (4 - c))) fillRect(img, cx + c * k, y + r * k, cx + (c + 1) * k, y + (r + 1) * k, rgb);
    }
    cx += 6 * k;
  }
}

/** A copy of `img` with each detection's box and "label score" drawn in its class colour. */
export function drawDetections(img: RgbaImage, dets: Detection[]): RgbaImage {
  const out: RgbaImage = { data: new Uint8ClampedArray(img.data), width: img.width, height: img.height };
  const k = Math.max(1, Math.round(Math.min(img.width, img.height) / 400));
  const t = Math.max(2, k * 2);
  // Lowest score first so the best boxes end up on top.
  for (const d of [...dets].sort((a, b) => a.score - b.score)) {
    const col = classColor(d.label);
    const [x1, y1, x2, y2] = d.box;
    fillRect(out, x1, y1, x2, y1 + t, col);
    fillRect(out, x1, y2 - t, x2, y2, col);
    fillRect(out, x1, y1, x1 + t, y2, col);
    fillRect(out, x2 - t, y1, x2, y2, col);
    const text = `${d.name} ${d.score.toFixed(2)}`;
    const tw = textWidth(text, k) + 4 * k,
      th = 7 * k + 4 * k;
    const ty = y1 - th >= 0 ? y1 - th : y1;
    const tx = Math.min(Math.max(0, x1), Math.max(0, img.width - tw));
    fillRect(out, tx, ty, tx + tw, ty + th, col);
    const lum = 0.299 * col[0] + 0.587 * col[1] + 0.114 * col[2];
    drawText(out, text, tx + 2 * k, ty + 2 * k, k, lum > 140 ? [0, 0, 0] : [255, 255, 255]);
  }
  return out;
}
