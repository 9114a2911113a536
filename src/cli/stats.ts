import * as tf from '@tensorflow/tfjs';

/** Median of a non-empty list (the figure every benchmark reports). */
export const median = (xs: number[]): number => {
  if (xs.length === 0) throw new Error('median of an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * Times several functions round-robin (a, b, c, a, b, c, …) after `warmup` rounds, so that drift (GPU clocks, buffer
 * pools, the order of measurement) hits every function alike: each one's median and fastest time in ms, rounded to
 * `digits` decimals.
 */
export async function timeRoundRobin(
  runs: number,
  warmup: number,
  fs: Record<string, () => Promise<unknown>>,
  digits = 2,
): Promise<Record<string, { median: number; min: number }>> {
  const names = Object.keys(fs);
  for (let i = 0; i < warmup; i++) for (const n of names) await fs[n]!();
  const ts: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < runs; i++)
    for (const n of names) {
      const t0 = performance.now();
      await fs[n]!();
      ts[n]!.push(performance.now() - t0);
    }
  const round = (x: number) => Number(x.toFixed(digits));
  return Object.fromEntries(names.map((n) => [n, { median: round(median(ts[n]!)), min: round(Math.min(...ts[n]!)) }]));
}

/** tf.profile of an async step that returns nothing. */
export const profileOf = (f: () => Promise<unknown>) =>
  tf.profile(async () => {
    await f();
    return undefined as unknown as tf.Tensor;
  });
