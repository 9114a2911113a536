import { describe, expect, it } from 'vitest';
import { LatestQueue } from './latestQueue';

describe('LatestQueue (a second drop while one runs)', () => {
  it('runs one job at a time and keeps only the latest waiting job', async () => {
    const ran: string[] = [];
    const gates: (() => void)[] = [];
    const q = new LatestQueue<string>(
      (job) =>
        new Promise<void>((ok) => {
          ran.push(job);
          gates.push(ok);
        }),
    );
    expect(q.push('a')).toBe('started');
    expect(q.push('b')).toBe('queued');
    expect(q.push('c')).toBe('replaced');
    expect(ran).toEqual(['a']);
    gates.shift()!();
    await new Promise((r) => setTimeout(r, 0));
    expect(ran).toEqual(['a', 'c']);
    expect(q.busy).toBe(true);
    gates.shift()!();
    await new Promise((r) => setTimeout(r, 0));
    expect(q.busy).toBe(false);
    expect(q.push('d')).toBe('started');
  });
  it('keeps going after a failing job', async () => {
    const ran: string[] = [];
    const q = new LatestQueue<string>(async (job) => {
      ran.push(job);
      if (job === 'bad') throw new Error('x');
    });
    q.push('bad');
    q.push('good');
    await new Promise((r) => setTimeout(r, 0));
    await new Promise((r) => setTimeout(r, 0));
    expect(ran).toEqual(['bad', 'good']);
  });
});
