/**
 * End-to-end check of `npm run eval`'s runEval on real photos of the shared coco-subset (skipped when the data or
 * NanoDet's model are missing): the app's detector → COCO results → evaluateCoco.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { COCO_CATEGORY_IDS } from '../model/cocoFormat';
import { evaluateCoco } from '../eval/coco';
import { readGroundTruth, runEval } from './eval';

const DATA = resolve('../shared/data/coco-subset');
const IMAGES = join(DATA, 'val');
const ANN = join(DATA, 'annotations/instances_val.json');
const ready = existsSync(ANN) && existsSync('public/models/nanodet/model.json');

describe.skipIf(!ready)('runEval on coco-subset val', () => {
  it('nanodet on 2 images: valid COCO results, metrics = evaluateCoco of them, no tensor left', async () => {
    const before = tf.engine().state.numTensors;
    const { report, metrics, dets, gt } = await runEval({
      images: IMAGES,
      annotations: ANN,
      model: 'nanodet',
      limit: 2,
      quiet: true,
    });
    const first2 = readGroundTruth(ANN)
      .images.slice(0, 2)
      .map((im) => im.id);
    expect(gt.images.map((im) => im.id)).toEqual(first2);
    expect(gt.annotations.every((a) => first2.includes(a.image_id))).toBe(true);
    expect(report.images).toBe(2);
    expect(report.model).toBe('nanodet');
    expect(report.weights).toBe('public/models/nanodet');
    expect(report.scoreThreshold).toBe(0);
    expect(Number.isNaN(Date.parse(report.date))).toBe(false);
    expect(dets.length).toBe(report.detections);
    expect(dets.length).toBeLessThanOrEqual(200);
    const ids = new Set<number>(COCO_CATEGORY_IDS);
    for (const d of dets) {
      expect(first2).toContain(d.image_id);
      expect(ids.has(d.category_id)).toBe(true);
      expect(d.bbox[2]).toBeGreaterThanOrEqual(0);
      expect(d.bbox[3]).toBeGreaterThanOrEqual(0);
      expect(d.score).toBeGreaterThan(0);
    }
    expect(metrics).toEqual(evaluateCoco(gt, dets));
    for (const k of ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'] as const) {
      expect(report[k]).toBe(metrics[k]);
      expect(report[k] === -1 || (report[k] >= 0 && report[k] <= 100)).toBe(true);
    }
    // A pretrained COCO detector finds a good share of these objects (about 50 AP50 on the first images).
    expect(report.AP50).toBeGreaterThan(20);
    expect(report.AP).toBeLessThanOrEqual(report.AP50);
    expect(tf.engine().state.numTensors).toBe(before);
  });

  it('a seeded random-init decoder runs through the same path (AP ≈ 0)', async () => {
    const { report } = await runEval({
      images: IMAGES,
      annotations: ANN,
      model: 'vanilla',
      init: { preset: 'tiny', seed: 1 },
      limit: 1,
      quiet: true,
    });
    expect(report.weights).toBe('init:tiny:seed1');
    expect(report.detections).toBe(100);
    expect(report.AP).toBeLessThan(5);
  });

  it('explains a missing weights folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eval-'));
    await expect(
      runEval({ images: IMAGES, annotations: ANN, model: 'lors', weights: join(dir, 'none'), limit: 1, quiet: true }),
    ).rejects.toThrow(/no lors weights folder/);
    await expect(
      runEval({ images: IMAGES, annotations: join(dir, 'x.json'), model: 'nanodet', quiet: true }),
    ).rejects.toThrow(/file not found/);
  });
});
