/** A decoder as a detector holds it: the config it reports, the one it runs and its run weights, checked once. */
import * as tf from '@tensorflow/tfjs';
import { NANODET_CHANNELS, NANODET_STRIDES } from './backbone';
import { COCO_CLASSES } from './cocoFormat';
import type { ModelConfig } from './config';
import { SLOT_VARIANTS } from './constants';
import type { DecoderSlot, WeightMap } from './types';
import { checkWeights, prepareWeights } from './adamixer/prepare';
import { foldToVanilla } from './lors/fold';

export interface LoadedDecoder {
  /** The config loaded (what the app reports and counts). */
  config: ModelConfig;
  /** The config the forward runs: a folded LORS model runs as the vanilla decoder it is (foldToVanilla). */
  runs: ModelConfig;
  /** What the forward uses: the weights, folded when asked and prepared (prepareWeights), checked once. */
  run: WeightMap;
  /** Frees `run` (a slice of a ResidentLors: drops its references); absent: `run` is owned and disposed. */
  release?: () => void;
}

/** Fold (a LORS model, when asked) and prepare once; frees what the prepared map no longer holds. Owns `weights`. */
export function makeRunWeights(weights: WeightMap, config: ModelConfig, fold: boolean): Omit<LoadedDecoder, 'config'> {
  const made: tf.Tensor[] = [];
  try {
    let [w, runs] = [weights, config];
    if (fold) {
      const f = foldToVanilla(weights, config);
      made.push(...f.added.map((n) => f.weights.get(n)!));
      [w, runs] = [f.weights, f.config];
    }
    const p = prepareWeights(w, runs);
    made.push(...p.added.map((n) => p.weights.get(n)!));
    checkWeights(p.weights, runs);
    const keep = new Set(p.weights.values());
    for (const t of new Set([...weights.values(), ...w.values()])) if (!keep.has(t)) t.dispose();
    return { runs, run: p.weights };
  } catch (e) {
    tf.dispose(made);
    throw e;
  }
}

/** Refuses a config that the slot does not run or that does not fit NanoDet-g's features and COCO's classes. */
export function checkDecoderConfig(name: DecoderSlot, cfg: ModelConfig) {
  const variant = SLOT_VARIANTS[name];
  if (cfg.variant !== variant)
    throw new Error(`decoder "${name}" needs a ${variant} config, got variant "${cfg.variant}"`);
  const d = cfg.decoder;
  if (d.featChannels !== NANODET_CHANNELS) {
    throw new Error(`decoder "${name}": featChannels ${d.featChannels} does not match NanoDet's ${NANODET_CHANNELS}`);
  }
  if (d.strides.length !== NANODET_STRIDES.length || d.strides.some((s, i) => s !== NANODET_STRIDES[i])) {
    throw new Error(
      `decoder "${name}": strides [${d.strides.join(', ')}] do not match NanoDet's [${NANODET_STRIDES.join(', ')}]`,
    );
  }
  if (d.classes !== COCO_CLASSES.length)
    throw new Error(`decoder "${name}": ${d.classes} classes, expected ${COCO_CLASSES.length} (COCO)`);
}

export function disposeDecoder(d: LoadedDecoder) {
  if (d.release) d.release();
  else for (const t of d.run.values()) t.dispose();
}
