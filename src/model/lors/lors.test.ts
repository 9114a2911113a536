import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dims, makeConfig } from '../config';
import type { WeightMap } from '../types';
import {
  jsLinear,
  jsLorsA,
  jsLorsTWeight,
  maxErr,
  randomWeights,
  rng,
  toJsWeights,
  uniformArray,
  disposeWeights,
  type JsWeights,
} from '../../testing/reference';
import { foldLorsA, foldLorsT, lorsAPrivateFolded } from './fold';
import { prepareWeights } from '../adamixer/prepare';
import { lorsAMixingParams, lowRankSum } from './lorsA';
import { lorsTOutput, lorsTProject } from './lorsT';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

// K = [1, 2, 3] over 3 stages, rank 2 (A) and 3 (T), two LORS^T groups on stage 1 to exercise Σ_k.
const cfg = makeConfig('tiny', 'lors', { stages: 3, rankT: 3, groupsT: [1, 2, 1] });
const d = cfg.decoder;
const { G, C, outIn } = dims(d);
let weights: WeightMap;
let js: JsWeights;
const B = 2,
  L = 3;
const qArr = uniformArray(B * L * d.dQuery, -1, 1, rng(5));

beforeAll(async () => {
  weights = randomWeights(cfg, 21);
  js = await toJsWeights(weights);
});
afterAll(() => disposeWeights(weights));

describe('LORS^A', () => {
  it('lowRankSum = Σ_k B_k E_k A_k on a hand case', async () => {
    // G = 1, K = 2, r = 1, d = 2, h = 1: B_1 = [1, 2]ᵀ, B_2 = [0, 1]ᵀ, A_1 = [3], A_2 = [5], E = (2, 10)
    const E = tf.tensor([2, 10], [1, 2, 1, 1]);
    const Bm = tf.tensor([1, 2, 0, 1], [2, 2, 1]);
    const A = tf.tensor([3, 5], [2, 1, 1]);
    const out = lowRankSum(E, Bm, A, 1, 2);
    expect(out.shape).toEqual([1, 2, 1]);
    expect(Array.from(await out.data())).toEqual([6, 12 + 50]);
    tf.dispose([E, Bm, A, out]);
  });

  it('factored M_c, M_s match materialised per-query weights (plain JS), every stage (K = 1, 2, 3)', async () => {
    const q = tf.tensor3d(qArr, [B, L, d.dQuery]);
    for (let i = 0; i < d.stages; i++) {
      const before = tf.memory().numTensors;
      const { Mc, Ms } = lorsAMixingParams(weights, cfg, i, q, 'factored');
      expect(tf.memory().numTensors).toBe(before + 2);
      expect(Mc.shape).toEqual([B, L, G, C, C]);
      expect(Ms.shape).toEqual([B, L, G, d.pointsOut, d.pointsIn]);
      const mc = await Mc.data();
      const ms = await Ms.data();
      const refC: number[] = [],
        refS: number[] = [];
      for (let n = 0; n < B * L; n++) {
        const r = jsLorsA(js, cfg, i, Array.from(qArr.subarray(n * d.dQuery, (n + 1) * d.dQuery)));
        refC.push(...r.Mc.flat(2));
        refS.push(...r.Ms.flat(2));
      }
      expect(maxErr(mc, refC).rel).toBeLessThan(1e-4);
      expect(maxErr(ms, refS).rel).toBeLessThan(1e-4);
      // the private part is not negligible (else the test would not see a wrong private path)
      const sh = jsLinear(
        Array.from(qArr.subarray(0, d.dQuery)),
        js.get('lorsA.shared.weight')!,
        js.get('lorsA.shared.bias')!,
        10,
      );
      expect(Math.max(...sh.map((v, j) => Math.abs(v - refC[j]!)))).toBeGreaterThan(1e-2);
      tf.dispose([Mc, Ms]);
    }
    q.dispose();
  });

  it('foldLorsA (dense per-stage generator) equals the factored path', async () => {
    const { weights: folded, added } = foldLorsA(weights, cfg);
    expect(added).toHaveLength(2 * d.stages);
    expect(folded.get('stages.0.lorsA.folded.weight')!.shape).toEqual([dims(d).genOut, d.dQuery]);
    const q = tf.tensor3d(qArr, [B, L, d.dQuery]);
    for (let i = 0; i < d.stages; i++) {
      const a = lorsAMixingParams(weights, cfg, i, q, 'factored');
      const b = lorsAMixingParams(folded, cfg, i, q, 'auto');
      expect(maxErr(await b.Mc.data(), await a.Mc.data()).rel).toBeLessThan(1e-4);
      expect(maxErr(await b.Ms.data(), await a.Ms.data()).rel).toBeLessThan(1e-4);
      tf.dispose([a.Mc, a.Ms, b.Mc, b.Ms]);
    }
    expect(() => lorsAMixingParams(weights, cfg, 0, q, 'folded')).toThrow(/foldLorsA/);
    for (const n of added) folded.get(n)!.dispose();
    q.dispose();
  });
  it("lorsAPrivateFolded (computed in the prepared layout) equals the low-rank sums over W_E's columns and b_E", async () => {
    // The reference is how the fold computed it before: the dq weight columns and the bias as dq + 1 "queries" of
    // lowRankSum, then transposed and concatenated into [dq + 1, genOut].
    const { genOut } = dims(d);
    const X = d.dQuery + 1;
    for (let i = 0; i < d.stages; i++) {
      const K = cfg.lors!.groupsA[i]!;
      const r = cfg.lors!.rankA;
      const s = `stages.${i}.lorsA`;
      const want = tf.tidy(() => {
        const aug = tf.concat(
          [weights.get(`${s}.generator.weight`)!, weights.get(`${s}.generator.bias`)!.reshape([-1, 1])],
          1,
        );
        const perCol = tf.transpose(aug.reshape([2, G * K, r, r, X]), [0, 4, 1, 2, 3]);
        const [EM, ES] = tf.unstack(perCol);
        const w = (h: 'm' | 's') => weights.get(`${s}.${h}l`)!;
        const a = (h: 'm' | 's') => weights.get(`${s}.${h}r`)!;
        const mc = lowRankSum(EM!, w('m'), a('m'), G, K).reshape([X, G, C * C]);
        const ms = lowRankSum(ES!, w('s'), a('s'), G, K).reshape([X, G, d.pointsOut * d.pointsIn]);
        return tf.concat([mc, ms], 2).reshape([X, genOut]);
      });
      const got = lorsAPrivateFolded(weights, cfg, i);
      expect(got.weight.shape).toEqual([d.dQuery, genOut]);
      expect(got.bias.shape).toEqual([genOut]);
      const all = new Float32Array(X * genOut);
      all.set(await got.weight.data());
      all.set(await got.bias.data(), d.dQuery * genOut);
      const ref = await want.data();
      const scale = Math.max(...Array.from(ref, Math.abs));
      expect(scale).toBeGreaterThan(1e-2); // not all zeros
      expect(maxErr(all, ref).abs / scale).toBeLessThan(1e-6);
      tf.dispose([want, got.weight, got.bias]);
    }
  });
});

describe('LORS^T', () => {
  it('unfolded == folded == explicit W_i = W_sh + Σ_k B_k A_k (plain JS), and the LayerNorm', async () => {
    const before = tf.memory().numTensors;
    const { weights: folded, added } = foldLorsT(weights, cfg);
    expect(added).toEqual(['stages.0.lorsT.folded', 'stages.1.lorsT.folded', 'stages.2.lorsT.folded']);
    const oArr = uniformArray(B * L * outIn, 0, 1, rng(9));
    const o = tf.tensor3d(oArr, [B, L, outIn]);
    const q = tf.tensor3d(qArr, [B, L, d.dQuery]);
    for (let i = 0; i < d.stages; i++) {
      const Wi = jsLorsTWeight(js, cfg, i);
      expect(maxErr(await folded.get(`stages.${i}.lorsT.folded`)!.data(), Wi).abs).toBeLessThan(1e-5);
      const ref: number[] = [];
      for (let n = 0; n < B * L; n++)
        ref.push(
          ...jsLinear(
            Array.from(oArr.subarray(n * outIn, (n + 1) * outIn)),
            Wi,
            js.get(`stages.${i}.lorsT.bias`)!,
            d.dQuery,
          ),
        );
      const unf = lorsTProject(weights, cfg, i, o, 'auto'); // no folded weight in `weights`: factored
      const fol = lorsTProject(folded, cfg, i, o, 'auto');
      const forcedUnf = lorsTProject(folded, cfg, i, o, 'factored');
      expect(maxErr(await unf.data(), ref).rel).toBeLessThan(1e-4);
      expect(maxErr(await fol.data(), ref).rel).toBeLessThan(1e-4);
      expect(maxErr(await forcedUnf.data(), ref).rel).toBeLessThan(1e-4);
      // q ← LN(q + o·W_iᵀ + b_i)
      const out = lorsTOutput(folded, cfg, i, q, o);
      const g = js.get(`stages.${i}.lorsT.norm.weight`)!,
        bb = js.get(`stages.${i}.lorsT.norm.bias`)!;
      const refLn: number[] = [];
      for (let n = 0; n < B * L; n++) {
        const v = Array.from({ length: d.dQuery }, (_, c) => qArr[n * d.dQuery + c]! + ref[n * d.dQuery + c]!);
        const mean = v.reduce((a, x) => a + x, 0) / v.length;
        const vr = v.reduce((a, x) => a + (x - mean) ** 2, 0) / v.length;
        refLn.push(...v.map((x, c) => ((x - mean) / Math.sqrt(vr + 1e-5)) * g[c]! + bb[c]!));
      }
      expect(maxErr(await out.data(), refLn).abs).toBeLessThan(1e-4);
      tf.dispose([unf, fol, forcedUnf, out]);
    }
    expect(() => lorsTProject(weights, cfg, 0, o, 'folded')).toThrow(/foldLorsT/);
    for (const n of added) folded.get(n)!.dispose();
    tf.dispose([o, q]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('prepared maps (A_catᵀ, B_catᵀ, W_shᵀ): factored, folded-after-prepare (foldedT) and prepared-after-fold agree with W_i', async () => {
    const before = tf.memory().numTensors;
    const p = prepareWeights(weights, cfg);
    const pf = foldLorsT(p.weights, cfg); // fold of a prepared map: adds W_iᵀ
    expect(pf.added).toEqual(['stages.0.lorsT.foldedT', 'stages.1.lorsT.foldedT', 'stages.2.lorsT.foldedT']);
    const f = foldLorsT(weights, cfg);
    const fp = prepareWeights(f.weights, cfg); // prepare of a folded map
    expect(fp.added).toContain('stages.1.lorsT.foldedT');
    const oArr = uniformArray(B * L * outIn, 0, 1, rng(19));
    const o = tf.tensor3d(oArr, [B, L, outIn]);
    for (let i = 0; i < d.stages; i++) {
      const Wi = jsLorsTWeight(js, cfg, i);
      const WiT = (await pf.weights.get(`stages.${i}.lorsT.foldedT`)!.array()) as number[][];
      expect(
        maxErr(
          WiT.flat(),
          Array.from({ length: outIn * d.dQuery }, (_, k) => Wi[(k % d.dQuery) * outIn + Math.floor(k / d.dQuery)]!),
        ).abs,
      ).toBeLessThan(1e-5);
      const ref: number[] = [];
      for (let n = 0; n < B * L; n++)
        ref.push(
          ...jsLinear(
            Array.from(oArr.subarray(n * outIn, (n + 1) * outIn)),
            Wi,
            js.get(`stages.${i}.lorsT.bias`)!,
            d.dQuery,
          ),
        );
      const outs = tf.tidy(() => [
        lorsTProject(p.weights, cfg, i, o, 'factored'),
        lorsTProject(pf.weights, cfg, i, o, 'folded'),
        lorsTProject(fp.weights, cfg, i, o, 'folded'),
        lorsTProject(fp.weights, cfg, i, o, 'factored'),
      ]);
      for (const t of outs) expect(maxErr(await t.data(), ref).rel).toBeLessThan(1e-4);
      tf.dispose(outs);
    }
    // foldLorsA on a prepared map adds the prepared dense generator, equal to the factored path
    const pa = foldLorsA(p.weights, cfg);
    expect(pa.added).toContain('stages.2.lorsA.folded.weightT');
    const q = tf.tensor3d(qArr, [B, L, d.dQuery]);
    for (let i = 0; i < d.stages; i++) {
      const a = lorsAMixingParams(weights, cfg, i, q, 'factored');
      const b = lorsAMixingParams(pa.weights, cfg, i, q, 'folded');
      expect(maxErr(await b.Mc.data(), await a.Mc.data()).rel).toBeLessThan(1e-4);
      expect(maxErr(await b.Ms.data(), await a.Ms.data()).rel).toBeLessThan(1e-4);
      tf.dispose([a.Mc, a.Ms, b.Mc, b.Ms]);
    }
    tf.dispose([o, q]);
    for (const m of [p, pf, f, fp, pa]) for (const n of m.added) m.weights.get(n)!.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('folding twice adds nothing', () => {
    const a = foldLorsT(weights, cfg);
    const b = foldLorsT(a.weights, cfg);
    expect(b.added).toEqual([]);
    for (const n of a.added) a.weights.get(n)!.dispose();
  });

  it('refuses a vanilla config', () => {
    const v = makeConfig('tiny', 'vanilla');
    expect(() => foldLorsT(weights, v)).toThrow(/lors config/);
  });
});
