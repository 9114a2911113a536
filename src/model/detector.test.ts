/**
 * The real NanoDet-g on the wasm backend (each forward ≈ 0.3 s): loaded once at 416 (through the detector) and
 * once at 320 (patched constants). Tiny seeded decoders keep the decoder checks fast.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { makeConfig } from './config';
import { decoderSource } from './decoderSource';
import { load, type Detector } from './detector';
import { featuresFromHost, featuresToHost } from './featureSet';
import { hostBuffers } from './hostFeatures';
import { OrderedLors } from './lors/source';
import { iou, loadNanoDet, NANODET_PARAMS, PAN_TAPS, decodeHead, disposeFeatures } from './backbone';
import { initArrays } from './weights/init';
import { folderReader, readImage } from '../cli/node-io';
import type { FileReader, RgbaImage } from './types';

const NANODET_DIR = 'public/models/nanodet';
let det: Detector;
let cat: RgbaImage;

beforeAll(async () => {
  det = await load({
    readBackbone: folderReader(NANODET_DIR),
    decoders: {
      vanilla: { config: makeConfig('tiny', 'vanilla'), seed: 1 },
      lors: { config: makeConfig('tiny', 'lors'), seed: 2 },
    },
  });
  cat = readImage('public/samples/chelsea.jpg');
});

afterAll(() => det?.dispose());

describe('backend', () => {
  it('auto falls back from WebGPU to wasm in Node, with a reason', () => {
    expect(det.backend).toBe('wasm');
    expect(det.fallbackReason).toMatch(/WebGPU.*using wasm/);
    expect(tf.getBackend()).toBe('wasm');
  });
});

describe('NanoDet-g backbone', () => {
  it('counts the float32 weights of its manifest', () => {
    const m = JSON.parse(readFileSync(`${NANODET_DIR}/model.json`, 'utf8')) as {
      weightsManifest: { weights: { shape: number[]; dtype: string }[] }[];
    };
    let n = 0;
    for (const g of m.weightsManifest)
      for (const w of g.weights) if (w.dtype === 'float32') n += w.shape.reduce((a, b) => a * b, 1);
    expect(n).toBe(NANODET_PARAMS);
    expect(det.backboneParams).toBe(NANODET_PARAMS);
  });

  it('its own head finds the cat in chelsea.jpg', async () => {
    const dets = await det.detect(cat, { model: 'nanodet' });
    const top = dets[0]!;
    expect(top.name).toBe('cat');
    expect(top.label).toBe(15);
    expect(top.score).toBeGreaterThan(0.5);
    // The cat's head and body fill the 451×300 frame except a strip of background on the right.
    expect(iou(top.box, [0, 0, 440, 300])).toBeGreaterThan(0.7);
  });

  it('extract() at 416 gives 3 NHWC levels and the head, and dispose frees them', () => {
    const n0 = tf.memory().numTensors;
    const f = det.extract(cat);
    expect(f.levels.map((l) => l.shape)).toEqual([
      [1, 52, 52, 128],
      [1, 26, 26, 128],
      [1, 13, 13, 128],
    ]);
    expect(f.head!.scores.map((t) => t.shape)).toEqual([
      [1, 2704, 80],
      [1, 676, 80],
      [1, 169, 80],
    ]);
    expect(f.head!.boxes.map((t) => t.shape)).toEqual([
      [1, 2704, 44],
      [1, 676, 44],
      [1, 169, 44],
    ]);
    expect(f.letterbox).toMatchObject({ size: 416, width: 416, height: 277, origWidth: 451, origHeight: 300 });
    f.dispose();
    expect(tf.memory().numTensors).toBe(n0);
  });

  it('runs at 320 with the patched upsample constants (levels transposed from NCHW)', async () => {
    const nd = await loadNanoDet(folderReader(NANODET_DIR), 320);
    try {
      const f = nd.extract(cat);
      expect(f.levels.map((l) => l.shape)).toEqual([
        [1, 40, 40, 128],
        [1, 20, 20, 128],
        [1, 10, 10, 128],
      ]);
      expect(f.head!.scores.map((t) => t.shape)).toEqual([
        [1, 1600, 80],
        [1, 400, 80],
        [1, 100, 80],
      ]);
      // NHWC level [0, y, x, c] equals the graph's NCHW tap [0, c, y, x].
      const { input } = (await import('./letterbox')).letterbox(cat, 320);
      const nchw = nd.model.execute(input, PAN_TAPS[1]) as tf.Tensor4D;
      const a = (await nchw.array())[0]!,
        b = (await f.levels[1]!.array())[0]!;
      for (const [c, y, x] of [
        [0, 0, 0],
        [7, 3, 11],
        [127, 19, 19],
        [64, 10, 2],
      ] as const)
        expect(b[y]![x]![c]).toBeCloseTo(a[c]![y]![x]!, 5);
      tf.dispose([input, nchw]);
      const dets = await decodeHead(f.head!, f.letterbox);
      expect(dets[0]!.name).toBe('cat');
      disposeFeatures(f);
    } finally {
      nd.dispose();
    }
  });
});

describe('detect()', () => {
  it('leaves tf.memory().numTensors unchanged (photo or FeatureSet, every model)', async () => {
    await det.warmup();
    const n0 = tf.memory().numTensors;
    await det.detect(cat, { model: 'nanodet' });
    await det.detect(cat, { model: 'vanilla' });
    expect(tf.memory().numTensors).toBe(n0);

    const f = det.extract(cat, { withHead: false });
    const n1 = tf.memory().numTensors;
    const viaLazyHead = await det.detect(f, { model: 'nanodet' }); // head computed on demand, then freed
    expect(tf.memory().numTensors).toBe(n1);
    const lors = await det.detect(f, { model: 'lors', scoreThreshold: 0, maxDetections: 7 });
    const vanilla = await det.detect(f, { model: 'vanilla', scoreThreshold: 0 });
    // Each decoder's necked maps (one per level) stay with the features and are reused: no growth, same detections.
    const kept = n1 + 2 * f.levels.length;
    expect(tf.memory().numTensors).toBe(kept);
    expect(await det.detect(f, { model: 'vanilla', scoreThreshold: 0 })).toEqual(vanilla);
    expect(tf.memory().numTensors).toBe(kept);
    f.dispose();
    expect(tf.memory().numTensors).toBe(n0);

    expect(viaLazyHead[0]!.name).toBe('cat');
    expect(lors).toHaveLength(7);
    expect(vanilla).toHaveLength(100);
    for (const d of [...lors, ...vanilla]) {
      const [x1, y1, x2, y2] = d.box;
      expect(0 <= x1 && x1 <= x2 && x2 <= 451 && 0 <= y1 && y1 <= y2 && y2 <= 300).toBe(true);
    }
    expect(lors.map((d) => d.score)).toEqual([...lors.map((d) => d.score)].sort((a, b) => b - a));
  });

  it('stage: the last equals the default, earlier stages differ, leak-free; out-of-range stages refused', async () => {
    const f = det.extract(cat, { withHead: false });
    try {
      const stages = det.configs.vanilla!.decoder.stages;
      const n1 = tf.memory().numTensors;
      for (const model of ['vanilla', 'lors'] as const) {
        const opts = { model, scoreThreshold: 0, maxDetections: 20 };
        const byDefault = await det.detect(f, opts);
        const last = await det.detect(f, { ...opts, stage: stages });
        const first = await det.detect(f, { ...opts, stage: 1 });
        const middle = await det.detect(f, { ...opts, stage: 3 });
        expect(last).toEqual(byDefault);
        // (Seeded box heads start at zero refinement: the scores tell the stages apart.)
        expect(first.map((d) => d.score)).not.toEqual(byDefault.map((d) => d.score));
        expect(middle.map((d) => d.score)).not.toEqual(first.map((d) => d.score));
      }
      const kept = n1 + 2 * f.levels.length; // the two decoders' necked maps, kept with f
      expect(tf.memory().numTensors).toBe(kept);
      await expect(det.detect(f, { model: 'vanilla', stage: 0 })).rejects.toThrow(/stage must be an integer in 1\.\.6/);
      await expect(det.detect(f, { model: 'lors', stage: stages + 1 })).rejects.toThrow(/got 7/);
      expect(tf.memory().numTensors).toBe(kept);
    } finally {
      f.dispose();
    }
  });

  it('detectStages: one forward gives every stage, each equal to detect at that stage; leak-free', async () => {
    const f = det.extract(cat, { withHead: false });
    try {
      const stages = det.configs.vanilla!.decoder.stages;
      for (const model of ['vanilla', 'lors'] as const) {
        const opts = { model, scoreThreshold: 0, maxDetections: 20 };
        const n1 = tf.memory().numTensors;
        const all = await det.detectStages(f, opts);
        expect(tf.memory().numTensors).toBe(n1 + f.levels.length); // the necked maps, kept with f
        expect(all).toHaveLength(stages);
        expect(all[stages - 1]).toEqual(await det.detect(f, opts));
        expect(all[0]).toEqual(await det.detect(f, { ...opts, stage: 1 }));
        expect(all[2]).toEqual(await det.detect(f, { ...opts, stage: 3 }));
      }
      await expect(det.detectStages(f, { model: 'nanodet' })).rejects.toThrow(/has no stages/);
    } finally {
      f.dispose();
    }
  });

  it('queryInit "nanodet": the queries start from NanoDet\'s proposals (head run on demand), leak-free', async () => {
    const cfg = { ...makeConfig('tiny', 'lors'), queryInit: 'nanodet' as const };
    await det.setDecoder('lors', { config: cfg, seed: 2 });
    const f = det.extract(cat, { withHead: false });
    const n1 = tf.memory().numTensors;
    const withProposals = await det.detect(f, { model: 'lors', scoreThreshold: 0, maxDetections: 20 });
    expect(tf.memory().numTensors).toBe(n1 + f.levels.length); // the necked maps, kept with f
    const n0 = tf.memory().numTensors;
    await det.detect(cat, { model: 'lors' }); // from a photo: extracted with the head
    expect(tf.memory().numTensors).toBe(n0);
    const plain = makeConfig('tiny', 'lors');
    await det.setDecoder('lors', { config: plain, seed: 2 });
    const wholeImage = await det.detect(f, { model: 'lors', scoreThreshold: 0, maxDetections: 20 });
    f.dispose();
    // Same weights, other initial boxes: other detections.
    expect(withProposals.map((d) => d.box)).not.toEqual(wholeImage.map((d) => d.box));
  });

  it('a decoders-only detector on host copies of the features detects exactly as the full one; leak-free', async () => {
    const cfg = { ...makeConfig('tiny', 'vanilla'), queryInit: 'nanodet' as const };
    await det.setDecoder('vanilla', { config: cfg, seed: 3 });
    const only = await load({ decoders: { vanilla: { config: cfg, seed: 3 } } });
    try {
      expect(only.hasBackbone).toBe(false);
      expect(only.backboneParams).toBe(0);
      expect(() => only.extract(cat)).toThrow(/no backbone/);
      await expect(only.detect(cat, { model: 'vanilla' })).rejects.toThrow(/no backbone/);
      const f = det.extract(cat);
      const host = await featuresToHost(f);
      expect(host.levels.map((l) => l.shape)).toEqual(f.levels.map((l) => l.shape));
      expect(hostBuffers(host)).toHaveLength(9); // 3 levels, 3 score maps, 3 box maps
      const opts = { model: 'vanilla', scoreThreshold: 0, maxDetections: 20 } as const;
      const want = await det.detectStages(f, opts);
      f.dispose();
      const n0 = tf.memory().numTensors;
      const g = featuresFromHost(host);
      const got = await only.detectStages(g, opts);
      g.dispose();
      expect(tf.memory().numTensors).toBe(n0);
      expect(got).toEqual(want);
      // Without the head, the proposals cannot be made: a clear error, nothing left behind.
      const { head: _, ...noHead } = host;
      const h = featuresFromHost(noHead);
      await expect(only.detect(h, opts)).rejects.toThrow(/no backbone/);
      h.dispose();
      expect(tf.memory().numTensors).toBe(n0);
      expect(() =>
        featuresFromHost({ ...host, levels: [{ shape: [1, 2, 2, 128], data: new Float32Array(3) }] }),
      ).toThrow(/level 0 has shape \[1, 2, 2, 128\] and 3 values/);
      expect(tf.memory().numTensors).toBe(n0);
    } finally {
      only.dispose();
    }
  });

  it('runs a slice of ordered LORS weights (OrderedLors) and refuses slices beyond them', async () => {
    const FIX = 'test/fixtures/compress/lorsified-vanilla'; // tiny, r_A 16, K 2, r_T 32
    const src = await OrderedLors.open(folderReader(FIX));
    const d2 = await load({
      readBackbone: folderReader(NANODET_DIR),
      decoders: { lors: await src.slice({ rankA: 4, groupsA: 1 }) },
    });
    try {
      expect(d2.configs.lors!.lors).toEqual({
        rankA: 4,
        groupsA: [1, 1, 1, 1, 1, 1],
        rankT: 32,
        groupsT: [1, 1, 1, 1, 1, 1],
      });
      const n0 = tf.memory().numTensors;
      expect((await d2.detect(cat, { model: 'lors', scoreThreshold: 0, maxDetections: 5 })).length).toBe(5);
      expect(tf.memory().numTensors).toBe(n0);
    } finally {
      d2.dispose();
    }
    // r = 0 (shared only) loads and runs on both paths, leak-free
    for (const lorsPath of ['folded', 'factored'] as const) {
      const d3 = await load({
        readBackbone: folderReader(NANODET_DIR),
        decoders: { lors: await src.slice({ rankA: 0, rankT: 0 }) },
        lorsPath,
      });
      try {
        expect(d3.configs.lors!.lors).toMatchObject({ rankA: 0, rankT: 0 });
        const n0 = tf.memory().numTensors;
        const dets = await d3.detect(cat, { model: 'lors', scoreThreshold: 0, maxDetections: 5 });
        expect(dets.length).toBe(5);
        expect(dets.every((d) => Number.isFinite(d.score) && d.box.every(Number.isFinite))).toBe(true);
        expect(tf.memory().numTensors).toBe(n0);
      } finally {
        d3.dispose();
      }
    }
    await expect(src.slice({ rankT: 33 })).rejects.toThrow(/r_T ≤ 32/);
    expect((await src.slice({ rankT: 33 }, 'clamp')).config.lors!.rankT).toBe(32);
  });

  it('setDecoder replaces a decoder and frees the old weights; bad requests fail clearly', async () => {
    const n0 = tf.memory().numTensors;
    const cfg = makeConfig('tiny', 'vanilla');
    await det.setDecoder('vanilla', { config: cfg, seed: 9 });
    expect(tf.memory().numTensors).toBe(n0);
    // LORS (folded L_output, prepared weights): the replaced decoder's tensors are all freed
    const lorsCfg = makeConfig('tiny', 'lors');
    await det.setDecoder('lors', { config: lorsCfg, seed: 2 });
    expect(tf.memory().numTensors).toBe(n0);
    // arrays that do not fit the config are refused and nothing new stays allocated; the old decoder keeps running
    const broken = initArrays(lorsCfg, 3);
    broken.delete('stages.1.ffn.fc1.weight');
    await expect(det.setDecoder('lors', { config: lorsCfg, arrays: broken })).rejects.toThrow(
      /stages.1.ffn.fc1.weight/,
    );
    expect(tf.memory().numTensors).toBe(n0);
    expect(det.configs.lors).toEqual(lorsCfg);
    await expect(det.setDecoder('lors', { config: cfg, seed: 0 })).rejects.toThrow(/needs a lors config/);
    await expect(det.detect(cat, { model: 'nope' as never })).rejects.toThrow(/unknown model/);
  });
});

describe('decoderSource: trained weights if the folder has them, else seeded', () => {
  const fallback = makeConfig('tiny', 'vanilla');
  it('a folder with model.json: its weights, with the shard bytes', async () => {
    const d = await decoderSource(folderReader('test/fixtures/parity/vanilla'), fallback);
    expect(d.trained).toBe(true);
    expect('read' in d.source).toBe(true);
    expect(d.weightBytes).toBeGreaterThan(0);
    expect(d.note).toBeUndefined();
  });
  it('a folder without one: the seeded init of the fallback, with a note naming the file', async () => {
    const d = await decoderSource(folderReader('test/fixtures/no-such-folder'), fallback, 3);
    expect(d.source).toEqual({ config: fallback, seed: 3 });
    expect(d.trained).toBe(false);
    expect(d.note).toMatch(/no-such-folder.*model\.json: file not found/);
  });
  it('a LORS folder: an ordered source any slice of which setDecoder loads; a folder of another variant is refused', async () => {
    const lorsCfg = makeConfig('tiny', 'lors');
    const d = await decoderSource(folderReader('test/fixtures/compress/lorsified-vanilla'), lorsCfg);
    expect(d.trained).toBe(true);
    expect(d.lors).toBeDefined();
    expect(d.source).toEqual({ lors: d.lors });
    expect(d.weightBytes).toBe(d.lors!.weightBytes);
    const n0 = tf.memory().numTensors;
    const config = await det.setDecoder('lors', { lors: d.lors!, slice: { rankA: 2, groupsA: 1 } });
    expect(config.lors!.rankA).toBe(2);
    await det.setDecoder('lors', { config: lorsCfg, seed: 2 });
    expect(tf.memory().numTensors).toBe(n0);
    await expect(decoderSource(folderReader('test/fixtures/parity/vanilla'), lorsCfg)).rejects.toThrow(
      /model\.json: .*variant is "vanilla", expected "lors"/,
    );
  });
  it('a model.json that fails to read for another reason is an error, not a silent seeded decoder', async () => {
    const failing: FileReader = async () => {
      throw new Error('network down');
    };
    await expect(decoderSource(failing, fallback)).rejects.toThrow(/network down/);
  });
});
