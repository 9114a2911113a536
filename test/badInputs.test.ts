/** The bad-input corpus's encoders write what they claim (checked with independent decoders where the repo has one). */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { badInputCorpus, bmp24, flatBlockJpeg, gif, losslessWebp, png } from './badInputs';

describe('bad-input corpus encoders', () => {
  it('PNG: 8-bit RGB and 16-bit RGBA decode to the written pixels', () => {
    const a = PNG.sync.read(Buffer.from(png(5, 3, 2, 8, (x, y, c) => 10 * x + 50 * y + c)));
    expect([a.width, a.height]).toEqual([5, 3]);
    expect([...a.data.subarray(4 * (2 * 5 + 4), 4 * (2 * 5 + 4) + 4)]).toEqual([140, 141, 142, 255]);
    const b = PNG.sync.read(Buffer.from(png(4, 2, 6, 16, (x, _y, c) => (c === 3 ? 0x8000 : x * 0x4000))), {
      skipRescale: true,
    });
    expect([b.width, b.height, b.depth]).toEqual([4, 2, 16]);
    expect((b.data as unknown as Uint16Array)[4 * 3]).toBe(0xc000);
  });

  it('JPEG: flat 8×8 blocks decode to their values (3 components and Adobe CMYK)', () => {
    const rgb = jpeg.decode(
      flatBlockJpeg(2, 1, 3, (bx) => (bx ? 200 : 60)),
      { useTArray: true, colorTransform: false },
    );
    expect([rgb.width, rgb.height]).toEqual([16, 8]);
    expect(rgb.data[0]).toBe(60);
    expect(rgb.data[4 * 12]).toBe(200);
    const cmyk = jpeg.decode(
      flatBlockJpeg(3, 2, 4, (bx, by, c) => [30 * bx + 20, 100 + 50 * by, 128, 255][c]!, true),
      { useTArray: true },
    );
    expect([cmyk.width, cmyk.height]).toEqual([24, 16]);
    // Adobe CMYK is stored inverted: a block of C = 20, M = 100, Y = 128, K = 255 is R = 20, G = 100, B = 128.
    expect([...cmyk.data.subarray(0, 3)].map((v) => Math.round(v / 4))).toEqual([5, 25, 32]);
  });

  it('GIF, BMP and lossless WebP headers carry the written sizes; the GIF has both frames', () => {
    const g = gif(
      4,
      2,
      [
        [0, 0, 0],
        [255, 255, 255],
      ],
      [
        [0, 1, 0, 1, 0, 1, 0, 1],
        [1, 1, 1, 1, 0, 0, 0, 0],
      ],
    );
    expect(String.fromCharCode(...g.subarray(0, 6))).toBe('GIF89a');
    expect([g[6], g[8]]).toEqual([4, 2]);
    expect([...g].filter((v, i) => v === 0x21 && g[i + 1] === 0xf9).length).toBe(2);
    const b = bmp24(3, 2, () => [1, 2, 3]);
    expect(b.length).toBe(54 + 12 * 2);
    expect([...b.subarray(54, 57)]).toEqual([3, 2, 1]);
    const w = losslessWebp(48, 32, { r: 1, b: 2, a: 255, g0: 3, g1: 4 }, () => 0);
    expect(String.fromCharCode(...w.subarray(12, 16))).toBe('VP8L');
    const v = new DataView(w.buffer, w.byteOffset).getUint32(21, true);
    expect([1 + (v & 0x3fff), 1 + ((v >> 14) & 0x3fff)]).toEqual([48, 32]);
  });

  it('has at least 15 files with distinct names, each with an expectation', () => {
    const c = badInputCorpus();
    expect(c.length).toBeGreaterThanOrEqual(15);
    expect(new Set(c.map((f) => f.name)).size).toBe(c.length);
    expect(c.filter((f) => f.expect === 'detect').length).toBeGreaterThanOrEqual(8);
  });
});

describe('png rowKey', () => {
  it('copies rows with the same key (same bytes as sampling every row)', () => {
    const f = (x: number, y: number) => (((x >> 2) + (y >> 2)) % 2 ? 200 : 60);
    expect(png(16, 12, 0, 8, f, (y) => y >> 2)).toEqual(png(16, 12, 0, 8, f));
  });
});
