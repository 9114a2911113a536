/**
 * A one-slot queue: at most one job runs; while it runs, a new job replaces any job already waiting
 * (the latest wins). `push` says whether the job starts now, waits, or replaced a waiting one.
 */
export class LatestQueue<T> {
  private running = false;
  private waiting: T | null = null;
  constructor(private readonly run: (job: T) => Promise<void>) {}

  get busy() {
    return this.running;
  }
  get pending() {
    return this.waiting;
  }

  push(job: T): 'started' | 'queued' | 'replaced' {
    if (!this.running) {
      this.start(job);
      return 'started';
    }
    const had = this.waiting !== null;
    this.waiting = job;
    return had ? 'replaced' : 'queued';
  }

  private start(job: T) {
    this.running = true;
    void this.run(job)
      .catch(() => undefined)
      .finally(() => {
        this.running = false;
        const next = this.waiting;
        this.waiting = null;
        if (next !== null) this.start(next);
      });
  }
}
