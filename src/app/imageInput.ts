/**
 * Turning whatever the user drops, pastes or picks into a decoded photo, with a clear message for everything
 * that is not a usable image. Decoding happens in this page (createImageBitmap); nothing is uploaded.
 */
import { fittedSize, MAX_IMAGE_SIDE } from '../model/imageSize';

/** Files larger than this are refused before decoding. */
export const MAX_FILE_BYTES = 64 * 1024 * 1024;
/** Headers announcing more pixels than this are refused before decoding (a decompression bomb guard). */
export const MAX_PIXELS = 200_000_000;

export class InputError extends Error {}

export type Format = 'jpeg' | 'png' | 'gif' | 'webp' | 'bmp' | 'avif' | 'ico';
const SUPPORTED: Format[] = ['jpeg', 'png', 'gif', 'webp', 'bmp', 'avif', 'ico'];
export const SUPPORTED_TEXT = 'JPEG, PNG, WebP, GIF, BMP or AVIF';

const ascii = (b: Uint8Array, o: number, n: number) => String.fromCharCode(...b.subarray(o, o + n));

/** Recognises a file by its first bytes. `unsupported` names image formats this browser app cannot use. */
export function sniff(b: Uint8Array): { format: Format } | { unsupported: string } | { notImage: string } {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { format: 'jpeg' };
  if (b.length >= 8 && ascii(b, 1, 3) === 'PNG' && b[0] === 0x89) return { format: 'png' };
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return { format: 'gif' };
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') return { format: 'webp' };
  if (b.length >= 2 && ascii(b, 0, 2) === 'BM') return { format: 'bmp' };
  if (b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 1 && b[3] === 0) return { format: 'ico' };
  if (b.length >= 12 && ascii(b, 4, 4) === 'ftyp') {
    const brand = ascii(b, 8, 4);
    if (brand === 'avif' || brand === 'avis') return { format: 'avif' };
    if (/^(heic|heix|hevc|hevx|mif1|msf1)$/.test(brand)) return { unsupported: 'HEIC/HEIF' };
    return { notImage: 'a video or other ISO media file' };
  }
  if (
    b.length >= 4 &&
    ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a) || (b[0] === 0x4d && b[1] === 0x4d && b[3] === 0x2a))
  ) {
    return { unsupported: 'TIFF' };
  }
  if (b.length >= 12 && b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0x0c && ascii(b, 4, 4) === 'JXL ')
    return { unsupported: 'JPEG XL' };
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0x0a) return { unsupported: 'JPEG XL' };
  if (b.length >= 4 && ascii(b, 0, 4) === '8BPS') return { unsupported: 'Photoshop (PSD)' };
  const head = new TextDecoder('utf-8', { fatal: false }).decode(b.subarray(0, 512)).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg')))
    return { unsupported: 'SVG (vector graphics)' };
  if (b.length >= 4 && ascii(b, 0, 4) === '%PDF') return { notImage: 'a PDF document' };
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 3 && b[3] === 4) return { notImage: 'a ZIP archive' };
  return { notImage: 'not a recognised image file' };
}

/** Width and height from the file header where cheap to read (JPEG, PNG, GIF, BMP, WebP), else null. */
export function headerSize(b: Uint8Array, format: Format): { width: number; height: number } | null {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  try {
    switch (format) {
      case 'png':
        return b.length >= 24 ? { width: dv.getUint32(16), height: dv.getUint32(20) } : null;
      case 'gif':
        return b.length >= 10 ? { width: dv.getUint16(6, true), height: dv.getUint16(8, true) } : null;
      case 'bmp':
        return b.length >= 26
          ? { width: Math.abs(dv.getInt32(18, true)), height: Math.abs(dv.getInt32(22, true)) }
          : null;
      case 'webp': {
        const chunk = ascii(b, 12, 4);
        const u24 = (o: number) => b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16);
        if (chunk === 'VP8X' && b.length >= 30) return { width: 1 + u24(24), height: 1 + u24(27) };
        if (chunk === 'VP8 ' && b.length >= 30)
          return { width: dv.getUint16(26, true) & 0x3fff, height: dv.getUint16(28, true) & 0x3fff };
        if (chunk === 'VP8L' && b.length >= 25) {
          const v = dv.getUint32(21, true);
          return { width: 1 + (v & 0x3fff), height: 1 + ((v >> 14) & 0x3fff) };
        }
        return null;
      }
      case 'jpeg': {
        let o = 2;
        while (o + 9 < b.length) {
          if (b[o] !== 0xff) {
            o++;
            continue;
          }
          const m = b[o + 1]!;
          if (m === 0xff) {
            o++;
            continue;
          }
          if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
            o += 2;
            continue;
          }
          const len = dv.getUint16(o + 2);
          if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
            return { width: dv.getUint16(o + 7), height: dv.getUint16(o + 5) };
          }
          o += 2 + len;
        }
        return null;
      }
      default:
        return null;
    }
  } catch {
    return null;
  }
}

export interface DecodedPhoto {
  bitmap: ImageBitmap;
  width: number;
  height: number;
  originalWidth: number;
  originalHeight: number;
  format: Format;
}

/** Validates and decodes a photo; throws InputError with a message meant for the user. */
export async function decodePhoto(blob: Blob, name: string): Promise<DecodedPhoto> {
  if (blob.size === 0) throw new InputError(`“${name}” is empty (0 bytes).`);
  if (blob.size > MAX_FILE_BYTES) {
    throw new InputError(
      `“${name}” is ${(blob.size / 1e6).toFixed(0)} MB; files up to ${MAX_FILE_BYTES / 1024 / 1024} MB are accepted.`,
    );
  }
  const head = new Uint8Array(await blob.slice(0, 256 * 1024).arrayBuffer());
  const kind = sniff(head);
  if ('notImage' in kind)
    throw new InputError(`“${name}” is not an image (${kind.notImage}). Use a ${SUPPORTED_TEXT} photo.`);
  if ('unsupported' in kind)
    throw new InputError(
      `“${name}” is in ${kind.unsupported} format, which is not supported here. Use ${SUPPORTED_TEXT}.`,
    );
  if (!SUPPORTED.includes(kind.format)) throw new InputError(`“${name}”: unsupported format.`);
  const hdr = headerSize(head, kind.format);
  if (hdr && (hdr.width === 0 || hdr.height === 0))
    throw new InputError(`“${name}” says it is ${hdr.width}×${hdr.height} pixels: corrupt image.`);
  if (hdr && hdr.width * hdr.height > MAX_PIXELS) {
    throw new InputError(
      `“${name}” is ${hdr.width}×${hdr.height} pixels (${((hdr.width * hdr.height) / 1e6).toFixed(0)} MP), too large to decode safely (limit ${MAX_PIXELS / 1e6} MP).`,
    );
  }
  let full: ImageBitmap;
  try {
    full = await createImageBitmap(blob, { imageOrientation: 'from-image' });
  } catch {
    throw new InputError(
      `“${name}” could not be decoded: the ${kind.format.toUpperCase()} data is corrupt or truncated.`,
    );
  }
  const originalWidth = full.width,
    originalHeight = full.height;
  if (originalWidth < 1 || originalHeight < 1) {
    full.close();
    throw new InputError(`“${name}” decoded to an empty image.`);
  }
  const fit = fittedSize(originalWidth, originalHeight, MAX_IMAGE_SIDE);
  if (!fit.scaled)
    return {
      bitmap: full,
      width: originalWidth,
      height: originalHeight,
      originalWidth,
      originalHeight,
      format: kind.format,
    };
  try {
    const small = await createImageBitmap(full, {
      resizeWidth: fit.width,
      resizeHeight: fit.height,
      resizeQuality: 'high',
    });
    return {
      bitmap: small,
      width: small.width,
      height: small.height,
      originalWidth,
      originalHeight,
      format: kind.format,
    };
  } catch {
    throw new InputError(
      `“${name}” (${originalWidth}×${originalHeight}) could not be downscaled; try a smaller photo.`,
    );
  } finally {
    full.close();
  }
}

/** RGBA pixels of a bitmap (for the worker). */
export function bitmapPixels(bitmap: ImageBitmap): ImageData {
  const { width, height } = bitmap;
  const canvas =
    typeof OffscreenCanvas !== 'undefined'
      ? new OffscreenCanvas(width, height)
      : Object.assign(document.createElement('canvas'), { width, height });
  const ctx = canvas.getContext('2d', { willReadFrequently: true }) as
    CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!ctx) throw new InputError('this browser cannot read image pixels (no 2D canvas)');
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, width, height);
}
