import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decoderForward } from './adamixer/decoder';
import { makeConfig, validateConfig, type ModelConfig } from './config';
import { foldToVanilla } from './lors/fold';
import { countParameters, parameterSpec } from './params';
import {
  disposeWeights,
  jsDecoder,
  maxErr,
  randomLevels,
  randomWeights,
  toJsMap,
  toJsWeights,
} from '../testing/reference';
import { hasLorsParts, PLAIN_VARIANT, VARIANT_NAMES, VARIANTS, type Variant, type VariantSpec } from './variants';

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
});

const SIZES: [number, number][] = [[64, 48]];

async function outputs(weights: Map<string, tf.Tensor>, cfg: ModelConfig, levels: tf.Tensor4D[]) {
  const preds = decoderForward(weights, cfg, levels, SIZES, { stages: 'all', lorsA: 'factored', lorsT: 'factored' });
  const data = await Promise.all(preds.map((p) => p.logits.data()));
  tf.dispose(preds.flatMap((p) => [p.logits, p.boxes]));
  return data.map((d) => Array.from(d));
}

describe('the variant table', () => {
  it('every variant folds to the plain variant, whose parts are all dense', async () => {
    expect(hasLorsParts(PLAIN_VARIANT)).toBe(false);
    for (const v of VARIANT_NAMES) {
      const cfg = makeConfig('tiny', v);
      expect(cfg.lors !== undefined).toBe(hasLorsParts(v));
      expect(validateConfig(JSON.parse(JSON.stringify(cfg)))).toEqual(cfg);
      const raw = randomWeights(cfg, 1);
      const f = foldToVanilla(raw, cfg);
      expect(f.config).toEqual(makeConfig('tiny', PLAIN_VARIANT));
      expect([...f.weights.keys()]).toEqual(parameterSpec(f.config).map((p) => p.name));
      tf.dispose(f.added.map((n) => f.weights.get(n)!));
      disposeWeights(raw);
    }
  });

  describe('a variant added as one row (LORS^A only: the generator low-rank, L_output dense)', () => {
    const table = VARIANTS as unknown as Record<string, VariantSpec>;
    beforeAll(() => {
      table.lorsAOnly = { generator: 'lorsA', output: 'dense' };
    });
    afterAll(() => {
      delete table.lorsAOnly;
    });
    const config = () => makeConfig('tiny', 'lorsAOnly' as Variant);

    it('gets its parameter list, config check, forward and fold from the table', async () => {
      const cfg = config();
      const names = parameterSpec(cfg).map((p) => p.name);
      expect(names).toContain('lorsA.shared.weight');
      expect(names).toContain('stages.0.mixing.output.weight');
      expect(names.some((n) => n.includes('lorsT') || n.includes('mixing.generator'))).toBe(false);
      expect(validateConfig(JSON.parse(JSON.stringify(cfg)))).toEqual(cfg);
      const c = countParameters(cfg);
      const plain = countParameters(makeConfig('tiny', PLAIN_VARIANT));
      expect(c.decoder).toBeLessThan(plain.decoder);

      const raw = randomWeights(cfg, 4);
      const levels = randomLevels(cfg, 1, 64, 48, 5);
      const factored = await outputs(raw, cfg, levels);
      const ref = jsDecoder(await toJsWeights(raw), cfg, await Promise.all(levels.map(toJsMap)), SIZES);
      expect(
        maxErr(
          factored[0]!,
          ref[0]!.flatMap((p) => p.logits.flat()),
        ).rel,
      ).toBeLessThan(2e-5);
      const f = foldToVanilla(raw, cfg);
      expect(f.config.variant).toBe(PLAIN_VARIANT);
      const folded = await outputs(f.weights, f.config, levels);
      for (let i = 0; i < folded.length; i++) expect(maxErr(folded[i]!, factored[i]!).rel).toBeLessThan(1e-3);
      tf.dispose([...levels, ...f.added.map((n) => f.weights.get(n)!)]);
      disposeWeights(raw);
    });
  });
});
