import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeConfig } from '../../config';
import { foldLorsA, foldLorsT } from '../../lors/fold';
import { disposeWeights, maxErr, randomLevels, randomWeights } from '../../../testing/reference';
import { decoderForward } from '../decoder';
import { prepareWeights } from '../prepare';
import { fusedUnsupported } from './stage';

// The fused kernels run only on WebGPU (checked against the op path by the self-test page in headless Chromium);
// here: the path choice, which leaves wasm on its own kernels (wasm/kernels.ts), equal to the tfjs ops up to float32
// rounding.
beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

describe('fused WebGPU decoder path: choice', () => {
  it('is refused off WebGPU, with the reason', () => {
    const cfg = makeConfig('tiny', 'vanilla');
    const w = randomWeights(cfg, 1);
    expect(fusedUnsupported(cfg)).toMatch(/backend is wasm/);
    const levels = randomLevels(cfg, 1, 32, 32, 2);
    expect(() => decoderForward(w, cfg, levels, [[32, 32]], { impl: 'fused' })).toThrow(
      /fused WebGPU path cannot run: the backend is wasm/,
    );
    tf.dispose(levels);
    disposeWeights(w);
  });

  it("'auto' on wasm runs the wasm kernels: the tfjs-op path's outputs within float32 rounding, fewer tfjs kernels", async () => {
    const cfg = makeConfig('tiny', 'lors');
    const raw = randomWeights(cfg, 3);
    const w = foldLorsA(foldLorsT(raw, cfg).weights, cfg).weights;
    const levels = randomLevels(cfg, 1, 32, 32, 4);
    const before = tf.memory().numTensors;
    const run = async (impl: 'auto' | 'ops') => {
      let out: Float32Array = new Float32Array();
      const prof = await tf.profile(async () => {
        const preds = decoderForward(w, cfg, levels, [[32, 24]], { impl, lorsA: 'folded', lorsT: 'folded' });
        out = new Float32Array([...(await preds[0]!.logits.data()), ...(await preds[0]!.boxes.data())]);
        tf.dispose(preds.flatMap((p) => [p.logits, p.boxes]));
        return undefined as unknown as tf.Tensor;
      });
      return { out, kernels: prof.kernels.map((k) => k.name) };
    };
    const a = await run('auto');
    const b = await run('ops');
    expect(maxErr(a.out, b.out).rel).toBeLessThan(1e-4);
    expect(a.kernels).not.toContain('CropAndResize');
    expect(b.kernels).toContain('CropAndResize');
    expect(a.kernels.length).toBeLessThan(b.kernels.length);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(levels);
    for (const t of new Set([...raw.values(), ...w.values()])) t.dispose();
  });

  it("'auto' on prepared weights runs each stage's generator and L_output in the kernels (two tfjs matMuls fewer), within float32 rounding of the tfjs ops", async () => {
    const cfg = makeConfig('tiny', 'vanilla');
    const raw = randomWeights(cfg, 5);
    const p = prepareWeights(raw, cfg);
    const levels = randomLevels(cfg, 1, 32, 32, 6);
    const before = tf.memory().numTensors;
    const run = async (w: typeof raw, impl: 'auto' | 'ops') => {
      let out: Float32Array = new Float32Array();
      const prof = await tf.profile(async () => {
        const preds = decoderForward(w, cfg, levels, [[32, 24]], { impl });
        out = new Float32Array([...(await preds[0]!.logits.data()), ...(await preds[0]!.boxes.data())]);
        tf.dispose(preds.flatMap((x) => [x.logits, x.boxes]));
        return undefined as unknown as tf.Tensor;
      });
      return { out, matMuls: prof.kernels.filter((k) => k.name === 'BatchMatMul').length };
    };
    const prepared = await run(p.weights, 'auto');
    const unprepared = await run(raw, 'auto'); // [out, in] weights: the tfjs Linears
    const ops = await run(p.weights, 'ops');
    expect(unprepared.matMuls - prepared.matMuls).toBe(2 * cfg.decoder.stages);
    expect(ops.matMuls).toBeGreaterThan(unprepared.matMuls);
    expect(maxErr(prepared.out, ops.out).rel).toBeLessThan(1e-4);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(levels);
    for (const t of new Set([...raw.values(), ...p.weights.values()])) t.dispose();
  });
});
