/**
 * The backbone's output for one photo on the backend (`FeatureSet`, what the decoders read), and its conversion to
 * and from plain arrays (`HostFeatures`, hostFeatures.ts), so a second worker can run a decoder on features it did
 * not extract.
 */
import * as tf from '@tensorflow/tfjs';
import { disposeFeatures, type NanoDetHead } from './backbone';
import type { HostFeatures, HostTensor } from './hostFeatures';
import type { LetterboxInfo } from './letterbox';

/** The backbone's output for one photo, reusable by every decoder. Dispose it when done. */
export interface FeatureSet {
  readonly letterbox: LetterboxInfo;
  /** Per stride 8/16/32: [1, H_l, W_l, 128] NHWC. */
  readonly levels: readonly tf.Tensor4D[];
  /** NanoDet's own head outputs, when extracted with them. */
  readonly head?: NanoDetHead;
  readonly disposed: boolean;
  /**
   * A value computed from these features (a decoder's necked maps, NanoDet's proposals), made by `make` on the first
   * call with `key` and returned again on later ones; disposed with the features when it has a dispose method.
   */
  derived<T>(key: unknown, make: () => T): T;
  dispose(): void;
}

export class Features implements FeatureSet {
  private _disposed = false;
  private readonly made = new Map<unknown, unknown>();
  constructor(
    readonly letterbox: LetterboxInfo,
    readonly levels: tf.Tensor4D[],
    readonly head?: NanoDetHead,
  ) {}
  get disposed() {
    return this._disposed;
  }
  derived<T>(key: unknown, make: () => T): T {
    if (this._disposed) throw new Error('FeatureSet.derived: this FeatureSet was disposed');
    if (!this.made.has(key)) this.made.set(key, make());
    return this.made.get(key) as T;
  }
  dispose() {
    if (this._disposed) return;
    this._disposed = true;
    for (const v of this.made.values()) (v as { dispose?: () => void }).dispose?.();
    this.made.clear();
    disposeFeatures({ levels: this.levels, head: this.head });
  }
}

// A copy the caller owns, free to transfer (the cpu backend's data() is the tensor's own storage).
const toHostTensor = async (t: tf.Tensor): Promise<HostTensor> => ({
  shape: [...t.shape],
  data: new Float32Array((await t.data()) as Float32Array),
});
const hostAll = (ts: readonly tf.Tensor[]) => Promise.all(ts.map(toHostTensor));

/** Downloads a FeatureSet (it stays usable). */
export async function featuresToHost(f: FeatureSet): Promise<HostFeatures> {
  if (f.disposed) throw new Error('featuresToHost: this FeatureSet was disposed');
  const out: HostFeatures = { letterbox: { ...f.letterbox }, levels: await hostAll(f.levels) };
  if (f.head) out.head = { scores: await hostAll(f.head.scores), boxes: await hostAll(f.head.boxes) };
  return out;
}

/** A FeatureSet on the active backend from host arrays (the shapes checked against the data). */
export function featuresFromHost(h: HostFeatures): FeatureSet {
  const made: tf.Tensor[] = [];
  const tensor = <R extends tf.Rank>(t: HostTensor, rank: number, what: string): tf.Tensor<R> => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.shape.length !== rank || t.data.length !== n) {
      tf.dispose(made);
      throw new Error(`featuresFromHost: ${what} has shape [${t.shape.join(', ')}] and ${t.data.length} values`);
    }
    const x = tf.tensor(t.data, t.shape as number[], 'float32') as unknown as tf.Tensor<R>;
    made.push(x);
    return x;
  };
  const levels = h.levels.map((t, i) => tensor<tf.Rank.R4>(t, 4, `level ${i}`));
  const head = h.head && {
    scores: h.head.scores.map((t, i) => tensor<tf.Rank.R3>(t, 3, `head scores ${i}`)),
    boxes: h.head.boxes.map((t, i) => tensor<tf.Rank.R3>(t, 3, `head boxes ${i}`)),
  };
  return new Features({ ...h.letterbox }, levels, head);
}
