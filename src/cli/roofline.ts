/**
 * The matMul roofline of a backend: the decoder's two big products (the generator's [L, d_q]·[d_q, genOut] and the
 * output projection's [L, G·P_out·C]·[G·P_out·C, d_q]) timed on tf.matMul and, where they run, on the wasm kernels'
 * Linear (which the wasm forward uses for these two); the fastest GFLOP/s taken as the ceiling, and the forward's
 * floor = its FLOPs at that ceiling. "How far from the CPU's limit" is forward ms / floor ms.
 */
import * as tf from '@tensorflow/tfjs';
import { dims, type DecoderConfig } from '../model/config';
import { onWasmKernels } from '../model/adamixer/wasm/tensors';
import { timeRoundRobin } from './stats';

/** One timed product [m, k]·[k, n]. */
export interface MatMulShape {
  name: string;
  m: number;
  k: number;
  n: number;
}

export interface MatMulTiming extends MatMulShape {
  /** What ran it: tf.matMul, or the wasm kernels' Linear (its input copied in and output copied out included). */
  by: 'tf.matMul' | 'wasm kernels';
  medianMs: number;
  gflopPerS: number;
}

export interface Roofline {
  matMuls: MatMulTiming[];
  /** The best GFLOP/s of the timed products. */
  ceilingGflopPerS: number;
  /** The forward's FLOPs at the ceiling, ms. */
  floorMs: number;
  /** forward ms / floor ms (1 = at the ceiling). */
  timesFloor: number;
}

const round = (x: number, d = 2) => Number(x.toFixed(d));

/** The decoder's two big products, as the stage runs them (prepared [in, out] weights, no transpose). */
export function rooflineShapes(d: DecoderConfig): MatMulShape[] {
  const { genOut, outIn } = dims(d);
  return [
    { name: 'generator', m: d.queries, k: d.dQuery, n: genOut },
    { name: 'output projection', m: d.queries, k: outIn, n: d.dQuery },
  ];
}

/** The roofline figures from timed products, the forward's FLOPs and its median ms. */
export function rooflineOf(matMuls: MatMulTiming[], flops: number, forwardMs: number): Roofline {
  if (matMuls.length === 0) throw new Error('rooflineOf: no timed products');
  const ceiling = Math.max(...matMuls.map((t) => t.gflopPerS));
  const floorMs = flops / 1e9 / ceiling / 1e-3;
  return {
    matMuls,
    ceilingGflopPerS: round(ceiling),
    floorMs: round(floorMs, 1),
    timesFloor: round(forwardMs / floorMs),
  };
}

/**
 * Times each shape (random operands, round-robin, `runs` after `warmup`) on tf.matMul on the current backend and,
 * where they run, on the wasm kernels' Linear (a zero bias).
 */
export async function timeMatMuls(shapes: MatMulShape[], runs: number, warmup: number): Promise<MatMulTiming[]> {
  const operands = shapes.map((s) => [tf.randomNormal([s.m, s.k]), tf.randomNormal([s.k, s.n])] as const);
  const kernels = onWasmKernels();
  try {
    const host = kernels
      ? await Promise.all(operands.map(async ([a, b]) => [await a.data(), await b.data()] as Float32Array[]))
      : [];
    const bodies: Record<string, () => Promise<void>> = {};
    shapes.forEach((s, i) => {
      bodies[`tf.matMul ${s.name}`] = async () => {
        const y = tf.matMul(operands[i]![0] as tf.Tensor2D, operands[i]![1] as tf.Tensor2D);
        await y.data();
        y.dispose();
      };
      if (!kernels) return;
      const [x, w] = host[i]!;
      const linear = {
        owner: { isDisposed: false },
        weight: () => w!,
        bias: () => new Float32Array(s.n),
        K: s.k,
        N: s.n,
      };
      bodies[`wasm kernels ${s.name}`] = async () => void kernels.linear(x!, linear);
    });
    const t = await timeRoundRobin(runs, warmup, bodies, 3);
    return Object.keys(bodies).map((key) => {
      const by = key.startsWith('tf.matMul') ? 'tf.matMul' : 'wasm kernels';
      const s = shapes.find((x) => key === `${by} ${x.name}`)!;
      const ms = t[key]!.median;
      return { ...s, by, medianMs: ms, gflopPerS: round((2 * s.m * s.k * s.n) / 1e9 / (ms / 1000)) };
    });
  } finally {
    tf.dispose(operands.flat());
  }
}
