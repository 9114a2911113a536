import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { dims, makeConfig } from '../config';
import { splitMixingParams } from '../nn/generator';
import { adaptiveMixing, canMixOnHost, hostMixing } from './mixing';
import { hostLinear } from './wasm/tensors';
import { sampleFeatures, samplingMaps } from './sampling';
import { layerNormPlain, linear, preparedName } from '../nn/ops';
import { jsMixing, jsSplit, mat, maxErr, randomSamplingInputs, rng, uniformArray } from '../../testing/reference';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('joint LayerNorm', () => {
  it('normalises over the last two dims jointly (hand values)', async () => {
    // one 2×2 matrix [[1, 2], [3, 6]]: mean 3, variance (4 + 1 + 0 + 9)/4 = 3.5
    const x = tf.tensor3d([
      [
        [1, 2],
        [3, 6],
      ],
      [
        [0, 0],
        [0, 4],
      ],
    ]);
    const d = await layerNormPlain(x, 2).data();
    const s = Math.sqrt(3.5 + 1e-5);
    [-2 / s, -1 / s, 0, 3 / s].forEach((e, i) => expect(d[i]).toBeCloseTo(e, 5));
    // second: mean 1, variance (1+1+1+9)/4 = 3
    const s2 = Math.sqrt(3 + 1e-5);
    [-1 / s2, -1 / s2, -1 / s2, 3 / s2].forEach((e, i) => expect(d[4 + i]).toBeCloseTo(e, 5));
    x.dispose();
  });
});

describe('adaptiveMixing', () => {
  it.each(['auto', 'matmul', 'depthwise'] as const)(
    '%s: matches the plain-JS ACM/ASM (joint LN, ReLU, M_s as P_out × P_in, flatten g, p_out, c)',
    async (impl) => {
      const cfg = makeConfig('tiny', 'vanilla');
      const d = cfg.decoder;
      const G = d.samplingGroups,
        C = d.dFeat / G,
        Pin = d.pointsIn,
        Pout = d.pointsOut;
      const B = 2,
        L = 3;
      const rand = rng(11);
      const xsArr = uniformArray(B * L * G * Pin * C, -1, 1, rand);
      const genOut = G * (C * C + Pout * Pin);
      const params = uniformArray(B * L * genOut, -0.5, 0.5, rand);
      const xs = tf.tensor(xsArr, [B, L, G, Pin, C]);
      const p = tf.tensor3d(params, [B, L, genOut]);
      const before = tf.memory().numTensors;
      const o = tf.tidy(() => {
        const { Mc, Ms } = splitMixingParams(p, cfg.decoder);
        expect(Mc.shape).toEqual([B, L, G, C, C]);
        expect(Ms.shape).toEqual([B, L, G, Pout, Pin]);
        return adaptiveMixing(xs, Mc, Ms, impl);
      });
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(o.shape).toEqual([B, L, G * Pout * C]);
      const got = await o.data();
      const ref: number[] = [];
      for (let q = 0; q < B * L; q++) {
        const x = Array.from({ length: G }, (_, g) => mat(xsArr, (q * G + g) * Pin * C, Pin, C));
        const { Mc, Ms } = jsSplit(Array.from(params.subarray(q * genOut, (q + 1) * genOut)), cfg);
        ref.push(...jsMixing(x, Mc, Ms));
      }
      expect(maxErr(got, ref).abs).toBeLessThan(1e-4);
      tf.dispose([xs, p, o]);
    },
  );

  it.each(['matmul', 'depthwise'] as const)('%s: hand case: C = 1, P_in = 2, P_out = 1', async (impl) => {
    // x = [[1], [3]], M_c = [[2]] → [[2], [6]] → LN: mean 4, var 4 → [−1, 1]·(2/√(4+ε)) ≈ [−1, 1] → ReLU [0, 1]
    // M_s = [[1, 2]] → 2 → LN over a single value → 0 → ReLU 0
    const xs = tf.tensor([1, 3], [1, 1, 1, 2, 1]);
    const Mc = tf.tensor([2], [1, 1, 1, 1, 1]);
    const Ms = tf.tensor([1, 2], [1, 1, 1, 1, 2]);
    const d = await adaptiveMixing(xs, Mc, Ms, impl).data();
    expect(d[0]).toBeCloseTo(0, 6);
    const Ms2 = tf.tensor([1, 2, -1, 0], [1, 1, 1, 2, 2]); // P_out = 2: rows (2a, 0) with a ≈ 1 → LN → ≈ [1, −1] → ReLU [1, 0]
    const d2 = await adaptiveMixing(xs, Mc, Ms2, impl).data();
    expect(d2[0]).toBeCloseTo(1, 4);
    expect(d2[1]).toBeCloseTo(0, 6);
    tf.dispose([xs, Mc, Ms, Ms2]);
  });
});

describe('hostMixing (the wasm kernels)', () => {
  it('equals sampleFeatures + adaptiveMixing on the tfjs kernels (web sizes, B = 2), leak-free', async () => {
    const cfg = makeConfig('web', 'vanilla');
    const d = cfg.decoder;
    const { G, C, genOut } = dims(d);
    const B = 2,
      L = 5;
    const { levels, xyzr, off, rand } = randomSamplingInputs(cfg, B, L, 12);
    const gen = tf.tensor3d(uniformArray(B * L * genOut, -0.3, 0.3, rand), [B, L, genOut]);
    const host = samplingMaps(levels, cfg, true);
    const plain = samplingMaps(levels, cfg, false);
    expect(canMixOnHost(plain)).toBe(false); // no host copies: the caller takes the tfjs road
    expect(canMixOnHost(host)).toBe(true);
    const before = tf.memory().numTensors;
    const a = hostMixing(host, xyzr, off, gen, cfg)!;
    expect(tf.memory().numTensors).toBe(before + 1);
    const b = tf.tidy(() => {
      const { Mc, Ms } = splitMixingParams(gen, d);
      return adaptiveMixing(sampleFeatures(plain, xyzr, off, cfg), Mc, Ms);
    });
    expect(a.shape).toEqual([B, L, G * d.pointsOut * C]);
    expect(maxErr(await a.data(), await b.data()).abs).toBeLessThan(2e-5);
    const half = gen.slice([0, 0, 0], [1, L, genOut]);
    expect(() => hostMixing(host, xyzr, off, half, cfg)).toThrow(/generator must give \[2, 5, 12288\]/);
    tf.dispose([...levels, xyzr, off, gen, half, a, b, ...host.maps, ...plain.maps]);
  });

  it('runs the generator and the output Linears in the kernels value for value as tfjs does, weights kept, leak-free', async () => {
    const cfg = makeConfig('web', 'vanilla');
    const d = cfg.decoder;
    const { genOut, outIn } = dims(d);
    const [B, L] = [1, 7];
    const { levels, xyzr, off, rand } = randomSamplingInputs(cfg, B, L, 13);
    const x = tf.tensor3d(uniformArray(B * L * d.dQuery, -1, 1, rand), [B, L, d.dQuery]);
    const weights = new Map<string, tf.Tensor>([
      [preparedName('gen.weight'), tf.tensor2d(uniformArray(d.dQuery * genOut, -0.05, 0.05, rand), [d.dQuery, genOut])],
      ['gen.bias', tf.tensor1d(uniformArray(genOut, -0.1, 0.1, rand))],
      [preparedName('out.weight'), tf.tensor2d(uniformArray(outIn * d.dQuery, -0.02, 0.02, rand), [outIn, d.dQuery])],
      ['out.bias', tf.tensor1d(uniformArray(d.dQuery, -0.1, 0.1, rand))],
    ]);
    const host = samplingMaps(levels, cfg, true);
    const genL = hostLinear(weights, 'gen')!;
    const outL = hostLinear(weights, 'out')!;
    expect([genL.K, genL.N, outL.K, outL.N]).toEqual([d.dQuery, genOut, outIn, d.dQuery]);
    const before = tf.memory().numTensors;
    const viaTfjs = tf.tidy(() => linear(hostMixing(host, xyzr, off, linear(x, weights, 'gen'), cfg), weights, 'out'));
    const inKernels = hostMixing(host, xyzr, off, { x, linear: genL }, cfg, outL);
    const again = hostMixing(host, xyzr, off, { x, linear: genL }, cfg, outL); // the weights packed before, kept
    expect(tf.memory().numTensors).toBe(before + 3);
    expect(inKernels.shape).toEqual([B, L, d.dQuery]);
    expect(await inKernels.data()).toEqual(await viaTfjs.data());
    expect(await again.data()).toEqual(await viaTfjs.data());
    const wide = { ...outL, K: outIn + 1 };
    expect(() => hostMixing(host, xyzr, off, { x, linear: genL }, cfg, wide)).toThrow(/output Linear takes/);
    expect(
      hostLinear(
        new Map([
          ['raw.weight', x],
          ['raw.bias', x],
        ]),
        'raw',
      ),
    ).toBeNull(); // not prepared: tfjs runs it
    expect(hostLinear(weights, 'gen', 4)).toBeNull(); // tfjs-wasm on 4 threads: XNNPACK's pool runs it
    tf.dispose([...levels, xyzr, off, x, viaTfjs, inKernels, again, ...weights.values(), ...host.maps]);
  });
});
