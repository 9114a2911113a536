/**
 * The decoder's architecture variants, the one place their names are told apart (training/lors_studio/config.py
 * `VARIANTS` mirrors it). A variant says how each stage gets its two adaptive-mixing weights: the generator of M_c,
 * M_s ('dense': Linear_gen per stage; 'lorsA': LORS^A, Eqs. 9–12) and L_output ('dense' per stage; 'lorsT': LORS^T,
 * Eqs. 7–8). What a variant adds to the parameter list (params.ts) and the stage's forward (adamixer/stage.ts) follow
 * from these parts; folding (lors/fold.ts) turns every LORS part into its dense weights under the plain variant's
 * names, so a folded model *is* a plain one and the runtime runs one kind of stage.
 */
export interface VariantSpec {
  generator: 'dense' | 'lorsA';
  output: 'dense' | 'lorsT';
}

export const VARIANTS = {
  vanilla: { generator: 'dense', output: 'dense' },
  lors: { generator: 'lorsA', output: 'lorsT' },
} as const satisfies Record<string, VariantSpec>;

export type Variant = keyof typeof VARIANTS;
export const VARIANT_NAMES = Object.keys(VARIANTS) as Variant[];

/** The variant every model folds to: all parts dense (vanilla AdaMixer). */
export const PLAIN_VARIANT: Variant = 'vanilla';

export const isVariant = (v: unknown): v is Variant => typeof v === 'string' && Object.hasOwn(VARIANTS, v);

/** Whether a variant has LORS parts (and so its config carries `lors`: ranks and groups). */
export function hasLorsParts(variant: Variant): boolean {
  const s: VariantSpec = VARIANTS[variant];
  return s.generator !== 'dense' || s.output !== 'dense';
}
