import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes as concat } from '../bytes';
import { makeConfig, posScaleOf, type ModelConfig } from '../config';
import { parameterSpec, size } from '../params';
import type { FileReader } from '../types';
import { initArrays, initWeights } from './init';
import { decodeWeightsToArrays, loadWeightArrays, loadWeights, memoryReader, saveWeights, SHARD_BYTES } from './io';
import { parseManifest, WeightsError } from './manifest';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

const tiny = makeConfig('tiny', 'lors');
const tinySpec = parameterSpec(tiny);
const tinyBytes = tinySpec.reduce((s, t) => s + 4 * size(t.shape), 0); // 554240
const nodeSha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const json = (files: Map<string, Uint8Array>) => JSON.parse(new TextDecoder().decode(files.get('model.json')!));
const setJson = (files: Map<string, Uint8Array>, m: unknown) => {
  const out = new Map(files);
  out.set('model.json', new TextEncoder().encode(JSON.stringify(m)));
  return out;
};

/** A weights folder built by hand (independent of saveWeights): one float32 shard. */
function craft(cfg: ModelConfig, entries: { name: string; shape: number[]; values: Float32Array }[]) {
  const bin = concat(entries.map((e) => new Uint8Array(e.values.buffer, e.values.byteOffset, e.values.byteLength)));
  const m = {
    format: 'lors-studio-weights',
    version: 1,
    config: cfg,
    weightsManifest: [
      {
        paths: ['weights-shard1of1.bin'],
        weights: entries.map((e) => ({ name: e.name, shape: e.shape, dtype: 'float32' })),
      },
    ],
    sha256: { 'weights-shard1of1.bin': nodeSha(bin) },
    bytes: { 'weights-shard1of1.bin': bin.length },
  };
  return new Map<string, Uint8Array>([
    ['model.json', new TextEncoder().encode(JSON.stringify(m))],
    ['weights-shard1of1.bin', bin],
  ]);
}
const tinyEntries = () => {
  const a = initArrays(tiny, 0);
  return tinySpec.map((s) => ({ name: s.name, shape: [...s.shape], values: a.get(s.name)! }));
};

async function expectLoadError(files: Map<string, Uint8Array>, re: RegExp | string, expectCfg?: Partial<ModelConfig>) {
  const before = tf.memory().numTensors;
  await expect(loadWeights(memoryReader(files), { expect: expectCfg })).rejects.toThrow(re);
  expect(tf.memory().numTensors).toBe(before);
}

describe('saveWeights writes FORMAT.md exactly', () => {
  it('model.json fields, shard names/sizes, sha256/bytes, spec order, little-endian float32 concatenation', async () => {
    const arrays = initArrays(tiny, 0);
    const files = await saveWeights(tiny, arrays, { shardBytes: 200_000, meta: { seed: 0, source: 'init' } });
    expect([...files.keys()]).toEqual([
      'model.json',
      'weights-shard1of3.bin',
      'weights-shard2of3.bin',
      'weights-shard3of3.bin',
    ]);
    const m = json(files);
    expect(m.format).toBe('lors-studio-weights');
    expect(m.version).toBe(1);
    expect(m.config).toEqual(tiny);
    expect(m.weightsManifest).toHaveLength(1);
    expect(m.weightsManifest[0].paths).toEqual([
      'weights-shard1of3.bin',
      'weights-shard2of3.bin',
      'weights-shard3of3.bin',
    ]);
    expect(m.weightsManifest[0].weights).toEqual(
      tinySpec.map((s) => ({ name: s.name, shape: s.shape, dtype: 'float32' })),
    );
    expect(m.meta).toMatchObject({ seed: 0, source: 'init', createdBy: 'src/model/weights' });
    expect(typeof m.meta.createdAt).toBe('string');
    const sizes = [200_000, 200_000, tinyBytes - 400_000];
    m.weightsManifest[0].paths.forEach((p: string, i: number) => {
      expect(files.get(p)!.length).toBe(sizes[i]);
      expect(m.bytes[p]).toBe(sizes[i]);
      expect(m.sha256[p]).toBe(nodeSha(files.get(p)!));
    });
    // The shards are the little-endian float32 bytes of all tensors in spec order.
    const expected = Buffer.concat(
      tinySpec.map((s) => {
        const v = arrays.get(s.name)!;
        const b = Buffer.alloc(4 * v.length);
        v.forEach((x, i) => b.writeFloatLE(x, 4 * i));
        return b;
      }),
    );
    expect(Buffer.from(concat(m.weightsManifest[0].paths.map((p: string) => files.get(p)!))).equals(expected)).toBe(
      true,
    );
  });

  it('uses 4 MiB shards by default (web LORS preset: 5 shards, the last shorter)', async () => {
    const cfg = makeConfig('web', 'lors');
    const total = parameterSpec(cfg).reduce((s, t) => s + 4 * size(t.shape), 0);
    const files = await saveWeights(cfg, initArrays(cfg, 0));
    const m = json(files);
    const n = Math.ceil(total / SHARD_BYTES);
    expect(n).toBe(5);
    expect(m.weightsManifest[0].paths).toEqual(Array.from({ length: n }, (_, i) => `weights-shard${i + 1}of${n}.bin`));
    for (let i = 0; i < n - 1; i++) expect(m.bytes[`weights-shard${i + 1}of${n}.bin`]).toBe(4_194_304);
    expect(m.bytes[`weights-shard${n}of${n}.bin`]).toBe(total - (n - 1) * 4_194_304);
    // Round trip through the default reader path too.
    const { arrays } = await loadWeightArrays(memoryReader(files));
    const src = initArrays(cfg, 0);
    for (const [k, v] of src) expect(Buffer.from(arrays.get(k)!.buffer).equals(Buffer.from(v.buffer)), k).toBe(true);
  });

  it('float16: every entry has quantization float16, the data are the IEEE half bits', async () => {
    const files = await saveWeights(tiny, initArrays(tiny, 0), { encoding: 'float16' });
    const m = json(files);
    for (const w of m.weightsManifest[0].weights)
      expect(w.quantization).toEqual({ dtype: 'float16', original_dtype: 'float32' });
    expect(m.bytes['weights-shard1of1.bin']).toBe(tinyBytes / 2);
    // queries.content comes first: check its first value's half bits by hand (sign, exponent, mantissa).
    const bin = files.get('weights-shard1of1.bin')!;
    const h = bin[0]! | (bin[1]! << 8);
    const x = initArrays(tiny, 0).get('queries.content')![0]!;
    const e = (h >> 10) & 31,
      mant = h & 1023;
    const decoded = (h & 0x8000 ? -1 : 1) * (e === 0 ? mant * 2 ** -24 : (1 + mant / 1024) * 2 ** (e - 15));
    expect(Math.abs(decoded - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -11 + 2 ** -25);
  });

  it('is readable by tfjs itself (tf.io.decodeWeights on the manifest, float32 and float16)', async () => {
    for (const encoding of ['float32', 'float16'] as const) {
      const files = await saveWeights(tiny, initArrays(tiny, 0), { encoding, shardBytes: 65536 });
      const m = json(files);
      const bin = concat(m.weightsManifest[0].paths.map((p: string) => files.get(p)!));
      const before = tf.memory().numTensors;
      const ref = tf.io.decodeWeights(bin.buffer, m.weightsManifest[0].weights);
      const { arrays } = await loadWeightArrays(memoryReader(files));
      for (const s of tinySpec) {
        expect(ref[s.name]!.shape).toEqual(s.shape);
        expect(
          Buffer.from(new Float32Array(ref[s.name]!.dataSync()).buffer).equals(Buffer.from(arrays.get(s.name)!.buffer)),
          s.name,
        ).toBe(true);
      }
      tf.dispose(ref);
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('refuses weights that do not match parameterSpec, and float16 overflow', async () => {
    const a = initArrays(tiny, 0);
    const missing = new Map(a);
    missing.delete('stages.3.iofTau');
    await expect(saveWeights(tiny, missing)).rejects.toThrow(/1 tensor\(s\) missing: stages\.3\.iofTau/);
    const extra = new Map(a);
    extra.set('stages.9.foo', new Float32Array(3));
    await expect(saveWeights(tiny, extra)).rejects.toThrow(/unexpected tensor\(s\): stages\.9\.foo/);
    const wrong = new Map(a);
    wrong.set('queries.content', new Float32Array(7));
    await expect(saveWeights(tiny, wrong)).rejects.toThrow(/queries\.content has 7 values, expected 320/);
    const big = new Map(a);
    big.set('stages.0.iofTau', new Float32Array([1e5, 0, 0, 0]));
    await expect(saveWeights(tiny, big, { encoding: 'float16' })).rejects.toThrow(/out of float16 range/);
    const before = tf.memory().numTensors;
    const t = initWeights(tiny, 0);
    const bad = tf.zeros([5, 5]);
    t.get('queries.content')!.dispose();
    t.set('queries.content', bad);
    await expect(saveWeights(tiny, t)).rejects.toThrow(/queries\.content has shape \[5, 5\], expected \[10, 32\]/);
    tf.dispose([...t.values()]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('loadWeights', () => {
  it('round-trips float32 exactly and returns exactly the spec tensors (no leaks)', async () => {
    const src = initWeights(tiny, 7);
    const files = await saveWeights(tiny, src, { shardBytes: 100_000 });
    const before = tf.memory().numTensors;
    const progress: [number, number][] = [];
    const { config, weights, manifest } = await loadWeights(memoryReader(files), {
      onProgress: (l, t) => progress.push([l, t]),
      expect: { preset: 'tiny', variant: 'lors' },
    });
    expect(tf.memory().numTensors - before).toBe(tinySpec.length);
    expect(config).toEqual(tiny);
    expect(manifest.weightsManifest[0]!.paths).toHaveLength(6);
    expect([...weights.keys()]).toEqual(tinySpec.map((s) => s.name));
    for (const s of tinySpec) {
      const t = weights.get(s.name)!;
      expect(t.shape).toEqual(s.shape);
      expect(t.dtype).toBe('float32');
      expect(Buffer.from(t.dataSync().buffer).equals(Buffer.from(src.get(s.name)!.dataSync().buffer)), s.name).toBe(
        true,
      );
    }
    expect(progress[0]).toEqual([0, tinyBytes]);
    expect(progress.at(-1)).toEqual([tinyBytes, tinyBytes]);
    for (let i = 1; i < progress.length; i++) expect(progress[i]![0]).toBeGreaterThanOrEqual(progress[i - 1]![0]);
    tf.dispose([...weights.values()]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...src.values()]);
  });

  it('keeps the config\'s queryInit ("nanodet" written, "image" = absent)', async () => {
    const cfg: ModelConfig = { ...tiny, queryInit: 'nanodet' };
    const files = await saveWeights(cfg, initArrays(cfg, 0));
    const { config, weights } = await loadWeights(memoryReader(files));
    expect(config.queryInit).toBe('nanodet');
    tf.dispose([...weights.values()]);
    const plain = await saveWeights({ ...tiny, queryInit: 'image' }, initArrays(tiny, 0));
    const loaded = await loadWeights(memoryReader(plain));
    expect('queryInit' in loaded.config).toBe(false);
    tf.dispose([...loaded.weights.values()]);
  });

  it("keeps the config's posScale (absent = 1000, as in every older weights file)", async () => {
    const cfg: ModelConfig = { ...tiny, posScale: 312 };
    const { config, weights } = await loadWeights(memoryReader(await saveWeights(cfg, initArrays(cfg, 0))));
    expect(config.posScale).toBe(312);
    tf.dispose([...weights.values()]);
    const plain = await loadWeights(memoryReader(await saveWeights(tiny, initArrays(tiny, 0))));
    expect('posScale' in plain.config).toBe(false);
    expect(posScaleOf(plain.config)).toBe(1000);
    tf.dispose([...plain.weights.values()]);
    await expect(saveWeights({ ...tiny, posScale: -1 }, initArrays(tiny, 0))).rejects.toThrow(/posScale/);
  });

  it('round-trips float16 within float16 precision', async () => {
    const src = initArrays(tiny, 7);
    const files = await saveWeights(tiny, src, { encoding: 'float16', shardBytes: 50_001 });
    const { arrays } = await loadWeightArrays(memoryReader(files));
    let maxRel = 0;
    const bad: string[] = [];
    for (const [k, v] of src) {
      const r = arrays.get(k)!;
      for (let i = 0; i < v.length; i++) {
        const err = Math.abs(r[i]! - v[i]!);
        // Half an ulp of float16: 2^-11 relative for normals, 2^-25 absolute for subnormals.
        if (!(err <= Math.abs(v[i]!) * 2 ** -11 + 2 ** -25)) bad.push(`${k}[${i}]: ${v[i]} → ${r[i]}`);
        if (Math.abs(v[i]!) > 1e-3) maxRel = Math.max(maxRel, err / Math.abs(v[i]!));
      }
    }
    expect(bad).toEqual([]);
    expect(maxRel).toBeGreaterThan(1e-5); // it really was quantised
  });

  it('int8: matrices per-channel int8 (one scale per output row), vectors float16; loads within half a step', async () => {
    const src = initArrays(tiny, 7);
    const files = await saveWeights(tiny, src, { encoding: 'int8', shardBytes: 50_001 });
    const m = json(files);
    for (const w of m.weightsManifest[0].weights) {
      if (w.shape.length >= 2) {
        expect(w.quantization).toEqual({
          dtype: 'int8',
          original_dtype: 'float32',
          axes: w.shape.slice(0, -1).map((_: number, i: number) => i),
        });
      } else expect(w.quantization.dtype).toBe('float16');
    }
    const { arrays } = await loadWeightArrays(memoryReader(files));
    const bad: string[] = [];
    for (const s of tinySpec) {
      const v = src.get(s.name)!;
      const r = arrays.get(s.name)!;
      const inner = s.shape.length >= 2 ? s.shape[s.shape.length - 1]! : 1;
      for (let row = 0; row < v.length / inner; row++) {
        let max = 0;
        for (let i = 0; i < inner; i++) max = Math.max(max, Math.abs(v[row * inner + i]!));
        for (let i = row * inner; i < (row + 1) * inner; i++) {
          const tol = s.shape.length >= 2 ? max / 254 + 1e-7 : Math.abs(v[i]!) * 2 ** -11 + 2 ** -25;
          if (!(Math.abs(r[i]! - v[i]!) <= tol)) bad.push(`${s.name}[${i}]: ${v[i]} → ${r[i]}`);
        }
      }
    }
    expect(bad).toEqual([]);
    const bytes = [...files].reduce((a, [n, b]) => a + (n === 'model.json' ? 0 : b.length), 0);
    expect(bytes).toBeLessThan(tinyBytes / 3); // about a quarter of float32 (the tiny preset has many vectors)
  });

  it('refuses int8 entries with bad axes or a byte count that does not fit', async () => {
    const files = await saveWeights(tiny, initArrays(tiny, 0), { encoding: 'int8' });
    const m = json(files);
    const w = m.weightsManifest[0].weights.find((e: { shape: number[] }) => e.shape.length === 2);
    const bad = structuredClone(m);
    bad.weightsManifest[0].weights.find((e: { name: string }) => e.name === w.name).quantization.axes = [0, 2];
    expect(() => parseManifest(JSON.stringify(bad))).toThrow(
      new RegExp(`tensor ${w.name.replace(/\./g, '\\.')}: int8 axes must be integers`),
    );
    const shifted = structuredClone(m);
    // One scale per column instead of per row: the shards no longer match the entries' byte count.
    shifted.weightsManifest[0].weights.find((e: { name: string }) => e.name === w.name).quantization.axes = [1];
    if (w.shape[0] !== w.shape[1])
      expect(() => parseManifest(JSON.stringify(shifted))).toThrow(/its tensors need \d+ bytes but its shards hold/);
  });

  it('a corrupted shard byte fails with the shard name and SHA-256 mismatch', async () => {
    const files = await saveWeights(tiny, initArrays(tiny, 0), { shardBytes: 200_000 });
    const bad = new Map(files);
    const shard = new Uint8Array(files.get('weights-shard2of3.bin')!);
    shard[12345] = shard[12345]! ^ 0x01;
    bad.set('weights-shard2of3.bin', shard);
    await expectLoadError(bad, 'weights-shard2of3.bin: SHA-256 mismatch (corrupted or truncated download)');
  });

  it("decodeWeightsToArrays takes each shard's tensor bytes and refuses missing or mis-sized ones", async () => {
    const files = await saveWeights(tiny, initArrays(tiny, 0), { shardBytes: 200_000 });
    const m = parseManifest(files.get('model.json')!);
    const shards = new Map([...files].filter(([k]) => k !== 'model.json'));
    expect(decodeWeightsToArrays(m, shards).size).toBe(tinySpec.length);
    shards.set('weights-shard1of3.bin', files.get('weights-shard1of3.bin')!.subarray(1));
    expect(() => decodeWeightsToArrays(m, shards)).toThrow(
      'weights-shard1of3.bin: 199999 bytes of tensor data, expected 200000',
    );
    shards.set('weights-shard1of3.bin', files.get('weights-shard1of3.bin')!);
    shards.delete('weights-shard2of3.bin');
    expect(() => decodeWeightsToArrays(m, shards)).toThrow('weights-shard2of3.bin: missing (not read)');
  });

  it('deflate: shards stored as raw DEFLATE load to the same values; checks run on the stored bytes', async () => {
    const src = initArrays(tiny, 3);
    const plain = await saveWeights(tiny, src, { encoding: 'int8', shardBytes: 50_000 });
    const files = await saveWeights(tiny, src, { encoding: 'int8', shardBytes: 50_000, deflate: true });
    const m = json(files);
    const pm = json(plain);
    expect(m.shardEncoding).toBe('deflate-raw');
    expect(m.rawBytes).toEqual(pm.bytes);
    for (const p of m.weightsManifest[0].paths) {
      expect(m.bytes[p]).toBe(files.get(p)!.length);
      expect(m.sha256[p]).toBe(nodeSha(files.get(p)!));
      expect(m.bytes[p]).toBeLessThan(pm.bytes[p]);
    }
    const a = (await loadWeightArrays(memoryReader(files))).arrays;
    const b = (await loadWeightArrays(memoryReader(plain))).arrays;
    for (const [k, v] of b) expect(a.get(k), k).toEqual(v);

    const p1 = m.weightsManifest[0].paths[0];
    const bad = new Map(files);
    const flipped = files.get(p1)!.slice();
    flipped[10] = flipped[10]! ^ 1;
    bad.set(p1, flipped);
    await expectLoadError(bad, `${p1}: SHA-256 mismatch (corrupted or truncated download)`);
    const wrongRaw = structuredClone(m);
    wrongRaw.rawBytes[p1] -= 1;
    wrongRaw.rawBytes[m.weightsManifest[0].paths[1]] += 1;
    // Two shards are off (their total still fits the tensors); shards load in parallel, so either may fail first.
    await expectLoadError(setJson(files, wrongRaw), /weights-shard[12]of\d+\.bin: inflates to \d+ bytes, expected \d+/);
    const noRaw = structuredClone(m);
    delete noRaw.rawBytes;
    await expectLoadError(setJson(files, noRaw), /rawBytes must map each shard/);
    await expectLoadError(setJson(files, { ...m, shardEncoding: 'gzip' }), /shardEncoding "gzip" is not supported/);
  });

  it('a truncated shard fails clearly', async () => {
    const files = await saveWeights(tiny, initArrays(tiny, 0), { shardBytes: 200_000 });
    const bad = new Map(files);
    bad.set('weights-shard3of3.bin', files.get('weights-shard3of3.bin')!.subarray(0, 1000));
    await expectLoadError(
      bad,
      `weights-shard3of3.bin: 1000 bytes, expected ${tinyBytes - 400_000} (truncated download)`,
    );
    // A truncated file whose bytes entry was also edited: the tensors no longer fit the shards.
    const m = json(files);
    m.bytes['weights-shard3of3.bin'] = 1000;
    const both = setJson(bad, m);
    await expectLoadError(both, /tensors need 554240 bytes but its shards hold 401000/);
  });

  it('a missing shard file fails naming it', async () => {
    const files = await saveWeights(tiny, initArrays(tiny, 0), { shardBytes: 200_000 });
    const bad = new Map(files);
    bad.delete('weights-shard1of3.bin');
    await expectLoadError(bad, /^weights-shard1of3\.bin: could not be read: no such file/);
  });

  it('hand-built folders load (independent writer) and bad tensor lists are refused', async () => {
    const e = tinyEntries();
    const { arrays } = await loadWeightArrays(memoryReader(craft(tiny, e)));
    for (const x of e) expect([...arrays.get(x.name)!]).toEqual([...x.values]);

    await expectLoadError(
      craft(
        tiny,
        e.filter((x) => x.name !== 'stages.2.ffn.fc1.bias'),
      ),
      "model.json: tensors do not match the model's parameter list: 1 tensor(s) missing: stages.2.ffn.fc1.bias",
    );
    await expectLoadError(
      craft(tiny, [...e, { name: 'stages.0.extra', shape: [2], values: new Float32Array(2) }]),
      /1 unexpected tensor\(s\): stages\.0\.extra/,
    );
    const fc = e.find((x) => x.name === 'stages.1.ffn.fc1.weight')!;
    await expectLoadError(
      craft(
        tiny,
        e.map((x) => (x === fc ? { ...x, shape: [32, 64] } : x)),
      ),
      /wrong shape: stages\.1\.ffn\.fc1\.weight has shape \[32, 64\], expected \[64, 32\]/,
    );
    await expectLoadError(craft(tiny, [...e, e[0]!]), /listed twice: queries\.content/);
  });

  it('refuses bad JSON, wrong format/version/config, unexpected config and bad manifest entries', async () => {
    const files = await saveWeights(tiny, initArrays(tiny, 0));
    const m = json(files);
    const withText = (t: string) => new Map(files).set('model.json', new TextEncoder().encode(t));
    await expectLoadError(withText('{"format": '), /^model\.json: not valid JSON: /);
    await expectLoadError(withText('<!doctype html><p>404</p>'), /not valid JSON \(it looks like an HTML page/);
    await expectLoadError(withText('[1,2]'), 'model.json: expected a JSON object');
    await expectLoadError(
      setJson(files, { ...m, format: 'tfjs-graph-model' }),
      'model.json: format is "tfjs-graph-model", expected "lors-studio-weights"',
    );
    await expectLoadError(setJson(files, { ...m, version: 2 }), 'model.json: version 2 is not supported');
    await expectLoadError(
      setJson(files, { ...m, config: undefined }),
      'model.json: config must be an object, got missing',
    );
    await expectLoadError(
      setJson(files, { ...m, config: { ...m.config, variant: 'big' } }),
      'config.variant must be "vanilla" or "lors", got "big"',
    );
    await expectLoadError(
      setJson(files, { ...m, config: { ...m.config, queryInit: 'detr' } }),
      'config.queryInit must be "image" or "nanodet", got "detr"',
    );
    await expectLoadError(
      setJson(files, { ...m, config: { ...m.config, decoder: { ...m.config.decoder, pointsIn: -3 } } }),
      'config.decoder.pointsIn must be an integer ≥ 1, got -3',
    );
    await expectLoadError(
      setJson(files, { ...m, config: { ...m.config, decoder: { ...m.config.decoder, dFeat: 33 } } }),
      'config.decoder: dFeat 33 is not divisible by samplingGroups 2',
    );
    await expectLoadError(
      setJson(files, { ...m, config: { ...m.config, lors: { ...m.config.lors, groupsA: [1, 2] } } }),
      'config.lors.groupsA must be a list of 6 integers ≥ 1 (one per stage), got [1,2]',
    );
    await expectLoadError(
      setJson(files, { ...m, config: { ...m.config, variant: 'vanilla' } }),
      /lors is given but variant is "vanilla"/,
    );
    // A config that parses but does not fit the tensors (80 → 81 classes).
    await expectLoadError(
      setJson(files, { ...m, config: { ...m.config, decoder: { ...m.config.decoder, classes: 81 } } }),
      /wrong shape: stages\.0\.cls\.out\.weight has shape \[80, 32\], expected \[81, 32\]/,
    );
    // expect: the caller's model differs.
    await expectLoadError(
      files,
      'model.json: the weights do not fit this model: variant is "lors", expected "vanilla"',
      { variant: 'vanilla' },
    );
    await expectLoadError(files, /lors\.rankA is 2, expected 8/, {
      lors: { rankA: 8, rankT: 2, groupsA: [1, 1, 2, 2, 3, 3], groupsT: [1, 1, 1, 1, 1, 1] },
    });
    await expectLoadError(files, /decoder\.dQuery is 32, expected 128/, { decoder: makeConfig('web', 'lors').decoder });
    // Manifest entries.
    const mod = (f: (w: Record<string, unknown>) => void) => {
      const c = structuredClone(m);
      f(c.weightsManifest[0].weights[0]);
      return setJson(files, c);
    };
    await expectLoadError(
      mod((w) => {
        w.dtype = 'int32';
      }),
      'model.json: tensor queries.content: dtype "int32" is not supported',
    );
    await expectLoadError(
      mod((w) => {
        w.quantization = { dtype: 'uint8', min: 0, scale: 1 };
      }),
      /quantization .* is not supported \(\{"dtype": "float16"\} or \{"dtype": "int8"/,
    );
    const c = structuredClone(m);
    c.sha256['weights-shard1of1.bin'] = 'abc';
    await expectLoadError(setJson(files, c), /sha256\["weights-shard1of1\.bin"\] must be 64 lowercase hex digits/);
    const p = structuredClone(m);
    p.weightsManifest[0].paths = ['../../etc/passwd'];
    await expectLoadError(setJson(files, p), /is not a plain relative file name/);
  });

  it('reads manifests with several groups (tfjs allows it), float32 and float16 mixed', async () => {
    const e = tinyEntries();
    const half = e.length >> 1;
    const mk = (xs: typeof e, f16: boolean) =>
      concat(
        xs.map((x) => {
          if (!f16) return new Uint8Array(x.values.buffer.slice(0));
          const h = new Uint16Array(x.values.length);
          // Independent float16 encoder for these values: exact via Math.fround is not possible, so use values that are
          // exactly representable (multiples of 2^-8 in (−8, 8)).
          x.values.forEach((v, i) => {
            const q = Math.round(v * 256) / 256 || 0; // no −0
            x.values[i] = q;
            if (q === 0) {
              h[i] = 0;
              return;
            }
            const a = Math.abs(q),
              ex = Math.floor(Math.log2(a));
            h[i] = (q < 0 ? 0x8000 : 0) | ((ex + 15) << 10) | Math.round((a / 2 ** ex - 1) * 1024);
          });
          return new Uint8Array(h.buffer);
        }),
      );
    const first = e.slice(0, half).map((x) => ({ ...x, values: new Float32Array(x.values) }));
    const second = e.slice(half).map((x) => ({ ...x, values: new Float32Array(x.values) }));
    const b1 = mk(first, false),
      b2 = mk(second, true);
    const m = {
      format: 'lors-studio-weights',
      version: 1,
      config: tiny,
      weightsManifest: [
        { paths: ['a.bin'], weights: first.map((x) => ({ name: x.name, shape: x.shape, dtype: 'float32' })) },
        {
          paths: ['b.bin'],
          weights: second.map((x) => ({
            name: x.name,
            shape: x.shape,
            dtype: 'float32',
            quantization: { dtype: 'float16' },
          })),
        },
      ],
      sha256: { 'a.bin': nodeSha(b1), 'b.bin': nodeSha(b2) },
      bytes: { 'a.bin': b1.length, 'b.bin': b2.length },
    };
    const files = new Map([
      ['model.json', new TextEncoder().encode(JSON.stringify(m))],
      ['a.bin', b1],
      ['b.bin', b2],
    ]);
    const { arrays } = await loadWeightArrays(memoryReader(files));
    for (const x of [...first, ...second]) expect([...arrays.get(x.name)!], x.name).toEqual([...x.values]);
  });

  it('parseManifest errors are WeightsErrors naming the file', () => {
    try {
      parseManifest('nope');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(WeightsError);
      expect((e as WeightsError).file).toBe('model.json');
    }
  });

  it('reports read failures of model.json and passes per-file progress through', async () => {
    const failing: FileReader = async () => {
      throw new Error('HTTP 404');
    };
    await expect(loadWeights(failing)).rejects.toThrow('model.json: could not be read: HTTP 404');
    // A reader that reports partial progress.
    const files = await saveWeights(tiny, initArrays(tiny, 0), { shardBytes: 300_000 });
    const base = memoryReader(files);
    const reader: FileReader = async (path, onProgress) => {
      const b = await base(path);
      onProgress?.(Math.floor(b.byteLength / 2));
      return b;
    };
    const seen: number[] = [];
    const { arrays } = await loadWeightArrays(reader, {
      onProgress: (l, t) => {
        expect(t).toBe(tinyBytes);
        seen.push(l);
      },
    });
    expect(arrays.size).toBe(tinySpec.length);
    expect(seen).toContain(150_000);
    expect(seen.at(-1)).toBe(tinyBytes);
  });

  it('loads vanilla and vanilla4x32 configs', async () => {
    for (const v of ['vanilla', 'vanilla4x32'] as const) {
      const cfg = makeConfig('tiny', v);
      const files = await saveWeights(cfg, initArrays(cfg, 1), { encoding: 'float16' });
      const { config, weights } = await loadWeights(memoryReader(files), { expect: { variant: 'vanilla' } });
      expect(config).toEqual(cfg);
      expect(config.lors).toBeUndefined();
      expect(weights.size).toBe(parameterSpec(cfg).length);
      tf.dispose([...weights.values()]);
    }
  });
});
