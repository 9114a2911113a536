/**
 * npm run detect -- IMAGE [--model vanilla|lors|nanodet] [--weights DIR] [--json] [--out overlay.png] [--score 0.15]
 *                    [--lors-source trained|compressed] [--rank-a N] [--rank-t N] [--groups K|1,1,2,2,3,3]   (lors: a slice)
 *
 * Detects objects in a JPEG/PNG photo with NanoDet-g's own head or an AdaMixer decoder (vanilla / LORS) on
 * NanoDet's features. Decoder weights: --weights DIR, else public/models/<model>/ when it has a model.json, else
 * the seeded initialisation of --preset (a warning says so: such boxes are meaningless).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_SCORE_THRESHOLD, makeConfig, PRESETS, type PresetName } from '../model/config';
import { DECODER_DIRS, SLICED_SLOT, SLOT_VARIANTS } from '../model/constants';
import { decoderSource, type DecoderSource } from '../model/decoderSource';
import { load } from '../model/detector';
import { fitWithin } from '../model/letterbox';
import type { DecoderSlot, Detection, ModelName } from '../model/types';
import { flag, int, num, runCli, str, UsageError, usageText, type OptionSpec, type ParsedArgs } from './args';
import { LORS_SLICE_OPTIONS, lorsSliceFromArgs } from './config-args';
import { drawDetections, encodePng, folderReader, isDirectory, readImage } from './node-io';

const SPEC: Record<string, OptionSpec> = {
  model: { type: 'string', help: 'which detector (default nanodet)', choices: ['nanodet', 'vanilla', 'lors'] },
  weights: { type: 'string', help: 'decoder weights folder (default public/models/<model>/)' },
  preset: {
    type: 'string',
    help: 'config of the seeded init when there are no weights (default web)',
    choices: Object.keys(PRESETS),
  },
  seed: { type: 'string', help: 'seed of that init (default 0)' },
  score: { type: 'string', help: `score threshold (default ${DEFAULT_SCORE_THRESHOLD}, as the app)` },
  max: { type: 'string', help: 'at most N detections (default 100)' },
  size: { type: 'string', help: 'input size, a multiple of 32 (default 416)' },
  backbone: { type: 'string', help: 'NanoDet folder (default public/models/nanodet)' },
  'lors-path': {
    type: 'string',
    help: 'LORS evaluation: folded at load (default) or factored at every forward',
    choices: ['folded', 'factored'],
  },
  json: { type: 'boolean', help: 'print a JSON array of {label, score, box}' },
  out: { type: 'string', help: 'write a PNG overlay with the boxes' },
  ...LORS_SLICE_OPTIONS,
};
const USAGE = usageText('npm run detect --', 'IMAGE [options]', SPEC);

export interface DetectCliResult {
  label: string;
  score: number;
  box: [number, number, number, number];
}

const r2 = (v: number) => Math.round(v * 100) / 100;

export function toJson(dets: Detection[]): DetectCliResult[] {
  return dets.map((d) => ({
    label: d.name,
    score: Math.round(d.score * 1e4) / 1e4,
    box: d.box.map(r2) as DetectCliResult['box'],
  }));
}

export function formatTable(dets: Detection[]): string {
  if (dets.length === 0) return '(no detections above the threshold)';
  const head = `${'#'.padStart(3)}  ${'label'.padEnd(16)}${'score'.padStart(7)}${'x1'.padStart(9)}${'y1'.padStart(9)}${'x2'.padStart(9)}${'y2'.padStart(9)}`;
  const rows = dets.map(
    (d, i) =>
      `${String(i + 1).padStart(3)}  ${d.name.padEnd(16)}${d.score.toFixed(3).padStart(7)}${d.box.map((v) => v.toFixed(1).padStart(9)).join('')}`,
  );
  return [head, ...rows].join('\n');
}

async function main(a: ParsedArgs) {
  const imagePath = a.positionals[0];
  if (!imagePath) throw new UsageError('IMAGE is required');
  const model = (str(a, 'model') ?? 'nanodet') as ModelName;
  const score = num(a, 'score', DEFAULT_SCORE_THRESHOLD, 0, 1);
  const max = int(a, 'max', 100, 1, 10000)!;
  const size = int(a, 'size', 416, 64, 2048)!;
  if (size % 32 !== 0) throw new UsageError(`--size must be a multiple of 32, got ${size}`);
  const seed = int(a, 'seed', 0, 0)!;
  const weightsArg = str(a, 'weights');
  if (model === 'nanodet' && weightsArg)
    throw new UsageError('--weights applies to --model vanilla or lors (NanoDet uses --backbone)');

  const image = fitWithin(readImage(imagePath));
  const log = (s: string) => process.stderr.write(`${s}\n`);

  const lors = lorsSliceFromArgs(a, model);
  let decoders: Partial<Record<DecoderSlot, DecoderSource>> | undefined;
  if (model !== 'nanodet') {
    const dir = weightsArg ?? (model === SLICED_SLOT ? lors.dir : join('public', 'models', DECODER_DIRS[model]));
    if (weightsArg && !isDirectory(dir)) throw new Error(`--weights ${dir}: not a folder`);
    const preset = (str(a, 'preset') ?? 'web') as PresetName;
    const d = await decoderSource(folderReader(dir), makeConfig(preset, SLOT_VARIANTS[model]), seed);
    if (weightsArg && !d.trained) throw new Error(`--weights ${dir}: no model.json in it`);
    if (lors.slice && !d.lors) throw new Error(`${dir}: no LORS weights to slice (${d.note ?? 'not LORS'})`);
    if (d.note) log(`warning: untrained: ${d.note} (${preset} preset); boxes are meaningless`);
    decoders = { [model]: d.lors && lors.slice ? { lors: d.lors, slice: lors.slice } : d.source };
  }

  const t0 = performance.now();
  const det = await load({
    backend: 'wasm',
    readBackbone: folderReader(str(a, 'backbone') ?? join('public', 'models', 'nanodet')),
    decoders,
    inputSize: size,
    lorsPath: (str(a, 'lors-path') ?? 'folded') as 'folded' | 'factored',
  });
  try {
    const t1 = performance.now();
    const dets = await det.detect(image, { model, scoreThreshold: score, maxDetections: max });
    const t2 = performance.now();
    log(
      `${model} on ${det.backend}: ${image.width}×${image.height} photo, input ${size}, load ${(t1 - t0).toFixed(0)} ms, detect ${(t2 - t1).toFixed(0)} ms`,
    );
    console.log(flag(a, 'json') ? JSON.stringify(toJson(dets), null, 2) : formatTable(dets));
    const out = str(a, 'out');
    if (out) {
      writeFileSync(out, encodePng(drawDetections(image, dets)));
      log(`overlay written to ${out}`);
    }
  } finally {
    det.dispose();
  }
}

runCli(import.meta.url, 'detect', { spec: SPEC, usage: USAGE, maxPositionals: 1 }, main);
