/**
 * The live camera's loop: grab a frame, process it, repeat. One frame is in flight at a time and the next one is
 * grabbed only when it is done, so the frame processed is always the newest and nothing queues up (latest frame
 * wins, by construction). Pausable, stoppable; frames per second over a sliding window of finished frames.
 */

export type LoopState = 'running' | 'paused' | 'stopped';

/** Finished frames the frame rate is averaged over. */
export const FPS_WINDOW = 8;

export interface FrameLoopOptions<F> {
  /** The newest frame, or null when none is ready (the loop asks again on the next tick). */
  grab: () => Promise<F | null>;
  /** Resolves false when the frame was skipped (not counted in the frame rate). */
  process: (frame: F) => Promise<boolean | void>;
  /** Waits between grabs (the page: one animation frame). */
  tick: () => Promise<void>;
  /** A grabbed frame that will not be processed (the loop stopped meanwhile). */
  discard?: (frame: F) => void;
  /** After each processed frame. */
  onFrame?: () => void;
  /** grab or process threw: the loop has stopped. */
  onError?: (e: unknown) => void;
  now?: () => number;
}

export class FrameLoop<F> {
  private state: LoopState = 'running';
  private wake: (() => void) | null = null;
  private readonly done: Promise<void>;
  private finished: number[] = [];
  /** The frame being processed, if any. */
  private current: Promise<unknown> | null = null;
  frames = 0;

  private readonly now: () => number;

  constructor(private readonly o: FrameLoopOptions<F>) {
    this.now = o.now ?? (() => performance.now());
    this.done = this.run();
  }

  get status(): LoopState {
    return this.state;
  }

  /** Frames per second over the last FPS_WINDOW frames (null before two frames). */
  get fps(): number | null {
    const t = this.finished;
    if (t.length < 2) return null;
    const span = t[t.length - 1]! - t[0]!;
    return span > 0 ? (1000 * (t.length - 1)) / span : null;
  }

  /** Pauses; resolves once the frame in flight (if any) has been processed and counted. */
  pause(): Promise<void> {
    if (this.state === 'running') this.state = 'paused';
    const settled = () => undefined;
    return this.current ? this.current.then(settled, settled) : Promise.resolve();
  }

  resume() {
    if (this.state !== 'paused') return;
    this.state = 'running';
    this.finished = []; // the pause is not part of the rate
    this.wake?.();
  }

  /** Stops after the frame in flight (if any); resolves when the loop has ended. */
  stop(): Promise<void> {
    this.state = 'stopped';
    this.wake?.();
    return this.done;
  }

  private async run(): Promise<void> {
    while (this.state !== 'stopped') {
      if (this.state === 'paused') {
        await new Promise<void>((ok) => {
          this.wake = ok;
        });
        this.wake = null;
        continue;
      }
      await this.o.tick();
      if (this.state !== 'running') continue;
      try {
        const frame = await this.o.grab();
        if (frame === null) continue;
        if ((this.state as LoopState) !== 'running') {
          this.o.discard?.(frame);
          continue;
        }
        const processing = this.o.process(frame);
        this.current = processing;
        let counted: boolean | void;
        try {
          counted = await processing;
        } finally {
          this.current = null;
        }
        if (counted === false) continue;
      } catch (e) {
        this.state = 'stopped';
        this.o.onError?.(e);
        return;
      }
      this.frames++;
      this.finished.push(this.now());
      if (this.finished.length > FPS_WINDOW) this.finished.shift();
      this.o.onFrame?.();
    }
  }
}
