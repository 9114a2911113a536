/**
 * The matMul roofline of a backend: tf.matMul timed on the decoder's two big products (the generator's
 * [L, d_q]·[d_q, genOut] and the output projection's [L, G·P_out·C]·[G·P_out·C, d_q]), the faster one's GFLOP/s
 * taken as the ceiling, and the forward's floor = its FLOPs at that ceiling. "How far from the CPU's limit" is
 * forward ms / floor ms.
 */
import * as tf from '@tensorflow/tfjs';
import { dims, type DecoderConfig } from '../model/config';
import { timeRoundRobin } from './stats';

/** One timed product [m, k]·[k, n]. */
export interface MatMulShape {
  name: string;
  m: number;
  k: number;
  n: number;
}

export interface MatMulTiming extends MatMulShape {
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

/** Times tf.matMul on each shape (random operands, round-robin, `runs` after `warmup`) on the current backend. */
export async function timeMatMuls(shapes: MatMulShape[], runs: number, warmup: number): Promise<MatMulTiming[]> {
  const operands = shapes.map((s) => [tf.randomNormal([s.m, s.k]), tf.randomNormal([s.k, s.n])] as const);
  try {
    const t = await timeRoundRobin(
      runs,
      warmup,
      Object.fromEntries(
        shapes.map((s, i) => [
          s.name,
          async () => {
            const y = tf.matMul(operands[i]![0] as tf.Tensor2D, operands[i]![1] as tf.Tensor2D);
            await y.data();
            y.dispose();
          },
        ]),
      ),
      3,
    );
    return shapes.map((s) => {
      const ms = t[s.name]!.median;
      return { ...s, medianMs: ms, gflopPerS: round((2 * s.m * s.k * s.n) / 1e9 / (ms / 1000)) };
    });
  } finally {
    tf.dispose(operands.flat());
  }
}
