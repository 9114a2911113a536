/**
 * IEEE 754 binary16 ↔ binary32 conversion, bit-exact.
 *
 * - float32 → float16 rounds to nearest, ties to even; it produces subnormals, overflows to ±Infinity
 *   (anything ≥ 65520 in magnitude), keeps the sign of zero and maps NaN to a quiet NaN (payload kept where it fits).
 * - float16 → float32 is exact and gives the same bits as tfjs's own decoder (`tf.io.decodeWeights` with
 *   `quantization: {dtype: 'float16'}`), NaN payloads included.
 *
 * Platform-free. Inputs given as JS numbers are first rounded to float32 (the weights are float32).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float16 bits of a float32 given by its bits. */
function bitsToHalf(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) {
    if (mant === 0) return sign | 0x7c00; // ±Infinity
    return sign | 0x7e00 | (mant >>> 13); // quiet NaN, high payload bits kept
  }
  const e = exp - 127 + 15; // biased float16 exponent
  if (e >= 31) return sign | 0x7c00; // overflow
  if (e > 0) {
    // Normal: keep 10 mantissa bits, round the 13 dropped ones (a carry may bump the exponent, up to Infinity).
    let half = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++;
    return sign | half;
  }
  if (e < -10) return sign; // below half the smallest subnormal (2^-25): ±0
  // Subnormal (or rounds up to the smallest normal): value = m·2^-38 with the implicit bit, in units of 2^-24.
  const m = mant | 0x800000;
  const shift = 14 - e; // 14..24
  let half = m >>> shift;
  const rem = m & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
  return sign | half;
}

/** The float16 bit pattern (0..0xffff) nearest to `x` (x is first rounded to float32). */
export function toFloat16Bits(x: number): number {
  f32[0] = x;
  return bitsToHalf(u32[0]!);
}

/** float32 bits of a float16 given by its bits. */
function halfToBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const e = (h >>> 10) & 0x1f;
  let m = h & 0x3ff;
  if (e === 0) {
    if (m === 0) return sign >>> 0;
    // Subnormal m·2^-24: normalise.
    let e32 = 113; // 127 - 15 + 1
    while ((m & 0x400) === 0) {
      m <<= 1;
      e32--;
    }
    m &= 0x3ff;
    return (sign | (e32 << 23) | (m << 13)) >>> 0;
  }
  if (e === 31) return (sign | 0x7f800000 | (m << 13)) >>> 0;
  return (sign | ((e + 112) << 23) | (m << 13)) >>> 0;
}

/** The float value of float16 bits `h` (0..0xffff). */
export function fromFloat16Bits(h: number): number {
  u32[0] = halfToBits(h & 0xffff);
  return f32[0]!;
}

let table: Uint32Array | null = null;
function decodeTable(): Uint32Array {
  if (!table) {
    table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = halfToBits(h);
  }
  return table;
}

/** float32 → float16 bits, element-wise (round to nearest even). */
export function float32ToFloat16(src: Float32Array | ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  if (src instanceof Float32Array) {
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    for (let i = 0; i < bits.length; i++) out[i] = bitsToHalf(bits[i]!);
  } else {
    for (let i = 0; i < src.length; i++) out[i] = toFloat16Bits(src[i]!);
  }
  return out;
}

/** float16 bits → float32, element-wise (exact). */
export function float16ToFloat32(src: Uint16Array): Float32Array {
  const t = decodeTable();
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = t[src[i]!]!;
  return out;
}

/** Rounds every value to the nearest float16 and back (what a float16 save → load does to a weight). */
export function roundToFloat16(src: Float32Array): Float32Array {
  return float16ToFloat32(float32ToFloat16(src));
}
