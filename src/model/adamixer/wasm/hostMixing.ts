/**
 * AdaMixer's adaptive 3D sampling and adaptive mixing of one stage as wasm SIMD kernels (mixing.c) on host arrays,
 * for the wasm backend, whose tensors live in CPU memory. One call samples every point of every query group from
 * the maps' host copies and mixes them, where tfjs-wasm runs ~30 kernels (cropAndResize or the JavaScript loop,
 * SplitV, depthwise convolutions, transposes, LayerNorms). Sampling is bit-identical to cropAndResize · level weight
 * summed by AddN (sampling.ts); mixing equals mixing.ts up to float32 rounding (its sums run in another order).
 *
 * The module is compiled synchronously on first use (allowed in workers and Node; a browser's main thread may refuse
 * a module this size, and then the tfjs kernels run): `mixingKernels()` is null where it cannot run.
 */
import { MIXING_WASM } from './mixingWasm';

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

const PAGE = 65536;
const align = (bytes: number) => Math.ceil(bytes / 16) * 16;

export class MixingKernels {
  private placed: readonly HostMap[] | null = null;
  /** Byte offset of the maps: after the module's stack and data; each call's arrays follow them. */
  private readonly mapsAt: number;

  constructor(private readonly ex: Exports) {
    this.mapsAt = align(ex.__heap_base.value as number);
  }

  /**
   * Level-weighted bilinear sampling of the points from the maps: [N, C] (a new array), bit-identical to
   * sampling.ts's cropAndResize path.
   */
  sample(maps: readonly HostMap[], C: number, points: HostPoints): Float32Array {
    const N = points.image.length;
    const [levels, xy, w, image, out] = this.reserve(maps, [4 * maps.length, 2 * N, N * maps.length, N, N * C]);
    this.fill(levels!, xy!, w!, image!, maps, points);
    this.ex.sample(maps.length, levels!, this.mapsAt, C, N, xy!, w!, image!, out!);
    return this.f32(out!, N * C).slice();
  }

  /**
   * Samples the points and mixes them with the generated parameters gen [n, genStride] (per query group: M_c [C, C]
   * then M_s [P_out, P_in], nn/generator.ts): out [n, P_out·C] (mixing.ts's o). The returned array is a view of the
   * module's memory, valid until the next call: copy it (tf.tensor does) before calling again.
   */
  sampleAndMix(maps: readonly HostMap[], points: HostPoints, gen: Float32Array, dims: MixingDims): Float32Array {
    const { Pin, Pout, C, eps } = dims;
    const N = points.image.length;
    const n = N / Pin;
    const genStride = gen.length / n;
    if (!Number.isInteger(n) || !Number.isInteger(genStride) || genStride < C * C + Pout * Pin) {
      throw new Error(
        `sampleAndMix: ${N} points and ${gen.length} generated values do not make query groups of ${Pin} points and ≥ ${C * C + Pout * Pin} parameters`,
      );
    }
    const [levels, xy, w, image, xs, g, scratch, out] = this.reserve(maps, [
      4 * maps.length,
      2 * N,
      N * maps.length,
      N,
      N * C,
      gen.length,
      Pin * C,
      n * Pout * C,
    ]);
    this.fill(levels!, xy!, w!, image!, maps, points);
    this.f32(g!, gen.length).set(gen);
    this.ex.sample(maps.length, levels!, this.mapsAt, C, N, xy!, w!, image!, xs!);
    this.ex.mix(n, Pin, Pout, C, xs!, g!, genStride, eps, scratch!, out!);
    return this.f32(out!, n * Pout * C);
  }

  private f32(at: number, length: number): Float32Array {
    return new Float32Array(this.ex.memory.buffer, at, length);
  }

  /** Puts the maps in memory (unless they are the ones already there) and returns byte offsets of `sizes` values. */
  private reserve(maps: readonly HostMap[], sizes: number[]): number[] {
    const mapBytes = maps.map((m) => align(4 * m.data.length));
    let at = this.mapsAt + mapBytes.reduce((a, b) => a + b, 0);
    const offsets = sizes.map((s) => {
      const o = at;
      at += align(4 * s);
      return o;
    });
    const memory = this.ex.memory;
    if (at > memory.buffer.byteLength) memory.grow(Math.ceil((at - memory.buffer.byteLength) / PAGE));
    if (this.placed !== maps) {
      let o = this.mapsAt;
      maps.forEach((m, l) => {
        this.f32(o, m.data.length).set(m.data);
        o += mapBytes[l]!;
      });
      this.placed = maps;
    }
    return offsets;
  }

  private fill(levels: number, xy: number, w: number, image: number, maps: readonly HostMap[], p: HostPoints): void {
    const info = new Int32Array(this.ex.memory.buffer, levels, 4 * maps.length);
    let o = this.mapsAt / 4;
    maps.forEach((m, l) => {
      info.set([o - this.mapsAt / 4, m.Hp, m.Wp, m.stride], 4 * l);
      o += align(4 * m.data.length) / 4;
    });
    this.f32(xy, p.xy.length).set(p.xy);
    this.f32(w, p.weights.length).set(p.weights);
    new Int32Array(this.ex.memory.buffer, image, p.image.length).set(p.image);
  }
}

let kernels: MixingKernels | null | undefined;

/** The kernels, compiled on first use; null where this runtime cannot compile or run them (no wasm SIMD). */
export function mixingKernels(): MixingKernels | null {
  if (kernels === undefined) {
    try {
      const bytes = Uint8Array.from(atob(MIXING_WASM), (c) => c.charCodeAt(0));
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
      kernels = new MixingKernels(instance.exports as unknown as Exports);
    } catch {
      kernels = null;
    }
  }
  return kernels;
}
