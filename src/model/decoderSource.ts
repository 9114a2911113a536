/**
 * Where a decoder's weights come from, and the one rule that picks them: trained weights if the folder has them,
 * else the seeded initialisation of a config. Detector.setDecoder takes any source.
 */
import type { ModelConfig } from './config';
import type { LorsSlice } from './lors/slice';
import { OrderedLors } from './lors/source';
import { FileNotFoundError, type FileReader, type WeightMap } from './types';
import { encodedBytes } from './weights/encoding';
import { initWeights } from './weights/init';
import { arraysToWeights, loadWeights, shardBytes, withPrefetched } from './weights/io';
import { MODEL_JSON, parseManifest } from './weights/manifest';

/**
 * A decoder's weights: a weights folder, the seeded initialisation of a config (a pipeline check: its boxes mean
 * nothing), arrays already in memory (names of parameterSpec(config)), or a slice (the whole model by default) of an
 * ordered LORS source.
 */
export type DecoderSource =
  | { read: FileReader }
  | { config: ModelConfig; seed: number }
  | { config: ModelConfig; arrays: Map<string, Float32Array> }
  | { lors: OrderedLors; slice?: LorsSlice };

/**
 * "Trained weights if the folder has them, else the seeded initialisation of `fallback`": the one rule the worker,
 * the CLIs and the bench share. The folder must hold `fallback`'s variant; a LORS folder comes back as an ordered
 * LORS source (`lors`: any slice of it, its shards loaded once). A folder without model.json is not an error (the note says what is used instead); a
 * model.json that cannot be read for another reason is.
 */
export async function decoderSource(
  read: FileReader,
  fallback: ModelConfig,
  seed = 0,
): Promise<{ source: DecoderSource; trained: boolean; weightBytes: number; lors?: OrderedLors; note?: string }> {
  let json: ArrayBuffer;
  try {
    json = await read(MODEL_JSON);
  } catch (e) {
    if (!(e instanceof FileNotFoundError)) throw e;
    const note = `no trained weights (${e.message}): seeded initial weights, seed ${seed}`;
    return { source: { config: fallback, seed }, trained: false, weightBytes: encodedBytes(fallback, 'int8'), note };
  }
  // The loader gets the model.json already read: one fetch per folder.
  const prefetched = withPrefetched(read, MODEL_JSON, json);
  const manifest = parseManifest(json, { variant: fallback.variant });
  if (manifest.config.lors) {
    const lors = new OrderedLors(prefetched, manifest);
    return { source: { lors }, trained: true, weightBytes: lors.weightBytes, lors };
  }
  return { source: { read: prefetched }, trained: true, weightBytes: shardBytes(manifest) };
}

/** The config and weights (owned by the caller) of a source; `expect` is checked against a folder's config. */
export async function sourceWeights(
  source: DecoderSource,
  expect: Partial<ModelConfig> = {},
  onProgress?: (loaded: number, total: number) => void,
): Promise<{ config: ModelConfig; weights: WeightMap }> {
  if ('read' in source) return loadWeights(source.read, { expect, onProgress });
  if ('lors' in source) {
    const { config, arrays } = await source.lors.slice(source.slice, 'strict', onProgress);
    return { config, weights: arraysToWeights(config, arrays) };
  }
  const weights =
    'arrays' in source ? arraysToWeights(source.config, source.arrays) : initWeights(source.config, source.seed);
  onProgress?.(1, 1);
  return { config: source.config, weights };
}
