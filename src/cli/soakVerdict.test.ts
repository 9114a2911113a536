import { describe, expect, it } from 'vitest';
import { fitLine, latencyDrift, longSoakGoals, soakVerdict, tQuantile975, type SoakReading } from './soakVerdict';

/** A seeded uniform generator in [-1, 1) (mulberry32), so the noisy series are the same on every run. */
function noise(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * 2 - 1;
  };
}

/** Readings every `every` moves up to `moves`, heap from `heap(moves)`, a constant tensor count. */
function series(moves: number, every: number, heap: (m: number) => number, tensors = 703): SoakReading[] {
  const out: SoakReading[] = [];
  for (let m = 0; m <= moves; m += every) out.push({ moves: m, tensors, heapBytes: heap(m) });
  return out;
}

const MB = 1e6;

describe('fitLine', () => {
  it('recovers an exact line with a zero standard error', () => {
    const f = fitLine([0, 1, 2, 3], [1, 3, 5, 7]);
    expect(f.slope).toBeCloseTo(2, 12);
    expect(f.intercept).toBeCloseTo(1, 12);
    expect(f.stdErr).toBeCloseTo(0, 12);
  });

  it('matches the textbook standard error of the slope', () => {
    // x = 1..5, y = 2, 4, 5, 4, 5: slope 0.6, residual SD sqrt(2.4 / 3), SE = that / sqrt(10).
    const f = fitLine([1, 2, 3, 4, 5], [2, 4, 5, 4, 5]);
    expect(f.slope).toBeCloseTo(0.6, 12);
    expect(f.stdErr).toBeCloseTo(Math.sqrt(2.4 / 3) / Math.sqrt(10), 12);
    expect(f.ci95[1] - f.slope).toBeCloseTo(3.182 * f.stdErr, 12);
  });

  it('refuses fewer than two points or a constant x', () => {
    expect(() => fitLine([1], [1])).toThrow(/two or more/);
    expect(() => fitLine([2, 2, 2], [1, 2, 3])).toThrow(/every x/);
  });
});

describe('tQuantile975', () => {
  it('follows the table and tends to the normal quantile', () => {
    expect(tQuantile975(1)).toBe(12.706);
    expect(tQuantile975(30)).toBe(2.042);
    expect(tQuantile975(31)).toBeLessThan(2.042);
    expect(tQuantile975(31)).toBeGreaterThan(2.03);
    expect(tQuantile975(10_000)).toBeCloseTo(1.96, 3);
    expect(tQuantile975(0)).toBeNaN();
  });
});

describe('soakVerdict', () => {
  it('passes a warm-up rise followed by a flat heap (the shape that failed the old start/end rule)', () => {
    const r = noise(1);
    // 4.8 MB rising to 5.4 MB over the first 50 moves, then flat with ±20 kB of noise.
    const heap = (m: number) => (m < 50 ? 4.8 * MB + (0.6 * MB * m) / 50 : 5.4 * MB) + 20e3 * r();
    const v = soakVerdict(series(300, 10, heap), { warmupMoves: 50 });
    expect(v.heap.status).toBe('bounded');
    expect(v.ok).toBe(true);
    expect(v.reasons).toEqual([]);
    expect(v.heap.readings).toBe(26);
    // The same series judged from its first reading (no warm-up left out) is a "leak": the old rule's mistake.
    expect(soakVerdict(series(300, 10, heap), { warmupMoves: 0 }).heap.status).not.toBe('bounded');
  });

  it('fails a steady leak, naming the slope', () => {
    const r = noise(2);
    // 1 kB per move on 5 MB (+5% over 250 moves), ±20 kB of noise.
    const v = soakVerdict(
      series(300, 10, (m) => 5 * MB + 1000 * m + 20e3 * r()),
      { warmupMoves: 50 },
    );
    expect(v.heap.status).toBe('leak');
    expect(v.ok).toBe(false);
    expect(v.heap.slopeBytesPerMove!).toBeGreaterThan(800);
    expect(v.heap.slopeBytesPerMove!).toBeLessThan(1200);
    expect(v.heap.slopeCi95![0]).toBeGreaterThan(0);
    expect(v.reasons.join()).toMatch(/page heap grows \d+ B\/move/);
  });

  it('fails a small leak (1.5% over the measured moves) that the old 10% rule let through', () => {
    const r = noise(3);
    // 300 B per move: +1.5% over 250 moves.
    const v = soakVerdict(
      series(300, 10, (m) => 5 * MB + 300 * m + 5e3 * r()),
      { warmupMoves: 50 },
    );
    expect(v.heap.status).toBe('leak');
  });

  it('passes noise around a flat heap; its interval holds zero about 95% of the time', () => {
    let excludesZero = 0;
    for (let seed = 100; seed < 300; seed++) {
      const r = noise(seed);
      // ±100 kB of noise: more than the forced-GC readings of a real soak vary.
      const v = soakVerdict(
        series(300, 10, () => 5.4 * MB + 100e3 * r()),
        { warmupMoves: 50 },
      );
      expect(v.heap.status, `seed ${seed}`).toBe('bounded');
      if (v.heap.slopeCi95![0] > 0 || v.heap.slopeCi95![1] < 0) excludesZero++;
    }
    expect(excludesZero).toBeLessThanOrEqual(20);
  });

  it('calls too few or too noisy readings inconclusive, and fails them only when asked to', () => {
    const r = noise(9);
    const few = series(60, 10, () => 5.4 * MB + 400e3 * r());
    const v = soakVerdict(few, { warmupMoves: 20 });
    expect(v.heap.status).toBe('inconclusive');
    expect(v.ok).toBe(false);
    expect(v.reasons.join()).toMatch(/too uncertain/);
    expect(soakVerdict(few, { warmupMoves: 20, requireConclusive: false }).ok).toBe(true);
  });

  it('leaves compiled code out where the readings measure it: code that fills slowly is no leak, data is', () => {
    const r = noise(4);
    // 3.5 MB of data, flat (±20 kB), and compiled code growing 1.5 kB per move past the warm-up, slower and slower.
    const code = (m: number) => 2.2 * MB + 1500 * 400 * (1 - Math.exp(-m / 400));
    const withCode: SoakReading[] = series(300, 10, (m) => 3.5 * MB + code(m) + 20e3 * r()).map((x) => ({
      ...x,
      codeBytes: code(x.moves),
    }));
    const v = soakVerdict(withCode, { warmupMoves: 100 });
    expect(v.heap.measure).toBe('js-heap-less-code');
    expect(v.heap.status).toBe('bounded');
    expect(v.heap.codeSlopeBytesPerMove!).toBeGreaterThan(500);
    // The whole JS heap of the same page (no code figures) reads as a leak.
    const whole = soakVerdict(
      withCode.map(({ codeBytes: _, ...x }) => x),
      { warmupMoves: 100 },
    );
    expect(whole.heap.measure).toBe('js-heap');
    expect(whole.heap.status).toBe('leak');
    // Data that grows 500 B per move (+2.9% over the measured moves) is a leak whatever the code does.
    const leak = withCode.map((x) => ({ ...x, heapBytes: x.heapBytes! + 500 * x.moves }));
    const l = soakVerdict(leak, { warmupMoves: 100 });
    expect(l.heap.status).toBe('leak');
    expect(l.reasons.join()).toMatch(/less compiled code grows/);
    // One reading without a code figure: the whole heap is judged, not a mix.
    withCode[20] = { ...withCode[20]!, codeBytes: null };
    expect(soakVerdict(withCode, { warmupMoves: 100 }).heap.measure).toBe('js-heap');
  });

  it('fails when the tensor count moves after the warm-up, not during it', () => {
    const rs = series(300, 10, () => 5.4 * MB).map((x) => ({ ...x, tensors: x.moves < 50 ? 690 : 703 }));
    expect(soakVerdict(rs, { warmupMoves: 50 }).tensors).toEqual({ atWarmup: 703, min: 703, max: 703, ok: true });
    rs[20] = { ...rs[20]!, tensors: 711 };
    const v = soakVerdict(rs, { warmupMoves: 50 });
    expect(v.ok).toBe(false);
    expect(v.reasons.join()).toMatch(/tensors ranged 703–711/);
  });

  it('judges tensors alone where the browser gives no heap figure, when allowed', () => {
    const rs = series(30, 2, () => 0).map((x) => ({ ...x, heapBytes: null }));
    expect(soakVerdict(rs, { warmupMoves: 10 }).ok).toBe(false);
    const v = soakVerdict(rs, { warmupMoves: 10, requireConclusive: false });
    expect(v.ok).toBe(true);
    expect(v.heap.status).toBe('unmeasured');
  });
});

describe('latencyDrift', () => {
  it('is near zero for a flat series and the relative rise for a ramp', () => {
    const r = noise(10);
    const flat = Array.from({ length: 200 }, () => 1000 + 50 * r());
    expect(Math.abs(latencyDrift(flat)!.drift)).toBeLessThan(0.03);
    const ramp = Array.from({ length: 101 }, (_, i) => 1000 + 2 * i);
    expect(latencyDrift(ramp)!.drift).toBeCloseTo(0.2, 6);
    expect(latencyDrift([1, 2])).toBeNull();
  });
});

describe('longSoakGoals', () => {
  const flat = soakVerdict(
    series(1000, 10, (m) => (m < 100 ? 4.8 * MB + 6000 * m : 5.4 * MB)),
    { warmupMoves: 100 },
  );
  it('passes a flat heap, unchanged tensors and a small latency drift', () => {
    expect(longSoakGoals(flat, 0.02, -0.01)).toEqual({
      tensorsUnchanged: true,
      heapFlat: true,
      endHeapWithin5pct: true,
      latencyDriftWithin10pct: true,
      ok: true,
    });
  });
  it('fails on latency drift, or when there is none to judge', () => {
    expect(longSoakGoals(flat, 0.15, 0).latencyDriftWithin10pct).toBe(false);
    expect(longSoakGoals(flat, null, 0).ok).toBe(false);
  });
  it('fails a small certain slope on flatness, even within 5%', () => {
    const r = noise(11);
    const slow = soakVerdict(
      series(1000, 10, (m) => 5 * MB + 100 * m + 2e3 * r()),
      { warmupMoves: 100, minGrowth: 0.05 },
    );
    expect(slow.heap.status).toBe('bounded');
    const g = longSoakGoals(slow, 0, 0);
    expect(g.heapFlat).toBe(false);
    expect(g.endHeapWithin5pct).toBe(true);
  });
  it('fails a growing heap on both heap goals', () => {
    const leak = soakVerdict(
      series(1000, 10, (m) => 5 * MB + 500 * m),
      { warmupMoves: 100 },
    );
    const g = longSoakGoals(leak, 0, 0);
    expect(g.heapFlat).toBe(false);
    expect(g.endHeapWithin5pct).toBe(false);
    expect(g.ok).toBe(false);
  });
});
