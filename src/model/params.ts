/**
 * The single source of truth for every learnable tensor of a model: its name (also the PyTorch state_dict key
 * in training/), shape, where it belongs (component, stage, shared or private) and its init rule.
 * The parameter counter, the seeded initialiser, the weights I/O and the PyTorch mirror all follow this list.
 *
 * Layouts follow PyTorch: a Linear's weight is [out, in].
 */
import { dims, type ModelConfig } from './config';
import { VARIANTS } from './variants';

export type Component =
  | 'queries' // initial content vectors (left out of decoder totals, as in the paper)
  | 'neck' // channel mapping of the backbone features (left out of decoder totals)
  | 'attention' // box-aware self-attention: iofTau, MHA, its LayerNorm
  | 'sampling' // Linear_off of the adaptive 3D sampling
  | 'generator' // vanilla Linear_gen (M_c and M_s)
  | 'output' // vanilla L_output and its LayerNorm
  | 'lorsA' // LORS^A on the generator
  | 'lorsT' // LORS^T on L_output (with its per-stage bias and LayerNorm)
  | 'ffn' // FFN and its LayerNorm
  | 'heads'; // cls and reg branches

export type Init =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'normal' } // N(0, 1)
  | { kind: 'uniform'; low: number; high: number }
  | { kind: 'xavier' } // xavier_uniform over [out, in]
  | { kind: 'linearBias'; fanIn: number } // torch Linear default bias U(±1/√fan_in)
  | { kind: 'kaimingUniform'; fanIn: number; a: number } // bound = gain·√(3/fan_in), gain = √(2/(1+a²))
  | { kind: 'constant'; value: number }
  | { kind: 'offsetBias' }; // AdaMixer's Linear_off bias: xy grid or U(−0.5, 0.5), z = −1 (docs/model.md §3.5)

export interface ParamSpec {
  name: string;
  shape: number[];
  component: Component;
  /** Stage index, or null for tensors used by all stages (and queries/neck). */
  stage: number | null;
  /** 'shared' = one tensor for all stages (LORS shared parts), 'private' = LORS low-rank private parts,
   *  'stage' = an ordinary per-stage tensor, 'input' = queries/neck. */
  role: 'shared' | 'private' | 'stage' | 'input';
  init: Init;
}

export const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function linear(
  out: ParamSpec[],
  name: string,
  inDim: number,
  outDim: number,
  component: Component,
  stage: number | null,
  role: ParamSpec['role'],
  weightInit: Init = { kind: 'xavier' },
  bias: Init | null = { kind: 'linearBias', fanIn: inDim },
) {
  out.push({ name: `${name}.weight`, shape: [outDim, inDim], component, stage, role, init: weightInit });
  if (bias) out.push({ name: `${name}.bias`, shape: [outDim], component, stage, role, init: bias });
}

function layerNorm(
  out: ParamSpec[],
  name: string,
  dim: number,
  component: Component,
  stage: number | null,
  role: ParamSpec['role'],
) {
  out.push({ name: `${name}.weight`, shape: [dim], component, stage, role, init: { kind: 'ones' } });
  out.push({ name: `${name}.bias`, shape: [dim], component, stage, role, init: { kind: 'zeros' } });
}

/** Every learnable tensor of the model, in a fixed order (the order of the weights file). */
export function parameterSpec(cfg: ModelConfig): ParamSpec[] {
  const d = cfg.decoder;
  const { C, G, genOut, outIn, offOut } = dims(d);
  const dq = d.dQuery;
  const p: ParamSpec[] = [];

  p.push({
    name: 'queries.content',
    shape: [d.queries, dq],
    component: 'queries',
    stage: null,
    role: 'input',
    init: { kind: 'normal' },
  });
  d.strides.forEach((_, l) => {
    p.push({
      name: `neck.convs.${l}.weight`,
      shape: [d.dFeat, d.featChannels],
      component: 'neck',
      stage: null,
      role: 'input',
      init: { kind: 'xavier' },
    });
    p.push({
      name: `neck.convs.${l}.bias`,
      shape: [d.dFeat],
      component: 'neck',
      stage: null,
      role: 'input',
      init: { kind: 'zeros' },
    });
  });
  layerNorm(p, 'neck.norm', d.dFeat, 'neck', null, 'input');

  const parts = VARIANTS[cfg.variant];
  // LORS^A shared generator: zero weight, default bias (docs/model.md §5.2) so the start equals vanilla AdaMixer.
  if (parts.generator === 'lorsA') linear(p, 'lorsA.shared', dq, genOut, 'lorsA', null, 'shared', { kind: 'zeros' });
  // LORS^T shared W_out: torch's default Linear init, no bias.
  const kaimingOut = { kind: 'kaimingUniform', fanIn: outIn, a: Math.sqrt(5) } as const;
  if (parts.output === 'lorsT') linear(p, 'lorsT.shared', outIn, dq, 'lorsT', null, 'shared', kaimingOut, null);

  for (let i = 0; i < d.stages; i++) {
    const s = `stages.${i}`;
    p.push({
      name: `${s}.iofTau`,
      shape: [d.heads],
      component: 'attention',
      stage: i,
      role: 'stage',
      init: { kind: 'uniform', low: 0, high: 4 },
    });
    linear(p, `${s}.attn.inProj`, dq, 3 * dq, 'attention', i, 'stage', { kind: 'xavier' }, { kind: 'zeros' });
    linear(p, `${s}.attn.outProj`, dq, dq, 'attention', i, 'stage', { kind: 'xavier' }, { kind: 'zeros' });
    layerNorm(p, `${s}.attnNorm`, dq, 'attention', i, 'stage');
    linear(p, `${s}.sampling.offset`, dq, offOut, 'sampling', i, 'stage', { kind: 'zeros' }, { kind: 'offsetBias' });

    const priv = (name: string, shape: number[], component: Component, init: Init) =>
      p.push({ name: `${s}.${name}`, shape, component, stage: i, role: 'private', init });
    if (parts.generator === 'dense') {
      linear(p, `${s}.mixing.generator`, dq, genOut, 'generator', i, 'stage', { kind: 'zeros' });
    } else {
      const r = cfg.lors!.rankA;
      const gk = G * cfg.lors!.groupsA[i]!;
      // E generator (Linear_E,i): 2·G·K_i·r² values, zero-initialised.
      linear(
        p,
        `${s}.lorsA.generator`,
        dq,
        2 * gk * r * r,
        'lorsA',
        i,
        'private',
        { kind: 'zeros' },
        { kind: 'zeros' },
      );
      // kaiming_uniform_ on 3-D tensors: fan_in = size(1)·size(2).
      for (const [n, shape] of [
        ['ml', [gk, C, r]],
        ['mr', [gk, r, C]],
        ['sl', [gk, d.pointsOut, r]],
        ['sr', [gk, r, d.pointsIn]],
      ] as const)
        priv(`lorsA.${n}`, [...shape], 'lorsA', { kind: 'kaimingUniform', fanIn: shape[1] * shape[2], a: 0 });
    }
    if (parts.output === 'dense') {
      linear(p, `${s}.mixing.output`, outIn, dq, 'output', i, 'stage');
      layerNorm(p, `${s}.mixNorm`, dq, 'output', i, 'stage');
    } else {
      const rt = cfg.lors!.rankT;
      const kt = cfg.lors!.groupsT[i]!;
      // Code layout: W_i = W_sh + Σ_k B_k A_k with B [dq, r] (zeros) and A [r, outIn] (kaiming, bound √(6/outIn)).
      priv('lorsT.B', [kt, dq, rt], 'lorsT', { kind: 'zeros' });
      priv('lorsT.A', [kt, rt, outIn], 'lorsT', { kind: 'kaimingUniform', fanIn: outIn, a: 0 });
      priv('lorsT.bias', [dq], 'lorsT', { kind: 'zeros' });
      layerNorm(p, `${s}.lorsT.norm`, dq, 'lorsT', i, 'private');
    }

    linear(p, `${s}.ffn.fc1`, dq, d.ffn, 'ffn', i, 'stage');
    linear(p, `${s}.ffn.fc2`, d.ffn, dq, 'ffn', i, 'stage');
    layerNorm(p, `${s}.ffnNorm`, dq, 'ffn', i, 'stage');
    for (const head of ['cls', 'reg'] as const) {
      linear(p, `${s}.${head}.fc`, dq, dq, 'heads', i, 'stage');
      layerNorm(p, `${s}.${head}.norm`, dq, 'heads', i, 'stage');
    }
    linear(
      p,
      `${s}.cls.out`,
      dq,
      d.classes,
      'heads',
      i,
      'stage',
      { kind: 'xavier' },
      { kind: 'constant', value: -Math.log(99) },
    );
    linear(p, `${s}.reg.out`, dq, 4, 'heads', i, 'stage', { kind: 'zeros' }, { kind: 'zeros' });
  }
  return p;
}

export interface ParamCount {
  /** Decoder parameters (stages + LORS shared parts), as the paper counts them: queries and neck left out. */
  decoder: number;
  queries: number;
  neck: number;
  /** decoder + queries + neck (+ backbone when given). */
  total: number;
  backbone: number;
  /** Per component (decoder components only). */
  byComponent: Partial<Record<Component, number>>;
  /** Shared (used by all stages) vs per-stage. */
  shared: number;
  perStage: { stage: number; private: number; other: number; total: number }[];
}

/** Exact parameter count of a config. `backbone` (e.g. NanoDet-g's count) is added to `total` only. */
export function countParameters(cfg: ModelConfig, backbone = 0): ParamCount {
  const spec = parameterSpec(cfg);
  const byComponent: Partial<Record<Component, number>> = {};
  const perStage = Array.from({ length: cfg.decoder.stages }, (_, stage) => ({
    stage,
    private: 0,
    other: 0,
    total: 0,
  }));
  let decoder = 0,
    queries = 0,
    neck = 0,
    shared = 0;
  for (const t of spec) {
    const n = size(t.shape);
    if (t.component === 'queries') {
      queries += n;
      continue;
    }
    if (t.component === 'neck') {
      neck += n;
      continue;
    }
    decoder += n;
    byComponent[t.component] = (byComponent[t.component] ?? 0) + n;
    if (t.stage === null) shared += n;
    else {
      const ps = perStage[t.stage]!;
      if (t.role === 'private') ps.private += n;
      else ps.other += n;
      ps.total += n;
    }
  }
  return {
    decoder,
    queries,
    neck,
    backbone,
    total: decoder + queries + neck + backbone,
    byComponent,
    shared,
    perStage,
  };
}
