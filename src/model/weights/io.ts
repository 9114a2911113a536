/**
 * Reading and writing weights folders (FORMAT.md, version 1): model.json (manifest.ts) and 4 MiB shards of tensors
 * stored as float32, float16 or per-channel int8 (encoding.ts, int8.ts), optionally raw-DEFLATE compressed
 * (deflate.ts), each checked against its SHA-256 and length.
 *
 * Platform-free: files come from a `FileReader` (fetch in the browser, fs in Node) and are written by the caller
 * from the returned name → bytes map.
 */
import * as tf from '@tensorflow/tfjs';
import { validateConfig, type ModelConfig } from '../config';
import { parameterSpec } from '../params';
import type { FileReader, WeightMap } from '../types';
import { float16ToFloat32, float32ToFloat16 } from './float16';
import { deflateRaw, inflateRaw } from './deflate';
import { entryBytes, quantizationFor, WEIGHTS_ENCODINGS, type WeightsEncoding } from './encoding';
import { decodeInt8, encodeInt8 } from './int8';
import { sha256Hex, sha256HexAsync } from './sha256';
import {
  checkAgainstSpec,
  fail,
  formatManifest,
  MODEL_JSON,
  parseManifest,
  SHARD_DEFLATE,
  WEIGHTS_FORMAT,
  WEIGHTS_VERSION,
  type ShardChecks,
  type WeightsManifest,
  type WeightsManifestEntry,
} from './manifest';

/** Maximum shard size: 4 MiB. */
export const SHARD_BYTES = 4 * 1024 * 1024;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const asBytes = (b: ArrayBuffer | Uint8Array) => (b instanceof Uint8Array ? b : new Uint8Array(b));

function checkShardLength(manifest: ShardChecks, path: string, bytes: Uint8Array): void {
  const want = manifest.bytes[path];
  if (want === undefined) fail('is not listed in model.json', path);
  if (bytes.length !== want) {
    fail(
      `${bytes.length} bytes, expected ${want} (${bytes.length < want! ? 'truncated' : 'corrupted'} download)`,
      path,
    );
  }
}
const SHA_MISMATCH = 'SHA-256 mismatch (corrupted or truncated download)';

/** Checks a shard's length and SHA-256 against the manifest, hashing with WebCrypto where available. */
export async function verifyShardAsync(
  manifest: ShardChecks,
  path: string,
  data: ArrayBuffer | Uint8Array,
): Promise<void> {
  const bytes = asBytes(data);
  checkShardLength(manifest, path, bytes);
  if ((await sha256HexAsync(bytes)) !== manifest.sha256[path]) fail(SHA_MISMATCH, path);
}

/** Length of a shard's tensor bytes (after inflating, for a deflated folder). */
const contentBytes = (manifest: WeightsManifest, path: string) => (manifest.rawBytes ?? manifest.bytes)[path]!;

/** A stored shard's tensor bytes: its length and SHA-256 checked, then inflated when the folder is deflated. */
export async function shardContent(
  manifest: WeightsManifest,
  path: string,
  stored: ArrayBuffer | Uint8Array,
): Promise<Uint8Array> {
  await verifyShardAsync(manifest, path, stored);
  if (manifest.shardEncoding !== SHARD_DEFLATE) return asBytes(stored);
  let out: Uint8Array;
  try {
    out = await inflateRaw(asBytes(stored));
  } catch (e) {
    return fail(`could not be inflated: ${(e as Error).message}`, path);
  }
  if (out.length !== contentBytes(manifest, path)) {
    fail(`inflates to ${out.length} bytes, expected ${contentBytes(manifest, path)}`, path);
  }
  return out;
}

/**
 * Decodes all tensors to float32 arrays, in file order, from each shard's tensor bytes (what `shardContent`
 * returns: verified, inflated). No tfjs involved (usable in a worker before making tensors).
 */
export function decodeWeightsToArrays(
  manifest: WeightsManifest,
  contents: Map<string, ArrayBuffer | Uint8Array>,
): Map<string, Float32Array> {
  if (!LITTLE_ENDIAN) throw new Error('weights: big-endian platforms are not supported');
  const out = new Map<string, Float32Array>();
  for (const group of manifest.weightsManifest) {
    const parts = group.paths.map((p) => {
      const b = contents.get(p);
      if (!b) return fail('missing (not read)', p);
      const bytes = asBytes(b);
      if (bytes.length !== contentBytes(manifest, p)) {
        fail(`${bytes.length} bytes of tensor data, expected ${contentBytes(manifest, p)}`, p);
      }
      return bytes;
    });
    const starts: number[] = [];
    let total = 0;
    for (const b of parts) {
      starts.push(total);
      total += b.length;
    }
    // Copies bytes [pos, pos + dst.length) of the group's concatenated shards into dst.
    let shard = 0;
    const copy = (pos: number, dst: Uint8Array) => {
      let done = 0;
      while (done < dst.length) {
        while (shard < parts.length - 1 && pos + done >= starts[shard]! + parts[shard]!.length) shard++;
        const src = parts[shard]!;
        const from = pos + done - starts[shard]!;
        const take = Math.min(dst.length - done, src.length - from);
        if (take <= 0) fail(`its shards end before tensor data does (${total} bytes)`);
        dst.set(src.subarray(from, from + take), done);
        done += take;
      }
    };
    let pos = 0;
    for (const w of group.weights) {
      const raw = new Uint8Array(entryBytes(w));
      copy(pos, raw);
      pos += raw.length;
      const q = w.quantization;
      if (q?.dtype === 'int8') out.set(w.name, decodeInt8(raw, w.shape, q.axes));
      else if (q?.dtype === 'float16') out.set(w.name, float16ToFloat32(new Uint16Array(raw.buffer)));
      else out.set(w.name, new Float32Array(raw.buffer));
    }
  }
  return out;
}

export interface LoadOptions {
  /** Called as bytes arrive: loaded and total shard bytes (model.json not counted). */
  onProgress?: (loaded: number, total: number) => void;
  /** Refuse weights whose config differs from these fields. */
  expect?: Partial<ModelConfig>;
}

/** Bytes of a weights folder's shards (what a download of the weights costs, model.json aside). */
export function shardBytes(manifest: WeightsManifest): number {
  return Object.values(manifest.bytes).reduce((a, b) => a + b, 0);
}

/** Bytes of the shards among a folder's files (what saveWeights returns), model.json aside. */
export function shardFileBytes(files: Map<string, Uint8Array>): number {
  let n = 0;
  for (const [name, b] of files) if (name !== MODEL_JSON) n += b.length;
  return n;
}

/** Reads model.json and every shard, verifies them and decodes to float32 arrays (no tfjs). */
export async function loadWeightArrays(
  read: FileReader,
  opts: LoadOptions = {},
): Promise<{ config: ModelConfig; arrays: Map<string, Float32Array>; manifest: WeightsManifest }> {
  let json: ArrayBuffer;
  try {
    json = await read(MODEL_JSON);
  } catch (e) {
    return fail(`could not be read: ${(e as Error).message ?? String(e)}`);
  }
  const manifest = parseManifest(json, opts.expect);
  const paths = manifest.weightsManifest.flatMap((g) => g.paths);
  const total = paths.reduce((s, p) => s + manifest.bytes[p]!, 0);
  const loaded = new Map<string, number>();
  const report = () =>
    opts.onProgress?.(
      [...loaded.values()].reduce((a, b) => a + b, 0),
      total,
    );
  report();
  const datas = await Promise.all(
    paths.map(async (p) => {
      let data: ArrayBuffer;
      try {
        data = await read(p, (n) => {
          loaded.set(p, Math.min(n, manifest.bytes[p]!));
          report();
        });
      } catch (e) {
        return fail(`could not be read: ${(e as Error).message ?? String(e)}`, p);
      }
      loaded.set(p, manifest.bytes[p]!);
      report();
      return [p, await shardContent(manifest, p, data)] as const;
    }),
  );
  const arrays = decodeWeightsToArrays(manifest, new Map(datas));
  return { config: manifest.config, arrays, manifest };
}

/**
 * Loads a weights folder as float32 tensors named and shaped as `parameterSpec(config)`. The caller owns (disposes)
 * the returned tensors; nothing else stays allocated.
 */
export async function loadWeights(
  read: FileReader,
  opts: LoadOptions = {},
): Promise<{ config: ModelConfig; weights: WeightMap; manifest: WeightsManifest }> {
  const { config, arrays, manifest } = await loadWeightArrays(read, opts);
  return { config, weights: arraysToWeights(config, arrays), manifest };
}

/** Float32 arrays (names of `parameterSpec(cfg)`) → tensors in spec order. */
export function arraysToWeights(cfg: ModelConfig, arrays: Map<string, Float32Array>): WeightMap {
  const spec = parameterSpec(cfg);
  checkAgainstSpec(
    [...arrays].map(([name, v]) => ({ name, shape: null, length: v.length })),
    spec,
    'weights',
  );
  const weights: WeightMap = new Map();
  for (const s of spec) weights.set(s.name, tf.tensor(arrays.get(s.name)!, s.shape, 'float32'));
  return weights;
}

/** `read`, with `path` answered from bytes already read: a folder's model.json is then fetched once. */
export function withPrefetched(read: FileReader, path: string, bytes: ArrayBuffer): FileReader {
  return (p, onProgress) => (p === path ? Promise.resolve(bytes) : read(p, onProgress));
}

/** A FileReader over files in memory (e.g. the output of saveWeights). */
export function memoryReader(files: Map<string, Uint8Array | ArrayBuffer>): FileReader {
  return async (path, onProgress) => {
    const f = files.get(path);
    if (!f) throw new Error(`no such file: ${path}`);
    const b = asBytes(f);
    onProgress?.(b.length);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  };
}

export interface SaveOptions {
  /** Default float32. Loaders decode every encoding to float32. */
  encoding?: WeightsEncoding;
  /** Store each shard as the raw DEFLATE of its bytes (`shardEncoding: "deflate-raw"`). */
  deflate?: boolean;
  /** Extra `meta` fields (createdBy/createdAt defaults are added unless given). */
  meta?: object;
  /** Shard size in bytes, at most 4 MiB (the default); smaller only for tests. */
  shardBytes?: number;
}

/**
 * Encodes weights as a weights folder: file name → bytes (model.json first, then the shards), exactly per FORMAT.md.
 * `weights` must hold exactly the tensors of `parameterSpec(cfg)` (tensors or float32 arrays in that element order).
 */
export async function saveWeights(
  cfg: ModelConfig,
  weights: WeightMap | Map<string, Float32Array>,
  opts: SaveOptions = {},
): Promise<Map<string, Uint8Array>> {
  if (!LITTLE_ENDIAN) throw new Error('weights: big-endian platforms are not supported');
  const config = validateConfig(cfg);
  const spec = parameterSpec(config);
  const shardBytes = opts.shardBytes ?? SHARD_BYTES;
  if (!Number.isInteger(shardBytes) || shardBytes < 1 || shardBytes > SHARD_BYTES) {
    throw new Error(`shardBytes must be an integer in [1, ${SHARD_BYTES}], got ${shardBytes}`);
  }
  const got = [...(weights as Map<string, tf.Tensor | Float32Array>)].map(([name, v]) =>
    v instanceof Float32Array ? { name, shape: null, length: v.length } : { name, shape: v.shape },
  );
  checkAgainstSpec(got, spec, 'weights');

  const encoding = opts.encoding ?? 'float32';
  if (!WEIGHTS_ENCODINGS.includes(encoding)) {
    throw new Error(`encoding must be one of ${WEIGHTS_ENCODINGS.join(', ')}, got ${JSON.stringify(encoding)}`);
  }
  const entries: WeightsManifestEntry[] = spec.map((s) => {
    const e: WeightsManifestEntry = { name: s.name, shape: [...s.shape], dtype: 'float32' };
    const q = quantizationFor(s.shape, encoding);
    if (q) e.quantization = q;
    return e;
  });
  const total = entries.reduce((s, e) => s + entryBytes(e), 0);
  const nShards = Math.max(1, Math.ceil(total / shardBytes));
  const shards = Array.from(
    { length: nShards },
    (_, i) => new Uint8Array(Math.min(shardBytes, total - i * shardBytes)),
  );
  let pos = 0;
  const write = (src: Uint8Array) => {
    let done = 0;
    while (done < src.length) {
      const i = Math.floor(pos / shardBytes);
      const off = pos % shardBytes;
      const dst = shards[i]!;
      const take = Math.min(src.length - done, dst.length - off);
      dst.set(src.subarray(done, done + take), off);
      done += take;
      pos += take;
    }
  };

  for (const e of entries) {
    const v = (weights as Map<string, tf.Tensor | Float32Array>).get(e.name)!;
    let data: Float32Array;
    if (v instanceof Float32Array) data = v;
    else {
      if (v.dtype !== 'float32') throw new Error(`weights: ${e.name} has dtype ${v.dtype}, expected float32`);
      data = (await v.data()) as Float32Array;
    }
    const q = e.quantization;
    if (q?.dtype === 'int8') {
      try {
        write(encodeInt8(data, e.shape, q.axes));
      } catch (err) {
        throw new Error(`weights: ${e.name}: ${(err as Error).message}`);
      }
    } else if (q?.dtype === 'float16') {
      const h = float32ToFloat16(data);
      for (let i = 0; i < h.length; i++) {
        if ((h[i]! & 0x7fff) === 0x7c00 && Number.isFinite(data[i]!)) {
          throw new Error(`weights: ${e.name}[${i}] = ${data[i]} is out of float16 range (±65504); save as float32`);
        }
      }
      write(new Uint8Array(h.buffer, h.byteOffset, h.byteLength));
    } else {
      write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  }

  const names = shards.map((_, i) => `weights-shard${i + 1}of${nShards}.bin`);
  const stored = opts.deflate ? await Promise.all(shards.map(deflateRaw)) : shards;
  const manifest: WeightsManifest = {
    format: WEIGHTS_FORMAT,
    version: WEIGHTS_VERSION,
    config,
    weightsManifest: [{ paths: names, weights: entries }],
    sha256: Object.fromEntries(stored.map((b, i) => [names[i]!, sha256Hex(b)])),
    bytes: Object.fromEntries(stored.map((b, i) => [names[i]!, b.length])),
    ...(opts.deflate
      ? { shardEncoding: SHARD_DEFLATE, rawBytes: Object.fromEntries(shards.map((b, i) => [names[i]!, b.length])) }
      : {}),
    meta: {
      createdBy: 'src/model/weights',
      createdAt: new Date().toISOString(),
      ...(opts.meta as Record<string, unknown>),
    },
  };
  const files = new Map<string, Uint8Array>();
  files.set(MODEL_JSON, new TextEncoder().encode(formatManifest(manifest)));
  stored.forEach((b, i) => files.set(names[i]!, b));
  return files;
}
