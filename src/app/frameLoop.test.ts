import { describe, expect, it } from 'vitest';
import { FPS_WINDOW, FrameLoop } from './frameLoop';

const sleep = (ms: number) => new Promise<void>((ok) => setTimeout(ok, ms));
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await sleep(2);
  expect(cond()).toBe(true);
};

/** A camera that delivers 5 new frames while each one is processed, and a processor that records what it saw. */
function rig(processMs: number) {
  let camera = 0;
  const seen: number[] = [];
  let inFlight = 0,
    maxInFlight = 0,
    discarded = 0;
  const loop = new FrameLoop<number>({
    grab: async () => camera,
    process: async (f) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      seen.push(f);
      await sleep(processMs);
      camera += 5;
      inFlight--;
    },
    tick: () => sleep(0),
    discard: () => {
      discarded++;
    },
  });
  return {
    loop,
    seen,
    get camera() {
      return camera;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    get discarded() {
      return discarded;
    },
  };
}

describe('FrameLoop', () => {
  it('processes one frame at a time, always the newest (frames in between are skipped, never queued)', async () => {
    const r = rig(15);
    await until(() => r.seen.length >= 4);
    await r.loop.stop();
    expect(r.maxInFlight).toBe(1);
    // Each processed frame is the newest: the 4 frames that came in between were skipped, not queued.
    expect(r.seen.slice(0, 4)).toEqual([0, 5, 10, 15]);
    expect(r.loop.frames).toBe(r.seen.length);
  });

  it('pause stops processing, resume continues, stop ends the loop after the frame in flight', async () => {
    const r = rig(5);
    await until(() => r.seen.length >= 2);
    r.loop.pause();
    expect(r.loop.status).toBe('paused');
    await sleep(20);
    const paused = r.seen.length;
    await sleep(40);
    expect(r.seen.length).toBe(paused);
    r.loop.resume();
    await until(() => r.seen.length > paused + 1);
    const stopped = r.loop.stop();
    expect(r.loop.status).toBe('stopped');
    await stopped;
    const n = r.seen.length;
    await sleep(30);
    expect(r.seen.length).toBe(n);
  });

  it('stop while paused resolves; a frame grabbed after stop is discarded, not processed', async () => {
    let release: () => void = () => undefined;
    const processed: number[] = [];
    let discarded = 0;
    const loop = new FrameLoop<number>({
      grab: () =>
        new Promise<number>((ok) => {
          release = () => ok(7);
        }),
      process: async (f) => {
        processed.push(f);
      },
      tick: async () => undefined,
      discard: () => {
        discarded++;
      },
    });
    await sleep(5);
    const stopped = loop.stop();
    release();
    await stopped;
    expect(processed).toEqual([]);
    expect(discarded).toBe(1);

    const paused = new FrameLoop<number>({ grab: async () => 1, process: () => sleep(1), tick: () => sleep(1) });
    paused.pause();
    await paused.stop();
    expect(paused.status).toBe('stopped');
  });

  it('an error in processing stops the loop and is reported', async () => {
    const errors: unknown[] = [];
    const loop = new FrameLoop<number>({
      grab: async () => 1,
      process: async () => {
        throw new Error('camera lost');
      },
      tick: async () => undefined,
      onError: (e) => errors.push(e),
    });
    await until(() => errors.length === 1);
    expect(loop.status).toBe('stopped');
    expect(String(errors[0])).toMatch(/camera lost/);
  });

  it('frames per second over the last FPS_WINDOW frames, from the clock it is given', async () => {
    let t = 0;
    const loop = new FrameLoop<number>({
      grab: async () => 1,
      process: async () => {
        t += 250;
      }, // 4 frames per second
      tick: () => sleep(0),
      now: () => t,
    });
    expect(loop.fps).toBe(null);
    await until(() => loop.frames >= FPS_WINDOW + 3);
    await loop.stop();
    expect(loop.fps).toBeCloseTo(4, 9);
  });
});

describe('FrameLoop skipped frames', () => {
  it('a frame the processor skips (false) is not counted', async () => {
    let n = 0;
    const loop = new FrameLoop<number>({
      grab: async () => 1,
      process: async () => ++n % 2 === 0,
      tick: () => sleep(0),
    });
    await until(() => n >= 10);
    await loop.stop();
    expect(loop.frames).toBe(Math.floor(n / 2));
  });
});

describe('FrameLoop pause', () => {
  it('resolves once the frame in flight is processed and counted; nothing after it', async () => {
    let release: () => void = () => undefined;
    let started = 0;
    const loop = new FrameLoop<number>({
      grab: async () => 1,
      process: () => {
        started++;
        return new Promise<void>((ok) => {
          release = ok;
        });
      },
      tick: () => sleep(0),
    });
    await until(() => started === 1);
    let paused = false;
    const p = loop.pause().then(() => {
      paused = true;
    });
    await sleep(10);
    expect(paused).toBe(false);
    release();
    await p;
    expect(loop.frames).toBe(1);
    await sleep(20);
    expect(started).toBe(1);
    expect(await Promise.race([loop.pause().then(() => 'immediate'), sleep(5).then(() => 'waited')])).toBe('immediate');
    await loop.stop();
  });
});
