/**
 * NanoDet-g's TFJS graph weights in int8 (opt-in: `npx tsx scripts/copy-models.ts --int8`): each float convolution
 * kernel [kh, kw, in, out] of at least INT8_MIN_VALUES values gets one scale per output channel (the encoding of
 * src/model/weights/int8.ts, `quantization: {dtype: "int8", axes: [3]}`); every other entry keeps its bytes.
 * Loading turns int8 entries back into float32 before tfjs sees the graph. The install step records the weight
 * file's SHA-256 and length either way (checkGraphShard).
 */
import { concatBytes } from '../bytes';
import { float16ToFloat32 } from '../weights/float16';
import { decodeInt8, encodeInt8, int8Bytes } from '../weights/int8';
import { verifyShardAsync } from '../weights/io';

export interface GraphWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; original_dtype?: string; axes?: number[] };
}

/** The output-channel axis of a TFJS convolution kernel [kh, kw, in, out]. */
const KERNEL_AXES = [3];
/**
 * Kernels with fewer values stay as they are (NanoDet-g: the 7 smallest, its stem's first convolutions, 44,640
 * values). They cost little and carry most of the int8 error into the features: on 16 val photos, the PAN maps'
 * relative error is 9.4% with every kernel in int8 and 2.2% with these kept (docs/performance.md).
 */
export const INT8_MIN_VALUES = 10_000;

const count = (w: GraphWeightSpec) => w.shape.reduce((a, b) => a * b, 1);

/** Bytes one entry takes in the weight data. */
export function graphEntryBytes(w: GraphWeightSpec): number {
  const q = w.quantization?.dtype;
  if (q === 'int8') return int8Bytes(w.shape, w.quantization?.axes ?? []);
  if (q === 'float16' || q === 'uint16') return 2 * count(w);
  if (q === 'uint8') return count(w);
  if (w.dtype === 'string') throw new Error(`NanoDet manifest: string weight ${w.name} is not supported`);
  return 4 * count(w); // float32, int32
}

/** Splits `data` into one byte view per entry, checking that the entries cover it exactly. */
function entryViews(specs: GraphWeightSpec[], data: Uint8Array): Uint8Array[] {
  let at = 0;
  const views = specs.map((w) => {
    const n = graphEntryBytes(w);
    const v = data.subarray(at, at + n);
    at += n;
    return v;
  });
  if (at !== data.length) {
    throw new Error(
      `NanoDet weights: ${data.length} bytes, the manifest describes ${at} (corrupted or truncated download)`,
    );
  }
  return views;
}

/** Stores every float 4-D kernel as per-output-channel int8; other entries keep their bytes. */
export function quantizeGraphWeights(
  specs: GraphWeightSpec[],
  data: Uint8Array,
): { specs: GraphWeightSpec[]; data: Uint8Array } {
  const views = entryViews(specs, data);
  const outSpecs: GraphWeightSpec[] = [];
  const parts = specs.map((w, i) => {
    const q = w.quantization?.dtype;
    const small = count(w) < INT8_MIN_VALUES;
    if (w.dtype !== 'float32' || w.shape.length !== 4 || small || (q !== undefined && q !== 'float16')) {
      outSpecs.push(w);
      return views[i]!;
    }
    const v = views[i]!.slice();
    const values = q === 'float16' ? float16ToFloat32(new Uint16Array(v.buffer)) : new Float32Array(v.buffer);
    outSpecs.push({ ...w, quantization: { dtype: 'int8', original_dtype: 'float32', axes: KERNEL_AXES } });
    return encodeInt8(values, w.shape, KERNEL_AXES);
  });
  return { specs: outSpecs, data: concatBytes(parts) };
}

/** Turns int8 entries into float32 ones (what tfjs reads); other entries keep their bytes. */
export function dequantizeGraphWeights(
  specs: GraphWeightSpec[],
  data: Uint8Array,
): { specs: GraphWeightSpec[]; data: Uint8Array } {
  if (!specs.some((w) => w.quantization?.dtype === 'int8')) return { specs, data };
  const views = entryViews(specs, data);
  const outSpecs: GraphWeightSpec[] = [];
  const parts = specs.map((w, i) => {
    if (w.quantization?.dtype !== 'int8') {
      outSpecs.push(w);
      return views[i]!;
    }
    outSpecs.push({ name: w.name, shape: w.shape, dtype: 'float32' });
    const f = decodeInt8(views[i]!, w.shape, w.quantization.axes ?? []);
    return new Uint8Array(f.buffer);
  });
  return { specs: outSpecs, data: concatBytes(parts) };
}

/**
 * Checks a weight file against the `sha256` / `bytes` the install step recorded in model.json, with the weights
 * format's own check (verifyShardAsync); a model.json without them (NanoDet-g as npm ships it) is not checked.
 */
export async function checkGraphShard(
  path: string,
  data: Uint8Array,
  manifest: { sha256?: Record<string, string>; bytes?: Record<string, number> },
): Promise<void> {
  if (manifest.sha256 && manifest.bytes)
    await verifyShardAsync({ sha256: manifest.sha256, bytes: manifest.bytes }, path, data);
}
