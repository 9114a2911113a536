import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { parseArgs, UsageError, type OptionSpec } from './args';
import { paramsReport } from './params';
import { countParameters, parameterSpec } from '../model/params';
import {
  decodeImage,
  drawDetections,
  encodePng,
  classColor,
  folderReader,
  readImage,
  writeWeightsFolder,
} from './node-io';
import { buildInitWeights, planInitWeights } from './init-weights';
import { encodeWeightsFolder } from './encode-weights';
import { loadWeightArrays } from '../model/weights/io';
import { writeFeatureCache, splitName } from './features';
import { loadNanoDet, PAN_TAPS, NANODET_PARAMS } from '../model/backbone';
import { letterbox } from '../model/letterbox';
import { fromFloat16Bits } from '../model/weights/float16';

const tmp = mkdtempSync(join(tmpdir(), 'lors-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('params CLI', () => {
  it('paper LORS: decoder 35,348,264; total adds queries, neck and NanoDet-g', () => {
    const r = paramsReport(['--preset', 'paper', '--variant', 'lors', '--json']);
    expect(r.decoder).toBe(35_348_264);
    expect(r.queries).toBe(100 * 256);
    expect(r.neck).toBe(3 * (256 * 128 + 256) + 2 * 256);
    expect(r.backbone).toBe(NANODET_PARAMS);
    expect(r.total).toBe(35_348_264 + 25_600 + 99_072 + 512 + NANODET_PARAMS);
    expect(Number.isInteger(r.total)).toBe(true);
    expect(r.perStage).toHaveLength(6);
    const json = JSON.parse(JSON.stringify(r)) as { decoder: number };
    expect(json.decoder).toBe(35_348_264);
  });

  it('rejects bad arguments', () => {
    expect(() => paramsReport(['--preset', 'huge'])).toThrow(UsageError);
    expect(() => paramsReport(['--variant', 'vanilla', '--rank-a', '4'])).toThrow(/only applies to --variant lors/);
    expect(() => paramsReport(['--rank-a', 'x'])).toThrow(/integer/);
    expect(() => paramsReport(['--groups', '1,0'])).toThrow(/groups/);
  });
});

describe('params CLI, live compression (--lors-source)', () => {
  const FIX = 'test/fixtures/compress/lorsified-vanilla'; // tiny, r_A 16, K 2, r_T 32
  it("counts the slice of the source the options select (what the app's sliders count)", () => {
    const r = paramsReport(['--lors-source', 'compressed', '--weights', FIX, '--rank-a', '4', '--groups', '1']);
    expect(r.config.lors).toEqual({ rankA: 4, groupsA: [1, 1, 1, 1, 1, 1], rankT: 32, groupsT: [1, 1, 1, 1, 1, 1] });
    expect(r.decoder).toBe(countParameters(r.config).decoder);
    const whole = paramsReport(['--lors-source', 'compressed', '--weights', FIX]);
    expect(whole.config.lors).toMatchObject({ rankA: 16, groupsA: [2, 2, 2, 2, 2, 2] });
    expect(whole.decoder).toBeGreaterThan(r.decoder);
  });
  it('refuses slices beyond the source and options that do not apply', () => {
    expect(() => paramsReport(['--lors-source', 'compressed', '--weights', FIX, '--rank-a', '17'])).toThrow(/r_A ≤ 16/);
    expect(() => paramsReport(['--lors-source', 'compressed', '--weights', FIX, '--groups', '3'])).toThrow(
      /K of LORS\^A must be 1..2/,
    );
    expect(() => paramsReport(['--lors-source', 'compressed', '--weights', FIX, '--preset', 'web'])).toThrow(
      /does not apply with --lors-source/,
    );
    expect(() => paramsReport(['--lors-source', 'compressed', '--weights', 'nope'])).toThrow(
      /nope\/model.json not found/,
    );
  });
});

describe('args', () => {
  const spec: Record<string, OptionSpec> = { a: { type: 'string', help: '' }, f: { type: 'boolean', help: '' } };
  it('parses values, flags and positionals; errors are UsageErrors', () => {
    const p = parseArgs(['x.jpg', '--a', '1', '--f', '--a=2'], spec);
    expect(p.positionals).toEqual(['x.jpg']);
    expect(p.options).toEqual({ a: '2', f: true });
    expect(() => parseArgs(['--b'], spec)).toThrow(/unknown option --b/);
    expect(() => parseArgs(['--a'], spec)).toThrow(/needs a value/);
    expect(() => parseArgs(['1', '2'], spec, { maxPositionals: 1 })).toThrow(/unexpected argument/);
  });
});

describe('node-io', () => {
  it('PNG round trip, overlay drawing, clear errors for other files', () => {
    const img = { data: new Uint8ClampedArray(20 * 10 * 4).fill(255), width: 20, height: 10 };
    const back = decodeImage(encodePng(img), 'x.png');
    expect([back.width, back.height]).toEqual([20, 10]);
    expect(Array.from(back.data)).toEqual(Array.from(img.data));

    const big = { data: new Uint8ClampedArray(100 * 60 * 4).fill(255), width: 100, height: 60 };
    const drawn = drawDetections(big, [{ box: [10, 30, 80, 55], label: 15, name: 'cat', score: 0.9 }]);
    const px = (x: number, y: number) => Array.from(drawn.data.slice((y * 100 + x) * 4, (y * 100 + x) * 4 + 3));
    expect(px(10, 45)).toEqual(classColor(15)); // left edge
    expect(px(79, 45)).toEqual(classColor(15)); // right edge
    expect(px(40, 54)).toEqual(classColor(15)); // bottom edge
    expect(px(40, 45)).toEqual([255, 255, 255]); // inside untouched
    expect(px(90, 10)).toEqual([255, 255, 255]); // outside untouched
    expect(px(11, 20)).toEqual(classColor(15)); // label background above the box
    expect(big.data[(45 * 100 + 10) * 4 + 1]).toBe(255); // the input is not modified

    expect(() => decodeImage(new TextEncoder().encode('hello'), 'a.txt')).toThrow(/a\.txt: not a JPEG or PNG/);
    const jpg = readFileSync('public/samples/chelsea.jpg');
    expect(() => decodeImage(new Uint8Array(jpg.subarray(0, 600)), 'cut.jpg')).toThrow(/cut\.jpg: corrupt/);
    expect(() => readImage(join(tmp, 'missing.jpg'))).toThrow(/file not found/);
    const cat = readImage('public/samples/chelsea.jpg');
    expect([cat.width, cat.height, cat.data.length]).toEqual([451, 300, 451 * 300 * 4]);
  });
});

describe('features CLI', () => {
  it('writes [N, P, 128] float16, levels NHWC s8|s16|s32, and the JSON index', async () => {
    expect(splitName('/x/instances_val.json')).toBe('val');
    // A 3-image COCO file over the sample photos (only the first 2 are used: --limit 2).
    const images = join(tmp, 'images');
    mkdirSync(images);
    const files = ['chelsea.jpg', 'coffee.jpg', 'rocket.jpg'];
    for (const f of files) copyFileSync(`public/samples/${f}`, join(images, f));
    const sizes = [
      [451, 300],
      [600, 400],
      [640, 427],
    ];
    const ann = join(tmp, 'instances_mini.json');
    writeFileSync(
      ann,
      JSON.stringify({
        images: files.map((f, i) => ({ id: 10 + i, file_name: f, width: sizes[i]![0], height: sizes[i]![1] })),
        annotations: [],
      }),
    );
    const {
      data: f16,
      meta,
      info,
    } = await writeFeatureCache({
      images,
      annotations: ann,
      out: join(tmp, 'out'),
      size: 320,
      flip: false,
      limit: 2,
      quiet: true,
    });
    expect(f16).toBe(join(tmp, 'out', 'mini-s320.f16'));
    const P = 40 * 40 + 20 * 20 + 10 * 10;
    const bytes = readFileSync(f16);
    expect(bytes.length).toBe(2 * P * 128 * 2);
    const j = JSON.parse(readFileSync(meta, 'utf8')) as typeof info;
    expect(j).toMatchObject({
      size: 320,
      strides: [8, 16, 32],
      channels: 128,
      dtype: 'float16',
      positions: P,
      levelShapes: [
        [40, 40],
        [20, 20],
        [10, 10],
      ],
      flip: false,
    });
    expect(j.images).toHaveLength(2);
    const im = j.images[1]!;
    expect(im).toMatchObject({
      id: 11,
      file_name: 'coffee.jpg',
      width: 600,
      height: 400,
      resizedWidth: 320,
      resizedHeight: 213,
    });
    expect(im.scale).toBeCloseTo(320 / Math.max(im.width, im.height), 12);

    // Independent check of the layout: image 1, level s16 at (y, x, c) vs the graph's NCHW tap.
    const nd = await loadNanoDet(folderReader('public/models/nanodet'), 320);
    const photo = readImage(join(images, im.file_name));
    const { input } = letterbox(photo, 320);
    const nchw = (await (nd.model.execute(input, PAN_TAPS[1]) as tf.Tensor4D).array())[0]!;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const [y, x, c] of [
      [0, 0, 0],
      [5, 17, 99],
      [19, 3, 127],
    ] as const) {
      const row = 1 * P + 40 * 40 + y * 20 + x;
      const v = fromFloat16Bits(view.getUint16((row * 128 + c) * 2, true));
      expect(v).toBeCloseTo(nchw[c]![y]![x]!, 2);
    }
    input.dispose();
    nd.dispose();
  });
});

describe('init-weights and encode-weights CLIs', () => {
  it('a seeded folder re-stored as int8 + deflate loads within half a step per row and keeps its config and meta', async () => {
    const plan = planInitWeights(['--out', join(tmp, 'init'), '--preset', 'tiny', '--variant', 'lors', '--seed', '3']);
    expect(plan.encoding).toBe('float32');
    writeWeightsFolder(plan.out, await buildInitWeights(plan));
    expect(() => planInitWeights(['--out', 'x', '--encoding', 'int4'])).toThrow(/--encoding must be one of float32/);

    const { files, before, after } = await encodeWeightsFolder(plan.out, 'int8', true);
    writeWeightsFolder(join(tmp, 'int8'), files);
    expect(after).toBeLessThan(before / 3.5);
    const src = await loadWeightArrays(folderReader(plan.out));
    const out = await loadWeightArrays(folderReader(join(tmp, 'int8')));
    expect(out.config).toEqual(src.config);
    expect(out.manifest.shardEncoding).toBe('deflate-raw');
    expect(out.manifest.meta).toMatchObject({ source: 'init', seed: 3, encoding: 'int8, deflated shards' });
    for (const s of parameterSpec(src.config)) {
      const a = src.arrays.get(s.name)!;
      const b = out.arrays.get(s.name)!;
      const inner = s.shape.length >= 2 ? s.shape[s.shape.length - 1]! : a.length;
      for (let r = 0; r < a.length / inner; r++) {
        const row = a.subarray(r * inner, (r + 1) * inner);
        const tol =
          s.shape.length >= 2 ? Math.max(...row.map(Math.abs)) / 254 + 1e-7 : 1e-3 * Math.max(...row.map(Math.abs));
        for (let i = 0; i < inner; i++) expect(Math.abs(b[r * inner + i]! - row[i]!)).toBeLessThanOrEqual(tol);
      }
    }
    // Writing over an existing folder needs --force.
    expect(() => writeWeightsFolder(join(tmp, 'int8'), files)).toThrow(/already exists \(use --force/);
  });
});
