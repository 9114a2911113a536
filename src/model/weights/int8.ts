/**
 * Per-channel int8 weights (FORMAT.md, "int8 tensors"). A tensor's channels are the indices of a run of contiguous
 * axes (`axes`, e.g. [0] for a Linear weight [out, in], [3] for a TFJS conv kernel [kh, kw, in, out]). Each channel
 * has a float32 scale s = max|x| / 127 over its values, and each value is stored as q = round(x / s) in [-127, 127];
 * loading gives q · s. Stored bytes: the scales (float32, little-endian), then the values (one byte each).
 *
 * Platform-free, no tfjs.
 */

const QMAX = 127;

/** The tensor seen as [outer, channels, inner] around its channel axes. */
export interface ChannelLayout {
  outer: number;
  channels: number;
  inner: number;
}

const product = (xs: readonly number[]) => xs.reduce((a, b) => a * b, 1);

/** Why `axes` cannot be the channel axes of `shape` (a run of contiguous, increasing axes), or null when they can. */
export function axesProblem(shape: readonly number[], axes: readonly unknown[]): string | null {
  if (axes.length === 0) return 'axes must list at least one axis';
  for (let i = 0; i < axes.length; i++) {
    const a = axes[i];
    if (typeof a !== 'number' || !Number.isInteger(a) || a < 0 || a >= shape.length)
      return `axes must be integers in [0, ${shape.length - 1}] for shape [${shape.join(', ')}], got ${JSON.stringify(axes)}`;
    if (i > 0 && a !== (axes[i - 1] as number) + 1)
      return `axes must be contiguous and increasing, got ${JSON.stringify(axes)}`;
  }
  return null;
}

export function channelLayout(shape: readonly number[], axes: readonly number[]): ChannelLayout {
  const problem = axesProblem(shape, axes);
  if (problem) throw new Error(problem);
  const first = axes[0]!;
  const last = axes[axes.length - 1]!;
  return {
    outer: product(shape.slice(0, first)),
    channels: product(shape.slice(first, last + 1)),
    inner: product(shape.slice(last + 1)),
  };
}

/** Bytes an int8 tensor takes in a shard: its float32 scales, then one byte per value. */
export function int8Bytes(shape: readonly number[], axes: readonly number[]): number {
  return 4 * channelLayout(shape, axes).channels + product(shape);
}

/** Channel axes of a PyTorch-layout weight: all but the last (a Linear [out, in] gets one scale per output). */
export function rowAxes(shape: readonly number[]): number[] {
  return shape.slice(0, -1).map((_, i) => i);
}

/** Quantises float32 values of `shape` to the int8 bytes (scales, then values) of FORMAT.md. */
export function encodeInt8(x: Float32Array, shape: readonly number[], axes: readonly number[]): Uint8Array {
  const { outer, channels, inner } = channelLayout(shape, axes);
  if (x.length !== outer * channels * inner) {
    throw new Error(`int8: ${x.length} values do not fill shape [${shape.join(', ')}]`);
  }
  const scales = new Float32Array(channels);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++) {
      const at = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) {
        const v = Math.abs(x[at + i]!);
        if (!Number.isFinite(v)) throw new Error(`int8: value ${x[at + i]} at ${at + i} cannot be quantised`);
        if (v > scales[c]!) scales[c] = v;
      }
    }
  for (let c = 0; c < channels; c++) scales[c] = scales[c]! / QMAX;
  const out = new Uint8Array(4 * channels + x.length);
  out.set(new Uint8Array(scales.buffer));
  const values = new Int8Array(out.buffer, 4 * channels);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++) {
      const s = scales[c]!;
      const at = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) {
        values[at + i] = s === 0 ? 0 : Math.max(-QMAX, Math.min(QMAX, Math.round(x[at + i]! / s)));
      }
    }
  return out;
}

/** The float32 values of int8 bytes (scales, then values) of `shape`. */
export function decodeInt8(bytes: Uint8Array, shape: readonly number[], axes: readonly number[]): Float32Array {
  const { outer, channels, inner } = channelLayout(shape, axes);
  const n = outer * channels * inner;
  if (bytes.length !== 4 * channels + n) {
    throw new Error(`int8: ${bytes.length} bytes, expected ${4 * channels + n} for shape [${shape.join(', ')}]`);
  }
  const scales = new Float32Array(channels);
  new Uint8Array(scales.buffer).set(bytes.subarray(0, 4 * channels));
  const values = new Int8Array(bytes.buffer, bytes.byteOffset + 4 * channels, n);
  const out = new Float32Array(n);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++) {
      const s = scales[c]!;
      const at = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) out[at + i] = values[at + i]! * s;
    }
  return out;
}
