import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { makeConfig } from '../config';
import { countParameters } from '../params';
import { initArrays } from '../weights/init';
import { arraysToWeights } from '../weights/io';
import { foldLorsA, foldLorsT } from './fold';
import { lorsAFoldedName } from './lorsA';
import { Rng } from '../random';
import { sliceConfig, sliceLors } from './slice';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

/** tiny LORS with every private tensor random (the initialiser zeroes some of them). */
function randomLors(rankA: number, rankT: number, groups: number[]) {
  const cfg = makeConfig('tiny', 'lors', { rankA, rankT, groups, groupsT: 2 });
  const arrays = initArrays(cfg, 3);
  const r = new Rng(12345);
  const rnd = () => r.uniform() - 0.5;
  for (const [name, a] of arrays)
    if (/lorsA\.(generator|ml|mr|sl|sr)|lorsT\.[AB]/.test(name)) for (let i = 0; i < a.length; i++) a[i] = rnd();
  return { cfg, arrays };
}

/** The dense folded LORS^A generator and L_output of every stage, as plain arrays. */
async function dense(cfg: ReturnType<typeof makeConfig>, arrays: Map<string, Float32Array>) {
  const w = arraysToWeights(cfg, arrays);
  const ft = foldLorsT(w, cfg);
  const fa = foldLorsA(ft.weights, cfg);
  const out: Float32Array[] = [];
  for (let i = 0; i < cfg.decoder.stages; i++) {
    out.push(await fa.weights.get(`${lorsAFoldedName(i)}.weight`)!.data<'float32'>());
    out.push(await fa.weights.get(`${lorsAFoldedName(i)}.bias`)!.data<'float32'>());
    for (const n of ft.added) if (n.startsWith(`stages.${i}.`)) out.push(await ft.weights.get(n)!.data<'float32'>());
  }
  tf.dispose([...new Set([...w.values(), ...ft.weights.values(), ...fa.weights.values()])]);
  return out;
}

describe('sliceLors', () => {
  it("equals the full model with the dropped components zeroed (LORS^A rows/cols ≥ r', groups ≥ K'; LORS^T)", async () => {
    const { cfg, arrays } = randomLors(3, 3, [1, 2, 3, 3, 2, 1]);
    const target = { rankA: 2, groupsA: [1, 1, 2, 3, 1, 1], rankT: 2, groupsT: [1, 2, 1, 2, 1, 2] };
    const s = sliceLors(cfg, arrays, target);
    expect(countParameters(s.config).total).toBe([...s.arrays.values()].reduce((a, v) => a + v.length, 0));
    expect(s.config.lors).toEqual(target);

    // The same function: zero the E entries (and LORS^T columns) the slice drops.
    const zeroed = new Map([...arrays].map(([k, v]) => [k, v.slice()]));
    const r = 3,
      G = 2,
      dq = cfg.decoder.dQuery;
    for (let i = 0; i < 6; i++) {
      const K = cfg.lors!.groupsA[i]!;
      const W = zeroed.get(`stages.${i}.lorsA.generator.weight`)!,
        b = zeroed.get(`stages.${i}.lorsA.generator.bias`)!;
      for (let part = 0; part < 2; part++)
        for (let g = 0; g < G; g++)
          for (let k = 0; k < K; k++)
            for (let a = 0; a < r; a++)
              for (let c = 0; c < r; c++) {
                if (k < target.groupsA[i]! && a < 2 && c < 2) continue;
                const row = (((part * G + g) * K + k) * r + a) * r + c;
                W.fill(0, row * dq, (row + 1) * dq);
                b[row] = 0;
              }
      const B = zeroed.get(`stages.${i}.lorsT.B`)!; // [2, dq, 3]
      for (let k = 0; k < 2; k++)
        for (let y = 0; y < dq; y++)
          for (let c = 0; c < 3; c++) {
            if (k < target.groupsT[i]! && c < 2) continue;
            B[(k * dq + y) * 3 + c] = 0;
          }
    }
    const [got, want] = [await dense(s.config, s.arrays), await dense(cfg, zeroed)];
    expect(got.length).toBe(want.length);
    got.forEach((a, j) => {
      expect(a.length).toBe(want[j]!.length);
      let m = 0;
      for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]! - want[j]![k]!));
      expect(m).toBeLessThan(1e-5);
    });
  });

  it('the whole model is a slice of itself (the same arrays)', () => {
    const { cfg, arrays } = randomLors(2, 2, [1, 1, 2, 2, 3, 3]);
    const s = sliceLors(cfg, arrays, { rankA: 2, groupsA: [1, 1, 2, 2, 3, 3], rankT: 2 });
    for (const [k, v] of arrays) expect(Array.from(s.arrays.get(k)!), k).toEqual(Array.from(v));
    // folding works on the sliced map too (smoke: no shape errors)
    const w = arraysToWeights(s.config, s.arrays);
    const f = foldLorsA(foldLorsT(w, s.config).weights, s.config).weights;
    tf.dispose([...new Set([...w.values(), ...f.values()])]);
  });

  it('r = 0 (shared only): the slice folds to the shared weights exactly, whatever K', async () => {
    const { cfg, arrays } = randomLors(3, 3, [1, 2, 3, 3, 2, 1]);
    const s = sliceLors(cfg, arrays, { rankA: 0, rankT: 0 });
    expect(s.config.lors).toMatchObject({ rankA: 0, rankT: 0 });
    for (const [n, a] of s.arrays)
      if (/lorsA\.(generator|ml|mr|sl|sr)|lorsT\.[AB]$/.test(n)) expect(a.length, n).toBe(0);
    const w = arraysToWeights(s.config, s.arrays);
    const ft = foldLorsT(w, s.config);
    const fa = foldLorsA(ft.weights, s.config);
    try {
      const shT = await w.get('lorsT.shared.weight')!.data();
      const shA = await w.get('lorsA.shared.weight')!.data();
      const shAb = await w.get('lorsA.shared.bias')!.data();
      for (let i = 0; i < cfg.decoder.stages; i++) {
        const t = ft.added.find((n) => n.startsWith(`stages.${i}.`))!;
        expect(Array.from(await ft.weights.get(t)!.data()), `stage ${i} L_output`).toEqual(Array.from(shT));
        const ga = await fa.weights.get(`${lorsAFoldedName(i)}.weight`)!.data();
        expect(Array.from(ga), `stage ${i} generator`).toEqual(Array.from(shA));
        expect(Array.from(await fa.weights.get(`${lorsAFoldedName(i)}.bias`)!.data())).toEqual(Array.from(shAb));
      }
    } finally {
      tf.dispose([...new Set([...w.values(), ...ft.weights.values(), ...fa.weights.values()])]);
    }
  });

  it('one rule for every caller: strict refuses what the source does not hold (naming the limit), clamp fits it', () => {
    const cfg = makeConfig('web', 'lors'); // r 8, K [1,1,2,2,3,3], r_T 8
    expect(sliceConfig(cfg, {})).toEqual(cfg);
    expect(() => sliceConfig(cfg, { rankA: 9 })).toThrow(
      /rank r of LORS\^A must be 0..8, got 9 \(this model holds r_A ≤ 8/,
    );
    expect(() => sliceConfig(cfg, { rankA: -1 })).toThrow(/must be 0..8, got -1/);
    expect(() => sliceConfig(cfg, { groupsA: 0 })).toThrow(/K of LORS\^A must be 1..1, got 0/);
    expect(() => sliceConfig(cfg, { groupsA: [2, 1, 1, 1, 1, 1] })).toThrow(
      /stage 0: K of LORS\^A must be 1..1, got 2/,
    );
    expect(() => sliceConfig(cfg, { groupsA: [1, 1] })).toThrow(/2 values for 6 stages/);
    expect(() => sliceConfig(cfg, { rankT: 1.5 })).toThrow(/LORS\^T must be 0..8, got 1.5/);
    expect(() => sliceConfig(makeConfig('web', 'vanilla'), {})).toThrow(/not a LORS model/);
    expect(() => sliceLors(cfg, new Map(), { rankA: 9 })).toThrow(/LORS slice: rank/);
    expect(sliceConfig(cfg, { rankA: 64, groupsA: 3, rankT: -2 }, 'clamp').lors).toEqual({
      rankA: 8,
      groupsA: [1, 1, 2, 2, 3, 3],
      rankT: 0,
      groupsT: [1, 1, 1, 1, 1, 1],
    });
    expect(sliceConfig(cfg, { rankA: 2, groupsA: 1 }).lors).toEqual({
      rankA: 2,
      groupsA: [1, 1, 1, 1, 1, 1],
      rankT: 8,
      groupsT: [1, 1, 1, 1, 1, 1],
    });
    // a clamped slice is one the strict rule accepts, and it is a fixed point
    const c = sliceConfig(cfg, { rankA: 40, groupsA: 8 }, 'clamp');
    expect(sliceConfig(cfg, c.lors!)).toEqual(c);
  });
});
