/**
 * Paper-scale reference numbers (Table 1 and the 110M vs 35M decoders) and per-stage bar data, all computed
 * from parameterSpec / countParameters — the same counter the panels use. Pure (no DOM).
 */
import { dims, makeConfig, type ModelConfig } from '../model/config';
import { countParameters, parameterSpec, size } from '../model/params';

const sumWhere = (cfg: ModelConfig, f: (name: string) => boolean) =>
  parameterSpec(cfg)
    .filter((t) => f(t.name))
    .reduce((a, t) => a + size(t.shape), 0);

export const TABLE1_RANKS = [4, 8, 16, 32] as const;

/**
 * Table 1, L_output with LORS^T (K=1): per-layer average of the weights, the shared W_out amortised over the
 * stages (biases left out).
 */
export function table1LOutput(r: number): { lors: number; vanilla: number } {
  const cfg = makeConfig('paper', 'lors', { rankT: r, groupsT: 1 });
  const n = cfg.decoder.stages;
  const shared = sumWhere(cfg, (x) => x === 'lorsT.shared.weight');
  const priv = sumWhere(cfg, (x) => /^stages\.\d+\.lorsT\.[AB]$/.test(x));
  const vanilla = sumWhere(makeConfig('paper', 'vanilla'), (x) => x === 'stages.0.mixing.output.weight');
  return { lors: (shared + priv) / n, vanilla };
}

/**
 * Table 1, M_s with LORS^A (K=2), for one sampling group: the shared generator's M_s rows amortised over the
 * stages plus the private E-generator (M_s half), S_L and S_R of each stage; weights only.
 */
export function table1Ms(r: number): { lors: number; vanilla: number } {
  const cfg = makeConfig('paper', 'lors', { rankA: r, groups: 2 });
  const d = cfg.decoder;
  const { G, genPerGroup } = dims(d);
  const msRows = d.pointsIn * d.pointsOut;
  const n = d.stages;
  const shared = (sumWhere(cfg, (x) => x === 'lorsA.shared.weight') * msRows) / genPerGroup / G;
  const priv =
    (sumWhere(cfg, (x) => /^stages\.\d+\.lorsA\.(sl|sr)$/.test(x)) +
      sumWhere(cfg, (x) => /^stages\.\d+\.lorsA\.generator\.weight$/.test(x)) / 2) /
    G;
  const van = makeConfig('paper', 'vanilla');
  const vanilla = (sumWhere(van, (x) => x === 'stages.0.mixing.generator.weight') * msRows) / genPerGroup / G;
  return { lors: (shared + priv) / n, vanilla };
}

export interface PaperTotals {
  vanilla4x32: number;
  vanilla2x64: number;
  lors: number;
}

/** Decoder totals at paper scale: AdaMixer's 110M (G=4, P_in=32), G=2/P_in=64 vanilla, and LORS's 35M. */
export function paperTotals(): PaperTotals {
  return {
    vanilla4x32: countParameters(makeConfig('paper', 'vanilla4x32')).decoder,
    vanilla2x64: countParameters(makeConfig('paper', 'vanilla')).decoder,
    lors: countParameters(makeConfig('paper', 'lors')).decoder,
  };
}

export interface StageBar {
  stage: number;
  /** Vanilla stage total. */
  vanilla: number;
  /** LORS: ordinary per-stage tensors (attention, sampling, FFN, heads). */
  other: number;
  /** LORS: private low-rank parts (and LORS^T's per-stage bias/LayerNorm). */
  private: number;
  /** LORS: the shared parts, amortised over the stages (shared / N). */
  sharedShare: number;
}

/** Per-stage bars of a LORS config against a vanilla one (both must have the same number of stages). */
export function stageBars(vanilla: ModelConfig, lors: ModelConfig): { bars: StageBar[]; shared: number } {
  const v = countParameters(vanilla);
  const l = countParameters(lors);
  const n = lors.decoder.stages;
  return {
    shared: l.shared,
    bars: l.perStage.map((s, i) => ({
      stage: i,
      vanilla: v.perStage[i]?.total ?? 0,
      other: s.other,
      private: s.private,
      sharedShare: l.shared / n,
    })),
  };
}
