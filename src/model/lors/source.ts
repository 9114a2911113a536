/**
 * An ordered LORS model on its way to the decoder: its config (the largest slice it allows) read once from
 * model.json, its factors loaded once on first use, and any slice of it as in-memory decoder weights. The worker's
 * init and sliders and the CLIs' --lors-source/--rank-a/--rank-t/--groups all go through `slice`.
 */
import type { ModelConfig } from '../config';
import type { FileReader } from '../types';
import { loadWeightArrays, MODEL_JSON, parseManifest, shardBytes, withPrefetched } from '../weights/io';
import { sliceLors, type LorsSlice, type SliceMode } from './slice';

export class OrderedLors {
  private arrays?: Promise<Map<string, Float32Array>>;

  private constructor(
    private readonly read: FileReader,
    /** The source's own config: the largest slice. */
    readonly config: ModelConfig,
    /** Bytes of its weight shards (from the manifest). */
    readonly weightBytes: number,
    private readonly onProgress?: (loaded: number, total: number) => void,
  ) {}

  /** Reads model.json only (FileNotFoundError when the folder has none); the shards load on the first slice. */
  static async open(read: FileReader, onProgress?: (loaded: number, total: number) => void): Promise<OrderedLors> {
    const json = await read(MODEL_JSON);
    const m = parseManifest(json, { variant: 'lors' });
    return new OrderedLors(withPrefetched(read, MODEL_JSON, json), m.config, shardBytes(m), onProgress);
  }

  /** The shards, verified and decoded once; a failed load is retried by the next call. */
  load(): Promise<Map<string, Float32Array>> {
    if (!this.arrays) {
      const p = loadWeightArrays(this.read, { expect: { variant: 'lors' }, onProgress: this.onProgress }).then(
        (r) => r.arrays,
      );
      p.catch(() => {
        if (this.arrays === p) this.arrays = undefined;
      });
      this.arrays = p;
    }
    return this.arrays;
  }

  /** The decoder weights of a slice (the whole model by default), ready for Detector.setDecoder('lors', …). */
  async slice(
    req: LorsSlice = {},
    mode: SliceMode = 'strict',
  ): Promise<{ config: ModelConfig; arrays: Map<string, Float32Array> }> {
    return sliceLors(this.config, await this.load(), req, mode);
  }
}
