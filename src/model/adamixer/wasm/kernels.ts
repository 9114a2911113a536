/**
 * The heavy parts of an AdaMixer stage as wasm SIMD kernels (kernels.c) on host arrays, for the wasm backend, whose
 * tensors live in CPU memory: a stage's attention scores, softmax and weighted sum (where tfjs-wasm runs ~20
 * kernels, its batched matMuls slow); its sampling of every point of every query group from the maps' host copies
 * and their mixing (~40 kernels: SplitV, depthwise convolutions, transposes, LayerNorms), with the Linears around
 * them (the generator before, L_output after, on weights packed once and kept here); and a slider move's fold of
 * LORS^A into a stage's generator. Sampling is bit-identical to cropAndResize · level weight summed by AddN
 * (sampling.ts) and the Linears to tfjs-wasm's matMul + add; the rest equals the tfjs ops up to float32 rounding
 * (sums in another order, its own e^x).
 *
 * The module is compiled synchronously on first use (allowed in workers and Node; a browser's main thread may refuse
 * a module this size, and then the tfjs kernels run): `wasmKernels()` is null where it cannot run.
 */
import { KERNELS_WASM } from './kernelsWasm';

/** One level's zero-padded per-group map [B·G, Hp, Wp, C] as a host array (sampling.ts's SamplingMaps). */
export interface HostMap {
  data: Float32Array;
  Hp: number;
  Wp: number;
  stride: number;
}

interface Exports {
  memory: WebAssembly.Memory;
  __heap_base: WebAssembly.Global;
  sample(
    nl: number,
    levels: number,
    maps: number,
    C: number,
    N: number,
    xy: number,
    w: number,
    image: number,
    out: number,
  ): void;
  attend(
    B: number,
    L: number,
    H: number,
    hd: number,
    qkv: number,
    logIof: number,
    tau: number,
    scale: number,
    row: number,
    out: number,
  ): void;
  foldLorsA(
    X: number,
    G: number,
    K: number,
    r: number,
    C: number,
    Pout: number,
    Pin: number,
    shared: number,
    E: number,
    ml: number,
    mr: number,
    sl: number,
    sr: number,
    scratch: number,
    out: number,
  ): void;
  linear(M: number, N: number, K: number, A: number, P: number, bias: number, Y: number): void;
  packPanels(K: number, N: number, W: number, P: number): void;
  mix(
    n: number,
    Pin: number,
    Pout: number,
    C: number,
    xs: number,
    gen: number,
    genStride: number,
    eps: number,
    scratch: number,
    out: number,
  ): void;
}

/** Whatever owns a weight (a tfjs tensor): the module keeps its packed copy until the owner reports disposed. */
export interface WeightOwner {
  readonly isDisposed: boolean;
}

/**
 * A Linear y = x·W + b for the kernels: W [K, N] prepared ([in, out], row-major) and b [N], read through the
 * functions (views that a later tfjs op may move: read only when called). W is packed into the module's memory on
 * first use and kept there for as long as `owner` lives.
 */
export interface HostLinear {
  owner: WeightOwner;
  weight: () => Float32Array;
  bias: () => Float32Array;
  K: number;
  N: number;
}

/** A stage's generated mixing parameters: given [rows, genOut], or made in the module as x [rows, K] · W + b. */
export type Generated = Float32Array | { x: Float32Array; linear: HostLinear };

/** The sample points of one stage (sampling.ts samplePoints), as host arrays. */
export interface HostPoints {
  /** [N, 2] sample (x, y) in pixels. */
  xy: Float32Array;
  /** [N, levels] level weights. */
  weights: Float32Array;
  /** [N] the map row (b·G + g) of each sample. */
  image: Int32Array;
}

/** The mixing part of a stage: P_in, P_out, C, LayerNorm eps. */
export interface MixingDims {
  Pin: number;
  Pout: number;
  C: number;
  eps: number;
}

/** The attention's sizes: images B, queries L, heads H of hd channels. */
export interface AttentionDims {
  B: number;
  L: number;
  H: number;
  hd: number;
}

/** One stage's LORS^A factors (the sliced host arrays, in the parameter list's layouts) and its sizes. */
export interface LorsAFactors {
  /** The E generator: weight [2·G·K·r·r, dq] (PyTorch [out, in]) and bias [2·G·K·r·r]. */
  eWeight: Float32Array;
  eBias: Float32Array;
  ml: Float32Array;
  mr: Float32Array;
  sl: Float32Array;
  sr: Float32Array;
  G: number;
  K: number;
  r: number;
  C: number;
  Pout: number;
  Pin: number;
}

const PAGE = 65536;
const align = (bytes: number) => Math.ceil(bytes / 16) * 16;

interface Slot {
  owner: WeightOwner;
  at: number;
  floats: number;
}

/**
 * Memory: the packed Linear weights (slots, kept while their owners live), then what `place` put there (a forward's
 * maps, or a shared generator), then each call's own arrays (`reserve`).
 */
export class WasmKernels {
  private readonly slots: Slot[] = [];
  /** What sits at the start of the free memory (a forward's maps, or a shared generator), and where the rest starts. */
  private placed: object | null = null;
  private mapsAt: number;
  private freeAt: number;

  constructor(private readonly ex: Exports) {
    this.mapsAt = align(ex.__heap_base.value as number);
    this.freeAt = this.mapsAt;
  }

  /** y [rows, N] = x [rows, K] · W + b (a new array), summed as matMul then add: equal to tfjs-wasm's, value for value. */
  linear(x: Float32Array, l: HostLinear): Float32Array {
    const rows = x.length / l.K;
    if (!Number.isInteger(rows)) throw new Error(`linear: ${x.length} input values are not rows of ${l.K}`);
    const w = this.resident(l);
    const [xs, b, y] = this.reserve([x.length, l.N, rows * l.N]);
    this.f32(xs!, x.length).set(x);
    this.runLinear(l, w, rows, xs!, b!, y!, 'bias');
    return this.f32(y!, rows * l.N).slice();
  }

  /**
   * Level-weighted bilinear sampling of the points from the maps: [N, C] (a new array), bit-identical to
   * sampling.ts's cropAndResize path on the same points.
   */
  sample(maps: readonly HostMap[], C: number, points: HostPoints): Float32Array {
    const N = points.image.length;
    this.place(maps);
    const [levels, xy, w, image, out] = this.reserve([4 * maps.length, 2 * N, N * maps.length, N, N * C]);
    this.fill(levels!, xy!, w!, image!, maps, points);
    this.ex.sample(maps.length, levels!, this.mapsAt, C, N, xy!, w!, image!, out!);
    return this.f32(out!, N * C).slice();
  }

  /**
   * Samples the points and mixes them with the generated parameters `gen` (per query group: M_c [C, C] then
   * M_s [P_out, P_in], nn/generator.ts; given, or made here by the generator's Linear): o [n, P_out·C] (mixing.ts's
   * o), or with `output`, o's rows [rows, G·P_out·C] through that Linear: [rows, output.N]. The returned array is a
   * view of the module's memory, valid until the next call: copy it (tf.tensor does) before calling again.
   */
  sampleAndMix(
    maps: readonly HostMap[],
    points: HostPoints,
    gen: Generated,
    dims: MixingDims,
    output: HostLinear | null = null,
  ): Float32Array {
    const { Pin, Pout, C, eps } = dims;
    const N = points.image.length;
    const n = N / Pin;
    const made = gen instanceof Float32Array ? null : gen;
    const rows = made ? made.x.length / made.linear.K : 0;
    const genLength = made ? rows * made.linear.N : (gen as Float32Array).length;
    const genStride = genLength / n;
    if (
      !Number.isInteger(n) ||
      !Number.isInteger(rows) ||
      !Number.isInteger(genStride) ||
      genStride < C * C + Pout * Pin
    ) {
      throw new Error(
        `sampleAndMix: ${N} points and ${genLength} generated values do not make query groups of ${Pin} points and ≥ ${C * C + Pout * Pin} parameters`,
      );
    }
    const outRows = output ? (n * Pout * C) / output.K : 0;
    if (output && !Number.isInteger(outRows))
      throw new Error(`sampleAndMix: the mixed values (${n} × ${Pout * C}) are not rows of ${output.K} for the output`);
    // The weights first: a new one may move what comes after them.
    const genW = made ? this.resident(made.linear) : 0;
    const outW = output ? this.resident(output) : 0;
    this.place(maps);
    const [levels, xy, w, image, xs, x, genB, g, scratch, o, outB, y] = this.reserve([
      4 * maps.length,
      2 * N,
      N * maps.length,
      N,
      N * C,
      made ? made.x.length : 0,
      made ? made.linear.N : 0,
      genLength,
      Pin * C,
      n * Pout * C,
      output ? output.N : 0,
      output ? outRows * output.N : 0,
    ]);
    this.fill(levels!, xy!, w!, image!, maps, points);
    if (made) {
      this.f32(x!, made.x.length).set(made.x);
      this.runLinear(made.linear, genW, rows, x!, genB!, g!, 'generator bias');
    } else this.f32(g!, genLength).set(gen as Float32Array);
    this.ex.sample(maps.length, levels!, this.mapsAt, C, N, xy!, w!, image!, xs!);
    this.ex.mix(n, Pin, Pout, C, xs!, g!, genStride, eps, scratch!, o!);
    if (!output) return this.f32(o!, n * Pout * C);
    this.runLinear(output, outW, outRows, o!, outB!, y!, 'output bias');
    return this.f32(y!, outRows * output.N);
  }

  /**
   * The attention's scores, softmax and weighted sum (stage.ts selfAttention): qkv [B, L, 3·H·hd] (the
   * in-projection's output), logIof [B, L, L], tau [H] → [B, L, H·hd], heads merged. The returned array is a view of
   * the module's memory, valid until the next call.
   */
  attend(qkv: Float32Array, logIof: Float32Array, tau: Float32Array, dims: AttentionDims, scale: number): Float32Array {
    const { B, L, H, hd } = dims;
    if (qkv.length !== B * L * 3 * H * hd || logIof.length !== B * L * L || tau.length !== H) {
      throw new Error(
        `attend: qkv ${qkv.length}, logIof ${logIof.length} and tau ${tau.length} values do not fit B ${B}, L ${L}, H ${H}, hd ${hd}`,
      );
    }
    const [q, bias, t, row, out] = this.reserve([qkv.length, logIof.length, H, L, B * L * H * hd]);
    this.f32(q!, qkv.length).set(qkv);
    this.f32(bias!, logIof.length).set(logIof);
    this.f32(t!, H).set(tau);
    this.ex.attend(B, L, H, hd, q!, bias!, t!, scale, row!, out!);
    return this.f32(out!, B * L * H * hd);
  }

  /**
   * A stage's LORS^A generator folded into the prepared layout (fold.ts lorsAPrivateFolded, plus the shared
   * generator): weight [dq, genOut] = shared weight + private part, bias [genOut] likewise. `sharedKey` names the
   * shared generator (its values are copied in once per key). The returned arrays are views of the module's memory,
   * valid until the next call.
   */
  foldLorsA(
    sharedKey: object,
    sharedWeight: Float32Array,
    sharedBias: Float32Array,
    f: LorsAFactors,
  ): { weight: Float32Array; bias: Float32Array } {
    const { G, K, r, C, Pout, Pin } = f;
    const genOut = G * (C * C + Pout * Pin);
    const dq = sharedWeight.length / genOut;
    const nE = 2 * G * K * r * r;
    if (
      sharedBias.length !== genOut ||
      !Number.isInteger(dq) ||
      f.eWeight.length !== nE * dq ||
      f.eBias.length !== nE ||
      f.ml.length !== G * K * C * r ||
      f.mr.length !== G * K * r * C ||
      f.sl.length !== G * K * Pout * r ||
      f.sr.length !== G * K * r * Pin
    ) {
      throw new Error(
        `foldLorsA: the shared generator (${sharedWeight.length} + ${sharedBias.length}) and factors do not fit G ${G}, K ${K}, r ${r}, C ${C}, P_out ${Pout}, P_in ${Pin}`,
      );
    }
    const X = dq + 1;
    this.place(sharedKey, [sharedWeight, sharedBias]);
    const most = Math.max(C, Pout);
    const [E, ml, mr, sl, sr, scratch, out] = this.reserve([
      nE * X,
      f.ml.length,
      f.mr.length,
      f.sl.length,
      f.sr.length,
      K * r * r + most * (K + 1) * r,
      X * genOut,
    ]);
    // E with its bias as column dq: [nE, X]
    const e = this.f32(E!, nE * X);
    for (let i = 0; i < nE; i++) {
      e.set(f.eWeight.subarray(i * dq, (i + 1) * dq), i * X);
      e[i * X + dq] = f.eBias[i]!;
    }
    this.f32(ml!, f.ml.length).set(f.ml);
    this.f32(mr!, f.mr.length).set(f.mr);
    this.f32(sl!, f.sl.length).set(f.sl);
    this.f32(sr!, f.sr.length).set(f.sr);
    this.ex.foldLorsA(X, G, K, r, C, Pout, Pin, this.mapsAt, E!, ml!, mr!, sl!, sr!, scratch!, out!);
    return { weight: this.f32(out!, dq * genOut), bias: this.f32(out! + 4 * dq * genOut, genOut) };
  }

  /**
   * Where l's weight sits packed (packPanels) in memory: its owner's slot, else a slot whose owner is gone (the
   * same size), else a new one after the others.
   */
  private resident(l: HostLinear): number {
    const floats = l.K * Math.ceil(l.N / 8) * 8;
    let slot = this.slots.find((s) => s.owner === l.owner);
    if (slot?.floats === floats) return slot.at;
    slot = this.slots.find((s) => s.owner.isDisposed && s.floats === floats);
    if (!slot) {
      slot = { owner: l.owner, at: this.mapsAt, floats };
      this.slots.push(slot);
      this.mapsAt = align(slot.at + 4 * floats);
      this.freeAt = this.mapsAt;
      this.placed = null;
      this.grow(this.freeAt);
    }
    slot.owner = l.owner;
    const wv = this.checked(l.weight(), l.K * l.N, 'weight');
    const [w] = this.reserve([wv.length]);
    this.f32(w!, wv.length).set(wv);
    this.ex.packPanels(l.K, l.N, w!, slot.at);
    return slot.at;
  }

  /** y [rows, l.N] = x [rows, l.K] · W + b in memory, W packed at `w`, l's bias copied to `b` first. */
  private runLinear(l: HostLinear, w: number, rows: number, x: number, b: number, y: number, bias: string): void {
    this.f32(b, l.N).set(this.checked(l.bias(), l.N, bias));
    this.ex.linear(rows, l.N, l.K, x, w, b, y);
  }

  private checked(a: Float32Array, length: number, what: string): Float32Array {
    if (a.length !== length) throw new Error(`linear: the ${what} has ${a.length} values, expected ${length}`);
    return a;
  }

  private f32(at: number, length: number): Float32Array {
    return new Float32Array(this.ex.memory.buffer, at, length);
  }

  /** Byte offsets of arrays of `sizes` floats after the placed maps, the memory grown to hold them. */
  private reserve(sizes: number[]): number[] {
    let at = this.freeAt;
    const offsets = sizes.map((s) => {
      const o = at;
      at += align(4 * s);
      return o;
    });
    this.grow(at);
    return offsets;
  }

  private grow(bytes: number): void {
    const memory = this.ex.memory;
    if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
  }

  /** Puts the maps in memory unless they are the ones already there (a forward's stages share them). */
  private place(maps: readonly HostMap[]): void;
  /** Puts `arrays` in memory, packed one after another, unless `key`'s are already there. */
  private place(key: object, arrays: Float32Array[]): void;
  private place(key: object, arrays?: Float32Array[]): void {
    if (this.placed === key) return;
    const data = arrays ?? (key as readonly HostMap[]).map((m) => m.data);
    const floats = data.reduce((n, a) => n + a.length, 0);
    this.freeAt = this.mapsAt + align(4 * floats);
    this.grow(this.freeAt);
    let o = this.mapsAt;
    for (const a of data) {
      this.f32(o, a.length).set(a);
      o += 4 * a.length;
    }
    this.placed = key;
  }

  private fill(levels: number, xy: number, w: number, image: number, maps: readonly HostMap[], p: HostPoints): void {
    const info = new Int32Array(this.ex.memory.buffer, levels, 4 * maps.length);
    let o = 0;
    maps.forEach((m, l) => {
      info.set([o, m.Hp, m.Wp, m.stride], 4 * l);
      o += m.data.length; // (packed by place)
    });
    this.f32(xy, p.xy.length).set(p.xy);
    this.f32(w, p.weights.length).set(p.weights);
    new Int32Array(this.ex.memory.buffer, image, p.image.length).set(p.image);
  }
}

let kernels: WasmKernels | null | undefined;

/** The kernels, compiled on first use; null where this runtime cannot compile or run them (no wasm SIMD). */
export function wasmKernels(): WasmKernels | null {
  if (kernels === undefined) {
    try {
      const bytes = Uint8Array.from(atob(KERNELS_WASM), (c) => c.charCodeAt(0));
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
      kernels = new WasmKernels(instance.exports as unknown as Exports);
    } catch {
      kernels = null;
    }
  }
  return kernels;
}
