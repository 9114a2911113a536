/**
 * npm run features -- --images DIR --annotations FILE --out DIR [--size 416] [--flip] [--limit N] [--name NAME]
 *
 * The feature cache the PyTorch trainer reads: NanoDet-g's PAN pyramid of every image of a COCO annotations file.
 *
 *   <out>/<name>-s<size>[-flip].f16   raw little-endian float16, shape [N, P, 128], P = Σ_l H_l·W_l over strides
 *                                     8, 16, 32; each level NHWC-flattened (row-major y, x), levels in order s8, s16, s32
 *   <out>/<name>-s<size>[-flip].json  { size, strides, channels: 128, dtype: "float16", positions: P,
 *                                       levelShapes: [[H, W], ...], flip, images: [{ id, file_name, width, height,
 *                                       scale, resizedWidth, resizedHeight }] in row order, ... }
 *
 * <name> defaults to the annotations file name without "instances_" and ".json" (instances_train.json → train).
 * Features come from `letterbox` (src/model/letterbox.ts: keep aspect, scale = size / max(w, h), top-left,
 * mean-colour padding). With --flip they are those of the horizontally mirrored photo (its boxes: x → width − x).
 * The .f16 is written as it goes (one image at a time) under a .partial name and renamed when complete.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../model/backend';
import { levelShapes, loadNanoDet, NANODET_CHANNELS, NANODET_STRIDES, checkInputSize } from '../model/backbone/nanodet';
import { float32ToFloat16 } from '../model/weights/float16';
import { fitWithin } from '../model/letterbox';
import { flag, int, requireStr, runCli, str, UsageError, usageText, type OptionSpec, type ParsedArgs } from './args';
import { fileExists, folderReader, isDirectory, readImage } from './node-io';

const SPEC: Record<string, OptionSpec> = {
  images: { type: 'string', help: 'folder of the images (required)' },
  annotations: { type: 'string', help: 'COCO annotations JSON (required)' },
  out: { type: 'string', help: 'output folder (required; created if missing)' },
  size: { type: 'string', help: 'square input size, a multiple of 32 (default 416)' },
  flip: { type: 'boolean', help: 'features of the horizontally mirrored photos' },
  limit: { type: 'string', help: 'only the first N images' },
  name: { type: 'string', help: 'split name of the output files (default from the annotations file name)' },
  backbone: { type: 'string', help: 'NanoDet folder (default public/models/nanodet)' },
};
const USAGE = usageText('npm run features --', '--images DIR --annotations FILE --out DIR [options]', SPEC);

interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
}

export interface FeatureCacheMeta {
  size: number;
  strides: number[];
  channels: number;
  dtype: 'float16';
  positions: number;
  levelShapes: [number, number][];
  flip: boolean;
  layout: string;
  annotations: string;
  images: (CocoImage & { scale: number; resizedWidth: number; resizedHeight: number })[];
}

export function splitName(annotationsPath: string): string {
  return basename(annotationsPath)
    .replace(/\.json$/i, '')
    .replace(/^instances_/, '');
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60),
    sec = Math.round(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}

export interface FeaturesOptions {
  images: string;
  annotations: string;
  out: string;
  size: number;
  flip: boolean;
  limit?: number;
  name?: string;
  backbone?: string;
  quiet?: boolean;
}

/** Writes the cache; returns the paths written and its metadata. */
export async function writeFeatureCache(
  o: FeaturesOptions,
): Promise<{ data: string; meta: string; info: FeatureCacheMeta }> {
  checkInputSize(o.size);
  if (!isDirectory(o.images)) throw new Error(`--images ${o.images}: not a folder`);
  if (!fileExists(o.annotations)) throw new Error(`--annotations ${o.annotations}: file not found`);
  let coco: { images?: CocoImage[] };
  try {
    coco = JSON.parse(readFileSync(o.annotations, 'utf8')) as { images?: CocoImage[] };
  } catch (e) {
    throw new Error(`--annotations ${o.annotations}: not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(coco.images))
    throw new Error(`--annotations ${o.annotations}: no "images" array (not a COCO annotations file)`);
  const images = o.limit !== undefined ? coco.images.slice(0, o.limit) : coco.images;
  if (images.length === 0) throw new Error(`--annotations ${o.annotations}: no images`);
  for (const im of images) {
    if (typeof im.file_name !== 'string' || typeof im.id !== 'number')
      throw new Error(`--annotations: image entry without id/file_name: ${JSON.stringify(im).slice(0, 200)}`);
  }

  const backend = await initBackend('wasm');
  const nanodet = await loadNanoDet(folderReader(o.backbone ?? 'public/models/nanodet'), o.size);
  const shapes = levelShapes(o.size);
  const positions = shapes.reduce((a, [h, w]) => a + h * w, 0);
  const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

  mkdirSync(o.out, { recursive: true });
  const stem = `${o.name ?? splitName(o.annotations)}-s${o.size}${o.flip ? '-flip' : ''}`;
  const dataPath = join(o.out, `${stem}.f16`),
    metaPath = join(o.out, `${stem}.json`);
  const partial = `${dataPath}.partial`;
  const fd = openSync(partial, 'w');
  const meta: FeatureCacheMeta = {
    size: o.size,
    strides: [...NANODET_STRIDES],
    channels: NANODET_CHANNELS,
    dtype: 'float16',
    positions,
    levelShapes: shapes,
    flip: o.flip,
    layout:
      'little-endian float16 [N, positions, channels]; per image the levels s8, s16, s32, each NHWC row-major (y, x)',
    annotations: basename(o.annotations),
    images: [],
  };
  const t0 = performance.now();
  let lastPrint = 0,
    overflow = 0;
  try {
    if (!o.quiet)
      process.stderr.write(
        `features: ${images.length} images at ${o.size}${o.flip ? ' (flipped)' : ''} on ${backend.backend} → ${dataPath}\n`,
      );
    for (let i = 0; i < images.length; i++) {
      const im = images[i]!;
      const img = fitWithin(readImage(join(o.images, im.file_name)));
      if (!o.quiet && (img.width !== im.width || img.height !== im.height)) {
        process.stderr.write(
          `\nfeatures: warning: ${im.file_name} is ${img.width}×${img.height}, the annotations say ${im.width}×${im.height}\n`,
        );
      }
      const f = nanodet.extract(img, { withHead: false, flip: o.flip });
      try {
        for (const level of f.levels) {
          const v = (await level.data()) as Float32Array;
          const h = float32ToFloat16(v);
          for (let k = 0; k < h.length; k++) if ((h[k]! & 0x7c00) === 0x7c00) overflow++;
          if (!littleEndian) for (let k = 0; k < h.length; k++) h[k] = ((h[k]! & 0xff) << 8) | (h[k]! >>> 8);
          writeSync(fd, new Uint8Array(h.buffer, h.byteOffset, h.byteLength));
        }
      } finally {
        tf.dispose(f.levels);
      }
      meta.images.push({
        id: im.id,
        file_name: im.file_name,
        width: img.width,
        height: img.height,
        scale: f.letterbox.scale,
        resizedWidth: f.letterbox.width,
        resizedHeight: f.letterbox.height,
      });
      const now = performance.now();
      if (!o.quiet && (now - lastPrint > 1000 || i === images.length - 1)) {
        lastPrint = now;
        const el = (now - t0) / 1000,
          rate = (i + 1) / el;
        process.stderr.write(
          `\r[${i + 1}/${images.length}] ${rate.toFixed(2)} img/s, elapsed ${fmtTime(el)}, ETA ${fmtTime((images.length - i - 1) / rate)}   `,
        );
      }
    }
  } catch (e) {
    if (!o.quiet && lastPrint) process.stderr.write('\n');
    closeSync(fd);
    try {
      unlinkSync(partial);
    } catch {
      /* already gone */
    }
    throw e;
  } finally {
    nanodet.dispose();
  }
  closeSync(fd);
  renameSync(partial, dataPath);
  writeFileSync(metaPath, JSON.stringify(meta, null, 1));
  if (!o.quiet) {
    process.stderr.write('\n');
    if (overflow) process.stderr.write(`features: warning: ${overflow} values overflowed float16 (±inf)\n`);
    const mb = (images.length * positions * NANODET_CHANNELS * 2) / 2 ** 20;
    process.stderr.write(`features: wrote ${dataPath} (${mb.toFixed(1)} MiB) and ${metaPath}\n`);
  }
  return { data: dataPath, meta: metaPath, info: meta };
}

async function main(a: ParsedArgs) {
  const size = int(a, 'size', 416, 64, 2048)!;
  try {
    checkInputSize(size);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  await writeFeatureCache({
    images: requireStr(a, 'images'),
    annotations: requireStr(a, 'annotations'),
    out: requireStr(a, 'out'),
    size,
    flip: flag(a, 'flip'),
    limit: int(a, 'limit', undefined, 1),
    name: str(a, 'name'),
    backbone: str(a, 'backbone'),
  });
}

runCli(import.meta.url, 'features', { spec: SPEC, usage: USAGE }, main);
