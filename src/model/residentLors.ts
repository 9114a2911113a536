/**
 * An ordered LORS model kept on the backend for live slicing: the weights that do not depend on the slice (the
 * shared generator and L_output, attention, FFN, heads, …) are uploaded and prepared once, and a slice only folds
 * the stages whose private part it changes, straight into the prepared layout. It gives the same run weights,
 * value for value, as slicing every array, uploading, foldToVanilla and prepareWeights (residentLors.test.ts), for a
 * fraction of the work: a slider move then costs little more than the forward it triggers.
 *
 * Ownership: the resident holds its tensors; each `runWeights` result holds a reference to the ones it uses and
 * must be released (`release`) when no longer run. A folded stage is disposed once neither the resident's current
 * slice nor a live result uses it.
 */
import * as tf from '@tensorflow/tfjs';
import { dims, type ModelConfig } from './config';
import type { WasmKernels } from './adamixer/wasm/kernels';
import { onWasmKernels, wasmValues } from './adamixer/wasm/tensors';
import { checkWeights } from './adamixer/prepare';
import { parameterSpec } from './params';
import type { WeightMap } from './types';
import { preparedName, preparedShape } from './nn/ops';
import { FOLDED_AS, lorsAPrivateFolded } from './lors/fold';
import { lorsTFactors } from './lors/lorsT';
import { lowRankProduct } from './lors/lowRank';
import { sliceConfig, sliceLors, type LorsSlice } from './lors/slice';
import type { OrderedLors } from './lors/source';
import { PLAIN_VARIANT, VARIANTS, type VariantSpec } from './variants';

/** A vanilla-layout name that a LORS slice determines (per stage), else null. */
const SLICED = /^stages\.(\d+)\.mixing\.(generator\.weight|generator\.bias|output\.weight)$/;

/** Where foldToVanilla takes a vanilla name from (for the names no slice changes: LORS^T's bias and LayerNorm). */
const FROM_LORS = [...FOLDED_AS.lorsA, ...FOLDED_AS.lorsT];

/** Whether a model can be kept resident: both LORS parts (LORS^A generator and LORS^T output), as the folds expect. */
export function canStayResident(cfg: ModelConfig): boolean {
  const spec: VariantSpec = VARIANTS[cfg.variant];
  return spec.generator === 'lorsA' && spec.output === 'lorsT';
}

export interface ResidentRun {
  /** The slice's LORS config (what the app counts). */
  config: ModelConfig;
  /** The vanilla config the folded slice runs as. */
  runs: ModelConfig;
  /** Prepared run weights (checked against `runs`). */
  weights: WeightMap;
  /** Drops this run's references; its folded stages are disposed when nothing else uses them. */
  release(): void;
}

interface StageFold {
  key: string;
  tensors: tf.Tensor[];
}

export class ResidentLors {
  private readonly refs = new Map<tf.Tensor, number>();
  /** The current folds per stage: LORS^A (generator weight, bias) and LORS^T (L_output weight). */
  private readonly foldA: (StageFold | undefined)[] = [];
  private readonly foldT: (StageFold | undefined)[] = [];
  private disposed = false;

  private constructor(
    readonly source: OrderedLors,
    private readonly arrays: Map<string, Float32Array>,
    /** Prepared, slice-independent weights under vanilla names, plus the shared parts under LORS names. */
    private readonly base: WeightMap,
    private readonly runs: ModelConfig,
  ) {
    for (const t of base.values()) this.refs.set(t, 1);
  }

  /** Loads the source's shards (once, OrderedLors.load) and uploads what every slice shares. */
  static async create(source: OrderedLors, onProgress?: (loaded: number, total: number) => void) {
    const arrays = await source.load(onProgress);
    const full = source.config;
    const { lors: _factors, ...rest } = full;
    const runs: ModelConfig = { ...rest, variant: PLAIN_VARIANT };
    const shapes = new Map(parameterSpec(full).map((p) => [p.name, p.shape]));
    const base: WeightMap = new Map();
    const upload = (to: string, from: string) => {
      const shape = shapes.get(from);
      const a = arrays.get(from);
      if (!shape || !a) throw new Error(`ResidentLors: ${from} is missing from the LORS source`);
      const pShape = preparedShape(to, shape);
      if (pShape)
        base.set(
          preparedName(to),
          tf.tidy(() => tf.transpose(tf.tensor(a, shape, 'float32'))),
        );
      else base.set(to, tf.tensor(a, shape, 'float32'));
    };
    try {
      for (const p of parameterSpec(runs)) {
        if (SLICED.test(p.name)) continue;
        upload(
          p.name,
          FROM_LORS.reduce((n, [re, to]) => n.replace(re, to), p.name),
        );
      }
      // The shared parts every fold adds to, prepared ([in, out]).
      upload('lorsA.shared.weight', 'lorsA.shared.weight');
      upload('lorsA.shared.bias', 'lorsA.shared.bias');
      upload('lorsT.shared.weight', 'lorsT.shared.weight');
    } catch (e) {
      tf.dispose([...base.values()]);
      throw e;
    }
    return new ResidentLors(source, arrays, base, runs);
  }

  /**
   * The run weights of `slice` (strict, as OrderedLors.slice); only stages whose LORS^A or LORS^T slice changed since
   * the last call are folded again. `mark` (optional) is called after the slice, upload and fold steps.
   */
  async runWeights(slice: LorsSlice = {}, mark?: (step: string) => void): Promise<ResidentRun> {
    if (this.disposed) throw new Error('ResidentLors: used after dispose');
    const src = this.source.config;
    const config = sliceConfig(src, slice, 'strict');
    const lors = config.lors!;
    const stages = src.decoder.stages;
    const keyA = (i: number) => `${lors.rankA}/${lors.groupsA[i]}`;
    const keyT = (i: number) => `${lors.rankT}/${lors.groupsT[i]}`;
    const changedA = [...Array(stages).keys()].filter((i) => this.foldA[i]?.key !== keyA(i));
    const changedT = [...Array(stages).keys()].filter((i) => this.foldT[i]?.key !== keyT(i));
    let sliced: Map<string, Float32Array> | undefined;
    if (changedA.length + changedT.length > 0) sliced = sliceLors(src, this.arrays, slice, 'strict').arrays;
    mark?.('slice');
    const shapes = new Map(parameterSpec(config).map((p) => [p.name, p.shape]));
    const factors: WeightMap = new Map();
    const put = (name: string) => factors.set(name, tf.tensor(sliced!.get(name)!, shapes.get(name)!, 'float32'));
    // On wasm the LORS^A folds run in the wasm kernels, from the sliced host arrays (no upload).
    const kernels = onWasmKernels();
    if (!kernels)
      for (const i of changedA)
        for (const n of ['generator.weight', 'generator.bias', 'ml', 'mr', 'sl', 'sr']) put(`stages.${i}.lorsA.${n}`);
    for (const i of changedT) for (const n of ['A', 'B']) put(`stages.${i}.lorsT.${n}`);
    mark?.('upload');
    try {
      const sharedA = this.base.get(preparedName('lorsA.shared.weight'))!;
      const sharedB = this.base.get('lorsA.shared.bias')!;
      const sharedT = this.base.get(preparedName('lorsT.shared.weight'))!;
      for (const i of changedA) {
        const tensors = kernels
          ? foldOnHost(kernels, config, i, sliced!, sharedA, sharedB)
          : tf.tidy(() => {
              const priv = lorsAPrivateFolded(factors, config, i); // prepared layout: weight [dq, genOut], bias [genOut]
              return [tf.add(sharedA, priv.weight), tf.add(sharedB, priv.bias)];
            });
        this.setFold(this.foldA, i, { key: keyA(i), tensors });
      }
      for (const i of changedT) {
        const w = tf.tidy(() => {
          const { Bcat, Acat } = lorsTFactors(factors, config, i);
          return tf.add(sharedT, tf.transpose(lowRankProduct(Bcat, Acat)));
        });
        this.setFold(this.foldT, i, { key: keyT(i), tensors: [w] });
      }
    } finally {
      tf.dispose([...factors.values()]);
    }
    const weights: WeightMap = new Map();
    for (const [n, t] of this.base) if (!n.startsWith('lorsA.') && !n.startsWith('lorsT.')) weights.set(n, t);
    for (let i = 0; i < stages; i++) {
      const [gw, gb] = this.foldA[i]!.tensors;
      weights.set(preparedName(`stages.${i}.mixing.generator.weight`), gw!);
      weights.set(`stages.${i}.mixing.generator.bias`, gb!);
      weights.set(preparedName(`stages.${i}.mixing.output.weight`), this.foldT[i]!.tensors[0]!);
    }
    checkWeights(weights, this.runs);
    for (const t of new Set(weights.values())) this.ref(t, 1);
    let released = false;
    mark?.('fold');
    return {
      config,
      runs: this.runs,
      weights,
      release: () => {
        if (released) return;
        released = true;
        for (const t of new Set(weights.values())) this.ref(t, -1);
      },
    };
  }

  /** Tensors the resident itself holds (base and current folds), for memory checks. */
  get numTensors(): number {
    return this.refs.size;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.base.values()) this.ref(t, -1);
    for (const f of [...this.foldA, ...this.foldT]) if (f) for (const t of f.tensors) this.ref(t, -1);
    this.foldA.length = 0;
    this.foldT.length = 0;
  }

  private setFold(folds: (StageFold | undefined)[], i: number, fold: StageFold) {
    const old = folds[i];
    for (const t of fold.tensors) this.ref(t, 1);
    folds[i] = fold;
    if (old) for (const t of old.tensors) this.ref(t, -1);
  }

  private ref(t: tf.Tensor, delta: number) {
    const n = (this.refs.get(t) ?? 0) + delta;
    if (n > 0) this.refs.set(t, n);
    else {
      this.refs.delete(t);
      t.dispose();
    }
  }
}

/** Stage i's folded LORS^A generator (as lorsAPrivateFolded + the shared one) in the wasm kernels: [weight, bias]. */
function foldOnHost(
  kernels: WasmKernels,
  config: ModelConfig,
  i: number,
  sliced: Map<string, Float32Array>,
  sharedA: tf.Tensor,
  sharedB: tf.Tensor,
): tf.Tensor[] {
  const d = config.decoder;
  const { G, C, genOut } = dims(d);
  const get = (n: string) => sliced.get(`stages.${i}.lorsA.${n}`)!;
  const { weight, bias } = kernels.foldLorsA(sharedA, wasmValues(sharedA), wasmValues(sharedB), {
    eWeight: get('generator.weight'),
    eBias: get('generator.bias'),
    ml: get('ml'),
    mr: get('mr'),
    sl: get('sl'),
    sr: get('sr'),
    G,
    K: config.lors!.groupsA[i]!,
    r: config.lors!.rankA,
    C,
    Pout: d.pointsOut,
    Pin: d.pointsIn,
  });
  return [tf.tensor2d(weight, [d.dQuery, genOut]), tf.tensor1d(bias)]; // (copied out of the kernels' memory)
}
