/**
 * model.json of the LORS Studio weights format (FORMAT.md, version 1): its types, its parsing and validation
 * (format, version, config, the tfjs weights manifest, per-shard SHA-256 and byte counts, the tensor list against
 * the parameter list) and its text. Reading and writing the shards is io.ts's job.
 */
import { validateConfig, type ModelConfig } from '../config';
import { parameterSpec, size, type ParamSpec } from '../params';
import { entryBytes, type Quantization } from './encoding';
import { axesProblem } from './int8';

export const WEIGHTS_FORMAT = 'lors-studio-weights';
export const WEIGHTS_VERSION = 1;
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

/** Throws a WeightsError about `file` (model.json unless named). */
export const fail = (detail: string, file = MODEL_JSON): never => {
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
export function checkAgainstSpec(
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

/** JSON text of a manifest: 2-space indentation, with number lists and tensor entries kept on one line. */
export function formatManifest(m: WeightsManifest): string {
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
