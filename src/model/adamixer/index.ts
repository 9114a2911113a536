/** Public surface of the AdaMixer decoder (vanilla and LORS). */
export { decodeXyzr, encodeXyxy, initialXyzr, iof } from './boxes';
export { positionEmbedding } from './positional';
export { sampleFeatures, samplingMaps, type SamplingMaps } from './sampling';
export { adaptiveMixing, splitMixingParams, type MixingImpl } from './mixing';
export { selfAttention, stageForward, type StageOptions, type StageOutput } from './stage';
export { applyNeck, decoderForward, topK, type DecoderOptions, type StagePrediction, type TopKResult } from './decoder';
export { checkWeights, preparedName } from './ops';
export { prepareWeights, prepareWeightsWithNames, type Prepared } from './prepare';
export { lorsAMixingParams, lowRankSum, lorsAFoldedName, type LorsPath } from '../lors/lorsA';
export { lorsTOutput, lorsTProject, lorsTFactors, lorsTFoldedName } from '../lors/lorsT';
export { foldLorsA, foldLorsAWithNames, foldLorsT, foldLorsTWithNames, type Folded } from '../lors/fold';
