/**
 * The backbone's output for one photo as plain arrays: what moves between workers (featureSet.ts converts it to and
 * from tensors). No tfjs here, so the page can hand it on.
 */
import type { LetterboxInfo } from './types';

export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** A FeatureSet's contents as plain arrays (structured-cloneable; `hostBuffers` lists what can be transferred). */
export interface HostFeatures {
  letterbox: LetterboxInfo;
  levels: HostTensor[];
  head?: { scores: HostTensor[]; boxes: HostTensor[] };
}

/** The buffers of `h`, to transfer (not copy) it to another worker. */
export function hostBuffers(h: HostFeatures): ArrayBuffer[] {
  const all = [...h.levels, ...(h.head ? [...h.head.scores, ...h.head.boxes] : [])];
  return [...new Set(all.map((t) => t.data.buffer as ArrayBuffer))];
}
