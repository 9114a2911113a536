/**
 * An ordered LORS model on its way to the decoder: its config (the largest slice it allows) read once from
 * model.json, its factors loaded once on first use, and any slice of it as in-memory decoder weights. The worker's
 * init and sliders and the CLIs' --lors-source/--rank-a/--rank-t/--groups all reach it through decoderSource
 * (decoderSource.ts) and Detector.setDecoder.
 */
import type { ModelConfig } from '../config';
import type { FileReader } from '../types';
import { loadWeightArrays, shardBytes, withPrefetched } from '../weights/io';
import { MODEL_JSON, parseManifest, type WeightsManifest } from '../weights/manifest';
import { sliceLors, type LorsSlice, type SliceMode } from './slice';

type Progress = (loaded: number, total: number) => void;

export class OrderedLors {
  private arrays?: Promise<Map<string, Float32Array>>;
  /** The source's own config: the largest slice. */
  readonly config: ModelConfig;
  /** Bytes of its weight shards (from the manifest). */
  readonly weightBytes: number;

  /** `read` answers model.json from `manifest`'s bytes already read (withPrefetched); the shards load on first use. */
  constructor(
    private readonly read: FileReader,
    manifest: WeightsManifest,
  ) {
    if (!manifest.config.lors) throw new Error('an ordered LORS source needs LORS weights');
    this.config = manifest.config;
    this.weightBytes = shardBytes(manifest);
  }

  /** Reads model.json only (FileNotFoundError when the folder has none); the shards load on the first slice. */
  static async open(read: FileReader): Promise<OrderedLors> {
    const json = await read(MODEL_JSON);
    return new OrderedLors(withPrefetched(read, MODEL_JSON, json), parseManifest(json));
  }

  /** The shards, verified and decoded once (progress reported by the call that loads them); a failure is retried. */
  load(onProgress?: Progress): Promise<Map<string, Float32Array>> {
    if (!this.arrays) {
      const p = loadWeightArrays(this.read, { expect: { variant: this.config.variant }, onProgress }).then(
        (r) => r.arrays,
      );
      p.catch(() => {
        if (this.arrays === p) this.arrays = undefined;
      });
      this.arrays = p;
    }
    return this.arrays;
  }

  /** The decoder weights of a slice (the whole model by default). */
  async slice(
    req: LorsSlice = {},
    mode: SliceMode = 'strict',
    onProgress?: Progress,
  ): Promise<{ config: ModelConfig; arrays: Map<string, Float32Array> }> {
    return sliceLors(this.config, await this.load(onProgress), req, mode);
  }
}
