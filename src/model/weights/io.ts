/**
 * Reading and writing the LORS Studio weights format (FORMAT.md, version 1): model.json (tfjs weights manifest +
 * config + per-shard SHA-256 and byte counts) and 4 MiB shards of tensors stored as float32, float16 or per-channel
 * int8 (encoding.ts, int8.ts), optionally raw-DEFLATE compressed (deflate.ts).
 *
 * Platform-free: files come from a `FileReader` (fetch in the browser, fs in Node) and are written by the caller
 * from the returned name → bytes map.
 */
import * as tf from '@tensorflow/tfjs';
import { validateConfig, type ModelConfig } from '../config';
import { parameterSpec, size, type ParamSpec } from '../params';
import type { FileReader, WeightMap } from '../types';
import { float16ToFloat32, float32ToFloat16 } from './float16';
import { deflateRaw, inflateRaw } from './deflate';
import { entryBytes, quantizationFor, WEIGHTS_ENCODINGS, type Quantization, type WeightsEncoding } from './encoding';
import { axesProblem, decodeInt8, encodeInt8 } from './int8';
import { sha256Hex, sha256HexAsync } from './sha256';

export const WEIGHTS_FORMAT = 'lors-studio-weights';
export const WEIGHTS_VERSION = 1;
/** Maximum shard size: 4 MiB. */
export const SHARD_BYTES = 4 * 1024 * 1024;
export const MODEL_JSON = 'model.json';
/** The one shard encoding besides plain bytes: raw DEFLATE (RFC 1951). */
export const SHARD_DEFLATE = 'deflate-raw';

export interface WeightsManifestEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
  quantization?: Quantization;
}

export interface WeightsManifestGroup {
  paths: string[];
  weights: WeightsManifestEntry[];
}

/** The parsed and validated model.json. */
export interface WeightsManifest {
  format: typeof WEIGHTS_FORMAT;
  version: typeof WEIGHTS_VERSION;
  config: ModelConfig;
  weightsManifest: WeightsManifestGroup[];
  /** Lowercase hex SHA-256 per shard path. */
  sha256: Record<string, string>;
  /** Byte length per shard path (the file as stored). */
  bytes: Record<string, number>;
  /** Set when each shard file is the raw DEFLATE of its tensor bytes; then `rawBytes` gives their lengths. */
  shardEncoding?: typeof SHARD_DEFLATE;
  rawBytes?: Record<string, number>;
  meta?: Record<string, unknown>;
  training?: unknown;
  compression?: unknown;
}

/** What a shard is checked against: its length and SHA-256 as listed in a model.json. */
export type ShardChecks = Pick<WeightsManifest, 'sha256' | 'bytes'>;

/** A weights folder that cannot be used; `file` names the offending file. */
export class WeightsError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'WeightsError';
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const fail = (detail: string, file = MODEL_JSON): never => {
  throw new WeightsError(file, detail);
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => (v === undefined ? 'missing' : JSON.stringify(v));
const listNames = (names: string[], max = 5) =>
  names.slice(0, max).join(', ') + (names.length > max ? `, … (${names.length - max} more)` : '');

/** Throws if `cfg` disagrees with any field of `expect`. */
export function checkExpectedConfig(cfg: ModelConfig, expect: Partial<ModelConfig>, file = MODEL_JSON): void {
  const diffs: string[] = [];
  const cmp = (field: string, got: unknown, want: unknown) => {
    if (want !== undefined && JSON.stringify(got) !== JSON.stringify(want))
      diffs.push(`${field} is ${show(got)}, expected ${show(want)}`);
  };
  cmp('preset', cfg.preset, expect.preset);
  cmp('variant', cfg.variant, expect.variant);
  if (expect.decoder) {
    for (const [k, v] of Object.entries(expect.decoder))
      cmp(`decoder.${k}`, (cfg.decoder as unknown as Record<string, unknown>)[k], v);
  }
  if (expect.lors) {
    if (!cfg.lors) diffs.push('lors is missing (a vanilla model), expected LORS settings');
    else
      for (const [k, v] of Object.entries(expect.lors))
        cmp(`lors.${k}`, (cfg.lors as unknown as Record<string, unknown>)[k], v);
  }
  if (diffs.length) fail(`the weights do not fit this model: ${diffs.join('; ')}`, file);
}

/** A shard path must be a plain relative file path inside the weights folder. */
function checkPath(p: unknown): string {
  if (
    typeof p !== 'string' ||
    !/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(p) ||
    p.split('/').some((s) => s === '..' || s === '.')
  ) {
    return fail(`weightsManifest path ${show(p)} is not a plain relative file name`);
  }
  return p;
}

/**
 * Parses and validates a model.json (text, bytes or an already parsed object): format and version, the config
 * (and `expect`), the manifest's structure, sha256/bytes entries for every shard, and the tensor list against
 * `parameterSpec(config)` (missing, extra, duplicated or mis-shaped tensors are refused).
 */
export function parseManifest(
  json: string | ArrayBuffer | Uint8Array | unknown,
  expect?: Partial<ModelConfig>,
): WeightsManifest {
  let raw: unknown = json;
  if (typeof json === 'string' || json instanceof ArrayBuffer || json instanceof Uint8Array) {
    const text = typeof json === 'string' ? json : new TextDecoder().decode(json);
    try {
      raw = JSON.parse(text);
    } catch (e) {
      const hint = /^\s*</.test(text) ? ' (it looks like an HTML page: is the weights URL right?)' : '';
      return fail(`not valid JSON${hint}: ${(e as Error).message}`);
    }
  }
  if (!isObj(raw)) return fail(`expected a JSON object, got ${show(raw)}`);
  if (raw.format !== WEIGHTS_FORMAT) {
    fail(`format is ${show(raw.format)}, expected "${WEIGHTS_FORMAT}" (is this a LORS Studio weights folder?)`);
  }
  if (raw.version !== WEIGHTS_VERSION) {
    fail(`version ${show(raw.version)} is not supported (this build reads version ${WEIGHTS_VERSION})`);
  }
  let config: ModelConfig;
  try {
    config = validateConfig(raw.config);
  } catch (e) {
    return fail((e as Error).message);
  }
  if (expect) checkExpectedConfig(config, expect);

  const groupsRaw = raw.weightsManifest;
  if (!Array.isArray(groupsRaw) || groupsRaw.length === 0) return fail('weightsManifest must be a non-empty list');
  const sha = raw.sha256;
  const bytes = raw.bytes;
  if (!isObj(sha)) return fail('sha256 must be an object mapping each shard to its hex SHA-256');
  if (!isObj(bytes)) return fail('bytes must be an object mapping each shard to its length');
  const deflated = raw.shardEncoding !== undefined;
  if (deflated && raw.shardEncoding !== SHARD_DEFLATE) {
    fail(`shardEncoding ${show(raw.shardEncoding)} is not supported (only "${SHARD_DEFLATE}")`);
  }
  const rawBytes = raw.rawBytes;
  if (deflated && !isObj(rawBytes)) return fail('rawBytes must map each shard to the length of its inflated bytes');
  const isLength = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

  const seenPaths = new Set<string>();
  const groups: WeightsManifestGroup[] = [];
  const entries: WeightsManifestEntry[] = [];
  groupsRaw.forEach((g, gi) => {
    if (!isObj(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      fail(`weightsManifest[${gi}] must have "paths" and "weights" lists`);
    }
    const grp = g as { paths: unknown[]; weights: unknown[] };
    const paths = grp.paths.map(checkPath);
    let groupBytes = 0;
    for (const p of paths) {
      if (seenPaths.has(p)) fail(`shard ${p} is listed twice`);
      seenPaths.add(p);
      const h = sha[p];
      if (typeof h !== 'string' || !/^[0-9a-f]{64}$/.test(h))
        fail(`sha256[${show(p)}] must be 64 lowercase hex digits, got ${show(h)}`);
      const b = bytes[p];
      if (!isLength(b)) fail(`bytes[${show(p)}] must be an integer ≥ 0, got ${show(b)}`);
      const r = deflated ? (rawBytes as Record<string, unknown>)[p] : b;
      if (!isLength(r)) fail(`rawBytes[${show(p)}] must be an integer ≥ 0, got ${show(r)}`);
      groupBytes += r as number;
    }
    const weights: WeightsManifestEntry[] = grp.weights.map((w, wi) => {
      if (!isObj(w) || typeof w.name !== 'string') return fail(`weightsManifest[${gi}].weights[${wi}] has no name`);
      const name = w.name;
      if (!Array.isArray(w.shape) || !w.shape.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)) {
        return fail(`tensor ${name}: shape must be a list of integers ≥ 0, got ${show(w.shape)}`);
      }
      if (w.dtype !== 'float32')
        return fail(`tensor ${name}: dtype ${show(w.dtype)} is not supported (expected "float32")`);
      const e: WeightsManifestEntry = { name, shape: [...(w.shape as number[])], dtype: 'float32' };
      if (w.quantization !== undefined && w.quantization !== null) {
        const q = w.quantization;
        if (isObj(q) && q.dtype === 'float16') e.quantization = { dtype: 'float16', original_dtype: 'float32' };
        else if (isObj(q) && q.dtype === 'int8') {
          const axes = Array.isArray(q.axes) ? q.axes : [];
          const problem = axesProblem(e.shape, axes);
          if (problem) return fail(`tensor ${name}: int8 ${problem}`);
          e.quantization = { dtype: 'int8', original_dtype: 'float32', axes: axes as number[] };
        } else {
          return fail(
            `tensor ${name}: quantization ${show(q)} is not supported ({"dtype": "float16"} or {"dtype": "int8", "axes": [...]})`,
          );
        }
      }
      return e;
    });
    const need = weights.reduce((s, w) => s + entryBytes(w), 0);
    if (need !== groupBytes) {
      fail(`weightsManifest[${gi}]: its tensors need ${need} bytes but its shards hold ${groupBytes} (bytes entries)`);
    }
    groups.push({ paths, weights });
    entries.push(...weights);
  });

  checkAgainstSpec(
    entries.map((e) => ({ name: e.name, shape: e.shape })),
    parameterSpec(config),
    MODEL_JSON,
  );

  const out: WeightsManifest = {
    format: WEIGHTS_FORMAT,
    version: WEIGHTS_VERSION,
    config,
    weightsManifest: groups,
    sha256: Object.fromEntries([...seenPaths].map((p) => [p, sha[p] as string])),
    bytes: Object.fromEntries([...seenPaths].map((p) => [p, bytes[p] as number])),
  };
  if (deflated) {
    out.shardEncoding = SHARD_DEFLATE;
    out.rawBytes = Object.fromEntries([...seenPaths].map((p) => [p, (rawBytes as Record<string, number>)[p]!]));
  }
  if (isObj(raw.meta)) out.meta = raw.meta;
  if (raw.training !== undefined) out.training = raw.training;
  if (raw.compression !== undefined) out.compression = raw.compression;
  return out;
}

/** Refuses missing, extra, duplicated or mis-shaped tensors relative to the spec (order is not checked). */
function checkAgainstSpec(
  got: { name: string; shape: number[] | null; length?: number }[],
  spec: ParamSpec[],
  file: string,
) {
  const want = new Map(spec.map((s) => [s.name, s]));
  const seen = new Set<string>();
  const problems: string[] = [];
  const dup: string[] = [];
  const extra: string[] = [];
  const shapes: string[] = [];
  for (const g of got) {
    if (seen.has(g.name)) dup.push(g.name);
    seen.add(g.name);
    const s = want.get(g.name);
    if (!s) {
      extra.push(g.name);
      continue;
    }
    if (g.shape) {
      if (g.shape.length !== s.shape.length || g.shape.some((x, i) => x !== s.shape[i])) {
        shapes.push(`${g.name} has shape [${g.shape.join(', ')}], expected [${s.shape.join(', ')}]`);
      }
    } else if (g.length !== size(s.shape)) {
      shapes.push(`${g.name} has ${g.length} values, expected ${size(s.shape)} (shape [${s.shape.join(', ')}])`);
    }
  }
  const missing = spec.filter((s) => !seen.has(s.name)).map((s) => s.name);
  if (missing.length) problems.push(`${missing.length} tensor(s) missing: ${listNames(missing)}`);
  if (extra.length) problems.push(`${extra.length} unexpected tensor(s): ${listNames(extra)}`);
  if (dup.length) problems.push(`tensor(s) listed twice: ${listNames(dup)}`);
  if (shapes.length) problems.push(`wrong shape: ${listNames(shapes, 3)}`);
  if (problems.length) fail(`tensors do not match the model's parameter list: ${problems.join('; ')}`, file);
}

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
    throw new Error(`encoding must be one of ${WEIGHTS_ENCODINGS.join(', ')}, got ${show(encoding)}`);
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

/** JSON text of a manifest: 2-space indentation, with number lists and tensor entries kept on one line. */
function formatManifest(m: WeightsManifest): string {
  const MARK = '\u0000inline:';
  const inline = (v: unknown) => MARK + JSON.stringify(v);
  const text = JSON.stringify(
    m,
    (k, v: unknown) => {
      if (k === 'weights' && Array.isArray(v)) return v.map(inline);
      if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return inline(v);
      return v;
    },
    2,
  );
  // Each inlined value was stored as a JSON string starting with the marker: unquote it back into JSON.
  return text.replace(/"\\u0000inline:((?:[^"\\]|\\.)*)"/g, (_, s: string) => JSON.parse(`"${s}"`) as string) + '\n';
}
