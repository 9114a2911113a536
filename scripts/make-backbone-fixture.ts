/**
 * Cross-language fixture of the frozen backbone (test/fixtures/backbone/): what tfjs computes for one small photo,
 * which training/tests/test_backbone.py checks the PyTorch port (training/lors_studio/backbone.py) against.
 *
 *   npx tsx scripts/make-backbone-fixture.ts          (after npm install; uses public/models/nanodet)
 *
 * Two PNG inputs (so both sides see the same pixels), from public/samples/chelsea.jpg: plain.png, the photo reduced
 * to 160×120 by area averaging (the letterbox upsamples it), and flip.png, a 432×40 strip of it (downsampled, and run
 * mirrored). For each: <name>.f32 = every 101st value of the PAN levels (NHWC, s8, s16, s32 concatenated) followed by
 * the head (scores and box logits per level), <name>.proposals.f32 = headProposals(…, 100) as [100, 5] (x1, y1, x2,
 * y2, score; score −1 = none); meta.json with the letterboxes.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { initBackend } from '../src/model/backend';
import { loadNanoDet } from '../src/model/backbone/nanodet';
import { headProposals } from '../src/model/backbone/decode';
import { resizeArea } from '../src/model/letterbox';
import { encodePng, folderReader, readImage } from '../src/cli/node-io';

export const FIXTURE_DIR = 'test/fixtures/backbone';
export const SAMPLE_EVERY = 101;

async function main() {
  await initBackend('wasm');
  mkdirSync(FIXTURE_DIR, { recursive: true });
  const photo = readImage('public/samples/chelsea.jpg');
  writeFileSync(`${FIXTURE_DIR}/plain.png`, encodePng(resizeArea(photo, 160, 120)));
  const strip = new Uint8Array(432 * 40 * 4);
  const y0 = Math.floor(photo.height / 2) - 20;
  for (let y = 0; y < 40; y++)
    strip.set(photo.data.subarray((y0 + y) * photo.width * 4, ((y0 + y) * photo.width + 432) * 4), y * 432 * 4);
  writeFileSync(`${FIXTURE_DIR}/flip.png`, encodePng({ width: 432, height: 40, data: strip }));
  const nanodet = await loadNanoDet(folderReader('public/models/nanodet'));
  const meta: Record<string, unknown> = {
    sampleEvery: SAMPLE_EVERY,
    source: 'public/samples/chelsea.jpg: 160×120 (area) and a 432×40 strip',
  };
  try {
    for (const flip of [false, true]) {
      const name = flip ? 'flip' : 'plain';
      const f = nanodet.extract(readImage(`${FIXTURE_DIR}/${name}.png`), { withHead: true, flip });
      try {
        const parts = [...f.levels, ...f.head!.scores, ...f.head!.boxes].map((t) => t.dataSync() as Float32Array);
        const n = parts.reduce((a, p) => a + p.length, 0);
        const all = new Float32Array(n);
        let at = 0;
        for (const p of parts) {
          all.set(p, at);
          at += p.length;
        }
        const sampled = new Float32Array(Math.ceil(n / SAMPLE_EVERY));
        for (let i = 0; i < sampled.length; i++) sampled[i] = all[i * SAMPLE_EVERY]!;
        writeFileSync(`${FIXTURE_DIR}/${name}.f32`, new Uint8Array(sampled.buffer));
        const p = await headProposals(f.head!, f.letterbox.size, f.letterbox.width, f.letterbox.height, 100);
        const rows = new Float32Array(100 * 5);
        for (let k = 0; k < 100; k++) {
          if (k < p.scores.length) {
            rows.set(p.boxes.subarray(4 * k, 4 * k + 4), 5 * k);
            rows[5 * k + 4] = p.scores[k]!;
          } else rows[5 * k + 4] = -1;
        }
        writeFileSync(`${FIXTURE_DIR}/${name}.proposals.f32`, new Uint8Array(rows.buffer));
        meta[name] = { letterbox: f.letterbox, values: n, proposals: p.scores.length };
      } finally {
        tf.dispose([...f.levels, ...f.head!.scores, ...f.head!.boxes]);
      }
    }
  } finally {
    nanodet.dispose();
  }
  writeFileSync(`${FIXTURE_DIR}/meta.json`, JSON.stringify(meta, null, 1) + '\n');
  console.log(`wrote ${FIXTURE_DIR}`);
}

main();
