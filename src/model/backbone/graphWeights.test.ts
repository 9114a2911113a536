import { describe, expect, it } from 'vitest';
import { concatBytes } from '../bytes';
import { float32ToFloat16 } from '../weights/float16';
import { decodeInt8 } from '../weights/int8';
import { sha256Hex } from '../weights/sha256';
import {
  checkGraphShard,
  dequantizeGraphWeights,
  graphEntryBytes,
  INT8_MIN_VALUES,
  quantizeGraphWeights,
  type GraphWeightSpec,
} from './graphWeights';

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

// A graph manifest like NanoDet's: a float16 kernel, an int32 constant, a float16 bias, a float32 kernel, and a
// kernel too small to quantize.
const K16 = [3, 3, 40, 30]; // 10,800 values
const K32 = [1, 1, 100, 100]; // 10,000 values: the smallest that is quantized
const kernel16 = Float32Array.from({ length: 10_800 }, (_, i) => Math.sin(i) * (1 + (i % 30)));
const kernel32 = Float32Array.from({ length: 10_000 }, (_, i) => Math.cos(i) / (1 + (i % 100)));
const stem = Float32Array.from({ length: 72 }, (_, i) => i / 7);
const specs: GraphWeightSpec[] = [
  { name: 'k16', shape: K16, dtype: 'float32', quantization: { dtype: 'float16', original_dtype: 'float32' } },
  { name: 'sizes', shape: [2], dtype: 'int32' },
  { name: 'bias', shape: [4], dtype: 'float32', quantization: { dtype: 'float16', original_dtype: 'float32' } },
  { name: 'k32', shape: K32, dtype: 'float32' },
  {
    name: 'stem',
    shape: [3, 3, 2, 4],
    dtype: 'float32',
    quantization: { dtype: 'float16', original_dtype: 'float32' },
  },
];
const data = concatBytes([
  bytesOf(float32ToFloat16(kernel16)),
  bytesOf(new Int32Array([26, 26])),
  bytesOf(float32ToFloat16(new Float32Array([1, 2, 3, 4]))),
  bytesOf(kernel32),
  bytesOf(float32ToFloat16(stem)),
]);
const F16 = 2 * 10_800; // bytes of k16 as stored

describe('NanoDet graph weights in int8', () => {
  it('quantizes float kernels of ≥ INT8_MIN_VALUES values per output channel; every other entry keeps its bytes', () => {
    expect(INT8_MIN_VALUES).toBe(10_000);
    const q = quantizeGraphWeights(specs, data);
    expect(q.specs.map((s) => s.quantization?.dtype ?? s.dtype)).toEqual([
      'int8',
      'int32',
      'float16',
      'int8',
      'float16',
    ]);
    expect(q.specs[0]!.quantization).toEqual({ dtype: 'int8', original_dtype: 'float32', axes: [3] });
    expect(q.data.length).toBe(q.specs.reduce((a, s) => a + graphEntryBytes(s), 0));
    expect(q.data.length).toBe(4 * 30 + 10_800 + 8 + 8 + 4 * 100 + 10_000 + 144);
    // The int32 constant, the bias and the small kernel are untouched.
    const k16 = graphEntryBytes(q.specs[0]!);
    expect([...q.data.subarray(k16, k16 + 16)]).toEqual([...data.subarray(F16, F16 + 16)]);
    expect([...q.data.subarray(q.data.length - 144)]).toEqual([...data.subarray(data.length - 144)]);

    const d = dequantizeGraphWeights(q.specs, q.data);
    expect(d.specs.map((s) => [s.dtype, s.quantization?.dtype])).toEqual([
      ['float32', undefined],
      ['int32', undefined],
      ['float32', 'float16'],
      ['float32', undefined],
      ['float32', 'float16'],
    ]);
    const back16 = new Float32Array(d.data.slice(0, 4 * 10_800).buffer);
    expect(back16).toEqual(decodeInt8(q.data.subarray(0, k16), K16, [3]));
    // Within half a step of each output channel's scale (channel = last axis), plus the float16 rounding it had.
    for (let i = 0; i < kernel16.length; i++) {
      const c = i % 30;
      let max = 0;
      for (let j = c; j < kernel16.length; j += 30) max = Math.max(max, Math.abs(kernel16[j]!));
      expect(Math.abs(back16[i]! - kernel16[i]!)).toBeLessThanOrEqual(max / 254 + 2e-3 * Math.abs(kernel16[i]!));
    }
    expect(d.data.length).toBe(4 * 10_800 + 8 + 8 + 4 * 10_000 + 144);
  });

  it('leaves a manifest without int8 entries as it is', () => {
    const d = dequantizeGraphWeights(specs, data);
    expect(d.specs).toBe(specs);
    expect(d.data).toBe(data);
  });

  it('refuses data that the entries do not cover exactly, and shards failing their recorded length or SHA-256', async () => {
    expect(() => quantizeGraphWeights(specs, data.subarray(1))).toThrow(/bytes, the manifest describes/);
    const m = { sha256: { 'nanodet.bin': sha256Hex(data) }, bytes: { 'nanodet.bin': data.length } };
    await expect(checkGraphShard('nanodet.bin', data, m)).resolves.toBeUndefined();
    await expect(checkGraphShard('nanodet.bin', data.subarray(1), m)).rejects.toThrow(/nanodet\.bin: .* expected/);
    const bad = data.slice();
    bad[5]! ^= 1;
    await expect(checkGraphShard('nanodet.bin', bad, m)).rejects.toThrow(/nanodet\.bin: SHA-256 mismatch/);
    await expect(checkGraphShard('nanodet.bin', bad, {})).resolves.toBeUndefined(); // nothing recorded
  });
});
