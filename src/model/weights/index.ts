/** Weights: seeded initialisation, the LORS Studio weights format (FORMAT.md), SHA-256 and float16 helpers. */
export { sha256, sha256Hex, sha256HexAsync } from './sha256';
export { toFloat16Bits, fromFloat16Bits, float32ToFloat16, float16ToFloat32, roundToFloat16 } from './float16';
export { initTensorValues, initArrays, initWeights } from './init';
export {
  WEIGHTS_FORMAT,
  WEIGHTS_VERSION,
  SHARD_BYTES,
  MODEL_JSON,
  WeightsError,
  validateConfig,
  checkExpectedConfig,
  parseManifest,
  verifyShard,
  verifyShardAsync,
  decodeWeightsToArrays,
  loadWeightArrays,
  loadWeights,
  shardBytes,
  withPrefetched,
  arraysToWeights,
  memoryReader,
  saveWeights,
} from './io';
export type { WeightsManifest, WeightsManifestEntry, WeightsManifestGroup, LoadOptions, SaveOptions } from './io';
