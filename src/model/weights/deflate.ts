/**
 * Raw DEFLATE (RFC 1951) through the platform's CompressionStream / DecompressionStream ("deflate-raw"): browsers
 * (Chromium 103+, Firefox 113+, Safari 16.4+) and Node ≥ 18 have them. Used for deflated weight shards (FORMAT.md).
 */

type Codec = 'CompressionStream' | 'DecompressionStream';

function pipe(bytes: Uint8Array, codec: Codec): Promise<Uint8Array> {
  const Ctor = (globalThis as unknown as Record<Codec, (new (format: string) => TransformStream) | undefined>)[codec];
  if (!Ctor) throw new Error(`this platform has no ${codec} (needed for deflated weights)`);
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new Ctor('deflate-raw'));
  return new Response(stream).arrayBuffer().then((b) => new Uint8Array(b));
}

export const deflateRaw = (bytes: Uint8Array) => pipe(bytes, 'CompressionStream');
export const inflateRaw = (bytes: Uint8Array) => pipe(bytes, 'DecompressionStream');
