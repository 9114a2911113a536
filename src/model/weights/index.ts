/** Weights: seeded initialisation and the LORS Studio weights format (FORMAT.md), for the CLIs and the self-test. */
export { initArrays, initWeights } from './init';
export {
  arraysToWeights,
  loadWeightArrays,
  loadWeights,
  saveWeights,
  SHARD_BYTES,
  shardBytes,
  shardFileBytes,
} from './io';
export { MODEL_JSON } from './manifest';
export { WEIGHTS_ENCODINGS, type WeightsEncoding } from './encoding';
