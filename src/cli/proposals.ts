/**
 * npm run proposals -- --features DIR|FILE.json[,...] [--count 100] [--backbone DIR]
 *
 * Query proposals for training with `queryInit: 'nanodet'` (a lever for a small training budget): for every image of a feature cache
 * (`npm run features`), NanoDet-g's own head is run on the cached PAN maps and `headProposals` (the same function the
 * app uses) picks the best `count` boxes. Written next to the cache:
 *
 *   <stem>.proposals.f32   little-endian float32 [N, count, 5] = (x1, y1, x2, y2, score) in input pixels of the cache's
 *                          frame (mirrored for a -flip cache), best first, rows in the cache's image order;
 *                          missing proposals are all-zero rows with score −1
 *   <stem>.proposal-scores.f16  little-endian float16 [N, count, 80]: NanoDet's score of every COCO class for each
 *                          proposal (the soft targets of `--distill`), zeros for missing proposals
 *   <stem>.proposals.json  { count, images: N, cache, iouThreshold, layout, classScores }
 *
 * The head runs on the float16-rounded cached maps (the app runs it on the float32 maps of the photo).
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../model/backend';
import { disposeFeatures, headProposals, loadNanoDet, NANODET_CLASSES, PROPOSAL_IOU } from '../model/backbone';
import { float16ToFloat32, float32ToFloat16 } from '../model/weights/float16';
import { int, requireStr, runCli, str, usageText, type OptionSpec, type ParsedArgs } from './args';
import type { FeatureCacheMeta } from './features';
import { folderReader, isDirectory } from './node-io';

const SPEC: Record<string, OptionSpec> = {
  features: { type: 'string', help: 'feature-cache folder(s) or .json files, comma-separated (required)' },
  count: { type: 'string', help: "proposals per image (default 100 = the web preset's queries)" },
  backbone: { type: 'string', help: 'NanoDet folder (default public/models/nanodet)' },
};
const USAGE = usageText('npm run proposals --', '--features DIR [options]', SPEC);

/** The cache json files named by --features (folders: every `*-s<size>[-flip].json` with its .f16). */
export function cacheJsons(spec: string): string[] {
  const out: string[] = [];
  for (const p of spec.split(',').filter(Boolean)) {
    if (isDirectory(p)) {
      const found = readdirSync(p)
        .filter((f) => /-s\d+(-flip)?\.json$/.test(f))
        .sort()
        .map((f) => join(p, f));
      if (!found.length) throw new Error(`--features ${p}: no feature cache (<name>-s<size>.json) in this folder`);
      out.push(...found);
    } else if (p.endsWith('.json')) out.push(p);
    else throw new Error(`--features ${p}: not a folder or a cache .json`);
  }
  return out;
}

export async function writeProposals(o: {
  json: string;
  count: number;
  backbone?: string;
  quiet?: boolean;
}): Promise<string> {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1)
    throw new Error('proposals: big-endian machines are not supported');
  const meta = JSON.parse(readFileSync(o.json, 'utf8')) as FeatureCacheMeta;
  const dataPath = o.json.replace(/\.json$/, '.f16');
  const N = meta.images.length,
    P = meta.positions,
    C = meta.channels;
  const rowBytes = P * C * 2;
  if (statSync(dataPath).size !== N * rowBytes) throw new Error(`${dataPath}: size does not match ${o.json}`);
  await initBackend('wasm');
  const nanodet = await loadNanoDet(folderReader(o.backbone ?? 'public/models/nanodet'), meta.size);
  const out = new Float32Array(N * o.count * 5);
  const classScores = new Float32Array(N * o.count * NANODET_CLASSES);
  const fd = openSync(dataPath, 'r');
  const row = new Uint8Array(rowBytes);
  const t0 = performance.now();
  try {
    for (let i = 0; i < N; i++) {
      readSync(fd, row, 0, rowBytes, i * rowBytes);
      const x = float16ToFloat32(new Uint16Array(row.buffer, 0, P * C));
      let at = 0;
      const levels = meta.levelShapes.map(([h, w]) => {
        const t = tf.tensor4d(x.subarray(at * C, (at + h * w) * C), [1, h, w, C]);
        at += h * w;
        return t;
      });
      const head = nanodet.head(levels);
      try {
        const im = meta.images[i]!;
        const p = await headProposals(head, meta.size, im.resizedWidth, im.resizedHeight, o.count);
        const base = i * o.count * 5;
        classScores.set(p.classScores, i * o.count * NANODET_CLASSES);
        for (let k = 0; k < o.count; k++) {
          if (k < p.scores.length) {
            out.set(p.boxes.subarray(4 * k, 4 * k + 4), base + 5 * k);
            out[base + 5 * k + 4] = p.scores[k]!;
          } else out[base + 5 * k + 4] = -1;
        }
      } finally {
        disposeFeatures({ levels, head });
      }
      if (!o.quiet && (i % 200 === 0 || i === N - 1)) {
        const el = (performance.now() - t0) / 1000;
        process.stderr.write(`\rproposals ${basename(o.json)}: ${i + 1}/${N} (${((i + 1) / el).toFixed(1)} img/s)   `);
      }
    }
  } finally {
    closeSync(fd);
    nanodet.dispose();
  }
  const stem = o.json.replace(/\.json$/, '');
  writeFileSync(`${stem}.proposals.f32`, new Uint8Array(out.buffer));
  writeFileSync(`${stem}.proposal-scores.f16`, new Uint8Array(float32ToFloat16(classScores).buffer));
  writeFileSync(
    `${stem}.proposals.json`,
    JSON.stringify(
      {
        count: o.count,
        images: N,
        cache: basename(o.json),
        iouThreshold: PROPOSAL_IOU,
        layout:
          'little-endian float32 [N, count, 5] = x1, y1, x2, y2, score (input pixels, best first; score -1 = none)',
        classScores: 'proposal-scores.f16: little-endian float16 [N, count, 80], class scores of each proposal',
      },
      null,
      1,
    ),
  );
  if (!o.quiet) process.stderr.write(`\nproposals: wrote ${stem}.proposals.f32\n`);
  return `${stem}.proposals.f32`;
}

async function main(a: ParsedArgs) {
  const count = int(a, 'count', 100, 1, 10000)!;
  for (const json of cacheJsons(requireStr(a, 'features')))
    await writeProposals({ json, count, backbone: str(a, 'backbone') });
}

runCli(import.meta.url, 'proposals', { spec: SPEC, usage: USAGE }, main);
