import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeConfig } from '../config';
import { parameterSpec, size } from '../params';
import { Rng } from '../random';
import { initArrays, initTensorValues, initWeights } from './init';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

function stats(v: Float32Array) {
  let s = 0,
    s2 = 0,
    mn = Infinity,
    mx = -Infinity;
  for (const x of v) {
    s += x;
    s2 += x * x;
    mn = Math.min(mn, x);
    mx = Math.max(mx, x);
  }
  const mean = s / v.length;
  return { mean, variance: s2 / v.length - mean * mean, min: mn, max: mx };
}

/** Checks U(-b, b) (or U(lo, hi)) statistics; `b` is computed by hand in each test. */
function expectUniform(v: Float32Array, lo: number, hi: number, what: string) {
  const st = stats(v);
  const w = hi - lo;
  expect(st.min, what).toBeGreaterThanOrEqual(lo);
  expect(st.max, what).toBeLessThanOrEqual(hi);
  if (v.length >= 1000) {
    const sd = w / Math.sqrt(12);
    expect(Math.abs(st.mean - (lo + hi) / 2), `${what} mean`).toBeLessThan((5 * sd) / Math.sqrt(v.length));
    expect(Math.abs(st.variance / (sd * sd) - 1), `${what} variance`).toBeLessThan(0.08);
    expect(st.min, `${what} reaches low end`).toBeLessThan(lo + 0.01 * w);
    expect(st.max, `${what} reaches high end`).toBeGreaterThan(hi - 0.01 * w);
  }
}

describe('initArrays (web LORS preset)', () => {
  const cfg = makeConfig('web', 'lors');
  const spec = parameterSpec(cfg);
  const w = initArrays(cfg, 0);

  it('has exactly the names, order and sizes of parameterSpec', () => {
    expect([...w.keys()]).toEqual(spec.map((s) => s.name));
    for (const s of spec) expect(w.get(s.name)!.length, s.name).toBe(size(s.shape));
  });

  it('follows each init rule (bounds computed by hand from the web preset: dq = 128, C = 64, P_out = 64, r = 8)', () => {
    const g = (n: string) => w.get(n)!;
    // queries.content ~ N(0, 1): 100 × 128 values.
    const q = stats(g('queries.content'));
    expect(Math.abs(q.mean)).toBeLessThan(0.04);
    expect(Math.abs(Math.sqrt(q.variance) - 1)).toBeLessThan(0.03);
    const within1 = [...g('queries.content')].filter((x) => Math.abs(x) < 1).length / 12800;
    expect(Math.abs(within1 - 0.6827)).toBeLessThan(0.02);
    // xavier over [out, in]: √(6 / (fan_in + fan_out)).
    expectUniform(g('neck.convs.0.weight'), -Math.sqrt(6 / 256), Math.sqrt(6 / 256), 'neck xavier');
    expectUniform(
      g('stages.0.attn.inProj.weight'),
      -Math.sqrt(6 / (128 + 384)),
      Math.sqrt(6 / (128 + 384)),
      'inProj xavier',
    );
    expectUniform(g('stages.2.ffn.fc1.weight'), -Math.sqrt(6 / (128 + 512)), Math.sqrt(6 / (128 + 512)), 'fc1 xavier');
    expectUniform(g('stages.5.cls.out.weight'), -Math.sqrt(6 / (128 + 80)), Math.sqrt(6 / (128 + 80)), 'cls xavier');
    // Linear default bias U(±1/√fan_in).
    expectUniform(g('stages.2.ffn.fc1.bias'), -1 / Math.sqrt(128), 1 / Math.sqrt(128), 'fc1 bias');
    expectUniform(g('stages.2.ffn.fc2.bias'), -1 / Math.sqrt(512), 1 / Math.sqrt(512), 'fc2 bias');
    expectUniform(g('lorsA.shared.bias'), -1 / Math.sqrt(128), 1 / Math.sqrt(128), 'LORS^A shared bias');
    // kaiming a = √5 on W_sh [128, G·P_out·C = 8192]: bound 1/√8192.
    expectUniform(g('lorsT.shared.weight'), -1 / Math.sqrt(8192), 1 / Math.sqrt(8192), 'W_sh');
    // kaiming a = 0 on 3-D factors: fan_in = size(1)·size(2). ml [2·1, 64, 8] → 512; sr [2, 8, 32] → 256.
    expectUniform(g('stages.0.lorsA.ml'), -Math.sqrt(6 / 512), Math.sqrt(6 / 512), 'ml');
    expectUniform(g('stages.4.lorsA.mr'), -Math.sqrt(6 / 512), Math.sqrt(6 / 512), 'mr');
    expectUniform(g('stages.3.lorsA.sl'), -Math.sqrt(6 / 512), Math.sqrt(6 / 512), 'sl');
    expectUniform(g('stages.1.lorsA.sr'), -Math.sqrt(6 / 256), Math.sqrt(6 / 256), 'sr');
    // A_code [1, 8, 8192]: bound √(6/8192).
    expectUniform(g('stages.0.lorsT.A'), -Math.sqrt(6 / 8192), Math.sqrt(6 / 8192), 'A_code');
    // iof_tau ~ U(0, 4) (8 values: bounds only).
    for (let i = 0; i < 6; i++) expectUniform(g(`stages.${i}.iofTau`), 0, 4, 'iofTau');
    // Constants.
    const all = (n: string, v: number) =>
      expect(
        g(n).every((x) => x === Math.fround(v)),
        n,
      ).toBe(true);
    all('lorsA.shared.weight', 0);
    all('stages.0.lorsA.generator.weight', 0);
    all('stages.0.lorsA.generator.bias', 0);
    all('stages.3.lorsT.B', 0);
    all('stages.3.lorsT.bias', 0);
    all('stages.3.sampling.offset.weight', 0);
    all('stages.0.reg.out.weight', 0);
    all('stages.0.reg.out.bias', 0);
    all('stages.0.attn.inProj.bias', 0);
    all('neck.convs.1.bias', 0);
    all('neck.norm.weight', 1);
    all('neck.norm.bias', 0);
    all('stages.1.ffnNorm.weight', 1);
    all('stages.1.lorsT.norm.weight', 1);
    all('stages.5.cls.out.bias', -Math.log(99));
    expect(g('stages.5.cls.out.bias')[0]).toBeCloseTo(-4.59512, 5);
  });

  it('checks every spec entry against its rule generically', () => {
    for (const s of spec) {
      const v = w.get(s.name)!;
      const i = s.init;
      if (i.kind === 'xavier') {
        const b = Math.sqrt(6 / (s.shape[0]! + s.shape[1]!));
        expectUniform(v, -b, b, s.name);
      } else if (i.kind === 'linearBias') expectUniform(v, -1 / Math.sqrt(i.fanIn), 1 / Math.sqrt(i.fanIn), s.name);
      else if (i.kind === 'kaimingUniform') {
        const b = Math.sqrt(2 / (1 + i.a * i.a)) * Math.sqrt(3 / i.fanIn);
        expectUniform(v, -b, b, s.name);
      } else if (i.kind === 'uniform') expectUniform(v, i.low, i.high, s.name);
      else if (i.kind === 'zeros')
        expect(
          v.every((x) => x === 0),
          s.name,
        ).toBe(true);
      else if (i.kind === 'ones')
        expect(
          v.every((x) => x === 1),
          s.name,
        ).toBe(true);
    }
  });

  it('offset bias without a grid (P_in = 32): xy ~ U(−0.5, 0.5), z = −1', () => {
    for (let st = 0; st < 6; st++) {
      const b = w.get(`stages.${st}.sampling.offset.bias`)!;
      expect(b.length).toBe(2 * 32 * 3);
      const xy = new Float32Array(b.filter((_, k) => k % 3 !== 2));
      expect(b.filter((_, k) => k % 3 === 2).every((z) => z === -1)).toBe(true);
      expect(Math.min(...xy)).toBeGreaterThanOrEqual(-0.5);
      expect(Math.max(...xy)).toBeLessThan(0.5);
      expect(Math.abs(stats(xy).mean)).toBeLessThan(0.1);
    }
  });
});

describe('offset bias grid (docs/model.md §3.5)', () => {
  it('tiny preset, P_in = 4 = 2²: t = [−0.25, 0.25], point i·2 + j = (t_i, t_j, −1), same for both groups', () => {
    const cfg = makeConfig('tiny', 'lors');
    const b = initArrays(cfg, 3).get('stages.0.sampling.offset.bias')!;
    const one = [-0.25, -0.25, -1, -0.25, 0.25, -1, 0.25, -0.25, -1, 0.25, 0.25, -1];
    expect([...b]).toEqual([...one, ...one]);
    // The grid does not depend on the seed or the stage.
    expect([...initArrays(cfg, 99).get('stages.5.sampling.offset.bias')!]).toEqual([...one, ...one]);
  });

  it('paper preset, P_in = 64 = 8²: t = −0.4375 … 0.4375 in steps of 0.125 (row, column)', () => {
    const cfg = makeConfig('paper', 'lors');
    const spec = parameterSpec(cfg).find((s) => s.name === 'stages.0.sampling.offset.bias')!;
    const b = initTensorValues(cfg, spec, 0);
    expect(b.length).toBe(2 * 64 * 3);
    for (let g = 0; g < 2; g++) {
      for (let i = 0; i < 8; i++) {
        for (let j = 0; j < 8; j++) {
          const o = (g * 64 + i * 8 + j) * 3;
          expect([b[o], b[o + 1], b[o + 2]]).toEqual([-0.4375 + 0.125 * i, -0.4375 + 0.125 * j, -1]);
        }
      }
    }
  });
});

describe('determinism', () => {
  const cfg = makeConfig('tiny', 'lors');
  it('the same seed gives the same values; another seed different ones', () => {
    const a = initArrays(cfg, 42),
      b = initArrays(cfg, 42),
      c = initArrays(cfg, 43);
    for (const [k, v] of a) expect([...v], k).toEqual([...b.get(k)!]);
    expect([...a.get('stages.0.ffn.fc1.weight')!]).not.toEqual([...c.get('stages.0.ffn.fc1.weight')!]);
    expect([...a.get('queries.content')!]).not.toEqual([...c.get('queries.content')!]);
  });

  it('tensors draw from independent streams (same shape, different name ⇒ different values)', () => {
    const a = initArrays(cfg, 0);
    expect([...a.get('stages.0.ffn.fc1.weight')!]).not.toEqual([...a.get('stages.1.ffn.fc1.weight')!]);
  });

  it("a tensor's values do not depend on the rest of the config", () => {
    const a = initArrays(makeConfig('tiny', 'lors', { stages: 3 }), 5);
    const b = initArrays(makeConfig('tiny', 'vanilla'), 5);
    expect([...a.get('stages.0.ffn.fc1.weight')!]).toEqual([...b.get('stages.0.ffn.fc1.weight')!]);
  });

  it('xoshiro128** seeded by splitmix32 gives the reference stream (values from an independent Python implementation)', () => {
    const r = new Rng(0, 0);
    const first = Array.from({ length: 4 }, () => r.nextU32());
    expect(first.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)).toBe(true);
    expect(new Set(first).size).toBe(4);
    expect(first).toMatchInlineSnapshot(`
      [
        3809008728,
        1133695204,
        53579671,
        2891528803,
      ]
    `);
  });

  it('rejects bad seeds', () => {
    expect(() => initArrays(cfg, -1)).toThrow(/seed/);
    expect(() => initArrays(cfg, 1.5)).toThrow(/seed/);
  });
});

describe('initWeights (tensors)', () => {
  it('returns one float32 tensor per spec entry with its shape, and equals initArrays', () => {
    const cfg = makeConfig('tiny', 'lors');
    const spec = parameterSpec(cfg);
    const before = tf.memory().numTensors;
    const w = initWeights(cfg, 1);
    expect(tf.memory().numTensors - before).toBe(spec.length);
    expect([...w.keys()]).toEqual(spec.map((s) => s.name));
    const arr = initArrays(cfg, 1);
    for (const s of spec) {
      const t = w.get(s.name)!;
      expect(t.shape, s.name).toEqual(s.shape);
      expect(t.dtype).toBe('float32');
      expect([...t.dataSync()]).toEqual([...arr.get(s.name)!]);
    }
    tf.dispose([...w.values()]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
