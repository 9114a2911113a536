import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { folderReader } from '../cli/node-io';
import { prepareWeights } from './adamixer/prepare';
import { arraysToWeights } from './weights/io';
import { foldToVanilla } from './lors/fold';
import { ResidentLors } from './residentLors';
import type { LorsSlice } from './lors/slice';
import { OrderedLors } from './lors/source';
import { onWasmKernels } from './adamixer/wasm/tensors';

const FIX = 'test/fixtures/compress/lorsified-vanilla'; // tiny, r_A 16, K 2, r_T 32

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

/** The run weights as the detector made them before: slice every array, upload, foldToVanilla, prepareWeights. */
async function slow(src: OrderedLors, slice: LorsSlice) {
  const { config, arrays } = await src.slice(slice);
  const w = arraysToWeights(config, arrays);
  const f = foldToVanilla(w, config);
  const p = prepareWeights(f.weights, f.config);
  const out = new Map<string, Float32Array>();
  for (const [n, t] of p.weights) out.set(n, await t.data<'float32'>());
  tf.dispose([...new Set([...w.values(), ...f.weights.values(), ...p.weights.values()])]);
  return out;
}

describe('ResidentLors', () => {
  it.each(['wasm', 'cpu'])(
    '%s: gives the run weights of slice → upload → fold → prepare (value for value; the wasm kernels fold the generators to float32 rounding), and leaks no tensor',
    async (backend) => {
      await tf.setBackend(backend);
      const kernels = onWasmKernels() !== null;
      expect(kernels).toBe(backend === 'wasm');
      const src = await OrderedLors.open(folderReader(FIX));
      const tensors0 = tf.memory().numTensors;
      const resident = await ResidentLors.create(src);
      const slices: LorsSlice[] = [{}, { rankA: 4 }, { rankA: 4, groupsA: 1 }, { rankT: 3 }, {}, { rankA: 4 }];
      let prev: { release(): void } | undefined;
      let steady = -1;
      for (const [k, slice] of slices.entries()) {
        const r = await resident.runWeights(slice);
        prev?.release();
        prev = r;
        const want = await slow(src, slice);
        expect([...r.weights.keys()].sort()).toEqual([...want.keys()].sort());
        for (const [n, t] of r.weights) {
          const got = await t.data<'float32'>();
          let maxDiff = 0,
            largest = 0;
          want.get(n)!.forEach((v, i) => {
            maxDiff = Math.max(maxDiff, Math.abs(v - got[i]!));
            largest = Math.max(largest, Math.abs(v));
          });
          const tol = kernels && n.includes('mixing.generator') ? 1e-6 * largest : 0;
          expect(`${n} (slice ${k}): ${maxDiff <= tol ? 'within' : maxDiff}`).toBe(`${n} (slice ${k}): within`);
        }
        // Once a slice is current, the resident holds a fixed set: the count is the same after every move.
        if (k === 1) steady = tf.memory().numTensors;
        if (k === 5) expect(tf.memory().numTensors).toBe(steady);
      }
      prev!.release();
      resident.dispose();
      expect(tf.memory().numTensors).toBe(tensors0);
      await tf.setBackend('wasm');
    },
  );

  it('folds again only the stages a move changes', async () => {
    const src = await OrderedLors.open(folderReader(FIX));
    const resident = await ResidentLors.create(src);
    const a = await resident.runWeights({});
    const b = await resident.runWeights({ rankT: 3 }); // LORS^T only: every generator is reused
    for (let i = 0; i < src.config.decoder.stages; i++) {
      const n = `stages.${i}.mixing.generator.weightT`;
      expect(b.weights.get(n)).toBe(a.weights.get(n));
      expect(b.weights.get(`stages.${i}.mixing.output.weightT`)).not.toBe(
        a.weights.get(`stages.${i}.mixing.output.weightT`),
      );
    }
    a.release();
    b.release();
    resident.dispose();
  });
});
