/**
 * A corpus of odd and broken "photos", built byte by byte at test time (nothing large is committed): what users drop
 * on the app. Each file says what the app must do with it: detect (a usable image, however odd), answer with a
 * message naming the file, or either (a truncated file a browser may still partly decode).
 *
 * Encoders here are minimal and exact for what they write: PNG (any bit depth / colour type, zlib), baseline JPEG
 * with DC-only blocks (any number of components: CMYK), GIF (LZW with a clear code every two pixels, so codes stay
 * 3 bits), BMP (24-bit), lossless WebP (VP8L with one- or two-symbol simple prefix codes).
 */
import { crc32, deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { concatBytes as concat } from '../src/model/bytes';

export type Expect = 'detect' | 'message' | 'either';

export interface CorpusFile {
  name: string;
  type: string;
  bytes: Uint8Array;
  expect: Expect;
  /** What the file is, for the report. */
  what: string;
  /** For 'detect': the original size the app must report (EXIF orientation applied, before any downscale). */
  size?: { width: number; height: number };
}

const u32be = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const u16be = (v: number) => [(v >>> 8) & 255, v & 255];
const u32le = (v: number) => [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255];
const u16le = (v: number) => [v & 255, (v >>> 8) & 255];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

// ---------------------------------------------------------------------------------------------------------- PNG

/**
 * PNG with `channels` samples per pixel of `bitDepth` bits; `sample(x, y, c)` in [0, 2^bitDepth). Rows with the same
 * `rowKey(y)` are equal: the first is copied (a large image is then quick to build).
 */
export function png(
  width: number,
  height: number,
  colorType: 0 | 2 | 6,
  bitDepth: 8 | 16,
  sample: (x: number, y: number, c: number) => number,
  rowKey: (y: number) => number = (y) => y,
): Uint8Array {
  const channels = colorType === 0 ? 1 : colorType === 2 ? 3 : 4;
  const bps = bitDepth / 8;
  const stride = 1 + width * channels * bps;
  const raw = new Uint8Array(stride * height);
  const firstRowOf = new Map<number, number>();
  for (let y = 0; y < height; y++) {
    const key = rowKey(y),
      first = firstRowOf.get(key);
    if (first !== undefined) {
      raw.copyWithin(y * stride, first * stride, (first + 1) * stride);
      continue;
    }
    firstRowOf.set(key, y);
    let o = y * stride + 1; // filter byte 0 (None)
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const v = sample(x, y, c);
        if (bps === 2) {
          raw[o++] = v >>> 8;
          raw[o++] = v & 255;
        } else raw[o++] = v;
      }
    }
  }
  const chunk = (type: string, data: ArrayLike<number>) => {
    const td = concat([ascii(type), data]);
    return concat([u32be(data.length), td, u32be(crc32(td))]);
  };
  const ihdr = [...u32be(width), ...u32be(height), bitDepth, colorType, 0, 0, 0];
  return concat([
    [0x89, ...ascii('PNG'), 13, 10, 26, 10],
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 6 })),
    chunk('IEND', []),
  ]);
}

// ---------------------------------------------------------------------------------------------------------- JPEG

/** Canonical Huffman codes of a JPEG table (bits[i] = count of codes of length i + 1). */
function huffCodes(bits: number[], vals: number[]): Map<number, { code: number; len: number }> {
  const out = new Map<number, { code: number; len: number }>();
  let code = 0,
    k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < bits[len - 1]!; i++) out.set(vals[k++]!, { code: code++, len });
    code <<= 1;
  }
  return out;
}

class BitWriter {
  private bytes: number[] = [];
  private acc = 0;
  private n = 0;
  /** MSB-first with JPEG's 0xFF byte stuffing. */
  put(code: number, len: number) {
    for (let i = len - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((code >>> i) & 1);
      if (++this.n === 8) this.flushByte();
    }
  }
  private flushByte() {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0);
    this.acc = 0;
    this.n = 0;
  }
  finish(): number[] {
    while (this.n !== 0) this.put(1, 1);
    return this.bytes;
  }
}

const DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_VALS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
/** An AC table with one symbol, EOB (0x00), coded as a single bit. */
const AC_BITS = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const AC_VALS = [0];

/**
 * Baseline JPEG whose 8×8 blocks are flat: `value(bx, by, c)` is block (bx, by)'s value in component c (0..255).
 * Components are not subsampled; `adobe` adds the APP14 marker that makes 4 components CMYK (transform 0).
 */
export function flatBlockJpeg(
  widthBlocks: number,
  heightBlocks: number,
  components: number,
  value: (bx: number, by: number, c: number) => number,
  adobe = false,
): Uint8Array {
  const seg = (marker: number, data: ArrayLike<number>) => [
    0xff,
    marker,
    ...u16be(data.length + 2),
    ...Array.from(data),
  ];
  const dc = huffCodes(DC_BITS, DC_VALS),
    ac = huffCodes(AC_BITS, AC_VALS);
  const w = new BitWriter();
  const pred = new Array<number>(components).fill(0);
  for (let by = 0; by < heightBlocks; by++) {
    for (let bx = 0; bx < widthBlocks; bx++) {
      for (let c = 0; c < components; c++) {
        const coef = 8 * (Math.round(value(bx, by, c)) - 128); // DC of a flat block, quantiser 1
        const diff = coef - pred[c]!;
        pred[c] = coef;
        const cat = diff === 0 ? 0 : Math.floor(Math.log2(Math.abs(diff))) + 1;
        const h = dc.get(cat)!;
        w.put(h.code, h.len);
        if (cat) w.put(diff < 0 ? diff + (1 << cat) - 1 : diff, cat);
        const eob = ac.get(0)!;
        w.put(eob.code, eob.len);
      }
    }
  }
  const ids = Array.from({ length: components }, (_, i) => i + 1);
  return concat([
    [0xff, 0xd8],
    adobe ? seg(0xee, [...ascii('Adobe'), 0, 100, 0, 0, 0, 0, 0]) : [],
    seg(0xdb, [0, ...new Array<number>(64).fill(1)]),
    seg(0xc0, [
      8,
      ...u16be(heightBlocks * 8),
      ...u16be(widthBlocks * 8),
      components,
      ...ids.flatMap((id) => [id, 0x11, 0]),
    ]),
    seg(0xc4, [0x00, ...DC_BITS, ...DC_VALS]),
    seg(0xc4, [0x10, ...AC_BITS, ...AC_VALS]),
    seg(0xda, [components, ...ids.flatMap((id) => [id, 0x00]), 0, 63, 0]),
    w.finish(),
    [0xff, 0xd9],
  ]);
}

/** An RGB JPEG (jpeg-js) with an EXIF APP1 segment giving `orientation` (1–8). */
export function exifJpeg(
  width: number,
  height: number,
  orientation: number,
  rgb: (x: number, y: number) => [number, number, number],
): Uint8Array {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const [r, g, b] = rgb(x, y);
      data.set([r, g, b, 255], 4 * (y * width + x));
    }
  const body = new Uint8Array(jpeg.encode({ data, width, height }, 90).data);
  // TIFF header (big-endian), IFD0 with one entry: Orientation (0x0112), SHORT, count 1.
  const tiff = [
    ...ascii('MM'),
    0,
    42,
    ...u32be(8),
    ...u16be(1),
    ...u16be(0x0112),
    ...u16be(3),
    ...u32be(1),
    ...u16be(orientation),
    0,
    0,
    ...u32be(0),
  ];
  const app1 = [0xff, 0xe1, ...u16be(2 + 6 + tiff.length), ...ascii('Exif'), 0, 0, ...tiff];
  return concat([body.subarray(0, 2), app1, body.subarray(2)]);
}

// ---------------------------------------------------------------------------------------------------------- GIF

/** A GIF of 4-colour frames (`frames[i][y * width + x]` in 0..3), looping, 100 ms per frame. */
export function gif(
  width: number,
  height: number,
  palette: [number, number, number][],
  frames: number[][],
): Uint8Array {
  const out: number[] = [...ascii('GIF89a'), ...u16le(width), ...u16le(height), 0xf1, 0, 0];
  for (let i = 0; i < 4; i++) out.push(...(palette[i] ?? [0, 0, 0]));
  out.push(0x21, 0xff, 11, ...ascii('NETSCAPE2.0'), 3, 1, 0, 0, 0); // loop forever
  for (const px of frames) {
    out.push(0x21, 0xf9, 4, 0, ...u16le(10), 0, 0); // 100 ms
    out.push(0x2c, 0, 0, 0, 0, ...u16le(width), ...u16le(height), 0);
    // LZW, minimum code size 2: clear = 4, end = 5. A clear code before every two pixels keeps codes 3 bits wide.
    const codes: number[] = [];
    for (let i = 0; i < px.length; i += 2) codes.push(4, ...px.slice(i, i + 2));
    codes.push(5);
    const bytes: number[] = [];
    let acc = 0,
      n = 0;
    for (const c of codes) {
      acc |= c << n;
      n += 3;
      while (n >= 8) {
        bytes.push(acc & 255);
        acc >>>= 8;
        n -= 8;
      }
    }
    if (n > 0) bytes.push(acc & 255);
    out.push(2);
    for (let i = 0; i < bytes.length; i += 255) {
      const part = bytes.slice(i, i + 255);
      out.push(part.length, ...part);
    }
    out.push(0);
  }
  out.push(0x3b);
  return new Uint8Array(out);
}

// ---------------------------------------------------------------------------------------------------------- BMP

export function bmp24(
  width: number,
  height: number,
  rgb: (x: number, y: number) => [number, number, number],
): Uint8Array {
  const stride = (width * 3 + 3) & ~3;
  const size = 54 + stride * height;
  const out = new Uint8Array(size);
  out.set([
    ...ascii('BM'),
    ...u32le(size),
    0,
    0,
    0,
    0,
    ...u32le(54),
    ...u32le(40),
    ...u32le(width),
    ...u32le(height),
    ...u16le(1),
    ...u16le(24),
    ...u32le(0),
    ...u32le(stride * height),
    ...u32le(2835),
    ...u32le(2835),
    ...u32le(0),
    ...u32le(0),
  ]);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = rgb(x, height - 1 - y); // bottom-up rows
      out.set([b, g, r], 54 + y * stride + 3 * x);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------- WebP

/**
 * Lossless WebP (VP8L): no transforms, no colour cache, one prefix-code group. Green has two symbols (`g0`, `g1`),
 * chosen per pixel by `bit(x, y)`; red, blue and alpha one symbol each (0 bits per pixel).
 */
export function losslessWebp(
  width: number,
  height: number,
  color: { r: number; b: number; a: number; g0: number; g1: number },
  bit: (x: number, y: number) => 0 | 1,
): Uint8Array {
  const bits: number[] = [];
  const put = (v: number, n: number) => {
    for (let i = 0; i < n; i++) bits.push((v >>> i) & 1);
  };
  put(0x2f, 8);
  put(width - 1, 14);
  put(height - 1, 14);
  put(color.a !== 255 ? 1 : 0, 1);
  put(0, 3); // version
  put(0, 1); // no transform
  put(0, 1); // no colour cache
  put(0, 1); // no meta prefix codes
  const simple = (symbols: number[]) => {
    put(1, 1); // simple code
    put(symbols.length - 1, 1);
    put(1, 1); // first symbol in 8 bits
    put(symbols[0]!, 8);
    if (symbols.length === 2) put(symbols[1]!, 8);
  };
  simple([color.g0, color.g1]); // green (+ lengths), code lengths 1: g0 = 0, g1 = 1
  simple([color.r]);
  simple([color.b]);
  simple([color.a]);
  simple([0]); // distance
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) put(bit(x, y), 1);
  const data: number[] = [];
  for (let i = 0; i < bits.length; i += 8) {
    let v = 0;
    for (let k = 0; k < 8 && i + k < bits.length; k++) v |= bits[i + k]! << k;
    data.push(v);
  }
  if (data.length % 2) data.push(0);
  const chunk = [...ascii('VP8L'), ...u32le(data.length), ...data];
  return new Uint8Array([...ascii('RIFF'), ...u32le(4 + chunk.length), ...ascii('WEBP'), ...chunk]);
}

// ---------------------------------------------------------------------------------------------------------- corpus

const text = (s: string) => new TextEncoder().encode(s);

/** The corpus (≈ 0.4 MB in all; the 12000×9000 PNG deflates to ≈ 0.1 MB). */
export function badInputCorpus(): CorpusFile[] {
  const grad = (x: number, y: number, w: number, h: number): [number, number, number] => [
    Math.round((255 * x) / Math.max(1, w - 1)),
    Math.round((255 * y) / Math.max(1, h - 1)),
    128,
  ];
  const smallPng = png(64, 64, 2, 8, (x, y, c) => grad(x, y, 64, 64)[c]!);
  const hugeHeader = flatBlockJpeg(4, 4, 3, (bx, by, c) => (c === 0 ? 40 * (bx + by) : 128));
  hugeHeader.set([...u16be(30000), ...u16be(30000)], indexOfSof(hugeHeader) + 5);
  return [
    {
      name: 'exif-rotated.jpg',
      type: 'image/jpeg',
      expect: 'detect',
      what: 'JPEG 64×40 with EXIF orientation 6 (shown 40×64)',
      bytes: exifJpeg(64, 40, 6, (x) => (x < 32 ? [220, 40, 40] : [40, 40, 220])),
      size: { width: 40, height: 64 },
    },
    {
      name: 'cmyk.jpg',
      type: 'image/jpeg',
      expect: 'detect',
      what: 'CMYK JPEG (Adobe APP14, 4 components) 64×48',
      bytes: flatBlockJpeg(8, 6, 4, (bx, by, c) => [200 - 20 * bx, 60 + 25 * by, 128, 230][c]!, true),
      size: { width: 64, height: 48 },
    },
    {
      name: 'png16-alpha.png',
      type: 'image/png',
      expect: 'detect',
      what: '16-bit RGBA PNG 64×48, half transparent',
      bytes: png(64, 48, 6, 16, (x, y, c) =>
        c === 3 ? (x < 32 ? 65535 : 20000) : Math.round((65535 * ((x + y * c) % 64)) / 63),
      ),
      size: { width: 64, height: 48 },
    },
    {
      name: 'animated.gif',
      type: 'image/gif',
      expect: 'detect',
      what: 'animated GIF, 2 frames 16×12',
      bytes: gif(
        16,
        12,
        [
          [255, 0, 0],
          [0, 200, 0],
          [0, 0, 255],
          [250, 250, 250],
        ],
        [
          Array.from({ length: 192 }, (_, i) => (i % 16 < 8 ? 0 : 2)),
          Array.from({ length: 192 }, (_, i) => (i < 96 ? 1 : 3)),
        ],
      ),
      size: { width: 16, height: 12 },
    },
    {
      name: 'one-pixel.png',
      type: 'image/png',
      expect: 'detect',
      what: '1×1 PNG',
      bytes: png(1, 1, 2, 8, () => 200),
      size: { width: 1, height: 1 },
    },
    {
      name: 'strip-8000x200.png',
      type: 'image/png',
      expect: 'detect',
      what: '8000×200 PNG (40:1)',
      bytes: png(8000, 200, 2, 8, (x, y, c) => grad(x % 400, y, 400, 200)[c]!),
      size: { width: 8000, height: 200 },
    },
    {
      name: 'big-12000x9000.png',
      type: 'image/png',
      expect: 'detect',
      what: '12000×9000 grey PNG (108 MP, downscaled)',
      bytes: png(
        12000,
        9000,
        0,
        8,
        (x, y) => (((x >> 9) + (y >> 9)) % 2 ? 200 : 60),
        (y) => y >> 9,
      ),
      size: { width: 12000, height: 9000 },
    },
    {
      name: 'lossless.webp',
      type: 'image/webp',
      expect: 'detect',
      what: 'lossless WebP (VP8L) 48×32',
      bytes: losslessWebp(48, 32, { r: 180, b: 60, a: 255, g0: 30, g1: 220 }, (x, y) =>
        ((x >> 3) + (y >> 3)) % 2 ? 1 : 0,
      ),
      size: { width: 48, height: 32 },
    },
    {
      name: 'picture.bmp',
      type: 'image/bmp',
      expect: 'detect',
      what: '24-bit BMP 40×30',
      bytes: bmp24(40, 30, (x, y) => grad(x, y, 40, 30)),
      size: { width: 40, height: 30 },
    },
    {
      name: 'truncated.png',
      type: 'image/png',
      expect: 'either',
      what: 'PNG cut at 60% (no IEND)',
      bytes: smallPng.subarray(0, Math.floor(smallPng.length * 0.6)),
    },
    { name: 'empty.png', type: 'image/png', expect: 'message', what: '0 bytes', bytes: new Uint8Array(0) },
    {
      name: 'notes.txt',
      type: 'text/plain',
      expect: 'message',
      what: 'plain text',
      bytes: text('shopping list: milk, eggs\n'),
    },
    {
      name: 'page.jpg',
      type: 'image/jpeg',
      expect: 'message',
      what: 'HTML with scripts, named .jpg',
      bytes: text(
        '<!doctype html><html><body><script>window.__pwned = "html"</script>' +
          '<img src=x onerror="window.__pwned = \'img\'"></body></html>',
      ),
    },
    {
      name: 'photo.heic',
      type: 'image/heic',
      expect: 'message',
      what: 'HEIC (ftyp heic)',
      bytes: new Uint8Array([
        0,
        0,
        0,
        24,
        ...ascii('ftypheic'),
        0,
        0,
        0,
        0,
        ...ascii('mif1heic'),
        ...new Array<number>(64).fill(0),
      ]),
    },
    {
      name: 'script.svg',
      type: 'image/svg+xml',
      expect: 'message',
      what: 'SVG with a script and an onload handler',
      bytes: text(
        '<svg xmlns="http://www.w3.org/2000/svg" onload="window.__pwned=\'onload\'">' +
          '<script>window.__pwned = "svg"</script><rect width="10" height="10"/></svg>',
      ),
    },
    {
      name: 'vector.jpg',
      type: 'image/jpeg',
      expect: 'message',
      what: 'SVG with a script, named .jpg',
      bytes: text(
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">' +
          '<script>window.__pwned = "svg-jpg"</script></svg>',
      ),
    },
    {
      name: 'claims-30000x30000.jpg',
      type: 'image/jpeg',
      expect: 'message',
      what: 'JPEG whose header claims 30000×30000 (900 MP)',
      bytes: hugeHeader,
    },
  ];
}

/** Offset of the SOF0 marker (FF C0) in a JPEG. */
function indexOfSof(b: Uint8Array): number {
  for (let i = 2; i + 1 < b.length; i++) if (b[i] === 0xff && b[i + 1] === 0xc0) return i;
  throw new Error('no SOF0 marker');
}
