/**
 * The verdict of a soak (test/e2e/soak.ts): does the page leak, or did it only warm up?
 *
 * Readings are taken after a forced GC at fixed intervals of moves. Readings before `warmupMoves` are left out
 * (one-time allocations: lazily compiled code, caches filling up); a least-squares line through the rest gives the
 * heap's slope in bytes per move with its standard error and 95% confidence interval. The worker's tensor count
 * must be the same at every reading after the warm-up (the soak reads it in the same app state each time).
 *
 * The heap judged is the JS heap less V8's compiled code (bytecode, machine code, their metadata and the bookkeeping
 * V8 keeps per compiled function; from a heap snapshot at each reading, test/e2e/heapSnapshot.ts) where the readings
 * have it: code is not data the app keeps, and it is bounded by the app's functions, but it fills slowly — a function
 * run once per move reaches V8's optimising tiers only after hundreds of moves — so it rises well after any fixed
 * warm-up (heap snapshots of the page: page-only moves 200 → 400 added 136 KiB of code and nothing else). Without
 * code figures the whole JS heap is judged.
 *
 * Heap status, with growth = slope × measured span, as a fraction of the fitted heap at the end of the warm-up:
 *   - 'leak': the growth's 95% interval lies above `minGrowth` (a rise that is certain and not negligible);
 *   - 'bounded': not a leak, and the interval's upper end keeps the growth within `maxGrowth`;
 *   - 'inconclusive': neither (too few or too noisy readings to rule out a growth of `maxGrowth`).
 */

/**
 * Moves of the warm-up. Besides compiled code (left out of the judged heap, see above), what the page heap gains over
 * the first moves is browser buffers with a cap: performance-timeline entries (long-animation-frame and longtask at
 * 200, layout-shift at 150), full by about 100 moves of the default soak (heap snapshots after 20 and 100 moves).
 */
export const SOAK_WARMUP_MOVES = 100;

export interface SoakReading {
  /** Moves done when the reading was taken. */
  moves: number;
  /** The worker's live tensors. */
  tensors: number;
  /** The page's JS heap after a forced GC, bytes (null where the browser does not report it). */
  heapBytes: number | null;
  /** Of which V8's compiled code, bytes, from a heap snapshot (absent or null: not measured). */
  codeBytes?: number | null;
}

export interface SoakVerdictOptions {
  /** Readings before this many moves are the warm-up and are left out (default SOAK_WARMUP_MOVES). */
  warmupMoves?: number;
  /** A growth over the measured span whose 95% interval lies above this fraction is a leak (default 0.01). */
  minGrowth?: number;
  /** 'bounded' needs the 95% upper bound of the growth over the span within this fraction (default 0.05). */
  maxGrowth?: number;
  /** Whether 'inconclusive' fails the verdict (default true). */
  requireConclusive?: boolean;
}

export interface LineFit {
  n: number;
  slope: number;
  intercept: number;
  /** Standard error of the slope (NaN with fewer than 3 points). */
  stdErr: number;
  /** 95% confidence interval of the slope (Student t with n − 2 degrees of freedom). */
  ci95: [number, number];
  /** Standard deviation of the residuals. */
  residualSd: number;
}

export type HeapStatus = 'bounded' | 'leak' | 'inconclusive' | 'unmeasured';

export interface SoakVerdict {
  ok: boolean;
  /** Why it failed (empty when ok). */
  reasons: string[];
  warmupMoves: number;
  tensors: { atWarmup: number | null; min: number | null; max: number | null; ok: boolean };
  heap: {
    status: HeapStatus;
    /** What was fitted: the JS heap less compiled code (every reading used had a code figure), or the whole JS heap. */
    measure: 'js-heap-less-code' | 'js-heap';
    /** The compiled code's own slope, bytes per move (null: no code figures). */
    codeSlopeBytesPerMove: number | null;
    /** Readings used (after the warm-up, with a heap figure). */
    readings: number;
    /** Bytes per move, its standard error and 95% interval (null when unmeasured). */
    slopeBytesPerMove: number | null;
    slopeStdErr: number | null;
    slopeCi95: [number, number] | null;
    /** Fitted heap at the first and the last reading used, bytes. */
    fittedStartBytes: number | null;
    fittedEndBytes: number | null;
    /** slope × span / fitted start, and its 95% interval. */
    growth: number | null;
    growthCi95: [number, number] | null;
  };
}

/** Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
  2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** The 97.5% quantile of Student's t with `df` degrees of freedom (table to 30, Cornish–Fisher beyond). */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) return NaN;
  if (df <= 30) return T975[Math.floor(df) - 1]!;
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
}

/** Ordinary least squares y = intercept + slope·x. */
export function fitLine(xs: number[], ys: number[]): LineFit {
  const n = xs.length;
  if (n !== ys.length || n < 2) throw new Error(`fitLine needs two or more (x, y) pairs, got ${n} and ${ys.length}`);
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxx = 0,
    sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
  }
  if (sxx === 0) throw new Error('fitLine: every x is the same');
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let rss = 0;
  for (let i = 0; i < n; i++) rss += (ys[i]! - intercept - slope * xs[i]!) ** 2;
  const df = n - 2;
  const residualSd = df > 0 ? Math.sqrt(rss / df) : NaN;
  const stdErr = df > 0 ? residualSd / Math.sqrt(sxx) : NaN;
  const half = tQuantile975(df) * stdErr;
  return { n, slope, intercept, stdErr, ci95: [slope - half, slope + half], residualSd };
}

/** The soak's verdict from its readings (see the top of this file). */
export function soakVerdict(readings: SoakReading[], options: SoakVerdictOptions = {}): SoakVerdict {
  const warmupMoves = options.warmupMoves ?? SOAK_WARMUP_MOVES;
  const minGrowth = options.minGrowth ?? 0.01;
  const maxGrowth = options.maxGrowth ?? 0.05;
  const requireConclusive = options.requireConclusive ?? true;
  const reasons: string[] = [];

  const after = readings.filter((r) => r.moves >= warmupMoves);
  const counts = after.map((r) => r.tensors);
  const tensors = {
    atWarmup: counts[0] ?? null,
    min: counts.length ? Math.min(...counts) : null,
    max: counts.length ? Math.max(...counts) : null,
    ok: counts.length > 0 && counts.every((c) => c === counts[0]),
  };
  if (!counts.length) reasons.push(`no reading after the warm-up of ${warmupMoves} moves`);
  else if (!tensors.ok) reasons.push(`worker tensors ranged ${tensors.min}–${tensors.max} after the warm-up`);

  const used = after.filter((r): r is SoakReading & { heapBytes: number } => r.heapBytes !== null);
  const withCode = used.length > 0 && used.every((r) => typeof r.codeBytes === 'number');
  const value = (r: SoakReading & { heapBytes: number }) => (withCode ? r.heapBytes - r.codeBytes! : r.heapBytes);
  const heap: SoakVerdict['heap'] = {
    status: 'unmeasured',
    measure: withCode ? 'js-heap-less-code' : 'js-heap',
    codeSlopeBytesPerMove: null,
    readings: used.length,
    slopeBytesPerMove: null,
    slopeStdErr: null,
    slopeCi95: null,
    fittedStartBytes: null,
    fittedEndBytes: null,
    growth: null,
    growthCi95: null,
  };
  if (used.length >= 3 && used.at(-1)!.moves > used[0]!.moves) {
    const fit = fitLine(
      used.map((r) => r.moves),
      used.map(value),
    );
    if (withCode) {
      heap.codeSlopeBytesPerMove = fitLine(
        used.map((r) => r.moves),
        used.map((r) => r.codeBytes!),
      ).slope;
    }
    const x0 = used[0]!.moves,
      x1 = used.at(-1)!.moves;
    const start = fit.intercept + fit.slope * x0;
    const span = x1 - x0;
    const g = (s: number) => (s * span) / start;
    heap.slopeBytesPerMove = fit.slope;
    heap.slopeStdErr = fit.stdErr;
    heap.slopeCi95 = fit.ci95;
    heap.fittedStartBytes = start;
    heap.fittedEndBytes = fit.intercept + fit.slope * x1;
    heap.growth = g(fit.slope);
    heap.growthCi95 = [g(fit.ci95[0]), g(fit.ci95[1])];
    const leak = heap.growthCi95[0] > minGrowth;
    // A perfectly straight series has a zero standard error: its interval is the slope itself.
    heap.status = leak ? 'leak' : heap.growthCi95[1] <= maxGrowth ? 'bounded' : 'inconclusive';
  }
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  if (heap.status === 'leak') {
    reasons.push(
      `page heap${withCode ? ' less compiled code' : ''} grows ${heap.slopeBytesPerMove!.toFixed(0)} B/move (95% interval ` +
        `${heap.slopeCi95!.map((s) => s.toFixed(0)).join('…')}), ${pct(heap.growth!)} over the measured moves`,
    );
  } else if (heap.status === 'inconclusive' && requireConclusive) {
    reasons.push(
      `page heap slope too uncertain: growth over the measured moves up to ${pct(heap.growthCi95![1])} ` +
        `(limit ${pct(maxGrowth)}); take more readings`,
    );
  } else if (heap.status === 'unmeasured' && requireConclusive) {
    reasons.push(`page heap unmeasured (${used.length} readings after the warm-up with a heap figure, 3 needed)`);
  }
  return { ok: reasons.length === 0, reasons, warmupMoves, tensors, heap };
}

/**
 * Drift of a latency series (ms per move, in order): the least-squares slope × span as a fraction of the fitted
 * first value. Robust to single slow moves, unlike comparing the means of the first and last few.
 */
export function latencyDrift(ms: number[]): { drift: number; ci95: [number, number] } | null {
  if (ms.length < 3) return null;
  const xs = ms.map((_, i) => i);
  const fit = fitLine(xs, ms);
  const start = fit.intercept;
  const span = ms.length - 1;
  return { drift: (fit.slope * span) / start, ci95: [(fit.ci95[0] * span) / start, (fit.ci95[1] * span) / start] };
}

/**
 * The long soak's goals: tensors unchanged; the heap's slope zero within its 95% interval (and no leak); the fitted
 * end heap ≤ the fitted heap after the warm-up + 5%; latency drift ≤ 10%.
 */
export interface LongSoakGoals {
  tensorsUnchanged: boolean;
  heapFlat: boolean;
  endHeapWithin5pct: boolean;
  latencyDriftWithin10pct: boolean;
  ok: boolean;
}

/** `moveDrift` and `dropDrift` from latencyDrift (null: too few to tell, which fails the latency goal). */
export function longSoakGoals(v: SoakVerdict, moveDrift: number | null, dropDrift: number | null): LongSoakGoals {
  const h = v.heap;
  const goals = {
    tensorsUnchanged: v.tensors.ok,
    heapFlat: h.status !== 'leak' && h.slopeCi95 !== null && h.slopeCi95[0] <= 0,
    endHeapWithin5pct: h.fittedEndBytes !== null && h.fittedEndBytes <= 1.05 * h.fittedStartBytes!,
    latencyDriftWithin10pct: moveDrift !== null && dropDrift !== null && moveDrift <= 0.1 && dropDrift <= 0.1,
  };
  return { ...goals, ok: Object.values(goals).every(Boolean) };
}
