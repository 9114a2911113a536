import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { dims, makeConfig } from '../config';
import { parameterSpec } from '../params';
import { foldLorsT } from '../lors/fold';
import { linear } from '../nn/ops';
import { checkWeights, prepareWeights } from './prepare';
import { disposeWeights, randomWeights } from '../../testing/reference';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

const cfg = makeConfig('tiny', 'lors', { stages: 2, groupsT: [1, 2] });
const d = cfg.decoder;
const { outIn } = dims(d);

describe('prepareWeights', () => {
  it('replaces every Linear weight by its [in, out] transpose and LORS^T A, B by A_catᵀ, B_catᵀ', async () => {
    const w = randomWeights(cfg, 3);
    const before = tf.memory().numTensors;
    const p = prepareWeights(w, cfg);
    expect(tf.memory().numTensors).toBe(before + p.added.length);
    const n1 = tf.memory().numTensors;
    const linearWeights = parameterSpec(cfg)
      .filter((s) => s.shape.length === 2 && s.name.endsWith('.weight'))
      .map((s) => s.name);
    expect(linearWeights).toContain('stages.0.attn.inProj.weight');
    expect(linearWeights).toContain('lorsA.shared.weight');
    expect(p.replaced).toEqual(expect.arrayContaining([...linearWeights, 'stages.1.lorsT.A', 'stages.1.lorsT.B']));
    expect(p.added).toEqual(p.replaced.map((n) => `${n}T`));
    for (const n of p.replaced) expect(p.weights.has(n)).toBe(false);
    // untouched tensors are the same objects
    expect(p.weights.get('stages.0.iofTau')).toBe(w.get('stages.0.iofTau'));
    expect(p.weights.get('stages.0.lorsA.ml')).toBe(w.get('stages.0.lorsA.ml'));
    // values: a Linear weight (hand check of two entries) and LORS^T's factors of stage 1 (K = 2)
    const W = (await w.get('stages.0.ffn.fc1.weight')!.array()) as number[][];
    const WT = (await p.weights.get('stages.0.ffn.fc1.weightT')!.array()) as number[][];
    expect(WT.length).toBe(d.dQuery);
    expect(WT[3]![5]).toBe(W[5]![3]);
    expect(WT[d.dQuery - 1]![0]).toBe(W[0]![d.dQuery - 1]);
    const r = cfg.lors!.rankT;
    const A = (await w.get('stages.1.lorsT.A')!.array()) as number[][][]; // [K, r, outIn]
    const B = (await w.get('stages.1.lorsT.B')!.array()) as number[][][]; // [K, dq, r]
    const AT = (await p.weights.get('stages.1.lorsT.AT')!.array()) as number[][]; // [outIn, K·r]
    const BT = (await p.weights.get('stages.1.lorsT.BT')!.array()) as number[][]; // [K·r, dq]
    expect([AT.length, AT[0]!.length, BT.length, BT[0]!.length]).toEqual([outIn, 2 * r, 2 * r, d.dQuery]);
    for (const [k, s, j] of [
      [0, 0, 0],
      [1, 1, 7],
      [1, r - 1, outIn - 1],
    ] as const)
      expect(AT[j]![k * r + s]).toBe(A[k]![s]![j]);
    for (const [k, s, j] of [
      [0, 0, 0],
      [1, 0, 5],
      [1, r - 1, d.dQuery - 1],
    ] as const)
      expect(BT[k * r + s]![j]).toBe(B[k]![j]![s]);
    // checkWeights accepts the prepared map; linear() uses the prepared copy with the same result
    expect(() => checkWeights(p.weights, cfg)).not.toThrow();
    const x = tf.randomUniform([2, 3, d.dQuery]);
    const y0 = tf.tidy(() => linear(x, w, 'stages.0.ffn.fc1', 'relu'));
    const y1 = tf.tidy(() => linear(x, p.weights, 'stages.0.ffn.fc1', 'relu'));
    const [a, b] = [await y0.data(), await y1.data()];
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 5);
    tf.dispose([x, y0, y1]);
    expect(tf.memory().numTensors).toBe(n1);
    // preparing twice adds nothing
    const again = prepareWeights(p.weights, cfg);
    expect(again.added).toEqual([]);
    expect(again.weights.size).toBe(p.weights.size);
    for (const n of p.added) p.weights.get(n)!.dispose();
    disposeWeights(w);
    expect(tf.memory().numTensors).toBe(before - w.size);
  });

  it('prepares folded weights present in the map, and checkWeights reports bad prepared shapes', () => {
    const w = randomWeights(cfg, 4);
    const f = foldLorsT(w, cfg);
    const p = prepareWeights(f.weights, cfg);
    expect(p.added).toContain('stages.0.lorsT.foldedT');
    expect(p.weights.get('stages.0.lorsT.foldedT')!.shape).toEqual([outIn, d.dQuery]);
    const bad = new Map(p.weights);
    bad.set('stages.1.ffn.fc2.weightT', tf.zeros([d.dQuery, d.ffn]));
    expect(() => checkWeights(bad, cfg)).toThrow(
      /"stages.1.ffn.fc2.weightT" has shape \[32, 64\], expected \[64, 32\]/,
    );
    bad.get('stages.1.ffn.fc2.weightT')!.dispose();
    bad.delete('stages.1.ffn.fc2.weightT');
    expect(() => checkWeights(bad, cfg)).toThrow(/missing "stages.1.ffn.fc2.weight"/);
    expect(() => prepareWeights(bad, cfg)).toThrow(/"stages.1.ffn.fc2.weight" \[32, 64\] is missing/);
    tf.dispose([...p.added.map((n) => p.weights.get(n)!), ...f.added.map((n) => f.weights.get(n)!)]);
    disposeWeights(w);
  });
});
