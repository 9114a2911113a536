import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { headerSize, sniff } from './imageInput';

const bytes = (...xs: (number | string)[]) =>
  Uint8Array.from(xs.flatMap((x) => (typeof x === 'string' ? [...x].map((c) => c.charCodeAt(0)) : [x])));

describe('recognising dropped files', () => {
  it('knows the sample JPEGs and reads their size from the header', () => {
    // Sizes as PIL reports them for the sample photos.
    for (const [name, w, h] of [
      ['chelsea', 451, 300],
      ['coffee', 600, 400],
      ['rocket', 640, 427],
    ] as const) {
      const b = new Uint8Array(readFileSync(new URL(`../../public/samples/${name}.jpg`, import.meta.url)));
      expect(sniff(b)).toEqual({ format: 'jpeg' });
      expect(headerSize(b, 'jpeg')).toEqual({ width: w, height: h });
    }
  });
  it('PNG, GIF, WebP, BMP headers', () => {
    const png = bytes(0x89, 'PNG', 13, 10, 26, 10, 0, 0, 0, 13, 'IHDR', 0, 0, 0x13, 0x88, 0, 0, 0x0b, 0xb8);
    expect(sniff(png)).toEqual({ format: 'png' });
    expect(headerSize(png, 'png')).toEqual({ width: 5000, height: 3000 });
    const gif = bytes('GIF89a', 0x10, 0, 0x20, 0);
    expect(headerSize(gif, 'gif')).toEqual({ width: 16, height: 32 });
    const webp = bytes('RIFF', 0, 0, 0, 0, 'WEBP', 'VP8X', 10, 0, 0, 0, 0, 0, 0, 0, 0x63, 0, 0, 0xc7, 0, 0);
    expect(sniff(webp)).toEqual({ format: 'webp' });
    expect(headerSize(webp, 'webp')).toEqual({ width: 100, height: 200 });
    expect(sniff(bytes('BM', 0, 0))).toEqual({ format: 'bmp' });
  });
  it('names unsupported image formats and non-images', () => {
    expect(sniff(bytes(0x49, 0x49, 0x2a, 0, 8, 0, 0, 0))).toEqual({ unsupported: 'TIFF' });
    expect(sniff(bytes(0, 0, 0, 0x18, 'ftypheic', 0, 0, 0, 0))).toEqual({ unsupported: 'HEIC/HEIF' });
    expect(sniff(bytes(0, 0, 0, 0x18, 'ftypavif', 0, 0, 0, 0))).toEqual({ format: 'avif' });
    expect(sniff(bytes('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toEqual({ unsupported: 'SVG (vector graphics)' });
    expect(sniff(bytes('%PDF-1.7'))).toEqual({ notImage: 'a PDF document' });
    expect(sniff(bytes('hello, world'))).toEqual({ notImage: 'not a recognised image file' });
    expect(sniff(new Uint8Array(0))).toEqual({ notImage: 'not a recognised image file' });
  });
  it('a truncated JPEG has no readable size', () => {
    expect(headerSize(bytes(0xff, 0xd8, 0xff, 0xe0, 0, 16), 'jpeg')).toBeNull();
  });
});
