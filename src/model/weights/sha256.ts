/**
 * SHA-256 (FIPS 180-4) in plain TypeScript.
 *
 * Used to verify weight shards. It works where `crypto.subtle` is missing (pages served over plain http,
 * some workers) and in Node, and it is synchronous. Platform-free: no DOM, no node: imports.
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

const H0 = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/** Compresses the 64-byte blocks of `data[off, end)` into the state `h` (8 words). `w` is scratch (64 words). */
function compress(h: Int32Array, w: Int32Array, data: Uint8Array, off: number, end: number): void {
  let h0 = h[0]!,
    h1 = h[1]!,
    h2 = h[2]!,
    h3 = h[3]!,
    h4 = h[4]!,
    h5 = h[5]!,
    h6 = h[6]!,
    h7 = h[7]!;
  for (let p = off; p < end; p += 64) {
    for (let t = 0; t < 16; t++) {
      const q = p + 4 * t;
      w[t] = (data[q]! << 24) | (data[q + 1]! << 16) | (data[q + 2]! << 8) | data[q + 3]!;
    }
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15]!;
      const y = w[t - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (w[t - 16]! + s0 + w[t - 7]! + s1) | 0;
    }
    let a = h0,
      b = h1,
      c = h2,
      d = h3,
      e = h4,
      f = h5,
      g = h6,
      hh = h7;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[t]! + w[t]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + hh) | 0;
  }
  h[0] = h0;
  h[1] = h1;
  h[2] = h2;
  h[3] = h3;
  h[4] = h4;
  h[5] = h5;
  h[6] = h6;
  h[7] = h7;
}

/** The SHA-256 digest of `bytes` (32 bytes). */
export function sha256(bytes: Uint8Array | ArrayBuffer): Uint8Array {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const n = data.length;
  const h = Int32Array.from(H0);
  const w = new Int32Array(64);
  const full = n - (n % 64);
  compress(h, w, data, 0, full);

  // Tail: the remaining bytes, 0x80, zeros, then the 64-bit big-endian bit length (one or two blocks).
  const rest = n - full;
  const tail = new Uint8Array(rest + 9 <= 64 ? 64 : 128);
  tail.set(data.subarray(full), 0);
  tail[rest] = 0x80;
  const hi = Math.floor(n / 0x20000000); // bits above 32: n·8 / 2^32
  const lo = (n * 8) >>> 0;
  const L = tail.length;
  tail[L - 8] = hi >>> 24;
  tail[L - 7] = hi >>> 16;
  tail[L - 6] = hi >>> 8;
  tail[L - 5] = hi;
  tail[L - 4] = lo >>> 24;
  tail[L - 3] = lo >>> 16;
  tail[L - 2] = lo >>> 8;
  tail[L - 1] = lo;
  compress(h, w, tail, 0, L);

  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const v = h[i]!;
    out[4 * i] = v >>> 24;
    out[4 * i + 1] = v >>> 16;
    out[4 * i + 2] = v >>> 8;
    out[4 * i + 3] = v;
  }
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lowercase hex SHA-256 of `bytes` (64 characters). */
export function sha256Hex(bytes: Uint8Array | ArrayBuffer): string {
  let s = '';
  for (const b of sha256(bytes)) s += HEX[b]!;
  return s;
}

type SubtleLike = { digest(alg: string, data: Uint8Array): Promise<ArrayBuffer> };

/**
 * Lowercase hex SHA-256, using the platform's WebCrypto (`crypto.subtle`, native and much faster) when it exists
 * and the pure-TypeScript `sha256Hex` otherwise (plain-http pages, old workers). Same result either way.
 */
export async function sha256HexAsync(bytes: Uint8Array | ArrayBuffer): Promise<string> {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const subtle = (globalThis as { crypto?: { subtle?: SubtleLike } }).crypto?.subtle;
  if (subtle && typeof subtle.digest === 'function') {
    try {
      const d = new Uint8Array(await subtle.digest('SHA-256', data));
      let s = '';
      for (const b of d) s += HEX[b]!;
      return s;
    } catch {
      // fall through to the pure implementation
    }
  }
  return sha256Hex(data);
}
