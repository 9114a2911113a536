/** Weights: seeded initialisation, the LORS Studio weights format (FORMAT.md), SHA-256, float16 and int8 helpers. */
export { sha256, sha256Hex, sha256HexAsync } from './sha256';
export { toFloat16Bits, fromFloat16Bits, float32ToFloat16, float16ToFloat32, roundToFloat16 } from './float16';
export { initTensorValues, initArrays, initWeights } from './init';
export {
  WEIGHTS_FORMAT,
  WEIGHTS_VERSION,
  SHARD_BYTES,
  MODEL_JSON,
  WeightsError,
  checkExpectedConfig,
  parseManifest,
  verifyShardAsync,
  shardContent,
  SHARD_DEFLATE,
  decodeWeightsToArrays,
  loadWeightArrays,
  loadWeights,
  shardBytes,
  shardFileBytes,
  withPrefetched,
  arraysToWeights,
  memoryReader,
  saveWeights,
} from './io';
export { entryBytes, encodedBytes, quantizationFor, WEIGHTS_ENCODINGS } from './encoding';
export type { Quantization, WeightsEncoding } from './encoding';
export { encodeInt8, decodeInt8, int8Bytes, rowAxes } from './int8';
export type { WeightsManifest, WeightsManifestEntry, WeightsManifestGroup, LoadOptions, SaveOptions } from './io';
