/**
 * How a weights file stores its tensors (FORMAT.md): the encodings, which quantization each tensor gets, and the
 * bytes that takes. No tfjs (the page uses it for the sizes it shows).
 */
import type { ModelConfig } from '../config';
import { parameterSpec, size } from '../params';
import { int8Bytes, rowAxes } from './int8';

/** How one tensor is stored: float32 (no `quantization`), float16, or per-channel int8 (int8.ts). */
export type Quantization =
  { dtype: 'float16'; original_dtype?: 'float32' } | { dtype: 'int8'; original_dtype?: 'float32'; axes: number[] };

/** How a whole file is stored: float32, float16, or int8 (per-channel int8 matrices, float16 vectors). */
export type WeightsEncoding = 'float32' | 'float16' | 'int8';
export const WEIGHTS_ENCODINGS: readonly WeightsEncoding[] = ['float32', 'float16', 'int8'];

/** The quantization a tensor of `shape` gets in a file of `encoding` (undefined: float32). */
export function quantizationFor(shape: number[], encoding: WeightsEncoding): Quantization | undefined {
  if (encoding === 'int8' && shape.length >= 2)
    return { dtype: 'int8', original_dtype: 'float32', axes: rowAxes(shape) };
  if (encoding !== 'float32') return { dtype: 'float16', original_dtype: 'float32' };
  return undefined;
}

/** Bytes one tensor takes in the shards (before any shard compression). */
export function entryBytes(e: { shape: number[]; quantization?: Quantization }): number {
  const q = e.quantization;
  if (q?.dtype === 'int8') return int8Bytes(e.shape, q.axes);
  return size(e.shape) * (q?.dtype === 'float16' ? 2 : 4);
}

/** Bytes of the tensors of a config's weights file in `encoding` (before any shard compression). */
export function encodedBytes(cfg: ModelConfig, encoding: WeightsEncoding): number {
  return parameterSpec(cfg).reduce(
    (a, s) => a + entryBytes({ shape: s.shape, quantization: quantizationFor(s.shape, encoding) }),
    0,
  );
}
